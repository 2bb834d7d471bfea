// Progressive rollouts end to end, with real parts: a real Temporal server, four real
// kube-apiservers (kwok runs their pods), the hub and one agent per cluster as processes, a
// git repository on disk, and the `flotilla` CLI. Every claim about a cluster is checked
// with kubectl, independently of Flotilla. Bake times are short (seconds) but real timers.
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { clusterStatusQuery, clusterWorkflowId } from '../../api/cluster.js';
import type { RolloutStatus } from '../../api/rollout.js';
import { bin } from '../../deploy/dev/binaries.js';
import { waitFor } from '../../deploy/dev/processes.js';
import { conditionOf } from '../../core/conditions.js';
import { reportsReceived } from '../harness/cluster-reports.js';
import { FaultProxy } from '../harness/fault-proxy.js';
import { useFleet } from '../harness/fleet.js';
import { GitRepo } from '../harness/git.js';
import { replayLive } from '../harness/replay.js';

const run = promisify(execFile);
const CLUSTERS: Record<string, Record<string, string>> = {
  canary: { env: 'canary' }, staging: { env: 'staging' }, 'prod-eu': { env: 'prod' }, 'prod-us': { env: 'prod' },
};
const ALL = Object.keys(CLUSTERS);
const PROD = ['prod-eu', 'prod-us'];
const ID = 'kustomization/flux-system/web';

const { env, fleet, dir } = useFleet(CLUSTERS, 'flotilla-rollout-');
const state: { repo?: GitRepo } = {};

function repo(): GitRepo {
  state.repo ??= new GitRepo(join(dir(), 'fleet'));
  return state.repo;
}

/** kubectl against one cluster: the independent witness. */
async function kubectl(cluster: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(bin('kubectl'), ['--kubeconfig', env().cluster(cluster).kubeconfigPath, ...args]);
  return stdout.trim();
}

/** The app version each cluster runs, read from the live Deployment (`-` when absent). */
async function versions(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const c of ALL) {
    try {
      out[c] = await kubectl(c, 'get', 'deployment', 'web', '-n', 'web', '-o', 'jsonpath={.metadata.annotations.app-version}');
    } catch {
      out[c] = '-';
    }
  }
  return out;
}

/** The app at `version`; `broken` makes its pods fail (kwok's simulated ErrImagePull). */
function writeApp(version: string, broken = false): string {
  repo().writeObjects('web/app.yaml', [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'web' } },
    {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'web', annotations: { 'app-version': version } },
      spec: {
        replicas: 1, selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' }, annotations: { 'app-version': version, ...(broken ? { 'sim.flotilla.dev/fail': 'ErrImagePull' } : {}) } },
          spec: { containers: [{ name: 'web', image: `ghcr.io/stefanprodan/podinfo:${version}` }] },
        },
      },
    },
  ]);
  return repo().commit(`web ${version}${broken ? ' (broken)' : ''}`);
}

interface StrategyOptions {
  readonly prodApproval?: boolean;
  readonly canaryBake?: string;
  readonly analysisUrl?: string;
  readonly onFailure?: 'rollback' | 'pause';
  readonly stagingHealthTimeout?: string;
}

async function applyKustomization(o: StrategyOptions = {}): Promise<void> {
  const rollout: Record<string, unknown> = {
    onFailure: o.onFailure ?? 'rollback',
    waves: [
      { name: 'canary', clusters: ['canary'], bakeTime: o.canaryBake ?? '3s', healthTimeout: '8s' },
      { name: 'staging', clusterSelector: { matchLabels: { env: 'staging' } }, bakeTime: '3s', healthTimeout: o.stagingHealthTimeout ?? '8s' },
      { name: 'prod', maxConcurrency: 1, bakeTime: '1s', healthTimeout: '8s', ...(o.prodApproval ? { approval: true } : {}) },
    ],
    ...(o.analysisUrl ? { analysis: { url: o.analysisUrl, interval: '1s', timeout: '2s', failureLimit: 1, jsonPath: 'errorRate', max: 0.05 } } : {}),
  };
  const objects = [
    { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'fleet', namespace: 'flux-system' }, spec: { url: repo().url, interval: '10m', ref: { branch: 'main' } } },
    {
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name: 'web', namespace: 'flux-system' },
      spec: { interval: '10m', prune: true, sourceRef: { kind: 'GitRepository', name: 'fleet' }, path: './web', timeout: '30s', rollout },
    },
  ];
  const file = join(dir(), 'web.yaml');
  writeFileSync(file, objects.map((x) => stringify(x)).join('---\n'));
  const r = await fleet().cli('apply', '-f', file);
  assert.equal(r.code, 0, `flotilla apply failed: ${r.stderr}`);
}

async function rollout(): Promise<RolloutStatus | undefined> {
  return fleet().declarations.rolloutStatus(ID);
}

/** Waits until the rollout of `commit` satisfies `done`. */
async function waitForRollout(commit: string, done: (s: RolloutStatus) => boolean, what: string, timeoutMs = 150_000): Promise<RolloutStatus> {
  return waitFor(`rollout of ${commit.slice(0, 7)}: ${what}`, async () => {
    const s = await rollout().catch(() => undefined);
    return s && s.revision.endsWith(commit) && done(s) ? s : undefined;
  }, { timeoutMs, intervalMs: 300 });
}

const finished = (phase: RolloutStatus['phase']) => (s: RolloutStatus): boolean => s.finishedAt !== undefined && s.phase === phase;

function wave(s: RolloutStatus, name: string): RolloutStatus['waves'][number] {
  const w = s.waves.find((x) => x.name === name);
  assert.ok(w, `wave ${name}`);
  return w;
}

/** Each wave starts only after the one before it finished baking. */
function assertInOrder(s: RolloutStatus): void {
  for (let i = 1; i < s.waves.length; i++) {
    const before = s.waves[i - 1];
    const next = s.waves[i];
    assert.ok(before?.bakeUntil !== undefined && next?.startedAt !== undefined, `wave ${i} has bake and start times`);
    assert.ok(next.startedAt >= before.bakeUntil, `wave ${next.name} started ${next.startedAt - before.bakeUntil} ms after wave ${before.name}'s bake ended (must not be before)`);
  }
}

/**
 * From the rollout workflow's own history (the server's clock, not the workflow's): the canary's
 * bake timer of `seconds` ran its full length, and the staging step was sent only after it fired.
 * (The timestamps a workflow records for display come from its task's clock, which can lag
 * right after a worker restart; the history's event times do not.)
 */
async function assertBakeHonouredInHistory(seconds: number): Promise<void> {
  const history = await fleet().client.workflow.getHandle('rollout/kustomization/flux-system/web').fetchHistory();
  const events = history.events ?? [];
  const at = (e: (typeof events)[number] | undefined): number => Number(e?.eventTime?.seconds ?? 0) * 1000 + Math.round((e?.eventTime?.nanos ?? 0) / 1e6);
  const started = events.find((e) => Number(e.timerStartedEventAttributes?.startToFireTimeout?.seconds ?? 0) === seconds);
  const timerId = started?.timerStartedEventAttributes?.timerId;
  assert.ok(timerId, `a ${seconds}s bake timer was started`);
  const fired = events.find((e) => e.timerFiredEventAttributes?.timerId === timerId);
  assert.ok(fired, 'the bake timer fired');
  assert.ok(at(fired) - at(started) >= seconds * 1000 - 50, `the bake lasted ${at(fired) - at(started)} ms`);
  const steps = events.filter((e) => e.signalExternalWorkflowExecutionInitiatedEventAttributes?.signalName === 'rolloutStep');
  assert.ok(steps.length >= 4, 'canary, staging and two prod batches');
  assert.ok(Number(steps[1]?.eventId) > Number(fired.eventId), 'the staging step came after the canary bake');
}

/** The generation of the deployment each cluster's actor holds (one more per change). */
async function generations(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const c of ALL) {
    const s = await fleet().client.workflow.getHandle(clusterWorkflowId(c)).query(clusterStatusQuery);
    out[c] = s.desired.deployments.find((d) => d.name === ID)?.generation ?? 0;
  }
  return out;
}

function countEvents(s: RolloutStatus, type: string, waveName?: string): number {
  return s.events.filter((e) => e.type === type && (waveName === undefined || e.wave === waveName)).length;
}

/**
 * Stops the cluster's agent, waits until the hub saw it go, and starts it again with
 * `kubeconfigPath` (default: the cluster's own); its credential is in the cluster already.
 */
async function restartAgent(cluster: string, kubeconfigPath?: string): Promise<void> {
  await fleet().stopAgent(cluster);
  await waitFor(`${cluster} disconnected`, async () => {
    const s = await fleet().client.workflow.getHandle(clusterWorkflowId(cluster)).query(clusterStatusQuery);
    return s.connection !== 'Connected' ? true : undefined;
  }, { timeoutMs: 30_000, intervalMs: 200 });
  await fleet().startAgent(cluster, CLUSTERS[cluster], cluster, kubeconfigPath === undefined ? {} : { kubeconfigPath });
}

describe('progressive rollouts across four clusters', () => {
  it('a good revision reaches canary → staging → prod in order, bake times honoured, prod one cluster at a time', async () => {
    const v1 = writeApp('6.0.0');
    await applyKustomization();
    const r = await fleet().cli('reconcile', 'kustomization', 'web', '--with-source', '--timeout', '3m');
    assert.equal(r.code, 0, r.stderr);
    const s = await waitForRollout(v1, finished('Succeeded'), 'Succeeded');
    assert.deepEqual(s.waves.map((w) => [w.name, w.clusters]), [['canary', ['canary']], ['staging', ['staging']], ['prod', PROD]]);
    assert.deepEqual(wave(s, 'prod').batches, [['prod-eu'], ['prod-us']]);
    assertInOrder(s);
    for (const w of s.waves) assert.ok((w.bakeUntil ?? 0) - (w.startedAt ?? 0) >= w.bakeSeconds * 1000, `${w.name} baked ${w.bakeSeconds}s`);
    // prod-eu's batch finished before prod-us's began.
    const eu = s.clusters.find((c) => c.cluster === 'prod-eu');
    const us = s.clusters.find((c) => c.cluster === 'prod-us');
    assert.ok(eu && us && eu.updatedAt <= us.updatedAt);
    assert.deepEqual(await versions(), { canary: '6.0.0', staging: '6.0.0', 'prod-eu': '6.0.0', 'prod-us': '6.0.0' });
    const k = await fleet().kustomization(ID);
    assert.equal(conditionOf(k.conditions, 'Ready')?.status, 'True');
    assert.equal(k.rollout?.phase, 'Succeeded');

    const status = await fleet().cli('rollout', 'status', 'kustomization', 'web');
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /Succeeded/);
    assert.match(status.stdout, /canary\s+Succeeded\s+canary\s+3s done/);
    assert.match(status.stdout, /prod-us\s+prod\s+Healthy\s+main@sha1:/);
  });

  it('actions that make no sense now are refused with the reason', async () => {
    const approve = await fleet().cli('rollout', 'approve', 'kustomization', 'web');
    assert.equal(approve.code, 1);
    assert.match(approve.stderr, /approve refused: no rollout of kustomization\/flux-system\/web is in progress: the last one \(main@sha1:[0-9a-f]+\) ended Succeeded/);
    const retry = await fleet().cli('rollout', 'retry', 'kustomization/flux-system/web');
    assert.equal(retry.code, 1);
    assert.match(retry.stderr, /retry refused: the last rollout of kustomization\/flux-system\/web did not fail \(it succeeded\)/);
    const usage = await fleet().cli('rollout', 'promote', 'kustomization', 'web');
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /unknown command "rollout promote"/);
  });

  it('a revision whose pods fail stops in the canary wave: the canary goes back, staging and prod are never touched', async () => {
    const before = await generations();
    const v2 = writeApp('6.0.1', true);
    const r = await fleet().cli('reconcile', 'kustomization', 'web', '--with-source', '--timeout', '3m');
    assert.equal(r.code, 1, 'reconcile exits 1: the rollout failed');
    const s = await waitForRollout(v2, finished('RolledBack'), 'RolledBack');
    assert.equal(wave(s, 'canary').phase, 'Failed');
    assert.match(wave(s, 'canary').message, /1 cluster failed \(maxFailures 0\): canary: .*ErrImagePull/);
    assert.equal(wave(s, 'staging').phase, 'Skipped');
    assert.equal(wave(s, 'prod').phase, 'Skipped');
    assert.equal(s.clusters.find((c) => c.cluster === 'canary')?.phase, 'RolledBack');
    assert.equal(countEvents(s, 'RollbackStarted'), 1);
    assert.deepEqual(await versions(), { canary: '6.0.0', staging: '6.0.0', 'prod-eu': '6.0.0', 'prod-us': '6.0.0' });
    const pods = await kubectl('canary', 'get', 'pods', '-n', 'web', '-l', 'app=web', '-o', 'jsonpath={.items[*].metadata.annotations.app-version}');
    await waitFor('canary pods back at 6.0.0 only', async () => {
      const now = await kubectl('canary', 'get', 'pods', '-n', 'web', '-l', 'app=web', '-o', 'jsonpath={.items[*].metadata.annotations.app-version}');
      return now.split(' ').every((v) => v === '6.0.0') ? true : undefined;
    }, { timeoutMs: 60_000 }).catch(() => assert.fail(`canary pods: ${pods}`));
    const after = await generations();
    assert.equal(after.canary, (before.canary ?? 0) + 2, 'the canary changed twice: forward, then back');
    for (const c of ['staging', ...PROD]) assert.equal(after[c], before[c], `${c} was never touched`);
    const k = await fleet().kustomization(ID);
    assert.equal(conditionOf(k.conditions, 'Ready')?.reason, 'RolloutFailed');
    assert.equal(k.rollout?.failed, s.target);
  });

  it('a manual approval gate holds the prod wave until `flotilla rollout approve`', async () => {
    await applyKustomization({ prodApproval: true });
    const v3 = writeApp('6.1.0');
    const reconcile = fleet().cli('reconcile', 'kustomization', 'web', '--with-source', '--timeout', '3m');
    const waiting = await waitForRollout(v3, (s) => s.phase === 'WaitingApproval', 'waiting for approval');
    assert.equal(wave(waiting, 'prod').phase, 'WaitingApproval');
    await sleep(2_000);
    const still = await rollout();
    assert.equal(still?.phase, 'WaitingApproval', 'the gate holds');
    assert.deepEqual(await versions(), { canary: '6.1.0', staging: '6.1.0', 'prod-eu': '6.0.0', 'prod-us': '6.0.0' });
    const resume = await fleet().cli('rollout', 'resume', 'kustomization', 'web');
    assert.equal(resume.code, 1);
    assert.match(resume.stderr, /resume refused: rollout rollout\/kustomization\/flux-system\/web is not paused \(it is WaitingApproval\)/);

    const approve = await fleet().cli('rollout', 'approve', 'kustomization', 'web', '--reason', 'staging looks good');
    assert.equal(approve.code, 0, approve.stderr);
    const s = await waitForRollout(v3, finished('Succeeded'), 'Succeeded');
    assert.match(wave(s, 'prod').approvedBy ?? '', /.+/);
    assert.equal(countEvents(s, 'Approved', 'prod'), 1);
    assert.equal((await reconcile).code, 0);
    assert.deepEqual(await versions(), { canary: '6.1.0', staging: '6.1.0', 'prod-eu': '6.1.0', 'prod-us': '6.1.0' });
    const again = await fleet().cli('rollout', 'approve', 'kustomization', 'web');
    assert.equal(again.code, 1, 'nothing to approve any more');
  });

  it('`flotilla rollout abort` at the gate rolls back the clusters the rollout changed', async () => {
    const v4 = writeApp('6.2.0');
    const reconcile = fleet().cli('reconcile', 'kustomization', 'web', '--with-source', '--timeout', '3m');
    await waitForRollout(v4, (s) => s.phase === 'WaitingApproval', 'waiting for approval');
    assert.deepEqual(await versions(), { canary: '6.2.0', staging: '6.2.0', 'prod-eu': '6.1.0', 'prod-us': '6.1.0' });
    const abort = await fleet().cli('rollout', 'abort', 'kustomization', 'web', '--reason', 'change freeze');
    assert.equal(abort.code, 0, abort.stderr);
    const s = await waitForRollout(v4, finished('Aborted'), 'Aborted');
    // Last changed first: staging goes back before canary.
    const rolledBack = s.events.find((e) => e.type === 'RollbackStarted');
    assert.match(rolledBack?.message ?? '', /rolling back 2 clusters \(staging → canary\)/);
    assert.equal((await reconcile).code, 1);
    assert.deepEqual(await versions(), { canary: '6.1.0', staging: '6.1.0', 'prod-eu': '6.1.0', 'prod-us': '6.1.0' });
  });

  it('an analysis gate whose metric turns bad during the staging bake stops the rollout and rolls back', async () => {
    const metric = { errorRate: 0.01 };
    const server: Server = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(metric));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
      await applyKustomization({ analysisUrl: url });
      const v5 = writeApp('6.3.0');
      const reconcile = fleet().cli('reconcile', 'kustomization', 'web', '--with-source', '--timeout', '3m');
      const baking = await waitForRollout(v5, (s) => wave(s, 'staging').phase === 'Baking', 'staging baking');
      assert.equal(wave(baking, 'canary').phase, 'Succeeded', 'the canary passed its analysis');
      assert.ok((wave(baking, 'canary').analysis?.checks ?? 0) >= 1);
      metric.errorRate = 0.5;
      const s = await waitForRollout(v5, finished('RolledBack'), 'RolledBack');
      assert.equal(wave(s, 'staging').phase, 'Failed');
      assert.match(wave(s, 'staging').message, /analysis failed 2 times \(failureLimit 1\): errorRate = 0\.5 \(want <= 0\.05\)/);
      assert.ok(countEvents(s, 'AnalysisFailed', 'staging') >= 2);
      assert.equal((await reconcile).code, 1);
      assert.deepEqual(await versions(), { canary: '6.1.0', staging: '6.1.0', 'prod-eu': '6.1.0', 'prod-us': '6.1.0' });
    } finally {
      server.close();
    }
  });

  it('onFailure: pause holds a failed wave for an operator: retry runs it again, abort rolls back', async () => {
    await applyKustomization({ onFailure: 'pause' });
    const v = writeApp('6.3.1', true);
    const reconcile = fleet().cli('reconcile', 'kustomization', 'web', '--with-source', '--timeout', '3m');
    const paused = await waitForRollout(v, (s) => s.phase === 'Paused', 'paused by the failed canary');
    assert.equal(wave(paused, 'canary').phase, 'Failed');
    assert.match(paused.message, /wave canary failed: .*; paused \(flotilla rollout retry\|resume\|abort kustomization\/flux-system\/web\)/);
    const retry = await fleet().cli('rollout', 'retry', 'kustomization', 'web');
    assert.equal(retry.code, 0, retry.stderr);
    assert.match(retry.stdout, /retrying wave canary/);
    const again = await waitForRollout(v, (s) => s.phase === 'Paused' && countEvents(s, 'WaveFailed', 'canary') === 2, 'paused again after the retry failed');
    assert.equal(countEvents(again, 'Retried', 'canary'), 1);
    assert.deepEqual(await versions(), { canary: '6.3.1', staging: '6.1.0', 'prod-eu': '6.1.0', 'prod-us': '6.1.0' }, 'paused: the failed canary stays as it is for inspection');
    const abort = await fleet().cli('rollout', 'abort', 'kustomization', 'web');
    assert.equal(abort.code, 0, abort.stderr);
    await waitForRollout(v, finished('Aborted'), 'Aborted');
    assert.equal((await reconcile).code, 1);
    assert.deepEqual(await versions(), { canary: '6.1.0', staging: '6.1.0', 'prod-eu': '6.1.0', 'prod-us': '6.1.0' });
  });

  it('a newer revision mid-rollout supersedes it after the wave in progress; the newest rolls out from the first wave', async () => {
    await applyKustomization({ canaryBake: '6s' });
    const before = await generations();
    const older = writeApp('6.5.0');
    await fleet().cli('reconcile', 'source', 'git', 'fleet');
    await waitForRollout(older, (s) => wave(s, 'canary').phase === 'Baking', 'canary baking');
    const newer = writeApp('6.6.0');
    await fleet().cli('reconcile', 'source', 'git', 'fleet');
    const s = await waitForRollout(newer, finished('Succeeded'), 'Succeeded', 180_000);
    assertInOrder(s);
    // The hub's event journal holds the superseded rollout's story.
    const journal = readFileSync(join(fleet().hubData, 'events.jsonl'), 'utf8').trim().split('\n')
      .map((l) => JSON.parse(l) as { type: string; wave?: string; revision: string; message: string })
      .filter((e) => e.revision.endsWith(older));
    const types = journal.map((e) => `${e.type}${e.wave !== undefined ? `:${e.wave}` : ''}`);
    assert.deepEqual(types.filter((t) => t !== 'SupersedeRequested'), ['RolloutStarted', 'WaveStarted:canary', 'WaveSucceeded:canary', 'RolloutFinished'],
      'the canary wave finished (bake included), staging never started');
    assert.ok(types.includes('SupersedeRequested'));
    assert.match(journal.at(-1)?.message ?? '', /^Superseded: superseded by main@sha1:[0-9a-f]+ before wave staging/);
    const after = await generations();
    assert.equal(after.canary, (before.canary ?? 0) + 2, 'canary: the older revision, then the newer');
    for (const c of ['staging', ...PROD]) assert.equal(after[c], (before[c] ?? 0) + 1, `${c} went straight to the newer revision`);
    assert.deepEqual(await versions(), { canary: '6.6.0', staging: '6.6.0', 'prod-eu': '6.6.0', 'prod-us': '6.6.0' });
  });

  it('the staging API server answering 503 for 20 s during its wave does not roll back: the apply completes, the rollout succeeds', async (t: TestContext) => {
    const FAULT_MS = 20_000;
    // The staging agent talks to its API server through a fault-injecting proxy from now on.
    const proxy = await FaultProxy.start(env().cluster('staging'));
    const viaProxy = join(dir(), 'staging-via-proxy.kubeconfig');
    writeFileSync(viaProxy, proxy.kubeConfig().exportConfig(), { mode: 0o600 });
    try {
      await restartAgent('staging', viaProxy);
      // The wave's health timeout is longer than the fault (rule 5 of docs/reliability.md: a
      // rollout waits for transient faults within its health timeout): wherever in the wave the
      // fault lands (apply, or the health check after it), it ends before the health timeout.
      await applyKustomization({ stagingHealthTimeout: '45s' });
      const before = await generations();
      const version = '6.6.1';
      const v = writeApp(version);
      const reconcile = fleet().cli('reconcile', 'kustomization', 'web', '--with-source', '--timeout', '4m');
      await waitFor('the staging wave Progressing', async () => {
        const s = await rollout().catch(() => undefined);
        return s?.revision.endsWith(v) && wave(s, 'staging').phase === 'Progressing' ? s : undefined;
      }, { timeoutMs: 150_000, intervalMs: 100 });
      const counts = { ...proxy.counts };
      proxy.set({ kind: 'unavailable' });
      const on = Date.now();
      // What the rollout says of staging while the fault is on and after, until it finishes.
      const seen = { wave: new Set<string>(), cluster: new Set<string>() };
      let s: RolloutStatus | undefined;
      for (;;) {
        if (proxy.current && Date.now() - on >= FAULT_MS) proxy.set(undefined);
        s = await rollout().catch(() => undefined);
        if (s?.revision.endsWith(v)) {
          seen.wave.add(wave(s, 'staging').phase);
          const c = s.clusters.find((x) => x.cluster === 'staging');
          if (c) seen.cluster.add(c.phase);
          if (s.finishedAt !== undefined && !proxy.current) break;
        }
        assert.ok(Date.now() - on < 240_000, `the rollout finished within 4 min of the fault (now: ${s?.phase ?? '?'}: ${s?.message ?? ''})`);
        await sleep(200);
      }
      const off = on + FAULT_MS;
      const answered503 = proxy.counts.unavailable - counts.unavailable;

      assert.equal(s.phase, 'Succeeded', s.message);
      const staging = wave(s, 'staging');
      assert.equal(staging.phase, 'Succeeded', staging.message);
      assert.equal(staging.failures, 0);
      assert.equal(countEvents(s, 'WaveFailed'), 0);
      assert.equal(countEvents(s, 'RollbackStarted'), 0, 'nothing was rolled back');
      assert.ok(!seen.cluster.has('Failed') && !seen.wave.has('Failed'), `staging was never Failed (cluster ${[...seen.cluster].join(' → ')}, wave ${[...seen.wave].join(' → ')})`);
      assert.equal(s.clusters.find((c) => c.cluster === 'staging')?.phase, 'Healthy');
      assert.ok(answered503 > 0, 'the proxy answered 503s during the fault');
      const healthyAt = s.clusters.find((c) => c.cluster === 'staging')?.updatedAt ?? 0;
      assert.ok(healthyAt > on, `the fault began before staging was Healthy (${on - healthyAt} ms after)`);
      assert.equal((await reconcile).code, 0);
      assert.deepEqual(await versions(), { canary: version, staging: version, 'prod-eu': version, 'prod-us': version });
      const after = await generations();
      for (const c of ALL) assert.equal(after[c], (before[c] ?? 0) + 1, `${c} changed exactly once`);

      // Every report the staging agent sent about the new generation: applying (perhaps waiting
      // for the API server), then Ready; never Invalid, Failed or Unhealthy.
      const reports = (await reportsReceived(fleet().client, 'staging')).map((r) => r.report).filter((r) => r.name === ID && r.generation === after.staging);
      assert.deepEqual(reports.filter((r) => r.phase !== 'APPLYING' && r.phase !== 'READY').map((r) => `${r.phase}: ${r.message}`), [], 'no Invalid/Failed/Unhealthy report');
      assert.equal(reports.at(-1)?.phase, 'READY');
      const ready = reports.find((r) => r.phase === 'READY');
      const waiting = reports.filter((r) => r.message.startsWith('waiting for the API server')).length;
      t.diagnostic(`fault on ${on - (staging.startedAt ?? on)} ms into the staging wave, for ${FAULT_MS} ms; `
        + `${answered503} requests answered 503; ${reports.length} reports for generation ${after.staging} (${waiting} "waiting for the API server"); `
        + `Ready report ${(ready?.finishedAt ?? 0) - off} ms and staging Healthy ${healthyAt - off} ms after the fault ended; staging wave ${(staging.finishedAt ?? 0) - (staging.startedAt ?? 0)} ms `
        + `(bake ${staging.bakeSeconds}s included); rollout ${s.phase} in ${(s.finishedAt ?? 0) - s.startedAt} ms; staging phases seen: ${[...seen.cluster].join(' → ')}`);
    } finally {
      proxy.set(undefined);
      // Later tests see staging as before: its agent on the API server directly, no proxy.
      await restartAgent('staging');
      await proxy.stop();
    }
  });

  it('the hub killed during a bake comes back and the rollout completes once, bake time included', async () => {
    await applyKustomization({ canaryBake: '10s' });
    const before = await generations();
    const v6 = writeApp('6.4.0');
    await fleet().cli('reconcile', 'source', 'git', 'fleet');
    const baking = await waitForRollout(v6, (s) => wave(s, 'canary').phase === 'Baking', 'canary baking');
    const bakeUntil = wave(baking, 'canary').bakeUntil ?? 0;
    await fleet().killHub();
    await sleep(3_000);
    await fleet().startHub();
    const s = await waitForRollout(v6, finished('Succeeded'), 'Succeeded', 180_000);
    await assertBakeHonouredInHistory(10);
    assert.equal(wave(s, 'canary').bakeUntil, bakeUntil, 'the same bake timer, not a new one');
    for (const w of ['canary', 'staging', 'prod']) assert.equal(countEvents(s, 'WaveStarted', w), 1, `wave ${w} started once`);
    const after = await generations();
    for (const c of ALL) assert.equal(after[c], (before[c] ?? 0) + 1, `${c} changed exactly once`);
    assert.deepEqual(await versions(), { canary: '6.4.0', staging: '6.4.0', 'prod-eu': '6.4.0', 'prod-us': '6.4.0' });
  });

  it('the Temporal server killed and restarted during a bake: the rollout continues where it was and completes once', async () => {
    const before = await generations();
    const v7 = writeApp('6.7.0');
    await fleet().cli('reconcile', 'source', 'git', 'fleet');
    await waitForRollout(v7, (s) => wave(s, 'canary').phase === 'Baking', 'canary baking');
    await env().temporalServer().restart();
    const s = await waitForRollout(v7, finished('Succeeded'), 'Succeeded', 240_000);
    await assertBakeHonouredInHistory(10);
    for (const w of ['canary', 'staging', 'prod']) assert.equal(countEvents(s, 'WaveStarted', w), 1, `wave ${w} started once`);
    const after = await generations();
    for (const c of ALL) assert.equal(after[c], (before[c] ?? 0) + 1, `${c} changed exactly once`);
    assert.deepEqual(await versions(), { canary: '6.7.0', staging: '6.7.0', 'prod-eu': '6.7.0', 'prod-us': '6.7.0' });
  });

  it('the rollout and its owner replay deterministically on the current code', async () => {
    // FLOTILLA_RECORD_HISTORIES=1 also records them as test/fixtures/histories for test/unit/replay.test.ts.
    await replayLive(fleet().client, ['rollout/kustomization/flux-system/web', ID]);
  });
});
