// Benchmark "helm-rollback": how long from a failed upgrade's health verdict until the
// previous revision is deployed (healthy) again, on one cluster. A HelmRelease of a small
// chart (a ConfigMap and a 1-replica Deployment whose pods take podAnnotations; timeout 15s,
// upgrade.remediation {retries: 0, remediateLastFailure: true}) is installed and upgraded once;
// then each iteration applies values whose pods never become ready (the kwok clusters' fail
// annotation), runs `flotilla reconcile helmrelease web`, and reads the release history:
// rollbackSeconds = rollback revision's finishedAt - failed revision's finishedAt (both the
// hub's workflow clock). A good upgrade follows each iteration, so each failure is fresh.
// Real parts: a chart repository over loopback HTTP (real helm), `flotilla-hub serve` on a
// Temporal dev server, one `flotilla-agent` on a local cluster.
// `--iterations N` is a smoke run: N iterations, nothing recorded.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { AppsV1Api } from '@kubernetes/client-node';
import { helmReleaseStatusQuery, type HelmReleaseStatus } from '../api/helm-release.js';
import { conditionOf } from '../core/conditions.js';
import type { ReleaseHistory } from '../core/helm-release.js';
import { startEnvironment, type LocalEnvironment } from '../deploy/dev/environment.js';
import { ChartRepo, webChart } from '../test/harness/chart-repo.js';
import { TestFleet } from '../test/harness/fleet.js';
import { median, recordResults } from './record.js';

const CLUSTER = 'bench';
const NAME = 'web';
const ID = `helmrelease/flux-system/${NAME}`;
const NAMESPACE = 'web';
const TIMEOUT = '15s';
const FAIL = 'sim.flotilla.dev/fail';
const MARK = 'bench.flotilla.dev/values';
const TARGET_SECONDS = 10;


function declarations(chartsUrl: string, podAnnotations: Record<string, string>): string {
  return [
    {
      apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'HelmRepository', metadata: { name: 'charts', namespace: 'flux-system' },
      spec: { url: chartsUrl, interval: '10m' },
    },
    {
      apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', metadata: { name: NAME, namespace: 'flux-system' },
      spec: {
        interval: '10m', timeout: TIMEOUT, targetNamespace: NAMESPACE, releaseName: NAME,
        chart: { spec: { chart: 'web', version: '1.0.0', sourceRef: { kind: 'HelmRepository', name: 'charts' } } },
        install: { createNamespace: true },
        upgrade: { remediation: { retries: 0, remediateLastFailure: true } },
        values: { podAnnotations }, placement: { clusters: [CLUSTER] },
      },
    },
  ].map((o) => stringify(o)).join('---\n');
}

interface Sample {
  readonly iteration: number;
  readonly failedRevision: number;
  readonly rollbackRevision: number;
  /** Failed revision's finishedAt - its startedAt: the upgrade until its health verdict (≈ the timeout). */
  readonly verdictSeconds: number;
  /** Rollback revision's startedAt - failed revision's finishedAt. */
  readonly rollbackStartSeconds: number;
  /** Rollback revision's finishedAt - failed revision's finishedAt: the figure. */
  readonly rollbackSeconds: number;
  /** `flotilla reconcile helmrelease web` wall time. */
  readonly reconcileCliSeconds: number;
  /** `flotilla apply` of the failing values plus the reconcile, wall time. */
  readonly totalCliSeconds: number;
}

async function status(fleet: TestFleet): Promise<HelmReleaseStatus> {
  return fleet.client.workflow.getHandle(ID).query(helmReleaseStatusQuery);
}

function history(s: HelmReleaseStatus): ReleaseHistory {
  const h = s.histories[CLUSTER];
  if (!h) throw new Error(`${ID} has no release history on ${CLUSTER}`);
  return h;
}

const summary = (h: ReleaseHistory): string => h.revisions.map((r) => `${r.revision}:${r.action}:${r.status}`).join(' ');

/** Applies the declarations with `podAnnotations`; returns the apply's wall time in seconds. */
async function apply(fleet: TestFleet, file: string, chartsUrl: string, podAnnotations: Record<string, string>): Promise<number> {
  writeFileSync(file, declarations(chartsUrl, podAnnotations));
  const t0 = performance.now();
  const r = await fleet.cli('apply', '-f', file);
  if (r.code !== 0) throw new Error(`flotilla apply failed: ${r.stderr}`);
  return (performance.now() - t0) / 1000;
}

/** A good upgrade (or the install): reconcile must succeed and the Deployment run the new pod template. */
async function deployGood(fleet: TestFleet, file: string, chartsUrl: string, mark: string, withSource = false): Promise<void> {
  await apply(fleet, file, chartsUrl, { [MARK]: mark });
  const r = await fleet.cli('reconcile', 'helmrelease', NAME, ...(withSource ? ['--with-source'] : []), '--timeout', '3m');
  if (r.code !== 0) throw new Error(`reconcile with good values (${mark}) failed:\n${r.stderr}`);
  const latest = history(await status(fleet)).revisions.at(-1);
  if (latest?.status !== 'deployed' || latest.action === 'rollback') throw new Error(`expected a deployed install/upgrade, history: ${summary(history(await status(fleet)))}`);
  await verifyDeployment(fleet.env, mark);
}

/** The Deployment runs the pod template marked `mark`, without the fail annotation, and is available. */
async function verifyDeployment(env: LocalEnvironment, mark: string): Promise<void> {
  const d = await env.cluster(CLUSTER).kubeConfig().makeApiClient(AppsV1Api).readNamespacedDeployment({ name: NAME, namespace: NAMESPACE });
  const annotations = d.spec?.template.metadata?.annotations ?? {};
  const ok = annotations[FAIL] === undefined && annotations[MARK] === mark
    && d.status?.observedGeneration === d.metadata?.generation && d.status?.updatedReplicas === 1 && d.status.availableReplicas === 1;
  if (!ok) throw new Error(`Deployment ${NAMESPACE}/${NAME} is not running "${mark}" available: ${JSON.stringify({ annotations, status: d.status })}`);
}

const seconds = (from: number, to: number | undefined): number => {
  if (to === undefined) throw new Error('a revision has no finishedAt');
  return (to - from) / 1000;
};

async function failAndRollBack(fleet: TestFleet, file: string, chartsUrl: string, iteration: number, good: string): Promise<Sample> {
  const before = history(await status(fleet)).revisions.at(-1)?.revision ?? 0;
  const t0 = performance.now();
  await apply(fleet, file, chartsUrl, { [FAIL]: 'ErrImagePull', [MARK]: `bad-${iteration}` });
  const t1 = performance.now();
  const r = await fleet.cli('reconcile', 'helmrelease', NAME, '--timeout', '3m');
  const t2 = performance.now();
  if (r.code !== 1) throw new Error(`reconcile of a failing upgrade exited ${r.code}, expected 1:\n${r.stderr}`);
  const s = await status(fleet);
  const h = history(s);
  const fresh = h.revisions.filter((x) => x.revision > before);
  const failed = fresh.find((x) => x.action === 'upgrade' && x.status === 'failed');
  const rollback = failed && fresh.find((x) => x.revision === failed.revision + 1);
  if (!failed || rollback?.action !== 'rollback' || rollback.status !== 'deployed' || fresh.length !== 2) {
    throw new Error(`iteration ${iteration}: expected one failed upgrade then one deployed rollback after revision ${before}, history: ${summary(h)}\nCLI:\n${r.stderr}`);
  }
  const ready = conditionOf(s.conditions, 'Ready');
  if (ready?.status !== 'False' || !/UpgradeFailed|RetriesExceeded/.test(ready.reason)) {
    throw new Error(`iteration ${iteration}: Ready is ${JSON.stringify(ready)}, expected False/UpgradeFailed`);
  }
  await verifyDeployment(fleet.env, good);
  const failedAt = failed.finishedAt ?? 0;
  return {
    iteration, failedRevision: failed.revision, rollbackRevision: rollback.revision,
    verdictSeconds: seconds(failed.startedAt, failed.finishedAt), rollbackStartSeconds: seconds(failedAt, rollback.startedAt),
    rollbackSeconds: seconds(failedAt, rollback.finishedAt),
    reconcileCliSeconds: (t2 - t1) / 1000, totalCliSeconds: (t2 - t0) / 1000,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { iterations: { type: 'string' } }, strict: true });
  const smoke = values.iterations !== undefined;
  const iterations = smoke ? Number(values.iterations) : 5;
  if (!Number.isInteger(iterations) || iterations < 1) throw new Error(`--iterations must be a positive integer, got "${values.iterations ?? ''}"`);

  const work = mkdtempSync(join(tmpdir(), 'flotilla-bench-helm-rollback-'));
  const env = await startEnvironment({ clusters: [CLUSTER], temporal: true });
  let fleet: TestFleet | undefined;
  let charts: ChartRepo | undefined;
  const chartDir = webChart();
  try {
    charts = await ChartRepo.start();
    charts.publish(chartDir, '1.0.0');
    fleet = await TestFleet.create(env);
    await fleet.startHub();
    await fleet.startAgent(CLUSTER);
    const file = join(work, 'web.yaml');

    // Not measured: the install and one good upgrade.
    await deployGood(fleet, file, charts.url, 'good-0', true);
    await deployGood(fleet, file, charts.url, 'good-1');
    let good = 'good-1';

    const samples: Sample[] = [];
    for (let i = 1; i <= iterations; i++) {
      const s = await failAndRollBack(fleet, file, charts.url, i, good);
      samples.push(s);
      console.log(`iteration ${i}/${iterations}: revision ${s.failedRevision} failed after ${s.verdictSeconds.toFixed(2)} s; rollback revision ${s.rollbackRevision} started +${s.rollbackStartSeconds.toFixed(2)} s, deployed +${s.rollbackSeconds.toFixed(2)} s after the verdict; CLI reconcile ${s.reconcileCliSeconds.toFixed(2)} s (apply + reconcile ${s.totalCliSeconds.toFixed(2)} s)`);
      // A good upgrade, so the next failure is a fresh desired state on a healthy release.
      good = `good-${i + 1}`;
      await deployGood(fleet, file, charts.url, good);
    }

    const rb = samples.map((s) => s.rollbackSeconds);
    const cli = samples.map((s) => s.totalCliSeconds);
    const reconcileCli = samples.map((s) => s.reconcileCliSeconds);
    const verdict = samples.map((s) => s.verdictSeconds);
    const figures = {
      clusters: 1, iterations, helmTimeout: TIMEOUT,
      rollbackSeconds: median(rb), rollbackMaxSeconds: Math.max(...rb), targetSeconds: TARGET_SECONDS,
      verdictP50Seconds: median(verdict),
      totalCliP50Seconds: median(cli), totalCliMaxSeconds: Math.max(...cli),
      reconcileCliP50Seconds: median(reconcileCli), reconcileCliMaxSeconds: Math.max(...reconcileCli),
      samples,
    };
    const t = (n: number): string => `${n.toFixed(2)} s`;
    console.log(`rollback after the failed verdict (n=${iterations}): p50 ${t(figures.rollbackSeconds)}, max ${t(figures.rollbackMaxSeconds)} (target < ${TARGET_SECONDS} s)`);
    console.log(`failed upgrade until its verdict p50 ${t(figures.verdictP50Seconds)} (timeout ${TIMEOUT}); CLI apply + reconcile p50 ${t(figures.totalCliP50Seconds)}, max ${t(figures.totalCliMaxSeconds)}; reconcile alone p50 ${t(figures.reconcileCliP50Seconds)}`);
    if (smoke) {
      console.log('smoke run (--iterations): nothing recorded');
      return;
    }
    recordResults('helm-rollback', figures, [
      `A HelmRelease (interval 10m, timeout ${TIMEOUT}, \`upgrade.remediation: {retries: 0, remediateLastFailure: true}\`) of a small chart (a ConfigMap and a 1-replica Deployment whose pods take \`podAnnotations\`) on one local cluster (kube-apiserver + controllers + kwok), installed and upgraded once. Then ${iterations} times: \`flotilla apply\` of values whose pods never become ready (\`${FAIL}: ErrImagePull\`, plus a new marker), \`flotilla reconcile helmrelease ${NAME}\`, and a good upgrade afterwards so each failure is fresh. Real \`flotilla-hub serve\` and \`flotilla-agent\` processes, Temporal dev server and the chart repository (loopback HTTP, charts packaged by the real helm) on the same machine.`,
      '',
      '| figure | p50 | max |',
      '|---|---|---|',
      `| **rollback: failed verdict → previous revision deployed again** (target < ${TARGET_SECONDS} s) | ${t(figures.rollbackSeconds)} | ${t(figures.rollbackMaxSeconds)} |`,
      `| failed upgrade: start → verdict (timeout ${TIMEOUT}) | ${t(figures.verdictP50Seconds)} | ${t(Math.max(...verdict))} |`,
      `| CLI: \`flotilla apply\` + \`flotilla reconcile\` wall time | ${t(figures.totalCliP50Seconds)} | ${t(figures.totalCliMaxSeconds)} |`,
      `| — \`flotilla reconcile\` alone | ${t(figures.reconcileCliP50Seconds)} | ${t(figures.reconcileCliMaxSeconds)} |`,
      '',
      'Both rollback timestamps come from the release history (`status.histories[cluster].revisions`, the hub\'s workflow clock): the failed upgrade revision\'s `finishedAt` (its health verdict) and the following rollback revision\'s `finishedAt` (its objects healthy again). After each rollback the Deployment\'s pod template is checked to be the previous one (no fail annotation) and available. The apply alone starts the upgrade (a spec change wakes the actor); the reconcile request is handled after it.',
    ].join('\n'));
  } finally {
    await fleet?.stop();
    await charts?.stop();
    await env.stop();
    rmSync(chartDir, { recursive: true, force: true });
    if (process.env.FLOTILLA_KEEP_TEST_DIRS) console.log(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
