// Benchmark "helmreleases-100": one HelmRepository and 100 HelmReleases of a small chart (a
// ConfigMap and a 1-replica Deployment; each release its own targetNamespace, created by the
// install) applied with one `flotilla apply -f <dir>`, on one cluster; time until all are
// Ready, and the hub's (also Temporal's and the agent's) peak RSS meanwhile. Real parts: a
// chart repository over loopback HTTP (charts packaged and indexed by the real helm),
// `flotilla-hub serve` on a Temporal dev server, one `flotilla-agent` on a local cluster.
// Flux publishes 27 s for 100 HelmReleases (16-core runner); that figure is quoted, not measured.
// `--count N` is a smoke run with N HelmReleases, nothing recorded.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { AppsV1Api } from '@kubernetes/client-node';
import { helmReleaseStatusQuery, type HelmReleaseStatus } from '../api/helm-release.js';
import { conditionOf, isReady } from '../core/conditions.js';
import { startEnvironment } from '../deploy/dev/environment.js';
import { ChartRepo, writeChart } from '../test/harness/chart-repo.js';
import { TestFleet } from '../test/harness/fleet.js';
import { cpuSeconds, machine, pollUntilAllReady, recordResults, RssSampler, rssMiB } from './record.js';

const CLUSTER = 'bench';
const CHART_VERSION = '1.0.0';
const FLUX_BASELINE_SECONDS = 27;
const FLUX_BASELINE_CORES = 16;
const SAMPLE_MS = 500;
// Status polling is load on the hub and Temporal (one query per pending object per round);
// FLOTILLA_BENCH_POLL_MS makes it lighter. The hub-clock figure does not depend on it.
const POLL_MS = Number(process.env.FLOTILLA_BENCH_POLL_MS ?? 1000);
const TIMEOUT_MS = 15 * 60_000;

const appName = (i: number): string => `app-${String(i).padStart(3, '0')}`;

/** A ConfigMap and a 1-replica Deployment. */
const appChart = (): string => writeChart({
  'Chart.yaml': 'apiVersion: v2\nname: app\nversion: 0.0.0\nappVersion: "1.0"\n',
  'values.yaml': 'payload: ""\n',
  'templates/configmap.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-config\ndata:\n  version: {{ .Chart.Version | quote }}\n  payload: {{ .Values.payload | quote }}\n',
  'templates/deployment.yaml': [
    'apiVersion: apps/v1', 'kind: Deployment', 'metadata:', '  name: {{ .Release.Name }}', 'spec:', '  replicas: 1',
    '  selector:', '    matchLabels: { app: {{ .Release.Name }} }', '  template:', '    metadata:',
    '      labels: { app: {{ .Release.Name }} }', '    spec:', '      containers:', '        - name: web',
    '          image: ghcr.io/stefanprodan/podinfo:6.14.1', '          ports: [{ containerPort: 9898 }]', '',
  ].join('\n'),
});

function writeDeclarations(dir: string, chartsUrl: string, count: number): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, '00-helmrepository.yaml'), stringify({
    apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'HelmRepository', metadata: { name: 'charts', namespace: 'flux-system' },
    spec: { url: chartsUrl, interval: '10m' },
  }));
  for (let i = 1; i <= count; i++) {
    writeFileSync(join(dir, `${appName(i)}.yaml`), stringify({
      apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', metadata: { name: appName(i), namespace: 'flux-system' },
      spec: {
        interval: '10m', timeout: '5m', targetNamespace: appName(i), install: { createNamespace: true },
        chart: { spec: { chart: 'app', version: CHART_VERSION, sourceRef: { kind: 'HelmRepository', name: 'charts' } } },
        values: { payload: 'x'.repeat(200) },
      },
    }));
  }
}

/** Ready at the chart version, on the one cluster, with a deployed revision there. */
function readyAt(s: HelmReleaseStatus): boolean {
  return isReady(s.conditions) && s.lastAttemptedChartVersion === CHART_VERSION && s.placed.length === 1
    && s.clusters.every((c) => c.ready === 'True' && c.releaseStatus === 'deployed');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { count: { type: 'string' } }, strict: true });
  const smoke = values.count !== undefined;
  const count = smoke ? Number(values.count) : 100;
  if (!Number.isInteger(count) || count < 1 || count > 999) throw new Error(`--count must be an integer in 1..999, got "${values.count ?? ''}"`);

  const work = mkdtempSync(join(tmpdir(), 'flotilla-bench-hr-'));
  const env = await startEnvironment({ clusters: [CLUSTER], temporal: true });
  let fleet: TestFleet | undefined;
  let charts: ChartRepo | undefined;
  const chartDir = appChart();
  try {
    charts = await ChartRepo.start();
    charts.publish(chartDir, CHART_VERSION);
    fleet = await TestFleet.create(env);
    await fleet.startHub();
    await fleet.startAgent(CLUSTER);
    const hub = fleet.hub;
    const agent = fleet.agents.get(CLUSTER);
    if (!hub || !agent) throw new Error('hub or agent not running');
    const temporal = env.temporalServer().process;

    const declDir = join(work, 'declarations');
    writeDeclarations(declDir, charts.url, count);
    const ids = Array.from({ length: count }, (_, i) => `helmrelease/flux-system/${appName(i + 1)}`);

    const hubRssBeforeMiB = rssMiB(hub.pid);
    const sampler = new RssSampler({ hub: hub.pid, temporal: temporal.pid, agent: agent.pid }, SAMPLE_MS, { hubWithChildren: hub.pid });
    const cpu0 = {
      hub: cpuSeconds(hub.pid), hubChildren: cpuSeconds(hub.pid, { children: true }) - cpuSeconds(hub.pid),
      temporal: cpuSeconds(temporal.pid), agent: cpuSeconds(agent.pid),
    };
    const t0 = performance.now();
    const t0Epoch = Date.now();
    const applied = await fleet.cli('apply', '-f', declDir);
    const applySeconds = (performance.now() - t0) / 1000;
    if (applied.code !== 0) throw new Error(`flotilla apply failed: ${applied.stderr}`);
    console.log(`applied ${count + 1} declarations in ${applySeconds.toFixed(1)} s`);

    // Poll the HelmReleases not yet Ready, one status query each per round.
    const client = fleet.client;
    const readySince = await pollUntilAllReady({
      ids, what: 'HelmReleases', t0, timeoutMs: TIMEOUT_MS, pollMs: POLL_MS, logFile: hub.spec.logFile,
      probe: async (id) => {
        const s = await client.workflow.getHandle(id).query(helmReleaseStatusQuery);
        const ready = conditionOf(s.conditions, 'Ready');
        return { ready: readyAt(s), ...(ready ? { since: ready.lastTransitionTime } : {}), detail: `${ready?.reason ?? 'no Ready condition'}: ${ready?.message ?? ''}` };
      },
    });
    const allReadySeconds = (performance.now() - t0) / 1000;
    const peak = sampler.stop();
    const cpu = {
      hub: cpuSeconds(hub.pid) - cpu0.hub, hubChildren: cpuSeconds(hub.pid, { children: true }) - cpuSeconds(hub.pid) - cpu0.hubChildren,
      temporal: cpuSeconds(temporal.pid) - cpu0.temporal, agent: cpuSeconds(agent.pid) - cpu0.agent,
    };
    const times = [...readySince.values()];
    const hubClockAllReadySeconds = (Math.max(...times) - t0Epoch) / 1000;
    const firstReadySeconds = (Math.min(...times) - t0Epoch) / 1000;

    // Sanity check, outside the timing: every release's Deployment is there and available.
    const deployments = await env.cluster(CLUSTER).kubeConfig().makeApiClient(AppsV1Api).listDeploymentForAllNamespaces({});
    const available = deployments.items.filter((d) => d.metadata?.namespace?.startsWith('app-') && d.status?.availableReplicas === 1).length;
    if (available !== count) throw new Error(`${available}/${count} release Deployments available on the cluster`);

    const cores = machine().cores;
    const ratio = allReadySeconds / FLUX_BASELINE_SECONDS;
    const figures = {
      helmReleases: count, clusters: 1, applySeconds, allReadySeconds, hubClockAllReadySeconds, firstReadySeconds,
      hubPeakRssMiB: peak.hub ?? 0, hubRssBeforeMiB, hubWithChildrenPeakRssMiB: peak.hubWithChildren ?? 0,
      temporalPeakRssMiB: peak.temporal ?? 0, agentPeakRssMiB: peak.agent ?? 0,
      cpuSeconds: cpu,
      fluxBaselineSeconds: FLUX_BASELINE_SECONDS, fluxBaselineCores: FLUX_BASELINE_CORES, ratioVsFlux: ratio,
      fluxBaselineNote: `Flux's published figure (${FLUX_BASELINE_CORES}-core runner), not measured here; this run had ${cores} cores`,
    };
    const f = (n: number): string => n.toFixed(1);
    console.log(`all ${count} Ready: ${f(allReadySeconds)} s (hub clock ${f(hubClockAllReadySeconds)} s; first Ready at ${f(firstReadySeconds)} s; apply command ${f(applySeconds)} s)`);
    console.log(`peak RSS: hub ${f(figures.hubPeakRssMiB)} MiB (${f(hubRssBeforeMiB)} MiB before the apply; with its helm children ${f(figures.hubWithChildrenPeakRssMiB)} MiB), Temporal ${f(figures.temporalPeakRssMiB)} MiB, agent ${f(figures.agentPeakRssMiB)} MiB`);
    console.log(`CPU during the run: hub ${f(cpu.hub)} s (+ ${f(cpu.hubChildren)} s in its helm children), Temporal ${f(cpu.temporal)} s, agent ${f(cpu.agent)} s`);
    console.log(`vs Flux's published ${FLUX_BASELINE_SECONDS} s (${FLUX_BASELINE_CORES} cores; here ${cores}): ${ratio.toFixed(2)}×${count === 100 ? '' : ` (only ${count} HelmReleases: not comparable)`}`);
    if (smoke) {
      console.log('smoke run (--count): nothing recorded');
      return;
    }
    recordResults('helmreleases-100', figures, [
      `One HelmRepository (a chart repository over loopback HTTP, the chart packaged and indexed by the real helm) and ${count} HelmReleases of a small chart (a ConfigMap and a 1-replica Deployment; interval 10m, timeout 5m, each its own targetNamespace with \`install.createNamespace: true\`) applied with one \`flotilla apply -f <dir>\`, on one local cluster (kube-apiserver + controllers + kwok). Real \`flotilla-hub serve\` and \`flotilla-agent\` processes, Temporal dev server on the same machine. Time from just before the apply until all are Ready (status of those not yet Ready polled once a second).`,
      '',
      '| figure | value |',
      '|---|---|',
      `| all ${count} Ready | ${f(allReadySeconds)} s |`,
      `| — by the hub's clock (last Ready transition) | ${f(hubClockAllReadySeconds)} s |`,
      `| — first Ready | ${f(firstReadySeconds)} s |`,
      `| — \`flotilla apply\` itself | ${f(applySeconds)} s |`,
      `| hub peak RSS (sampled every ${SAMPLE_MS} ms) | ${f(figures.hubPeakRssMiB)} MiB (${f(hubRssBeforeMiB)} MiB just before the apply) |`,
      `| — hub with its child processes (helm) | ${f(figures.hubWithChildrenPeakRssMiB)} MiB |`,
      `| Temporal dev server peak RSS | ${f(figures.temporalPeakRssMiB)} MiB |`,
      `| agent peak RSS | ${f(figures.agentPeakRssMiB)} MiB |`,
      `| CPU during the run: hub / its helm children / Temporal / agent | ${f(cpu.hub)} / ${f(cpu.hubChildren)} / ${f(cpu.temporal)} / ${f(cpu.agent)} s |`,
      `| Flux, published (not measured here; ${FLUX_BASELINE_CORES}-core runner vs ${cores} cores here) | ${FLUX_BASELINE_SECONDS} s |`,
      `| ratio ours / Flux | ${ratio.toFixed(2)}× |`,
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
