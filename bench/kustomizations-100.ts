// Benchmark "kustomizations-100": one GitRepository and 100 Kustomizations (one small app
// each: Namespace, ConfigMap, Deployment, Service) applied with one `flotilla apply -f <dir>`,
// on one cluster; time until all are Ready, and the hub's (also Temporal's and the agent's)
// peak RSS meanwhile. Real parts: a git repository on disk, `flotilla-hub serve` on a
// Temporal dev server, one `flotilla-agent` process on a local cluster.
// Flux publishes 28 s for 100 Kustomizations (16-core runner); that figure is quoted, not measured.
// `--count N` is a smoke run with N Kustomizations, nothing recorded.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { AppsV1Api } from '@kubernetes/client-node';
import { kustomizationStatusQuery } from '../api/kustomization.js';
import { conditionOf, isReady } from '../core/conditions.js';
import { startEnvironment } from '../deploy/dev/environment.js';
import { TestFleet } from '../test/harness/fleet.js';
import { configMap, GitRepo } from '../test/harness/git.js';
import { cpuSeconds, machine, pollUntilAllReady, recordResults, RssSampler, rssMiB } from './record.js';

const CLUSTER = 'bench';
const FLUX_BASELINE_SECONDS = 28;
const FLUX_BASELINE_CORES = 16;
const SAMPLE_MS = 500;
// Status polling is load on the hub and Temporal (one query per pending object per round);
// FLOTILLA_BENCH_POLL_MS makes it lighter. The hub-clock figure does not depend on it.
const POLL_MS = Number(process.env.FLOTILLA_BENCH_POLL_MS ?? 1000);
const TIMEOUT_MS = 15 * 60_000;

const appName = (i: number): string => `app-${String(i).padStart(3, '0')}`;

function writeApps(repo: GitRepo, count: number): void {
  for (let i = 1; i <= count; i++) {
    const ns = appName(i);
    repo.writeObjects(`apps/${ns}/namespace.yaml`, [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }])
      .writeObjects(`apps/${ns}/app.yaml`, [
        configMap('config', ns, { app: ns, payload: 'x'.repeat(200) }),
        {
          apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: ns },
          spec: {
            replicas: 1, selector: { matchLabels: { app: 'web' } },
            template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'ghcr.io/stefanprodan/podinfo:6.14.1', ports: [{ containerPort: 9898 }] }] } },
          },
        },
        { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: ns }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 9898 }] } },
      ]);
  }
}

function writeDeclarations(dir: string, repoUrl: string, count: number): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, '00-gitrepository.yaml'), stringify({
    apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'apps', namespace: 'flux-system' },
    spec: { url: repoUrl, interval: '10m', ref: { branch: 'main' } },
  }));
  for (let i = 1; i <= count; i++) {
    writeFileSync(join(dir, `${appName(i)}.yaml`), stringify({
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name: appName(i), namespace: 'flux-system' },
      spec: {
        interval: '10m', prune: true, wait: true, timeout: '5m', path: `./apps/${appName(i)}`,
        sourceRef: { kind: 'GitRepository', name: 'apps' },
      },
    }));
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { count: { type: 'string' } }, strict: true });
  const smoke = values.count !== undefined;
  const count = smoke ? Number(values.count) : 100;
  if (!Number.isInteger(count) || count < 1 || count > 999) throw new Error(`--count must be an integer in 1..999, got "${values.count ?? ''}"`);

  const work = mkdtempSync(join(tmpdir(), 'flotilla-bench-ks-'));
  const env = await startEnvironment({ clusters: [CLUSTER], temporal: true });
  let fleet: TestFleet | undefined;
  try {
    fleet = await TestFleet.create(env);
    await fleet.startHub();
    await fleet.startAgent(CLUSTER);
    const hub = fleet.hub;
    const agent = fleet.agents.get(CLUSTER);
    if (!hub || !agent) throw new Error('hub or agent not running');
    const temporal = env.temporalServer().process;

    const repo = new GitRepo(join(work, 'repo'));
    writeApps(repo, count);
    const revision = `main@sha1:${repo.commit(`${count} apps`)}`;
    const declDir = join(work, 'declarations');
    writeDeclarations(declDir, repo.url, count);
    const ids = Array.from({ length: count }, (_, i) => `kustomization/flux-system/${appName(i + 1)}`);

    const hubRssBeforeMiB = rssMiB(hub.pid);
    const sampler = new RssSampler({ hub: hub.pid, temporal: temporal.pid, agent: agent.pid }, SAMPLE_MS);
    const cpu0 = { hub: cpuSeconds(hub.pid), temporal: cpuSeconds(temporal.pid), agent: cpuSeconds(agent.pid) };
    const t0 = performance.now();
    const t0Epoch = Date.now();
    const applied = await fleet.cli('apply', '-f', declDir);
    const applySeconds = (performance.now() - t0) / 1000;
    if (applied.code !== 0) throw new Error(`flotilla apply failed: ${applied.stderr}`);
    console.log(`applied ${count + 1} declarations in ${applySeconds.toFixed(1)} s`);

    // Poll the Kustomizations not yet Ready, one status query each per round.
    const client = fleet.client;
    const readySince = await pollUntilAllReady({
      ids, what: 'Kustomizations', t0, timeoutMs: TIMEOUT_MS, pollMs: POLL_MS, logFile: hub.spec.logFile,
      probe: async (id) => {
        const s = await client.workflow.getHandle(id).query(kustomizationStatusQuery);
        const ready = conditionOf(s.conditions, 'Ready');
        return { ready: isReady(s.conditions) && s.lastAppliedRevision === revision, ...(ready ? { since: ready.lastTransitionTime } : {}), detail: `${ready?.reason ?? 'no Ready condition'}: ${ready?.message ?? ''}` };
      },
    });
    const allReadySeconds = (performance.now() - t0) / 1000;
    const peak = sampler.stop();
    const cpu = {
      hub: cpuSeconds(hub.pid) - cpu0.hub, temporal: cpuSeconds(temporal.pid) - cpu0.temporal, agent: cpuSeconds(agent.pid) - cpu0.agent,
    };
    const times = [...readySince.values()];
    const hubClockAllReadySeconds = (Math.max(...times) - t0Epoch) / 1000;
    const firstReadySeconds = (Math.min(...times) - t0Epoch) / 1000;

    // Sanity check, outside the timing: every Deployment is there and available.
    const deployments = await env.cluster(CLUSTER).kubeConfig().makeApiClient(AppsV1Api).listDeploymentForAllNamespaces({});
    const available = deployments.items.filter((d) => d.metadata?.namespace?.startsWith('app-') && d.status?.availableReplicas === 1).length;
    if (available !== count) throw new Error(`${available}/${count} app Deployments available on the cluster`);

    const cores = machine().cores;
    const ratio = allReadySeconds / FLUX_BASELINE_SECONDS;
    const figures = {
      kustomizations: count, clusters: 1, applySeconds, allReadySeconds, hubClockAllReadySeconds, firstReadySeconds,
      hubPeakRssMiB: peak.hub ?? 0, hubRssBeforeMiB, temporalPeakRssMiB: peak.temporal ?? 0, agentPeakRssMiB: peak.agent ?? 0,
      cpuSeconds: cpu,
      fluxBaselineSeconds: FLUX_BASELINE_SECONDS, fluxBaselineCores: FLUX_BASELINE_CORES, ratioVsFlux: ratio,
      fluxBaselineNote: `Flux's published figure (${FLUX_BASELINE_CORES}-core runner), not measured here; this run had ${cores} cores`,
    };
    const f = (n: number): string => n.toFixed(1);
    console.log(`all ${count} Ready: ${f(allReadySeconds)} s (hub clock ${f(hubClockAllReadySeconds)} s; first Ready at ${f(firstReadySeconds)} s; apply command ${f(applySeconds)} s)`);
    console.log(`peak RSS: hub ${f(figures.hubPeakRssMiB)} MiB (${f(hubRssBeforeMiB)} MiB before the apply), Temporal ${f(figures.temporalPeakRssMiB)} MiB, agent ${f(figures.agentPeakRssMiB)} MiB`);
    console.log(`CPU during the run: hub ${f(cpu.hub)} s, Temporal ${f(cpu.temporal)} s, agent ${f(cpu.agent)} s`);
    console.log(`vs Flux's published ${FLUX_BASELINE_SECONDS} s (${FLUX_BASELINE_CORES} cores; here ${cores}): ${ratio.toFixed(2)}×${count === 100 ? '' : ` (only ${count} Kustomizations: not comparable)`}`);
    if (smoke) {
      console.log('smoke run (--count): nothing recorded');
      return;
    }
    recordResults('kustomizations-100', figures, [
      `One GitRepository and ${count} Kustomizations (interval 10m, prune, wait: true, timeout 5m; each its own app: a Namespace, a ConfigMap, a 1-replica Deployment and a Service) applied with one \`flotilla apply -f <dir>\`, on one local cluster (kube-apiserver + controllers + kwok). Real \`flotilla-hub serve\` and \`flotilla-agent\` processes, Temporal dev server on the same machine. Time from just before the apply until all are Ready at the commit (status polled once a second).`,
      '',
      '| figure | value |',
      '|---|---|',
      `| all ${count} Ready | ${f(allReadySeconds)} s |`,
      `| — by the hub's clock (last Ready transition) | ${f(hubClockAllReadySeconds)} s |`,
      `| — first Ready | ${f(firstReadySeconds)} s |`,
      `| — \`flotilla apply\` itself | ${f(applySeconds)} s |`,
      `| hub peak RSS (sampled every ${SAMPLE_MS} ms; git and kustomize child processes not included) | ${f(figures.hubPeakRssMiB)} MiB (${f(hubRssBeforeMiB)} MiB just before the apply) |`,
      `| Temporal dev server peak RSS | ${f(figures.temporalPeakRssMiB)} MiB |`,
      `| agent peak RSS | ${f(figures.agentPeakRssMiB)} MiB |`,
      `| CPU during the run: hub / Temporal / agent | ${f(cpu.hub)} / ${f(cpu.temporal)} / ${f(cpu.agent)} s |`,
      `| Flux, published (not measured here; ${FLUX_BASELINE_CORES}-core runner vs ${cores} cores here) | ${FLUX_BASELINE_SECONDS} s |`,
      `| ratio ours / Flux | ${ratio.toFixed(2)}× |`,
    ].join('\n'));
  } finally {
    await fleet?.stop();
    await env.stop();
    if (process.env.FLOTILLA_KEEP_TEST_DIRS) console.log(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
