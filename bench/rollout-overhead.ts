// Benchmark "rollout-overhead": the wall-clock cost of the rollout machinery over the bake
// times themselves, for 4 waves over 20 agents, and the time from a failure verdict until
// every changed cluster is rolled back and Ready.
// Real parts: 4 local clusters (kube-apiserver + controllers + kwok), a Temporal dev server,
// `flotilla-hub serve`, 20 `flotilla-agent` processes (a01..a20; agents share real clusters,
// each keeping its own state in the namespace flotilla-<agent>), a git repository on disk, the
// `flotilla` CLI and an analysis endpoint (node:http in this process).
// The agents of one wave share one real cluster (w1 a01-a02 on k1, w2 a03-a07 on k2, w3
// a08-a13 on k3, w4 a14-a20 on k4): during a rollout the waves run different versions of the
// same objects, which agents of different waves on one cluster would fight over.
// A Kustomization (timeout 60s, a Namespace, a ConfigMap and a 1-replica Deployment with an
// `app-version` annotation) rolls out in 4 waves by clusterSelector (label `wave`), each with
// bakeTime B (`--bake`, default 5s) and healthTimeout 30s, no approval. Each iteration:
//  1. overhead: a new version is committed, `flotilla reconcile source git` triggers it (no
//     analysis declared); from the rollout's RolloutStarted event to its finishedAt (both the
//     hub's workflow clock): overhead = total - sum of the bake times, per wave = overhead / 4.
//     Trigger → RolloutStarted is reported separately, not counted.
//  2. rollback: an analysis gate (interval 1s, failureLimit 0, errorRate <= 0.05) is declared,
//     another version committed, and the metric turned bad once wave w3 has started: w3 fails
//     its analysis, w1-w3 (13 agents, 3 real clusters) go back. rollbackSeconds = the later of
//     RollbackFinished and the Kustomization status first seen with every changed cluster
//     Ready at the previous revision, minus the WaveFailed event. The metric turns good again
//     and the analysis is removed for the next iteration.
// Status is polled every FLOTILLA_BENCH_POLL_MS (default 500 ms); the figures are hub-clock
// timestamps from the rollout status and do not depend on it (except a readiness lag, below).
// `--iterations N` is a smoke run: N iterations, nothing recorded.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import type { KustomizationStatus } from '../api/kustomization.js';
import type { RolloutEventType, RolloutStatus } from '../api/rollout.js';
import { conditionOf, isReady } from '../core/conditions.js';
import { parseGoDuration } from '../core/declarations/duration.js';
import { startEnvironment, type LocalEnvironment } from '../deploy/dev/environment.js';
import { waitFor } from '../deploy/dev/processes.js';
import { TestFleet } from '../test/harness/fleet.js';
import { configMap, GitRepo } from '../test/harness/git.js';
import { median, percentile, recordResults } from './record.js';

const NAME = 'rollout-bench';
const ID = `kustomization/flux-system/${NAME}`;
const SOURCE = 'rollout-bench';
const NAMESPACE = 'rollout-bench';
const ANNOTATION = 'app-version';
const TIMEOUT = '60s';
const HEALTH_TIMEOUT = '30s';
const HEALTH_TIMEOUT_SECONDS = 30;
const TARGET_SECONDS_PER_WAVE = 2;
/** The waves, each on its own real cluster; agents are numbered on across the waves. */
const WAVES = [
  { name: 'w1', size: 2, kube: 'k1' },
  { name: 'w2', size: 5, kube: 'k2' },
  { name: 'w3', size: 6, kube: 'k3' },
  { name: 'w4', size: 7, kube: 'k4' },
] as const;
const REAL_CLUSTERS = WAVES.map((w) => w.kube);
const AGENTS = WAVES.flatMap((w, i) => Array.from({ length: w.size }, (_, j) => ({
  wave: w.name, kube: w.kube, index: WAVES.slice(0, i).reduce((n, x) => n + x.size, 0) + j + 1,
}))).map((a) => ({ ...a, name: `a${String(a.index).padStart(2, '0')}` }));
/** The wave whose analysis turns bad in the rollback phase (waves before it succeed). */
const FAILING_WAVE = 2;
const GOOD_METRIC = 0.01;
const BAD_METRIC = 0.5;
const POLL_MS = Number(process.env.FLOTILLA_BENCH_POLL_MS ?? 500);

interface WaveSample {
  readonly name: string;
  readonly clusters: number;
  /** This wave's startedAt - the previous wave's finishedAt (the first wave: - RolloutStarted). */
  readonly gapBeforeSeconds: number;
  /** startedAt → the bake began (bakeUntil - bakeTime): apply on every cluster, reports, health. */
  readonly toHealthySeconds: number;
  /** bakeUntil → finishedAt. */
  readonly bakeOvershootSeconds: number;
  /** finishedAt - startedAt - bakeTime. */
  readonly overheadSeconds: number;
}

interface RolloutSample {
  readonly iteration: number;
  readonly version: string;
  readonly commit: string;
  /** Just before `flotilla reconcile source git` (this process's clock) → RolloutStarted (hub clock, same machine). */
  readonly triggerToRolloutStartSeconds: number;
  /** RolloutStarted → the rollout's finishedAt. */
  readonly rolloutSeconds: number;
  readonly bakeSeconds: number;
  /** rolloutSeconds - the sum of the waves' bake times. */
  readonly overheadSeconds: number;
  readonly overheadSecondsPerWave: number;
  readonly waves: readonly WaveSample[];
  /** The last wave's finishedAt → the rollout's finishedAt. */
  readonly endGapSeconds: number;
  /** `flotilla reconcile source git` wall time. */
  readonly cliSeconds: number;
}

interface RollbackSample {
  readonly iteration: number;
  readonly version: string;
  readonly commit: string;
  readonly failedWave: string;
  readonly rolledBackClusters: number;
  /** The bad metric served (this process's clock) → WaveFailed (hub clock). */
  readonly flipToVerdictSeconds: number;
  /** WaveFailed → RollbackStarted. */
  readonly rollbackStartSeconds: number;
  /** WaveFailed → RollbackFinished. */
  readonly rollbackFinishedSeconds: number;
  /** How long after RollbackFinished the Kustomization status first showed every changed cluster Ready at the previous revision (0: already at the first look). */
  readonly readinessLagSeconds: number;
  /** WaveFailed → all changed clusters rolled back and Ready: the figure. */
  readonly rollbackSeconds: number;
  /** WaveFailed → the latest report (agent clock) among the changed clusters' Ready reports. */
  readonly lastReadyReportSeconds: number;
  /** WaveFailed → the rollout's finishedAt. */
  readonly rolloutFinishedSeconds: number;
}

function writeApp(repo: GitRepo, version: string): string {
  repo.writeObjects('app/namespace.yaml', [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } }])
    .writeObjects('app/config.yaml', [configMap('settings', NAMESPACE, { version })])
    .writeObjects('app/deployment.yaml', [{
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: NAMESPACE, annotations: { [ANNOTATION]: version } },
      spec: {
        replicas: 1, selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' }, annotations: { [ANNOTATION]: version } },
          spec: { containers: [{ name: 'web', image: 'ghcr.io/stefanprodan/podinfo:6.14.1', ports: [{ containerPort: 9898 }] }] },
        },
      },
    }]);
  return repo.commit(version);
}

function declarations(repoUrl: string, bake: string, analysisUrl: string | undefined): string {
  const rollout = {
    onFailure: 'rollback',
    waves: WAVES.map((w) => ({ name: w.name, clusterSelector: { matchLabels: { wave: w.name } }, bakeTime: bake, healthTimeout: HEALTH_TIMEOUT })),
    ...(analysisUrl ? { analysis: { url: analysisUrl, interval: '1s', timeout: '2s', failureLimit: 0, jsonPath: 'errorRate', max: 0.05 } } : {}),
  };
  return [
    {
      apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: SOURCE, namespace: 'flux-system' },
      spec: { url: repoUrl, interval: '10m', ref: { branch: 'main' } },
    },
    {
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name: NAME, namespace: 'flux-system' },
      spec: { interval: '10m', prune: true, timeout: TIMEOUT, path: './app', sourceRef: { kind: 'GitRepository', name: SOURCE }, rollout },
    },
  ].map((o) => stringify(o)).join('---\n');
}

class Bench {
  /** Whether the declared Kustomization has the analysis gate. */
  private analysisDeclared: boolean | undefined;

  constructor(
    readonly fleet: TestFleet,
    readonly repo: GitRepo,
    readonly declFile: string,
    readonly bake: string,
    readonly analysisUrl: string,
  ) {}

  private get hubLog(): string {
    return this.fleet.hub?.spec.logFile ?? '(hub not running)';
  }

  /** Declares the Kustomization with or without the analysis gate; waits until the actor has reconciled the change. */
  async declare(withAnalysis: boolean): Promise<void> {
    if (this.analysisDeclared === withAnalysis) return;
    const first = this.analysisDeclared === undefined;
    const before = first ? 0 : (await this.fleet.kustomization(ID)).generation;
    writeFileSync(this.declFile, declarations(this.repo.url, this.bake, withAnalysis ? this.analysisUrl : undefined));
    const r = await this.fleet.cli('apply', '-f', this.declFile);
    if (r.code !== 0) throw new Error(`flotilla apply failed: ${r.stderr}`);
    this.analysisDeclared = withAnalysis;
    if (first) return; // the first declaration: the first rollout is waited for instead
    await this.fleet.waitForKustomization(ID, (s) => s.generation > before && s.observedGeneration === s.generation
      && conditionOf(s.conditions, 'Reconciling')?.status !== 'True', `spec ${withAnalysis ? 'with' : 'without'} analysis reconciled`, 120_000);
  }

  /** The rollout of `commit`, once it exists (the rollout workflow id is reused; older runs are ignored). */
  async rolloutOf(commit: string): Promise<RolloutStatus | undefined> {
    const s = await this.fleet.declarations.rolloutStatus(ID);
    return s?.revision.endsWith(commit) ? s : undefined;
  }

  /** Polls the rollout of `commit` every POLL_MS until `done` holds; `onPoll` sees every status of it. */
  async waitForRollout(commit: string, done: (s: RolloutStatus) => boolean, what: string, onPoll?: (s: RolloutStatus) => void): Promise<RolloutStatus> {
    const bakeSeconds = parseGoDuration(this.bake) / 1000;
    const timeoutMs = (WAVES.length * (bakeSeconds + HEALTH_TIMEOUT_SECONDS + 60) + 180) * 1000;
    try {
      return await waitFor(`rollout of ${commit.slice(0, 8)}: ${what}`, async () => {
        const s = await this.rolloutOf(commit);
        if (!s) return undefined;
        onPoll?.(s);
        return done(s) ? s : undefined;
      }, { timeoutMs, intervalMs: POLL_MS, ...(this.fleet.hub ? { process: this.fleet.hub } : {}) });
    } catch (err) {
      const last = await this.fleet.declarations.rolloutStatus(ID).catch(() => undefined);
      throw new Error(`${err instanceof Error ? err.message : String(err)}\nlast rollout: ${last ? `${last.revision} ${last.phase}: ${last.message}` : 'none'}\nhub log: ${this.hubLog}`);
    }
  }

  /** The Kustomization Ready at `commit` on all 20 agents. */
  async waitForReady(commit: string): Promise<KustomizationStatus> {
    const revision = `main@sha1:${commit}`;
    return this.fleet.waitForKustomization(ID, (s) => isReady(s.conditions) && s.lastAppliedRevision === revision
      && s.clusters.length === AGENTS.length && s.clusters.every((c) => c.ready === 'True' && c.revision === revision), `Ready at ${commit.slice(0, 8)} on ${AGENTS.length} agents`, 120_000);
  }

  /** Warm-up, not measured: the first deployment (a rollout too) and the agents' first applies. */
  async warmUp(): Promise<string> {
    await this.declare(false);
    const commit = writeApp(this.repo, 'v0');
    const r = await this.fleet.cli('reconcile', 'kustomization', NAME, '--with-source', '--timeout', '10m');
    if (r.code !== 0) throw new Error(`first reconcile failed:\n${r.stderr}\nhub log: ${this.hubLog}`);
    const s = await this.waitForRollout(commit, (x) => x.finishedAt !== undefined, 'finished');
    if (s.phase !== 'Succeeded') throw new Error(`the warm-up rollout ended ${s.phase}: ${s.message}`);
    await this.waitForReady(commit);
    await verifyVersions(this.fleet.env, Object.fromEntries(REAL_CLUSTERS.map((k) => [k, 'v0'])));
    return 'v0';
  }

  /** Commits `version` and triggers it with `flotilla reconcile source git`; returns the commit, the trigger time and the CLI. */
  private trigger(version: string): { commit: string; t0: number; cli: Promise<{ code: number; stderr: string; seconds: number }> } {
    const commit = writeApp(this.repo, version);
    const t0 = Date.now();
    const started = performance.now();
    const cli = this.fleet.cli('reconcile', 'source', 'git', SOURCE, '--timeout', '3m')
      .then((r) => ({ code: r.code, stderr: r.stderr, seconds: (performance.now() - started) / 1000 }));
    return { commit, t0, cli };
  }

  async measureRollout(iteration: number, version: string): Promise<RolloutSample> {
    await this.declare(false);
    const { commit, t0, cli } = this.trigger(version);
    const s = await this.waitForRollout(commit, (x) => x.finishedAt !== undefined, 'finished');
    const r = await cli;
    if (r.code !== 0) throw new Error(`flotilla reconcile source git exited ${r.code}:\n${r.stderr}`);
    if (s.phase !== 'Succeeded') throw new Error(`iteration ${iteration}: the rollout of ${version} ended ${s.phase}: ${s.message}\nhub log: ${this.hubLog}`);
    checkPlan(s);
    const started = eventAt(s, 'RolloutStarted') ?? s.startedAt;
    const finishedAt = required(s.finishedAt, 'rollout finishedAt');
    const waves: WaveSample[] = [];
    let previousEnd = started;
    for (const w of s.waves) {
      const startedAt = required(w.startedAt, `wave ${w.name} startedAt`);
      const end = required(w.finishedAt, `wave ${w.name} finishedAt`);
      const bakeMs = w.bakeSeconds * 1000;
      const bakeBegan = w.bakeUntil !== undefined ? w.bakeUntil - bakeMs : end;
      waves.push({
        name: w.name, clusters: w.clusters.length,
        gapBeforeSeconds: (startedAt - previousEnd) / 1000,
        toHealthySeconds: (bakeBegan - startedAt) / 1000,
        bakeOvershootSeconds: w.bakeUntil !== undefined ? (end - w.bakeUntil) / 1000 : 0,
        overheadSeconds: (end - startedAt - bakeMs) / 1000,
      });
      previousEnd = end;
    }
    const rolloutSeconds = (finishedAt - started) / 1000;
    const bakeSeconds = s.waves.reduce((n, w) => n + w.bakeSeconds, 0);
    const overheadSeconds = rolloutSeconds - bakeSeconds;
    await this.waitForReady(commit);
    await verifyVersions(this.fleet.env, Object.fromEntries(REAL_CLUSTERS.map((k) => [k, version])));
    return {
      iteration, version, commit, triggerToRolloutStartSeconds: (started - t0) / 1000, rolloutSeconds, bakeSeconds,
      overheadSeconds, overheadSecondsPerWave: overheadSeconds / s.waves.length, waves,
      endGapSeconds: (finishedAt - previousEnd) / 1000, cliSeconds: r.seconds,
    };
  }

  async measureRollback(iteration: number, version: string, previousVersion: string, previousCommit: string, metric: { errorRate: number }): Promise<RollbackSample> {
    metric.errorRate = GOOD_METRIC;
    await this.declare(true);
    const failing = WAVES[FAILING_WAVE].name;
    const { commit, cli } = this.trigger(version);
    const flip: { at?: number } = {};
    // The metric turns bad once the failing wave has started: the waves before it have finished their bakes (and analysis).
    const s = await this.waitForRollout(commit, (x) => x.finishedAt !== undefined || x.events.some((e) => e.type === 'RollbackFinished'), 'rolled back', (x) => {
      const w = x.waves[FAILING_WAVE];
      if (flip.at === undefined && (w?.phase === 'Progressing' || w?.phase === 'Baking')) {
        metric.errorRate = BAD_METRIC;
        flip.at = Date.now();
      }
    });
    const flippedAt = flip.at;
    const rolledBackAt = eventAt(s, 'RollbackFinished');
    const failedWave = s.events.find((e) => e.type === 'WaveFailed');
    if (rolledBackAt === undefined || failedWave?.wave !== failing || flippedAt === undefined) {
      throw new Error(`iteration ${iteration}: expected wave ${failing} to fail its analysis and the rollout to roll back, got ${s.phase}: ${s.message}`
        + (flippedAt === undefined ? ` (the metric was never turned bad: wave ${failing} was not seen in progress; a longer --bake or a lower FLOTILLA_BENCH_POLL_MS helps)` : ''));
    }
    const verdictAt = failedWave.at;
    const previousRevision = `main@sha1:${previousCommit}`;
    const changed = WAVES.slice(0, FAILING_WAVE + 1).flatMap((w) => s.waves.find((x) => x.name === w.name)?.clusters ?? []);
    const expected = WAVES.slice(0, FAILING_WAVE + 1).reduce((n, w) => n + w.size, 0);
    const notRolledBack = s.clusters.filter((c) => changed.includes(c.cluster) && (c.phase !== 'RolledBack' || c.revision !== previousRevision));
    if (changed.length !== expected || notRolledBack.length > 0) {
      throw new Error(`iteration ${iteration}: expected ${expected} clusters rolled back to ${previousRevision}, got: ${JSON.stringify(s.clusters.filter((c) => changed.includes(c.cluster)).map((c) => [c.cluster, c.phase, c.revision]))}`);
    }
    const touched = s.clusters.filter((c) => !changed.includes(c.cluster) && c.phase !== 'Pending');
    if (touched.length > 0) throw new Error(`iteration ${iteration}: clusters after wave ${failing} were touched: ${touched.map((c) => `${c.cluster} ${c.phase}`).join(', ')}`);

    // Confirmation from the owner's status: every changed cluster Ready at the previous revision.
    const readyOn = (k: KustomizationStatus): boolean => changed.every((c) => {
      const x = k.clusters.find((y) => y.cluster === c);
      return x?.ready === 'True' && x.revision === previousRevision;
    });
    let readySeenAt: number | undefined;
    let k = await this.fleet.kustomization(ID);
    if (!readyOn(k)) {
      k = await this.fleet.waitForKustomization(ID, readyOn, `${changed.length} rolled-back clusters Ready at ${previousRevision}`, 120_000);
      readySeenAt = Date.now();
    }
    const doneAt = Math.max(rolledBackAt, readySeenAt ?? rolledBackAt);
    const lastReport = Math.max(...changed.map((c) => k.clusters.find((y) => y.cluster === c)?.updatedAt ?? 0));

    const end = s.finishedAt !== undefined ? s : await this.waitForRollout(commit, (x) => x.finishedAt !== undefined, 'finished');
    if (end.phase !== 'RolledBack') throw new Error(`iteration ${iteration}: the rollout of ${version} ended ${end.phase}: ${end.message}`);
    const r = await cli;
    if (r.code !== 0) throw new Error(`flotilla reconcile source git exited ${r.code}:\n${r.stderr}`);
    await this.fleet.waitForKustomization(ID, (x) => x.rollout?.revision === `main@sha1:${commit}` && x.rollout.failed === x.rollout.target
      && conditionOf(x.conditions, 'Reconciling')?.status !== 'True', 'the failed rollout settled', 120_000);
    await verifyVersions(this.fleet.env, Object.fromEntries(REAL_CLUSTERS.map((kube) => [kube, previousVersion])));
    metric.errorRate = GOOD_METRIC;
    return {
      iteration, version, commit, failedWave: failing, rolledBackClusters: changed.length,
      flipToVerdictSeconds: (verdictAt - flippedAt) / 1000,
      rollbackStartSeconds: ((eventAt(s, 'RollbackStarted') ?? verdictAt) - verdictAt) / 1000,
      rollbackFinishedSeconds: (rolledBackAt - verdictAt) / 1000,
      readinessLagSeconds: readySeenAt === undefined ? 0 : Math.max(0, readySeenAt - rolledBackAt) / 1000,
      rollbackSeconds: (doneAt - verdictAt) / 1000,
      lastReadyReportSeconds: (lastReport - verdictAt) / 1000,
      rolloutFinishedSeconds: (required(end.finishedAt, 'rollout finishedAt') - verdictAt) / 1000,
    };
  }
}

function eventAt(s: RolloutStatus, type: RolloutEventType): number | undefined {
  return s.events.find((e) => e.type === type)?.at;
}

function required(value: number | undefined, what: string): number {
  if (value === undefined) throw new Error(`${what} is missing from the rollout status`);
  return value;
}

/** The rollout planned the waves as declared: w1..w4 with 2, 5, 6 and 7 agents. */
function checkPlan(s: RolloutStatus): void {
  const got = s.waves.map((w) => `${w.name}:${[...w.clusters].sort().join(',')}`);
  const want = WAVES.map((w) => `${w.name}:${AGENTS.filter((a) => a.wave === w.name).map((a) => a.name).join(',')}`);
  if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`unexpected waves: ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
}

/** Outside the timing: each real cluster's Deployment and ConfigMap run `version`, rolled out and available. */
async function verifyVersions(env: LocalEnvironment, expected: Readonly<Record<string, string>>): Promise<void> {
  for (const [kube, version] of Object.entries(expected)) {
    const kc = env.cluster(kube).kubeConfig();
    let last = '';
    await waitFor(`${kube} running ${version}`, async () => {
      const d = await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: 'web', namespace: NAMESPACE });
      const cm = await kc.makeApiClient(CoreV1Api).readNamespacedConfigMap({ name: 'settings', namespace: NAMESPACE });
      last = JSON.stringify({ annotations: d.spec?.template.metadata?.annotations, status: d.status, data: cm.data });
      const ok = d.spec?.template.metadata?.annotations?.[ANNOTATION] === version && cm.data?.version === version
        // The rollout saw every cluster healthy; here only what runs is checked (a pod may be
        // briefly unavailable when kwok's node heartbeat lags on a loaded 2-core machine).
        && d.status?.observedGeneration === d.metadata?.generation && d.status?.updatedReplicas === 1;
      return ok ? true : undefined;
    }, { timeoutMs: 30_000, intervalMs: 500 }).catch(() => { throw new Error(`${kube}: version ${version} not rolled out: ${last}`); });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { iterations: { type: 'string' }, bake: { type: 'string' } }, strict: true });
  const smoke = values.iterations !== undefined;
  const iterations = smoke ? Number(values.iterations) : 5;
  if (!Number.isInteger(iterations) || iterations < 1) throw new Error(`--iterations must be a positive integer, got "${values.iterations ?? ''}"`);
  const bake = values.bake ?? '5s';
  const bakeMs = parseGoDuration(bake);
  if (bakeMs < 1000 || bakeMs % 1000 !== 0) throw new Error(`--bake must be whole seconds, at least 1s (e.g. 5s), got "${bake}"`);
  if (!Number.isFinite(POLL_MS) || POLL_MS < 50) throw new Error(`FLOTILLA_BENCH_POLL_MS must be at least 50, got "${process.env.FLOTILLA_BENCH_POLL_MS ?? ''}"`);

  const metric = { errorRate: GOOD_METRIC };
  const server: Server = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(metric));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const analysisUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;

  const work = mkdtempSync(join(tmpdir(), 'flotilla-bench-rollout-'));
  let env: LocalEnvironment | undefined;
  let fleet: TestFleet | undefined;
  try {
    env = await startEnvironment({ clusters: REAL_CLUSTERS, temporal: true });
    fleet = await TestFleet.create(env);
    await fleet.startHub();
    for (const a of AGENTS) await fleet.startAgent(a.name, { wave: a.wave }, a.kube);
    console.log(`${AGENTS.length} agents connected: ${WAVES.map((w) => `${w.name} ${w.size} on ${w.kube}`).join(', ')}`);
    const bench = new Bench(fleet, new GitRepo(join(work, 'repo')), join(work, 'declarations.yaml'), bake, analysisUrl);

    let good = await bench.warmUp();
    let goodCommit = bench.repo.git('rev-parse', 'HEAD');
    const rollouts: RolloutSample[] = [];
    const rollbacks: RollbackSample[] = [];
    const t = (n: number): string => `${n.toFixed(2)} s`;
    for (let i = 1; i <= iterations; i++) {
      const s = await bench.measureRollout(i, `good-${i}`);
      rollouts.push(s);
      good = s.version;
      goodCommit = s.commit;
      console.log(`iteration ${i}/${iterations}: rollout ${t(s.rolloutSeconds)} for ${s.bakeSeconds} s of bake: overhead ${t(s.overheadSeconds)} (${t(s.overheadSecondsPerWave)} per wave; `
        + `${s.waves.map((w) => `${w.name} +${t(w.gapBeforeSeconds)} start, ${t(w.toHealthySeconds)} to healthy, ${t(w.bakeOvershootSeconds)} after bake`).join('; ')}; end +${t(s.endGapSeconds)}); trigger → RolloutStarted ${t(s.triggerToRolloutStartSeconds)}`);
      const b = await bench.measureRollback(i, `bad-metric-${i}`, good, goodCommit, metric);
      rollbacks.push(b);
      console.log(`iteration ${i}/${iterations}: wave ${b.failedWave} failed ${t(b.flipToVerdictSeconds)} after the metric turned bad; ${b.rolledBackClusters} clusters rolled back and Ready ${t(b.rollbackSeconds)} after the verdict `
        + `(RollbackStarted +${t(b.rollbackStartSeconds)}, RollbackFinished +${t(b.rollbackFinishedSeconds)}, readiness lag ${t(b.readinessLagSeconds)}, last Ready report +${t(b.lastReadyReportSeconds)}, rollout finished +${t(b.rolloutFinishedSeconds)})`);
    }

    const perWave = rollouts.map((s) => s.overheadSecondsPerWave);
    const overhead = rollouts.map((s) => s.overheadSeconds);
    const total = rollouts.map((s) => s.rolloutSeconds);
    const trigger = rollouts.map((s) => s.triggerToRolloutStartSeconds);
    const rb = rollbacks.map((s) => s.rollbackSeconds);
    const stat = (xs: readonly number[]): { p50: number; p90: number; max: number } => ({ p50: median(xs), p90: percentile(xs, 90), max: Math.max(...xs) });
    const waveBreakdown = WAVES.map((w, i) => {
      const of = (f: (x: WaveSample) => number): number => median(rollouts.map((s) => { const x = s.waves[i]; return x ? f(x) : 0; }));
      return {
        name: w.name, clusters: w.size,
        gapBeforeP50Seconds: of((x) => x.gapBeforeSeconds), toHealthyP50Seconds: of((x) => x.toHealthySeconds),
        bakeOvershootP50Seconds: of((x) => x.bakeOvershootSeconds), overheadP50Seconds: of((x) => x.overheadSeconds),
      };
    });
    const endGapP50Seconds = median(rollouts.map((s) => s.endGapSeconds));
    const rollbackBreakdown = {
      rollbackStartP50Seconds: median(rollbacks.map((s) => s.rollbackStartSeconds)),
      rollbackFinishedP50Seconds: median(rollbacks.map((s) => s.rollbackFinishedSeconds)),
      readinessLagMaxSeconds: Math.max(...rollbacks.map((s) => s.readinessLagSeconds)),
      lastReadyReportP50Seconds: median(rollbacks.map((s) => s.lastReadyReportSeconds)),
      flipToVerdictP50Seconds: median(rollbacks.map((s) => s.flipToVerdictSeconds)),
    };
    const figures = {
      agents: AGENTS.length, clusters: REAL_CLUSTERS.length, waves: WAVES.length, waveSizes: WAVES.map((w) => w.size),
      bakeSeconds: bakeMs / 1000, healthTimeout: HEALTH_TIMEOUT, kustomizationTimeout: TIMEOUT, iterations, pollMs: POLL_MS,
      overheadSecondsPerWave: median(perWave), overheadSecondsPerWaveP90: percentile(perWave, 90), overheadSecondsPerWaveMax: Math.max(...perWave),
      targetOverheadSecondsPerWave: TARGET_SECONDS_PER_WAVE, targetMet: median(perWave) < TARGET_SECONDS_PER_WAVE,
      overheadP50Seconds: median(overhead), rolloutP50Seconds: median(total),
      triggerToRolloutStartP50Seconds: median(trigger), triggerToRolloutStartP90Seconds: percentile(trigger, 90),
      rollbackSeconds: median(rb), rollbackP90Seconds: percentile(rb, 90), rollbackMaxSeconds: Math.max(...rb),
      rolledBackClusters: rollbacks[0]?.rolledBackClusters ?? 0, failingWave: WAVES[FAILING_WAVE].name,
      waveBreakdown, endGapP50Seconds, rollbackBreakdown,
      samples: { rollouts, rollbacks },
    };

    const sw = stat(perWave);
    const so = stat(overhead);
    const st = stat(total);
    const sg = stat(trigger);
    const sr = stat(rb);
    console.log(`overhead per wave (n=${iterations}): p50 ${t(sw.p50)}, p90 ${t(sw.p90)}, max ${t(sw.max)} (target < ${TARGET_SECONDS_PER_WAVE} s: ${figures.targetMet ? 'met' : 'NOT met'}); `
      + `rollout p50 ${t(st.p50)} for ${WAVES.length} × ${bakeMs / 1000} s of bake; trigger → RolloutStarted p50 ${t(sg.p50)}`);
    console.log(`rollback (${figures.rolledBackClusters} clusters, wave ${figures.failingWave} failed): verdict → rolled back and Ready p50 ${t(sr.p50)}, p90 ${t(sr.p90)}, max ${t(sr.max)}`);
    if (smoke) {
      console.log('smoke run (--iterations): nothing recorded');
      return;
    }
    const changedWaves = WAVES.slice(0, FAILING_WAVE + 1).map((w) => w.name).join(', ');
    recordResults('rollout-overhead', figures, [
      `A Kustomization (interval 10m, prune, timeout ${TIMEOUT}; a Namespace, a ConfigMap and a 1-replica Deployment) with \`spec.rollout\` of ${WAVES.length} waves by \`clusterSelector\` over ${AGENTS.length} agents (${WAVES.map((w) => `${w.name}: ${w.size}`).join(', ')}), each wave \`bakeTime: ${bake}\`, \`healthTimeout: ${HEALTH_TIMEOUT}\`, no approval. The agents are real \`flotilla-agent\` processes on ${REAL_CLUSTERS.length} local clusters (kube-apiserver + controllers + kwok), the agents of one wave sharing one cluster (each with its own state namespace); real \`flotilla-hub serve\`, Temporal dev server, git repository on disk, all on the same machine. ${iterations} iterations of: a new version committed and triggered with \`flotilla reconcile source git\` (no analysis declared), then an analysis gate declared (HTTP, interval 1s, failureLimit 0, \`errorRate <= 0.05\`), another version committed and the metric turned bad once wave ${figures.failingWave} started, so ${figures.failingWave} fails and ${changedWaves} (${figures.rolledBackClusters} agents) roll back.`,
      '',
      '| figure | p50 | p90 | max |',
      '|---|---|---|---|',
      `| **overhead per wave: (rollout − bake times) / ${WAVES.length}** (target < ${TARGET_SECONDS_PER_WAVE} s: ${figures.targetMet ? 'met' : 'not met'}) | ${t(sw.p50)} | ${t(sw.p90)} | ${t(sw.max)} |`,
      `| overhead, whole rollout | ${t(so.p50)} | ${t(so.p90)} | ${t(so.max)} |`,
      `| rollout: RolloutStarted → finished (${WAVES.length} × ${bakeMs / 1000} s of bake) | ${t(st.p50)} | ${t(st.p90)} | ${t(st.max)} |`,
      `| trigger (\`flotilla reconcile source git\`) → RolloutStarted, not in the overhead | ${t(sg.p50)} | ${t(sg.p90)} | ${t(sg.max)} |`,
      `| **rollback: failure verdict → ${figures.rolledBackClusters} changed clusters rolled back and Ready** | ${t(sr.p50)} | ${t(sr.p90)} | ${t(sr.max)} |`,
      '',
      'Where the overhead goes (p50 per wave):',
      '',
      '| wave | agents | previous wave finished → started | started → all healthy (bake begins) | bake end → wave finished | wave overhead |',
      '|---|---|---|---|---|---|',
      ...waveBreakdown.map((w) => `| ${w.name} | ${w.clusters} | ${t(w.gapBeforeP50Seconds)} | ${t(w.toHealthyP50Seconds)} | ${t(w.bakeOvershootP50Seconds)} | ${t(w.overheadP50Seconds)} |`),
      `| last wave finished → rollout finished | | ${t(endGapP50Seconds)} | | | |`,
      '',
      `Rollback, p50 from the verdict (WaveFailed): RollbackStarted +${t(rollbackBreakdown.rollbackStartP50Seconds)}, RollbackFinished +${t(rollbackBreakdown.rollbackFinishedP50Seconds)} (batches reverted last changed first, each waiting for health), the last changed agent's Ready report +${t(rollbackBreakdown.lastReadyReportP50Seconds)}; the metric turning bad → verdict p50 ${t(rollbackBreakdown.flipToVerdictP50Seconds)}.`,
      '',
      `All rollout timestamps are the rollout status's (\`RolloutStatus\`: events[].at, waves[].startedAt/bakeUntil/finishedAt, finishedAt; the hub's workflow clock). The first wave's "previous wave finished" is RolloutStarted. "Rolled back and Ready" is RollbackFinished, unless the Kustomization status (polled every ${POLL_MS} ms) did not yet show every changed cluster Ready at the previous revision then, in which case it is when the poll first did (largest such lag: ${t(rollbackBreakdown.readinessLagMaxSeconds)}). After each rollout and each rollback the Deployment and ConfigMap on every local cluster are checked to run the expected version. The trigger → RolloutStarted figure spans this process's clock and the hub's (same machine) and includes the CLI's start and the source fetch.`,
    ].join('\n'));
  } finally {
    await fleet?.stop();
    await env?.stop();
    server.close();
    if (process.env.FLOTILLA_KEEP_TEST_DIRS) console.log(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
