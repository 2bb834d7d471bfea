// Transient API server faults are transient (tracker issue #23), against a real kube-apiserver
// behind a real fault-injecting proxy (test/harness/fault-proxy.ts): 503s and 429s for 20 s
// while an apply runs never make a deployment Invalid; the apply completes once the server is
// back; a 429's Retry-After is honoured; a 500 for a manifest the server cannot convert is the
// manifest's fault (Invalid), not a transient one. Also: what a report of 10,000 failing
// objects carries to the hub is capped, and an exception during an apply still ends in a report. Every part is real: the agent talks gRPC
// over TLS to the hub's gateway, whose fleet is the real cluster actor (workflows/cluster.ts)
// on a real Temporal server (hub/fleet.ts TemporalFleet, as in hub-agents.test.ts); desired
// state is set through the actor's update and pushed by its activity. What reached the hub is
// read from the actor: its status query (the newest report of each deployment) and its
// history (every report signal it received, with the server's time).
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { credentials, Metadata } from '@grpc/grpc-js';
import { defaultPayloadConverter } from '@temporalio/common';
import { stringify } from 'yaml';
import {
  clusterStatusQuery, clusterWorkflowId, upsertDeploymentUpdate, type ClusterStatus, type DeploymentOptions,
  type DesiredState, type ReportSummary,
} from '../../api/cluster.js';
import { createDeliveryActivities } from '../../activities/agent-delivery.js';
import { Agent } from '../../agents/agent.js';
import { Applier } from '../../agents/apply/applier.js';
import { ClusterClient, isTransientError, KubeApiError } from '../../agents/apply/cluster-client.js';
import type { KubeObject } from '../../core/objects.js';
import { MAX_REPORT_MESSAGE_BYTES } from '../../core/report-cap.js';
import { FileArtifactStore } from '../../hub/artifact-store.js';
import { FileBlobStore } from '../../hub/blob-store.js';
import { TemporalFleet } from '../../hub/fleet.js';
import { AgentGateway } from '../../hub/gateway.js';
import { RegistrationStore } from '../../hub/registration.js';
import { ensureSelfSignedTls, type TlsMaterial } from '../../hub/tls.js';
import { CLUSTER_METADATA, agentProto } from '../../proto/load.js';
import { reportsReceived, type ReceivedReport } from '../harness/cluster-reports.js';
import { FaultProxy } from '../harness/fault-proxy.js';
import { startWorker, useEnvironment, type RunningWorker } from '../harness/index.js';

const CLUSTER = 'faulty';
const TASK_QUEUE = 'hub';
/** How long each fault lasts: an apiserver restart, or a throttling storm. */
const FAULT_MS = 20_000;
/** The agent's request retry budget here: shorter than the fault, so the fault outlasts it. */
const SHORT_RETRY = { budgetMs: 3_000, baseDelayMs: 100, maxDelayMs: 1_000 };
const OPTIONS: DeploymentOptions = { prune: true, force: false, correctDrift: true, defaultNamespace: 'default', healthTimeoutSeconds: 0 };

interface Hub {
  dir: string;
  tls: TlsMaterial;
  registration: RegistrationStore;
  artifacts: FileArtifactStore;
  gateway: AgentGateway;
  /** A Temporal worker running the real workflows (the cluster actors) and the delivery activity. */
  worker: RunningWorker;
  address: string;
}

const state: { hub?: Hub; proxy?: FaultProxy; agent?: Agent } = {};

const env = useEnvironment({ clusters: [CLUSTER] }, {
  afterStart: async (e) => {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-faults-'));
    const registration = new RegistrationStore(new FileBlobStore(join(dir, 'registration')));
    const artifacts = new FileArtifactStore(join(dir, 'artifacts'));
    const tls = await ensureSelfSignedTls(join(dir, 'tls'));
    // As in the hub: the worker's delivery activity writes to the gateway's streams, and the
    // gateway's fleet is the cluster actors, reached through the worker's client.
    const late: { gateway?: AgentGateway } = {};
    const worker = await startWorker(e, {
      taskQueue: TASK_QUEUE,
      workflowsPath: fileURLToPath(new URL('../../workflows/index.js', import.meta.url)),
      activities: createDeliveryActivities({ sendDesiredState: (c, d) => late.gateway?.sendDesiredState(c, d) ?? false }),
    });
    const gateway = new AgentGateway({ registration, artifacts, fleet: new TemporalFleet(worker.client, TASK_QUEUE, registration), heartbeatIntervalSeconds: 1 });
    late.gateway = gateway;
    const port = await gateway.listen('127.0.0.1:0', tls);
    state.hub = { dir, tls, registration, artifacts, gateway, worker, address: `127.0.0.1:${port}` };
    state.proxy = await FaultProxy.start(e.cluster(CLUSTER));
  },
  beforeStop: async () => {
    await state.agent?.stop();
    await state.hub?.gateway.stop();
    await state.hub?.worker.shutdown();
    await state.proxy?.stop();
    if (state.hub) rmSync(state.hub.dir, { recursive: true, force: true });
  },
});

function hub(): Hub {
  if (!state.hub) throw new Error('hub not started');
  return state.hub;
}
function proxy(): FaultProxy {
  if (!state.proxy) throw new Error('proxy not started');
  return state.proxy;
}

/** A client straight to the apiserver, past the proxy: the independent witness. */
function direct(): ClusterClient {
  return new ClusterClient(env().cluster(CLUSTER).kubeConfig());
}

/** The cluster actor's status, from its query (undefined until the actor exists). */
async function actorStatus(cluster: string): Promise<ClusterStatus | undefined> {
  try {
    return await hub().worker.client.workflow.getHandle(clusterWorkflowId(cluster)).query(clusterStatusQuery);
  } catch {
    return undefined; // not started yet
  }
}

/** The agent, through the proxy, with the short retry budget; started once. */
async function agent(): Promise<Agent> {
  if (state.agent) return state.agent;
  const { token } = await hub().registration.createToken({ ttlMs: 600_000, cluster: CLUSTER });
  const a = new Agent({
    hubAddress: hub().address, hubCa: hub().tls.ca, cluster: CLUSTER, token, kubeConfig: proxy().kubeConfig(),
    // No drift rounds: what completes an apply after a fault is the agent's own soon retry.
    driftIntervalMs: 0, kubeRetry: SHORT_RETRY,
  });
  state.agent = a;
  await a.start();
  // Generous: the first connection registers, stores the credential and lists the API (slow under load).
  await waitUntil('the agent connects', () => a.hubConnected, 60_000);
  await waitUntil('the cluster actor records the agent Connected', async () => (await actorStatus(CLUSTER))?.connection === 'Connected', 60_000);
  return a;
}

const ns = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
const cm = (name: string, namespace: string, data: Record<string, string> = { key: 'value' }): KubeObject =>
  ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data });
const configMaps = (count: number, namespace: string, prefix: string, data?: Record<string, string>): KubeObject[] =>
  Array.from({ length: count }, (_, i) => cm(`${prefix}-${i}`, namespace, data));

/**
 * Sets `name` to these objects in the cluster actor's desired state (its upsert update, as a
 * Kustomization does), and waits until the actor's push activity found the agent's stream;
 * returns the generation the actor gave it.
 */
async function deploy(name: string, objects: readonly KubeObject[]): Promise<number> {
  const digest = await hub().artifacts.put(objects.map((o) => stringify(o)).join('---\n'));
  const handle = hub().worker.client.workflow.getHandle(clusterWorkflowId(CLUSTER));
  const { generation, changed } = await handle.executeUpdate(upsertDeploymentUpdate, { args: [{ name, artifactDigest: digest, options: OPTIONS }] });
  assert.ok(changed, `${name}: a new generation`);
  const version = (await handle.query(clusterStatusQuery)).desired.version;
  // Generous: the activity runs on a loaded worker.
  await waitUntil(`the actor pushed desired state ${version} to the agent's stream`, async () => (await pushes()).get(version) === true, 30_000);
  return generation;
}

/**
 * The actor's pushDesiredState activities, from its history: desired-state version → whether
 * the gateway had the agent's stream (the activity's result; false: not connected).
 */
async function pushes(): Promise<Map<number, boolean>> {
  const history = await hub().worker.client.workflow.getHandle(clusterWorkflowId(CLUSTER)).fetchHistory();
  const scheduled = new Map<number, number>();
  const out = new Map<number, boolean>();
  for (const e of history.events ?? []) {
    const s = e.activityTaskScheduledEventAttributes;
    const input = s?.activityType?.name === 'pushDesiredState' ? s.input?.payloads?.[0] : undefined;
    if (input) scheduled.set(Number(e.eventId), defaultPayloadConverter.fromPayload<{ desired: DesiredState }>(input).desired.version);
    const c = e.activityTaskCompletedEventAttributes;
    const version = c ? scheduled.get(Number(c.scheduledEventId)) : undefined;
    const result = c?.result?.payloads?.[0];
    if (version !== undefined && result) out.set(version, defaultPayloadConverter.fromPayload<boolean>(result));
  }
  return out;
}

/** Every report of `name`@`generation` the actor received (its signals, in order). */
async function reportsOf(name: string, generation: number, cluster = CLUSTER): Promise<ReceivedReport[]> {
  return (await reportsReceived(hub().worker.client, cluster)).filter((r) => r.report.name === name && r.report.generation === generation);
}

/** Waits until the actor's status holds a report of `name`@`generation` in one of `phases`; returns it. */
async function waitForPhase(name: string, generation: number, phases: readonly string[], timeoutMs: number, cluster = CLUSTER): Promise<ReportSummary> {
  let found: ReportSummary | undefined;
  await waitUntil(`the actor of ${cluster} holds ${name}@${generation} ${phases.join('/')}`, async () => {
    found = (await actorStatus(cluster))?.reports.find((r) => r.name === name && r.generation === generation && phases.includes(r.phase));
    return found !== undefined;
  }, timeoutMs);
  if (!found) throw new Error('unreachable');
  return found;
}

async function waitUntil(what: string, done: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await sleep(200);
  }
}

async function countExisting(objects: readonly KubeObject[]): Promise<number> {
  const c = direct();
  try {
    let n = 0;
    for (const o of objects) if (await c.get(o)) n++;
    return n;
  } finally {
    c.close();
  }
}

/**
 * Turns `fault` on, starts `during` once it is on, and turns it off FAULT_MS later; returns
 * when the fault went on and off.
 */
async function withFault(fault: Parameters<FaultProxy['set']>[0], during: () => Promise<void>): Promise<{ on: number; off: number }> {
  proxy().set(fault);
  const on = Date.now();
  await during();
  await sleep(Math.max(0, on + FAULT_MS - Date.now()));
  proxy().set(undefined);
  return { on, off: Date.now() };
}

describe('API server faults', () => {
  it('the client rides out 20 s of 503s that start during the dry-run (default 30 s budget): Applied, nothing Invalid', async (t: TestContext) => {
    // A client of its own, through the proxy, with the default retry policy.
    const c = new ClusterClient(proxy().kubeConfig());
    try {
      const objects = [ns('ride-out'), ...configMaps(300, 'ride-out', 'cm')];
      const started = Date.now();
      const applying = new Applier(c).apply({ name: 'ride-out', generation: 1, objects });
      // The fault starts while the dry-run is under way.
      await waitUntil('the dry-run is under way', () => c.stats.dryRuns >= 20, 30_000);
      const before = { ...proxy().counts };
      let settled = false;
      void applying.then(() => { settled = true; }, () => { settled = true; });
      const dryRunsAtFault = c.stats.dryRuns;
      const fault = await withFault({ kind: 'unavailable' }, () => Promise.resolve());
      assert.equal(settled, false, 'the apply was still waiting for the server when the fault ended');
      const report = await applying;
      const done = Date.now();
      assert.equal(report.phase, 'Applied', JSON.stringify(report.errors.slice(0, 3)));
      assert.equal(report.counts.created, 301);
      assert.equal(await countExisting(objects), 301, 'every object exists (read past the proxy)');
      const answered503 = proxy().counts.unavailable - before.unavailable;
      assert.ok(answered503 > 0, 'the proxy answered 503s');
      assert.ok(c.stats.retries > 0);
      t.diagnostic(`fault on after ${dryRunsAtFault} of 301 dry-runs, for ${fault.off - fault.on} ms; ${answered503} requests answered 503; ${c.stats.retries} retries; apply took ${done - started} ms, done ${done - fault.off} ms after the fault ended`);
    } finally {
      c.close();
    }
  });

  it('503s for 20 s past the retry budget: the agent reports Applying (waiting for the API server), never Invalid, and applies once the server is back', async (t: TestContext) => {
    await agent();
    const objects = [ns('unavailable'), ...configMaps(20, 'unavailable', 'cm')];
    let generation = 0;
    const fault = await withFault({ kind: 'unavailable' }, async () => {
      generation = await deploy('unavailable', objects);
    });
    // Generous: 20 s of fault, then a soon retry and 21 applies on a loaded machine.
    const ready = await waitForPhase('unavailable', generation, ['READY', 'INVALID', 'FAILED', 'UNHEALTHY'], 120_000);
    assert.equal(ready.phase, 'READY', ready.message);
    // Every report the actor received for this generation (its signals), not just the last.
    const all = await reportsOf('unavailable', generation);
    assert.deepEqual(all.filter((r) => r.report.phase !== 'APPLYING' && r.report.phase !== 'READY'), [], 'no Invalid/Failed report');
    const waiting = all.filter((r) => r.report.phase === 'APPLYING' && r.report.message.startsWith('waiting for the API server'));
    assert.ok(waiting.length >= 1, JSON.stringify(all.map((r) => `${r.report.phase}: ${r.report.message}`)));
    assert.match(waiting[0]?.report.message ?? '', /unable to handle the request.*; retrying in \d+s$/);
    assert.equal(await countExisting(objects), 21);
    const readyAt = all.find((r) => r.report.phase === 'READY')?.at ?? 0;
    t.diagnostic(`fault ${fault.off - fault.on} ms; ${waiting.length} "waiting for the API server" reports; ${proxy().counts.unavailable} requests answered 503 so far; Ready ${readyAt - fault.off} ms after the fault ended`);
  });

  it('429 with Retry-After for 20 s: same, the agent waits and applies', async (t: TestContext) => {
    await agent();
    const objects = [ns('throttled'), ...configMaps(20, 'throttled', 'cm')];
    let generation = 0;
    const before = proxy().counts.throttled;
    const fault = await withFault({ kind: 'throttled', retryAfterSeconds: 1 }, async () => {
      generation = await deploy('throttled', objects);
    });
    const ready = await waitForPhase('throttled', generation, ['READY', 'INVALID', 'FAILED', 'UNHEALTHY'], 120_000);
    assert.equal(ready.phase, 'READY', ready.message);
    const all = await reportsOf('throttled', generation);
    assert.deepEqual(all.filter((r) => r.report.phase !== 'APPLYING' && r.report.phase !== 'READY'), [], 'no Invalid/Failed report');
    const waiting = all.filter((r) => r.report.phase === 'APPLYING' && r.report.message.startsWith('waiting for the API server'));
    assert.ok(waiting.length >= 1, JSON.stringify(all.map((r) => `${r.report.phase}: ${r.report.message}`)));
    assert.match(waiting[0]?.report.message ?? '', /Too many requests/);
    assert.equal(await countExisting(objects), 21);
    const readyAt = all.find((r) => r.report.phase === 'READY')?.at ?? 0;
    t.diagnostic(`fault ${fault.off - fault.on} ms; ${proxy().counts.throttled - before} requests answered 429 (Retry-After: 1); ${waiting.length} waiting reports; Ready ${readyAt - fault.off} ms after the fault ended`);
  });

  it('the client honours Retry-After: a 429 with Retry-After: 2 is asked again no sooner than 2 s later', async (t: TestContext) => {
    // Backoff of its own at most 100 ms: were Retry-After ignored, 7 s of 429s would be asked
    // ~70 times; honoured, at most 4 times (at 0 s, ≥2 s, ≥4 s, ≥6 s). A slow machine only
    // lengthens the gaps, so the bound cannot fail for load.
    const c = new ClusterClient(proxy().kubeConfig(), undefined, undefined, { retry: { budgetMs: 60_000, baseDelayMs: 50, maxDelayMs: 100 } });
    try {
      const target = ns('default');
      assert.ok(await c.get(target), 'warm-up (discovery) before the fault');
      const before = { throttled: proxy().counts.throttled, retries: c.stats.retries };
      proxy().set({ kind: 'throttled', retryAfterSeconds: 2 });
      const started = Date.now();
      const getting = c.get(target);
      await sleep(7_000);
      proxy().set(undefined);
      const got = await getting;
      const took = Date.now() - started;
      assert.ok(got, 'answered once the throttling ended');
      const answered429 = proxy().counts.throttled - before.throttled;
      assert.ok(answered429 >= 2, `${answered429} requests answered 429: the fault was met and retried`);
      assert.ok(answered429 <= 4, `${answered429} requests answered 429 in 7 s: Retry-After: 2 not honoured`);
      // Each 429 was retried, not handed to the caller (a connection the proxy closed can add a retry of its own).
      const retries = c.stats.retries - before.retries;
      assert.ok(retries >= answered429, `${retries} retries for ${answered429} 429s`);
      t.diagnostic(`7 s of 429 (Retry-After: 2): ${answered429} requests answered 429, ${retries} retries; the GET returned after ${took} ms`);
    } finally {
      c.close();
    }
  });

  it('a 500 for a manifest the API server cannot convert is not transient: Invalid at once, never "waiting for the API server"', async (t: TestContext) => {
    await agent();
    // A ConfigMap value that is a number: server-side apply cannot build its typed patch and
    // answers 500 ("failed to create typed patch object … expected string"), every time.
    const bad: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'not-a-string', namespace: 'unconvertible' }, data: { replicas: 3 } };
    const objects = [ns('unconvertible'), bad];
    // The witness, past the proxy: the API server itself answers 500 to it (a dry run writes nothing).
    const c = direct();
    try {
      await assert.rejects(c.apply(bad, { dryRun: true }), (err: unknown) => {
        assert.ok(err instanceof KubeApiError, String(err));
        assert.equal(err.code, 500, err.message);
        assert.match(err.message, /failed to create typed patch object/);
        assert.equal(isTransientError(err), false, 'not taken for an unavailable server');
        return true;
      });
    } finally {
      c.close();
    }
    const generation = await deploy('unconvertible', objects);
    const invalid = await waitForPhase('unconvertible', generation, ['INVALID', 'READY', 'FAILED'], 60_000);
    assert.equal(invalid.phase, 'INVALID', invalid.message);
    assert.match(invalid.message, /ConfigMap\/unconvertible\/not-a-string: .*typed patch/);
    const all = await reportsOf('unconvertible', generation);
    assert.deepEqual(all.filter((r) => r.report.message.startsWith('waiting for the API server')).map((r) => r.report.message), [], 'never taken for an unavailable server');
    assert.equal(await countExisting([bad]), 0, 'nothing of it written');
    t.diagnostic(`reported: ${invalid.phase}: ${invalid.message}`);
  });

  it('a report of 10,000 failing objects reaches the hub within the caps; so does a report of 150 objects', async (t: TestContext) => {
    await agent();
    // 10,000 objects of a kind the cluster does not serve: each one an error.
    const gadgets: KubeObject[] = Array.from({ length: 10_000 }, (_, i) => ({ apiVersion: 'example.com/v1', kind: 'Gadget', metadata: { name: `gadget-${i}`, namespace: 'gadgets' } }));
    const generation = await deploy('gadgets', gadgets);
    const invalid = await waitForPhase('gadgets', generation, ['INVALID', 'READY', 'FAILED'], 120_000);
    assert.equal(invalid.phase, 'INVALID');
    assert.ok(Buffer.byteLength(invalid.message) <= MAX_REPORT_MESSAGE_BYTES, `${Buffer.byteLength(invalid.message)} bytes`);
    assert.match(invalid.message, /^Gadget\/gadgets\/gadget-0: the cluster does not serve kind Gadget in example\.com\/v1/);
    const cut = /… and ([\d,]+) more entries not shown \(report capped at 100 objects \/ 4 KiB\)$/.exec(invalid.message);
    assert.ok(cut, invalid.message.slice(-200));
    const shown = invalid.message.split('; ').length;
    assert.equal(shown + Number(cut[1]?.replace(/,/g, '')), 10_000, 'shown + not shown = every error');
    // The Temporal signal that carried it held the same capped report (the actor's state is made from it).
    const signalled = (await reportsOf('gadgets', generation)).filter((r) => r.report.phase === 'INVALID');
    assert.ok(signalled.length >= 1, 'the actor received the Invalid report as a signal');
    for (const r of signalled) assert.ok(Buffer.byteLength(r.report.message) <= MAX_REPORT_MESSAGE_BYTES, `signal: ${Buffer.byteLength(r.report.message)} bytes`);
    assert.equal(signalled.at(-1)?.report.message, invalid.message);
    t.diagnostic(`10,000 errors: ${Buffer.byteLength(invalid.message)} bytes reached the hub, ${shown} entries shown, ${cut[1]} not`);

    // Successful, but more objects than a report lists: the list is cut, the counts are not.
    const many = [ns('many'), ...configMaps(149, 'many', 'cm')];
    const g2 = await deploy('many', many);
    const ready = await waitForPhase('many', g2, ['READY', 'INVALID', 'FAILED'], 120_000);
    assert.equal(ready.phase, 'READY', ready.message);
    assert.equal(ready.message, 'applied: 150 created, 0 configured, 0 unchanged, 0 pruned … and 50 more objects not shown (report capped at 100 objects / 4 KiB)');
    assert.equal(ready.counts.objects, 150);
  });

  it('the hub caps a report from an agent that does not (an agent from before the caps)', async () => {
    const { token } = await hub().registration.createToken({ ttlMs: 60_000, cluster: 'old-agent' });
    const Ctor = agentProto().AgentGateway;
    const client = new Ctor(hub().address, credentials.createSsl(hub().tls.ca));
    try {
      const { credential } = await new Promise<{ credential: string }>((resolve, reject) => {
        client.Register({ token, cluster: 'old-agent', agent_version: 'v0.1.0' }, (err, res) => { if (err || !res) reject(err ?? new Error('no response')); else resolve(res); });
      });
      const md = new Metadata();
      md.set('authorization', `Bearer ${credential}`);
      md.set(CLUSTER_METADATA, 'old-agent');
      const stream = client.Connect(md);
      stream.on('error', () => undefined);
      const welcomed = new Promise<void>((resolve) => { stream.on('data', (m: { body?: string }) => { if (m.body === 'welcome') resolve(); }); });
      stream.write({ hello: { cluster: 'old-agent', agent_version: 'v0.1.0', kubernetes_version: 'v1.30.0', api_resources: [], desired_state_version: '0' } });
      await welcomed;
      const message = Array.from({ length: 20_000 }, (_, i) => `ConfigMap/apps/cm-${i}: failed`).join('; ');
      stream.write({ report: { name: 'kustomization/apps/old', generation: '3', phase: 'PHASE_INVALID', message, finished_at_unix_ms: String(Date.now()) } });
      // Generous: the report becomes a signal-with-start of the old agent's own cluster actor.
      const got = await waitForPhase('kustomization/apps/old', 3, ['INVALID'], 60_000, 'old-agent');
      assert.ok(Buffer.byteLength(got.message) <= MAX_REPORT_MESSAGE_BYTES, `${Buffer.byteLength(got.message)} bytes (sent ${Buffer.byteLength(message)})`);
      assert.match(got.message, /more entries not shown \(report capped at 100 objects \/ 4 KiB\)$/);
      const signalled = await reportsOf('kustomization/apps/old', 3, 'old-agent');
      assert.equal(signalled.length, 1, 'one signal for the one report');
      assert.equal(signalled[0]?.report.message, got.message, 'the signal carried the capped message, not the 20,000 entries');
      stream.end();
    } finally {
      client.close();
    }
  });

  it('an exception during an apply ends in a Failed report, and the agent goes on applying', async (t: TestContext) => {
    await agent();
    // A quota the dry-run cannot see through: each ConfigMap passes it alone, the fourth
    // written exceeds it, and the API server refuses that write (403) mid-apply.
    const c = direct();
    try {
      await c.apply(ns('quota'));
      await c.apply({ apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'three', namespace: 'quota' }, spec: { hard: { 'count/configmaps': '4' } } });
      // The quota is enforced once the controller has counted (kube-root-ca.crt is one).
      await waitUntil('the quota is counted', async () => {
        const q = await c.get({ apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'three', namespace: 'quota' } }) as { status?: { used?: Record<string, string> } } | undefined;
        return q?.status?.used?.['count/configmaps'] !== undefined;
      }, 60_000);
    } finally {
      c.close();
    }
    const generation = await deploy('over-quota', configMaps(6, 'quota', 'cm'));
    const failed = await waitForPhase('over-quota', generation, ['FAILED', 'READY', 'INVALID'], 60_000);
    assert.equal(failed.phase, 'FAILED', failed.message);
    assert.match(failed.message, /^apply failed: .*exceeded quota/);
    t.diagnostic(`reported: ${failed.phase}: ${failed.message}`);
    // The queue keeps working: the next desired state is applied.
    const after = [ns('after'), cm('after', 'after')];
    const g2 = await deploy('after-failure', after);
    const ready = await waitForPhase('after-failure', g2, ['READY', 'INVALID', 'FAILED'], 60_000);
    assert.equal(ready.phase, 'READY', ready.message);
    assert.equal(await countExisting(after), 2);
  });
});
