// Flux's notification API end to end, on one real cluster with the hub and agent as processes
// and a real Temporal: Providers and Alerts applied with `flotilla apply` send the hub's events
// to local HTTP servers (generic, generic-hmac, GitHub commit statuses, one that answers 503
// for a while), deduplicated while a broken Kustomization keeps retrying; Receivers on the
// hub's HTTP server make a GitRepository fetch at once on a signed webhook, and refuse a bad
// signature. A Provider whose address is 169.254.169.254 is refused by the source policy.
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { NotificationsStatus } from '../../api/notifications.js';
import { isReady } from '../../core/conditions.js';
import { parseFlotillaEvent, type FlotillaEvent } from '../../core/notifications/event.js';
import { waitFor } from '../../deploy/dev/processes.js';
import { useFleet } from '../harness/fleet.js';
import { GitRepo } from '../harness/git.js';
import { RecordingServer } from '../harness/recording-server.js';
import { replayLive } from '../harness/replay.js';

const { fleet, dir } = useFleet({ dev: { env: 'dev' } }, 'flotilla-notify-');
const KS = 'kustomization/flux-system/app';
const SOURCE = 'gitrepository/flux-system/fleet';
const HMAC_KEY = 'provider-hmac-key';
const WEBHOOK_TOKEN = 'receiver-webhook-token';

/** One local server for every Provider, by path: /generic, /hmac, /quiet, /flaky, /api/v3/... (GitHub). */
class Receivers extends RecordingServer {
  /** /flaky answers 503 while this is set. */
  flakyDown = true;

  constructor() {
    super((r) => {
      let status = 200;
      if (r.url === '/hmac' && r.headers['x-signature'] !== `sha256=${createHmac('sha256', HMAC_KEY).update(r.body).digest('hex')}`) status = 401;
      if (r.url === '/flaky' && this.flakyDown) status = 503;
      if (r.url.startsWith('/api/v3/') && r.headers.authorization !== 'Bearer gh-token') status = 401;
      return { status, body: status === 200 ? '{}' : '{"message":"no"}' };
    });
  }

  /** Events delivered (answered 200) to a path. */
  events(path: string): FlotillaEvent[] {
    return this.received.filter((r) => r.url === path && r.status === 200).map((r) => parseFlotillaEvent(JSON.parse(r.body)));
  }
}

const servers = new Receivers();
const state: { repo?: GitRepo; commits: string[] } = { commits: [] };

function repo(): GitRepo {
  state.repo ??= new GitRepo(join(dir(), 'fleet'));
  return state.repo;
}

function commitApp(version: string): string {
  repo().writeObjects('app/app.yaml', [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'app', namespace: 'default' }, data: { version } }]);
  const sha = repo().commit(`app ${version}`);
  state.commits.push(sha);
  return sha;
}

async function apply(name: string, objects: readonly unknown[]): Promise<void> {
  const file = join(dir(), `${name}.yaml`);
  writeFileSync(file, objects.map((o) => stringify(o)).join('---\n'));
  const r = await fleet().cli('apply', '-f', file);
  assert.equal(r.code, 0, r.stdout + r.stderr);
}

const NOTIFY = 'notification.toolkit.fluxcd.io/v1beta3';
const meta = (name: string): { name: string; namespace: string } => ({ name, namespace: 'flux-system' });
const secret = (name: string, data: Record<string, string>): unknown => ({ apiVersion: 'v1', kind: 'Secret', metadata: meta(name), stringData: data });
const provider = (name: string, spec: Record<string, unknown>, apiVersion = NOTIFY): unknown => ({ apiVersion, kind: 'Provider', metadata: meta(name), spec });
const alert = (name: string, providerName: string, extra: Record<string, unknown> = {}, apiVersion = NOTIFY): unknown => ({
  apiVersion, kind: 'Alert', metadata: meta(name), spec: { providerRef: { name: providerName }, eventSources: [{ kind: 'Kustomization', name: '*' }], ...extra },
});
const kustomization = (path: string): unknown => ({
  apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: meta('app'),
  spec: { interval: '1h', retryInterval: '3s', prune: true, sourceRef: { kind: 'GitRepository', name: 'fleet' }, path, timeout: '30s' },
});

async function notifications(): Promise<NotificationsStatus> {
  return fleet().declarations.notifications();
}

/** waitFor, saying on timeout what the notifications workflow counted and what the servers received. */
async function waitForDelivery<T>(what: string, check: () => T | undefined, timeoutMs: number): Promise<T> {
  try {
    return await waitFor(what, () => Promise.resolve(check()), { timeoutMs });
  } catch (err) {
    const s = await notifications().catch(() => undefined);
    const counts = s && [...s.providers, ...s.alerts].map(({ declaration, ...rest }) => ({ name: `${declaration.kind}/${declaration.name}`, ...rest }));
    const received = servers.received.map((r) => `${r.status} ${r.url} ${r.body.slice(0, 160)}`);
    throw new Error(`${err instanceof Error ? err.message : String(err)}\ncounts: ${JSON.stringify(counts, null, 1)}\nreceived:\n${received.join('\n')}`, { cause: err });
  }
}

async function sourceRevision(): Promise<string> {
  const s = await fleet().status(SOURCE);
  return s.kind === 'GitRepository' ? s.status.artifact?.revision ?? '' : '';
}

describe('notifications: Providers, Alerts and Receivers', () => {
  before(async () => { await servers.start(); });
  after(async () => { await servers.stop(); });

  it('applies Secrets, Providers, Alerts, Receivers and a Kustomization; the success reaches the generic endpoint as Flux\'s event', async () => {
    const first = commitApp('1');
    const origin = servers.origin;
    await apply('notifications', [
      secret('hmac-key', { token: HMAC_KEY }), secret('github-token', { token: 'gh-token' }), secret('webhook-token', { token: WEBHOOK_TOKEN }),
      // Flux's older versions are read too (converted to v1beta3 and v1): v1beta1 and v1beta2 below.
      provider('generic', { type: 'generic', address: `${origin}/generic` }, 'notification.toolkit.fluxcd.io/v1beta1'),
      provider('hmac', { type: 'generic-hmac', address: `${origin}/hmac`, secretRef: { name: 'hmac-key' } }, 'notification.toolkit.fluxcd.io/v1beta2'),
      provider('quiet', { type: 'generic', address: `${origin}/quiet` }),
      provider('flaky', { type: 'generic', address: `${origin}/flaky`, timeout: '5s' }),
      provider('github', { type: 'github', address: `${origin}/org/fleet`, secretRef: { name: 'github-token' } }),
      alert('all', 'generic', { eventMetadata: { env: 'test' } }),
      alert('errors', 'hmac', { eventSeverity: 'error' }, 'notification.toolkit.fluxcd.io/v1beta1'),
      alert('no-successes', 'quiet', { exclusionList: ['^cluster dev: applied'] }, 'notification.toolkit.fluxcd.io/v1beta2'),
      alert('flaky', 'flaky'),
      alert('commit-status', 'github'),
      { apiVersion: 'notification.toolkit.fluxcd.io/v1beta1', kind: 'Receiver', metadata: meta('hook'),
        spec: { type: 'generic-hmac', secretRef: { name: 'webhook-token' }, resources: [{ kind: 'GitRepository', name: 'fleet' }, { kind: 'GitRepository', name: 'absent' }] } },
      { apiVersion: 'notification.toolkit.fluxcd.io/v1', kind: 'Receiver', metadata: meta('github'),
        spec: { type: 'github', events: ['push'], secretRef: { name: 'webhook-token' }, resources: [{ kind: 'GitRepository', name: 'fleet' }] } },
    ]);
    // Alerts first: as in Flux, an event that happens before an Alert exists is not sent.
    await apply('fleet', [
      { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: meta('fleet'), spec: { url: repo().url, interval: '1h', ref: { branch: 'main' } } },
      kustomization('./app'),
    ]);
    await fleet().waitForReadyAt(KS, `main@sha1:${first}`);
    const e = await waitFor('ReconciliationSucceeded at /generic', () => Promise.resolve(servers.events('/generic').find((x) => x.reason === 'ReconciliationSucceeded')), { timeoutMs: 30_000 });
    assert.deepEqual(e.involvedObject, { kind: 'Kustomization', namespace: 'flux-system', name: 'app', apiVersion: 'kustomize.toolkit.fluxcd.io/v1' });
    assert.deepEqual([e.severity, e.metadata.revision, e.metadata.cluster, e.metadata.env, e.reportingController], ['info', `main@sha1:${first}`, 'dev', 'test', 'flotilla-hub']);
    assert.match(e.message, /^cluster dev: applied: 1 created/);
    const request = servers.received.find((r) => r.url === '/generic');
    assert.equal(request?.headers['gotk-component'], 'flotilla-hub');
    assert.equal(request.headers['content-type'], 'application/json');
    // Applying the same file again changes nothing.
    const again = await fleet().cli('apply', '-f', join(dir(), 'notifications.yaml'));
    assert.match(again.stdout, /Alert\/flux-system\/all unchanged/);
    assert.match(again.stdout, /Receiver\/flux-system\/hook unchanged/);
  });

  it('sets a GitHub commit status for the commit', async () => {
    const sha = state.commits[0] ?? '';
    const status = await waitForDelivery('commit status', () => servers.received.find((r) => r.url === `/api/v3/repos/org/fleet/statuses/${sha}` && r.status === 200), 30_000);
    assert.deepEqual(JSON.parse(status.body), { state: 'success', context: 'kustomization/app/dev', description: 'reconciliation succeeded' });
  });

  it('an error-only Alert gets nothing for a success; a broken build is notified once although it keeps retrying', async () => {
    assert.deepEqual(servers.events('/hmac'), [], 'no success event at the error-only endpoint');
    await apply('broken', [kustomization('./nope')]);
    const failure = await waitFor('BuildFailed at /hmac', () => Promise.resolve(servers.events('/hmac').find((x) => x.reason === 'BuildFailed')), { timeoutMs: 30_000 });
    assert.equal(failure.severity, 'error');
    assert.match(failure.message, /kustomization path not found/);
    assert.equal(failure.metadata.revision, `main@sha1:${state.commits[0] ?? ''}`);
    // The Kustomization retries every 3s; the notification is not sent again within the dedup window.
    const reconciles = new Set<number>();
    const until = Date.now() + 12_000;
    while (Date.now() < until) {
      const s = await fleet().kustomization(KS);
      assert.ok(!isReady(s.conditions));
      reconciles.add(s.lastReconciledAt);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    assert.ok(reconciles.size >= 3, `the build was retried (${reconciles.size} reconciles seen)`);
    assert.equal(servers.events('/hmac').filter((x) => x.reason === 'BuildFailed').length, 1, 'one notification for the repeated failure');
    assert.equal(servers.received.filter((r) => r.url === '/hmac' && r.status !== 200).length, 0, 'every generic-hmac request was signed with the key');
    const alerts = (await notifications()).alerts;
    assert.ok((alerts.find((a) => a.declaration.name === 'errors')?.duplicates ?? 0) >= 2, 'the repeats were counted as duplicates');
    // The exclusionList keeps successes from 'quiet', not the failure.
    assert.deepEqual(servers.events('/quiet').map((x) => x.reason), ['BuildFailed']);
    await apply('fixed', [kustomization('./app')]);
    await fleet().waitForKustomization(KS, (s) => isReady(s.conditions), 'Ready again');
  });

  it('a Provider answering 503 gets its events later, while reconciles go on', async () => {
    // /flaky has answered 503 since the first event (its deliveries retry with backoff); meanwhile a new commit becomes Ready.
    const second = commitApp('2');
    const r = await fleet().cli('reconcile', 'kustomization', 'app', '--with-source');
    assert.equal(r.code, 0, r.stderr);
    await fleet().waitForReadyAt(KS, `main@sha1:${second}`);
    assert.ok(servers.received.filter((x) => x.url === '/flaky' && x.status === 503).length >= 3, 'deliveries to /flaky were failing, and retried');
    assert.deepEqual(servers.events('/flaky'), [], 'nothing delivered there yet');
    servers.flakyDown = false;
    await waitForDelivery('both successes at /flaky', () => (servers.events('/flaky').filter((x) => x.reason === 'ReconciliationSucceeded').length >= 2 ? true : undefined), 120_000);
    const revisions = servers.events('/flaky').filter((x) => x.reason === 'ReconciliationSucceeded').map((x) => x.metadata.revision);
    assert.deepEqual(new Set(revisions), new Set([`main@sha1:${state.commits[0] ?? ''}`, `main@sha1:${second}`]));
    await waitForDelivery('the failure sent meanwhile, at /flaky', () => servers.events('/flaky').find((x) => x.reason === 'BuildFailed'), 120_000);
    const p = (await notifications()).providers.find((x) => x.declaration.name === 'flaky');
    assert.equal(p?.failed, 0, 'no notification failed for good');
  });

  it('a signed webhook makes the GitRepository fetch at once; a bad signature is refused with 401 and counted', async () => {
    const list = await fleet().cli('get', 'receivers');
    assert.equal(list.code, 0, list.stderr);
    const path = /hook\s+generic-hmac\s+false\s+gitrepository\/flux-system\/fleet,gitrepository\/flux-system\/absent\s+(\/hook\/[0-9a-f]{64})/.exec(list.stdout)?.[1];
    assert.ok(path, list.stdout);
    // The hub's API gives the same path (flotilla --hub).
    const viaHub = await fleet().cliVia(['--hub', fleet().hubUrl, 'get', 'receivers', '-o', 'json']);
    assert.equal(viaHub.code, 0, viaHub.stderr);
    assert.ok((JSON.parse(viaHub.stdout) as { path?: string }[]).some((x) => x.path === path));

    const third = commitApp('3');
    const body = JSON.stringify({ ref: 'refs/heads/main', after: third });
    const sign = (key: string): string => `sha256=${createHmac('sha256', key).update(body).digest('hex')}`;
    const bad = await fetch(`${fleet().hubUrl}${path}`, { method: 'POST', headers: { 'X-Signature': sign('wrong-key') }, body });
    assert.equal(bad.status, 401);
    assert.ok(!(await bad.text()).includes(WEBHOOK_TOKEN));
    const good = await fetch(`${fleet().hubUrl}${path}`, { method: 'POST', headers: { 'X-Signature': sign(WEBHOOK_TOKEN) }, body });
    assert.equal(good.status, 200);
    assert.deepEqual(await good.json(), {
      status: 'accepted', receiver: 'flux-system/hook', triggered: [SOURCE], missing: ['gitrepository/flux-system/absent'],
    });
    // interval is 1h: only the webhook explains a fetch now.
    await waitFor('the new commit fetched', async () => ((await sourceRevision()).endsWith(third) ? true : undefined), { timeoutMs: 20_000 });

    const ghPath = /github\s+github\s+false\s+\S+\s+(\/hook\/[0-9a-f]{64})/.exec(list.stdout)?.[1];
    assert.ok(ghPath, list.stdout);
    const ping = await fetch(`${fleet().hubUrl}${ghPath}`, { method: 'POST', headers: { 'X-Hub-Signature-256': sign(WEBHOOK_TOKEN), 'X-GitHub-Event': 'ping' }, body });
    assert.equal(ping.status, 200);
    assert.equal((await ping.json() as { status: string }).status, 'ping');
    const fourth = commitApp('4');
    const pushBody = JSON.stringify({ ref: 'refs/heads/main', after: fourth });
    const push = await fetch(`${fleet().hubUrl}${ghPath}`, {
      method: 'POST', body: pushBody,
      headers: { 'X-Hub-Signature-256': `sha256=${createHmac('sha256', WEBHOOK_TOKEN).update(pushBody).digest('hex')}`, 'X-GitHub-Event': 'push' },
    });
    assert.equal(push.status, 200);
    await waitFor('the pushed commit fetched', async () => ((await sourceRevision()).endsWith(fourth) ? true : undefined), { timeoutMs: 20_000 });
    assert.equal((await fetch(`${fleet().hubUrl}/hook/${'0'.repeat(64)}`, { method: 'POST', body: '{}' })).status, 404);

    const metrics = await (await fetch(`${fleet().hubUrl}/metrics`)).text();
    for (const line of [
      'flotilla_receiver_requests_total{receiver="flux-system/hook",result="bad_signature"} 1',
      'flotilla_receiver_requests_total{receiver="flux-system/hook",result="accepted"} 1',
      'flotilla_receiver_requests_total{receiver="flux-system/github",result="ping"} 1',
      'flotilla_receiver_requests_total{receiver="unknown",result="not_found"} 1',
    ]) assert.ok(metrics.includes(line), `${line} in /metrics`);
    assert.match(metrics, /flotilla_notifications_total\{provider="flux-system\/generic",result="sent"\} [1-9]/);
  });

  it('get alerts and providers show the counts; delete removes an Alert', async () => {
    const alerts = await fleet().cli('get', 'alerts');
    assert.equal(alerts.code, 0, alerts.stderr);
    assert.match(alerts.stdout, /^NAME\s+PROVIDER\s+SEVERITY\s+SUSPENDED\s+SENT\s+DUPLICATES\s+RATE-LIMITED\s+FAILED\s+SKIPPED\s+LAST SENT\s+MESSAGE/m);
    assert.match(alerts.stdout, /^errors\s+hmac\s+error\s+false\s+1\s+[1-9]\d*\s+0\s+0\s+0\s/m);
    const providers = await fleet().cli('get', 'providers', '-o', 'json');
    assert.ok((JSON.parse(providers.stdout) as { declaration: { name: string }; sent: number }[]).some((p) => p.declaration.name === 'github' && p.sent >= 1));
    const deleted = await fleet().cli('delete', 'alert/no-successes');
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.ok(!(await notifications()).alerts.some((a) => a.declaration.name === 'no-successes'));
    assert.equal((await fleet().cli('delete', 'alert', 'no-successes')).code, 1, 'gone');
  });

  it('a Provider pointing at 169.254.169.254 is refused by the source policy (at apply, and at delivery when the address is in its Secret); the other Providers still get the event', async () => {
    // The hub runs with the development policy (deploy/dev/source-policy.ts: http to 127.0.0.0/8), which does not allow the metadata address.
    const file = join(dir(), 'metadata-inline.yaml');
    writeFileSync(file, stringify(provider('metadata-inline', { type: 'generic', address: 'http://169.254.169.254/latest/meta-data/iam/security-credentials/' })));
    const refused = await fleet().cli('apply', '-f', file);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /nothing applied; the hub's source policy refuses:\n {2}Provider\/flux-system\/metadata-inline spec\.address: http:\/\/169\.254\.169\.254 is 169\.254\.169\.254, a link-local \(cloud metadata\) address, refused by the source policy \(sources\.allowPrivateNetworks\); add 169\.254\.169\.254 or its range to sources\.allowHosts if this is intended/);
    assert.ok(!(await notifications()).providers.some((x) => x.declaration.name === 'metadata-inline'), 'nothing applied');
    // An address in the Secret is not known at apply time: delivery refuses it, and sends nothing there.
    await apply('metadata', [
      secret('metadata-hook', { address: 'http://169.254.169.254/latest/meta-data/iam/security-credentials/' }),
      provider('metadata', { type: 'generic', secretRef: { name: 'metadata-hook' } }),
      alert('metadata', 'metadata'),
    ]);
    const fifth = commitApp('5');
    const r = await fleet().cli('reconcile', 'kustomization', 'app', '--with-source');
    assert.equal(r.code, 0, r.stderr);
    await fleet().waitForReadyAt(KS, `main@sha1:${fifth}`);
    // 60 s: the event goes out after the reconcile on a busy machine; the refusal itself is immediate (non-retryable).
    const p = await waitFor('the metadata Provider refused', async () => {
      const found = (await notifications()).providers.find((x) => x.declaration.name === 'metadata');
      return found !== undefined && found.failed >= 1 ? found : undefined;
    }, { timeoutMs: 60_000 });
    assert.equal(p.sent, 0);
    assert.equal(p.lastError, 'Provider flux-system/metadata the address key of Secret flux-system/metadata-hook: http://169.254.169.254 is 169.254.169.254, '
      + 'a link-local (cloud metadata) address, refused by the source policy (sources.allowPrivateNetworks); add 169.254.169.254 or its range to sources.allowHosts if this is intended; nothing was sent');
    // The same event reached the allowed Provider of the other Alert.
    await waitForDelivery('the success of the fifth commit at /generic', () =>
      servers.events('/generic').find((x) => x.reason === 'ReconciliationSucceeded' && x.metadata.revision === `main@sha1:${fifth}`), 30_000);
  });

  it('the notifications workflow history replays deterministically', async () => {
    await replayLive(fleet().client, ['notifications']);
  });
});
