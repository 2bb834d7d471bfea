// The hub's side of notifications without Temporal: which events it emits (pure mapping), the
// event recorder (batching, retries while Temporal is away, the bound), and the Receiver
// routes on a real HTTP server (signatures, pings, unknown paths, missing resources, counters).
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { parseDeclarations } from '../../core/declarations/parse.js';
import type { ReceiverDeclaration } from '../../core/declarations/types.js';
import { newEvent, parseFlotillaEvent, type FlotillaEvent } from '../../core/notifications/event.js';
import { connectionEvent, objectOfId, reportEvent, rolloutEvent } from '../../core/notifications/hub-events.js';
import { webhookPath } from '../../core/notifications/receivers.js';
import { NO_NOTIFICATIONS, NotFoundError } from '../../hub/declarations.js';
import { EventRecorder } from '../../hub/events.js';
import { startHubApi } from '../../hub/http-api.js';
import { NotificationMetrics } from '../../hub/notification-metrics.js';
import { receiverRoutes } from '../../hub/receivers.js';

const NOW = Date.UTC(2024, 4, 1, 10, 0, 0);

describe('events the hub emits', () => {
  it('names the object of a declaration id, hook suffixes included', () => {
    assert.deepEqual(objectOfId('kustomization/apps/web'), { kind: 'Kustomization', namespace: 'apps', name: 'web', apiVersion: 'kustomize.toolkit.fluxcd.io/v1' });
    assert.deepEqual(objectOfId('helmrelease/apps/db/hooks/pre-install/0'), { kind: 'HelmRelease', namespace: 'apps', name: 'db', apiVersion: 'helm.toolkit.fluxcd.io/v2' });
    assert.equal(objectOfId('cluster/prod'), undefined);
    assert.equal(objectOfId('kustomization/apps'), undefined);
  });

  it('turns rollout events into events on the owner, errors for failures', () => {
    const base = { owner: 'kustomization/apps/web', revision: 'main@sha1:abc', rollout: 'rollout/kustomization/apps/web' };
    const table: [string, string, 'info' | 'error'][] = [
      ['RolloutStarted', 'rolling out', 'info'], ['WaveSucceeded', 'wave dev succeeded', 'info'], ['WaveFailed', 'wave dev failed', 'error'],
      ['AnalysisFailed', 'check failed', 'error'], ['RollbackStarted', 'rolling back', 'error'], ['RolloutFinished', 'Succeeded: done', 'info'],
      ['RolloutFinished', 'RolledBack: wave dev failed', 'error'], ['RolloutFinished', 'Failed: rollback failed', 'error'],
    ];
    for (const [type, message, severity] of table) {
      const e = rolloutEvent({ ...base, type, message, wave: 'dev' }, NOW);
      assert.equal(e?.severity, severity, `${type} ${message}`);
      assert.equal(e.reason, type);
      assert.deepEqual(e.involvedObject, objectOfId(base.owner));
      assert.deepEqual(e.metadata, { revision: 'main@sha1:abc', rollout: base.rollout, wave: 'dev' });
      assert.equal(e.timestamp, '2024-05-01T10:00:00Z');
      parseFlotillaEvent(e);
    }
  });

  it("emits for agents' reports like kustomize-controller: failures, and successes that changed something", () => {
    const report = (phase: string, counts: Record<string, number>, message = 'applied') => ({ name: 'kustomization/apps/web', phase, message, counts });
    assert.equal(reportEvent('dev', report('READY', { created: 0, configured: 0, unchanged: 3, pruned: 0 }), 'rev', NOW), undefined, 'nothing changed: no event');
    assert.equal(reportEvent('dev', report('APPLYING', {}), 'rev', NOW), undefined);
    const ok = reportEvent('dev', report('READY', { created: 1, configured: 0, pruned: 0 }, 'applied: 1 created'), 'main@sha1:abc', NOW);
    assert.deepEqual(ok && [ok.severity, ok.reason, ok.message, ok.metadata], ['info', 'ReconciliationSucceeded', 'cluster dev: applied: 1 created', { cluster: 'dev', revision: 'main@sha1:abc' }]);
    assert.deepEqual(ok?.involvedObject, objectOfId('kustomization/apps/web'));
    assert.equal(reportEvent('dev', report('UNHEALTHY', {}), undefined, NOW)?.reason, 'HealthCheckFailed');
    assert.equal(reportEvent('dev', report('INVALID', {}), undefined, NOW)?.reason, 'ReconciliationFailed');
    const failed = reportEvent('dev', report('FAILED', {}), undefined, NOW);
    assert.deepEqual(failed && [failed.severity, failed.metadata], ['error', { cluster: 'dev' }]);
    const hook = reportEvent('prod', { name: 'helmrelease/apps/db/hooks/pre-install/0', phase: 'UNHEALTHY', message: 'Job/migrate failed', counts: {} }, '1.2.3', NOW);
    assert.equal(hook?.message, 'cluster prod (hook pre-install/0): Job/migrate failed');
  });

  it('reports agents connecting and going away on the Cluster', () => {
    const up = connectionEvent('prod', { state: 'Connected', agentVersion: '0.1.0', kubernetesVersion: 'v1.30.0' }, NOW);
    assert.deepEqual([up.involvedObject, up.severity, up.reason], [{ kind: 'Cluster', namespace: 'flotilla-system', name: 'prod' }, 'info', 'AgentConnected']);
    assert.deepEqual([connectionEvent('prod', { state: 'Unreachable' }, NOW).severity, connectionEvent('prod', { state: 'Unreachable' }, NOW).reason], ['error', 'AgentUnreachable']);
    assert.equal(connectionEvent('prod', { state: 'Disconnected' }, NOW).reason, 'AgentDisconnected');
  });
});

function sampleEvent(i: number): FlotillaEvent {
  return newEvent({ object: { kind: 'Kustomization', namespace: 'apps', name: 'web' }, severity: 'info', reason: 'Test', message: `event ${i}`, nowMs: NOW });
}

async function waitUntil(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('EventRecorder', () => {
  it('batches events and keeps them, in order, while sending fails', async () => {
    const batches: FlotillaEvent[][] = [];
    let failuresLeft = 2;
    const recorder = new EventRecorder(async (events) => {
      await Promise.resolve();
      if (failuresLeft-- > 0) throw new Error('Temporal is unavailable');
      batches.push([...events]);
    }, { batchMs: 20, retryMs: 10 });
    for (let i = 0; i < 5; i++) recorder.record(sampleEvent(i));
    await waitUntil('sent', () => batches.length > 0);
    recorder.record(sampleEvent(5));
    await waitUntil('all sent', () => batches.flat().length === 6);
    assert.deepEqual(batches.flat().map((e) => e.message), ['event 0', 'event 1', 'event 2', 'event 3', 'event 4', 'event 5']);
    assert.equal(batches[0]?.length, 5, 'one batch for events recorded together');
    assert.equal(recorder.buffered, 0);
    await recorder.close();
  });

  it('drops and counts events beyond its bound, never throwing, and sends what is left on close', async () => {
    const sent: FlotillaEvent[] = [];
    const available = { now: false };
    const logs: string[] = [];
    const recorder = new EventRecorder(async (events) => {
      await Promise.resolve();
      if (!available.now) throw new Error('down');
      sent.push(...events);
    }, { batchMs: 5, retryMs: 5, maxBuffered: 3, log: (m) => { logs.push(m); } });
    for (let i = 0; i < 10; i++) recorder.record(sampleEvent(i));
    assert.equal(recorder.dropped, 7);
    assert.ok(logs.includes('event dropped: the notification buffer is full'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    available.now = true;
    await recorder.close();
    assert.deepEqual(sent.map((e) => e.message), ['event 0', 'event 1', 'event 2']);
    recorder.record(sampleEvent(99)); // after close: ignored
    assert.equal(recorder.buffered, 0);
  });
});

describe('Receiver routes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-receivers-'));
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  const yaml = `
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {name: hmac, namespace: flux-system}
spec:
  type: generic-hmac
  secretRef: {name: webhook-token}
  resources: [{kind: GitRepository, name: fleet}, {kind: GitRepository, name: gone}]
---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {name: github, namespace: flux-system}
spec:
  type: github
  events: [push]
  secretRef: {name: webhook-token}
  resources: [{kind: GitRepository, name: gone}]
---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {name: no-secret, namespace: flux-system}
spec: {type: generic, secretRef: {name: missing}, resources: [{kind: Kustomization, name: apps}]}
`;
  const receivers = parseDeclarations(yaml, 'receivers.yaml').declarations as ReceiverDeclaration[];
  const [hmac, github] = receivers;
  const TOKEN = 'a-long-webhook-token';

  it('reconciles on a good signature, refuses a bad one, answers pings, and counts each outcome', async () => {
    assert.ok(hmac && github);
    const reconciled: string[] = [];
    const registry = new Registry();
    const routes = receiverRoutes({
      declarations: {
        notifications: () => Promise.resolve({ ...NO_NOTIFICATIONS, receivers: receivers.map((d) => ({ id: `receiver/${d.namespace}/${d.name}`, declaration: d })) }),
        requestReconcile: (id) => {
          if (id.endsWith('/gone')) return Promise.reject(new NotFoundError(`${id} not found`));
          reconciled.push(id);
          return Promise.resolve();
        },
      },
      data: { get: (_kind, _ns, name) => Promise.resolve(name === 'webhook-token' ? { token: TOKEN } : undefined) },
      metrics: new NotificationMetrics(registry),
    });
    const api = await startHubApi('127.0.0.1:0', {
      info: { version: 'test', temporal: { address: '-', namespace: 'default', taskQueue: 'q' }, grpc: '-' },
      artifacts: { get: () => Promise.resolve(undefined), has: () => Promise.resolve(false), put: () => Promise.resolve('') },
      problems: () => [], tokenFile: join(dir, 'api-token'), routes,
    });
    try {
      const body = JSON.stringify({ ref: 'refs/heads/main' });
      const sign = (algo: string, key: string): string => `${algo}=${createHmac(algo, key).update(body).digest('hex')}`;
      const post = (path: string, headers: Record<string, string>) => fetch(`${api.url}${path}`, { method: 'POST', headers, body });

      const good = await post(webhookPath(hmac, TOKEN), { 'X-Signature': sign('sha256', TOKEN) });
      assert.equal(good.status, 200);
      assert.deepEqual(await good.json(), { status: 'accepted', receiver: 'flux-system/hmac', triggered: ['gitrepository/flux-system/fleet'], missing: ['gitrepository/flux-system/gone'] });
      assert.deepEqual(reconciled, ['gitrepository/flux-system/fleet']);

      const bad = await post(webhookPath(hmac, TOKEN), { 'X-Signature': sign('sha256', 'wrong') });
      assert.equal(bad.status, 401);
      const badText = await bad.text();
      assert.match(badText, /does not match/);
      assert.ok(!badText.includes(TOKEN), 'the token is never echoed');

      const ping = await post(webhookPath(github, TOKEN), { 'X-Hub-Signature-256': sign('sha256', TOKEN), 'X-GitHub-Event': 'ping' });
      assert.equal(ping.status, 200);
      assert.equal((await ping.json() as { status: string }).status, 'ping');
      const nothing = await post(webhookPath(github, TOKEN), { 'X-Hub-Signature-256': sign('sha256', TOKEN), 'X-GitHub-Event': 'push' });
      assert.equal(nothing.status, 404, 'none of its resources exist');
      const unknown = await post(`/hook/${'0'.repeat(64)}`, {});
      assert.equal(unknown.status, 404);

      const list = await (await fetch(`${api.url}/api/v1/receivers`)).json() as { id: string; path?: string; problem?: string }[];
      assert.deepEqual(list.map((r) => [r.id, r.path ?? r.problem]), [
        ['receiver/flux-system/hmac', webhookPath(hmac, TOKEN)], ['receiver/flux-system/github', webhookPath(github, TOKEN)],
        ['receiver/flux-system/no-secret', 'Secret flux-system/missing not found (apply it to the hub)'],
      ]);

      const text = await registry.metrics();
      for (const line of [
        'flotilla_receiver_requests_total{receiver="flux-system/hmac",result="accepted"} 1',
        'flotilla_receiver_requests_total{receiver="flux-system/hmac",result="bad_signature"} 1',
        'flotilla_receiver_requests_total{receiver="flux-system/github",result="ping"} 1',
        'flotilla_receiver_requests_total{receiver="flux-system/github",result="rejected"} 1',
        'flotilla_receiver_requests_total{receiver="unknown",result="not_found"} 1',
      ]) assert.ok(text.includes(line), `${line} in\n${text}`);
    } finally {
      await api.close();
    }
  });
});
