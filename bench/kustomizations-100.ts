// Benchmark "kustomizations-100", head to head with Flux on the same machine in the same
// invocation: one GitRepository (served over smart HTTP on loopback) and 100 Kustomizations
// (one small app each: Namespace, ConfigMap, Deployment, Service). The same YAML files go to
// Flux's source- and kustomize-controller (bench/flux.ts; --concurrent=20, Flux's own
// benchmark setting, then its default 4) and to Flotilla (`flotilla apply -f <dir>`), each
// system on a fresh cluster; time until all are Ready, CPU seconds and peak RSS of every
// process of each system, and the ratios Flotilla / Flux.
// Real parts: a git repository on disk, Flux's controllers built by scripts/build-flux.sh,
// `flotilla-hub serve` on a Temporal dev server, one `flotilla-agent` on a local cluster.
// `--count N` is a smoke run with N Kustomizations, nothing recorded.
// `--temporal postgres` runs Flotilla on the Temporal server built from go.temporal.io/server
// with PostgreSQL persistence (scripts/build-temporal-sql.sh; deploy/dev/temporal-sql.ts)
// instead of the dev server: the Temporal figures then add PostgreSQL (postmaster and
// backends), recorded as kustomizations-100-postgres.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { clusterStatusQuery, clusterWorkflowId } from '../api/cluster.js';
import { gitRepositoryStatusQuery } from '../api/git-repository.js';
import { kustomizationStatusQuery } from '../api/kustomization.js';
import { conditionOf, isReady } from '../core/conditions.js';
import { startEnvironment, type TemporalKind } from '../deploy/dev/environment.js';
import { isSqlTemporal, temporalSqlMissing } from '../deploy/dev/temporal-sql.js';
import { TestFleet } from '../test/harness/fleet.js';
import { configMap, GitRepo } from '../test/harness/git.js';
import { assertDeploymentsAvailable, fluxBinaries, runFlux, type FluxRunResult } from './flux.js';
import { GitHttpServer } from '../test/harness/git-http.js';
import { cpuSeconds, pollUntilAllReady, recordResults, RssSampler, rssMiB, treeCpuSeconds } from './record.js';

const CLUSTER = 'bench';
/** Flux's --concurrent: 20 is what Flux's own benchmark uses (the ratios are against it), 4 its default. */
const FLUX_CONCURRENCY = [20, 4] as const;
/**
 * At 1,000 only --concurrent=20: Flux's default 4 takes over 2 s per Kustomization here
 * (70–115 s for 100), so more than half an hour for 1,000 — longer than this benchmark's limit.
 */
const FLUX_CONCURRENCY_1000 = [20] as const;
const SAMPLE_MS = 500;
// Status polling is load on the hub and Temporal (one query per pending object per round);
// FLOTILLA_BENCH_POLL_MS makes it lighter. The hub-clock figure does not depend on it. Flux's
// statuses are read with one list call per round, at the same interval.
const POLL_MS = Number(process.env.FLOTILLA_BENCH_POLL_MS ?? 1000);
let TIMEOUT_MS = Number(process.env.FLOTILLA_BENCH_TIMEOUT_MIN ?? 15) * 60_000;

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

interface FlotillaRun {
  readonly applySeconds: number;
  readonly allReadySeconds: number;
  readonly hubClockAllReadySeconds: number;
  readonly firstReadySeconds: number;
  readonly hubRssBeforeMiB: number;
  readonly peakRssMiB: { readonly hub: number; readonly temporal: number; readonly agent: number; readonly postgres?: number };
  readonly cpuSeconds: { readonly hub: number; readonly temporal: number; readonly agent: number; readonly postgres?: number };
}

/** Flotilla on a fresh environment: hub, Temporal (dev or SQL server), one agent; timed from the apply. */
async function runFlotilla(declDir: string, count: number, revision: string, temporalKind: TemporalKind): Promise<FlotillaRun> {
  const env = await startEnvironment({ clusters: [CLUSTER], temporal: temporalKind });
  let fleet: TestFleet | undefined;
  try {
    fleet = await TestFleet.create(env);
    await fleet.startHub();
    await fleet.startAgent(CLUSTER);
    const hub = fleet.hub;
    const agent = fleet.agents.get(CLUSTER);
    if (!hub || !agent) throw new Error('hub or agent not running');
    const temporal = env.temporalServer().process;
    // PostgreSQL's backends are processes of their own (one per pooled connection): its
    // figures are the postmaster's tree (memory as proportional set size: shared buffers once).
    const server = env.temporalServer();
    const postgres = isSqlTemporal(server) ? server.postgres.process.pid : undefined;
    const ids = Array.from({ length: count }, (_, i) => `kustomization/flux-system/${appName(i + 1)}`);

    const hubRssBeforeMiB = rssMiB(hub.pid);
    const sampler = new RssSampler({ hub: hub.pid, temporal: temporal.pid, agent: agent.pid }, SAMPLE_MS, {}, postgres === undefined ? {} : { postgres });
    const cpu0 = { hub: cpuSeconds(hub.pid), temporal: cpuSeconds(temporal.pid), agent: cpuSeconds(agent.pid), postgres: postgres === undefined ? 0 : treeCpuSeconds(postgres) };
    const t0 = performance.now();
    const t0Epoch = Date.now();
    const applied = await fleet.cli('apply', '-f', declDir);
    const applySeconds = (performance.now() - t0) / 1000;
    if (applied.code !== 0) throw new Error(`flotilla apply failed: ${applied.stderr}`);
    console.log(`Flotilla: applied ${count + 1} declarations in ${applySeconds.toFixed(1)} s`);

    // Poll the Kustomizations not yet Ready, one status query each per round.
    const client = fleet.client;
    // Each round one query of the cluster actor (which deployments its agent reported Ready);
    // only those Kustomizations are then asked for their own Ready condition.
    const likelyReady = async (): Promise<ReadonlySet<string>> => {
      const cluster = await client.workflow.getHandle(clusterWorkflowId(CLUSTER)).query(clusterStatusQuery);
      const desired = new Map(cluster.desired.deployments.map((d) => [d.name, d.generation]));
      return new Set(cluster.reports.filter((r) => r.phase === 'READY' && desired.get(r.name) === r.generation).map((r) => r.name));
    };
    const readySince = await pollUntilAllReady({
      ids, what: 'Kustomizations', t0, timeoutMs: TIMEOUT_MS, pollMs: POLL_MS, logFile: hub.spec.logFile, likelyReady,
      probe: async (id) => {
        const s = await client.workflow.getHandle(id).query(kustomizationStatusQuery);
        const ready = conditionOf(s.conditions, 'Ready');
        return { ready: isReady(s.conditions) && s.lastAppliedRevision === revision, ...(ready ? { since: ready.lastTransitionTime } : {}), detail: `${ready?.reason ?? 'no Ready condition'}: ${ready?.message ?? ''}` };
      },
    }).catch(async (err: unknown) => {
      await diagnose(client, ids);
      throw err;
    });
    const allReadySeconds = (performance.now() - t0) / 1000;
    const peak = sampler.stop();
    const cpu = {
      hub: cpuSeconds(hub.pid) - cpu0.hub, temporal: cpuSeconds(temporal.pid) - cpu0.temporal, agent: cpuSeconds(agent.pid) - cpu0.agent,
      ...(postgres === undefined ? {} : { postgres: treeCpuSeconds(postgres) - cpu0.postgres }),
    };
    const times = [...readySince.values()];
    await assertDeploymentsAvailable(env.cluster(CLUSTER), count);
    return {
      applySeconds, allReadySeconds,
      hubClockAllReadySeconds: (Math.max(...times) - t0Epoch) / 1000, firstReadySeconds: (Math.min(...times) - t0Epoch) / 1000,
      hubRssBeforeMiB, cpuSeconds: cpu,
      peakRssMiB: { hub: peak.hub ?? 0, temporal: peak.temporal ?? 0, agent: peak.agent ?? 0, ...(postgres === undefined ? {} : { postgres: peak.postgres ?? 0 }) },
    };
  } finally {
    await fleet?.stop();
    await env.stop();
  }
}

/** When Flotilla did not converge: what the source and a few stuck Kustomizations look like in Temporal. */
async function diagnose(client: TestFleet['client'], ids: readonly string[]): Promise<void> {
  const describe = async (id: string): Promise<string> => {
    const d = await client.workflow.getHandle(id).describe();
    const history = await client.workflow.getHandle(id).fetchHistory();
    const types = new Map<string, number>();
    for (const e of history.events ?? []) {
      const t = String(e.eventType ?? '?');
      types.set(t, (types.get(t) ?? 0) + 1);
    }
    return `${id}: run ${d.runId} started ${d.startTime.toISOString()} historyLength ${String(d.historyLength)} status ${d.status.name}; events ${[...types].map(([t, n]) => `${t}=${String(n)}`).join(' ')}`;
  };
  try {
    const git = 'gitrepository/flux-system/apps';
    console.log(await describe(git));
    const gs = await client.workflow.getHandle(git).query(gitRepositoryStatusQuery);
    console.log(`${git}: ${String(gs.subscribers.length)} subscribers; artifact ${gs.artifact?.revision ?? 'none'}`);
    const reasons = new Map<string, number>();
    const stuck: string[] = [];
    for (const id of ids) {
      const s = await client.workflow.getHandle(id).query(kustomizationStatusQuery);
      if (isReady(s.conditions)) continue;
      stuck.push(id);
      const r = conditionOf(s.conditions, 'Ready')?.reason ?? 'none';
      reasons.set(r, (reasons.get(r) ?? 0) + 1);
    }
    console.log(`not Ready by reason: ${[...reasons].map(([r, n]) => `${r}=${String(n)}`).join(' ')}; subscribed but not Ready: ${String(stuck.filter((id) => gs.subscribers.includes(id)).length)}`);
    for (const id of stuck.slice(0, 3)) console.log(await describe(id));
  } catch (err) {
    console.log(`diagnosis failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Flux at one --concurrent setting, on a fresh cluster of its own. */
async function runFluxOn(work: string, declDir: string, revision: string, concurrent: number): Promise<FluxRunResult> {
  const name = `flux-c${String(concurrent)}`;
  const env = await startEnvironment({ clusters: [name], temporal: false });
  try {
    console.log(`Flux --concurrent=${String(concurrent)}: applying`);
    return await runFlux({
      cluster: env.cluster(name), dir: join(work, name), concurrent, declarationsDir: declDir, revision,
      timeoutMs: TIMEOUT_MS, pollMs: POLL_MS, sampleMs: SAMPLE_MS,
    });
  } finally {
    await env.stop();
  }
}

const sum = (o: Readonly<Record<string, number>>): number => Object.values(o).reduce((a, b) => a + b, 0);

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { count: { type: 'string' }, temporal: { type: 'string', default: 'dev' }, scale: { type: 'string', default: '100' } }, strict: true });
  // --scale 1000 (bench/kustomizations-1000.ts): 1,000 apps in one repository, recorded as kustomizations-1000.
  if (values.scale !== '100' && values.scale !== '1000') throw new Error(`--scale must be 100 or 1000, got "${values.scale}"`);
  const scale = Number(values.scale);
  const smoke = values.count !== undefined;
  const count = smoke ? Number(values.count) : scale;
  if (!Number.isInteger(count) || count < 1 || count > 1000) throw new Error(`--count must be an integer in 1..1000, got "${values.count ?? ''}"`);
  if (scale === 1000 && process.env.FLOTILLA_BENCH_TIMEOUT_MIN === undefined) TIMEOUT_MS = 30 * 60_000;
  if (values.temporal !== 'dev' && values.temporal !== 'postgres') throw new Error(`--temporal must be dev or postgres, got "${values.temporal}"`);
  const temporalKind: TemporalKind = values.temporal;
  // Fail now, with how to build what is missing, rather than after a long run.
  if (temporalKind === 'postgres') {
    const missing = temporalSqlMissing();
    if (missing !== undefined) throw new Error(missing);
  }
  const flux = fluxBinaries();

  const work = mkdtempSync(join(tmpdir(), 'flotilla-bench-ks-'));
  let server: GitHttpServer | undefined;
  try {
    const repo = new GitRepo(join(work, 'repo'));
    writeApps(repo, count);
    const revision = `main@sha1:${repo.commit(`${count} apps`)}`;
    // Smart HTTP for both systems: source-controller accepts no file:// URL.
    server = await GitHttpServer.start(repo.dir);
    const declDir = join(work, 'declarations');
    writeDeclarations(declDir, server.url, count);

    if (process.env.FLOTILLA_BENCH_ONLY === 'flotilla') {
      if (!smoke) throw new Error('FLOTILLA_BENCH_ONLY=flotilla is for smoke runs (--count)');
      const ours = await runFlotilla(declDir, count, revision, temporalKind);
      console.log(`Flotilla only: ${JSON.stringify(ours)}`);
      return;
    }
    // Flotilla first: a run that does not converge fails before Flux's long runs.
    const ours = await runFlotilla(declDir, count, revision, temporalKind);
    const fluxRuns: FluxRunResult[] = [];
    for (const concurrent of scale === 1000 ? FLUX_CONCURRENCY_1000 : FLUX_CONCURRENCY) fluxRuns.push(await runFluxOn(work, declDir, revision, concurrent));

    const f = (n: number): string => n.toFixed(1);
    const pg = (figure: number | undefined, unit: string): string => figure === undefined ? '' : ` + PostgreSQL ${f(figure)}${unit}`;
    const temporalLabel = temporalKind === 'postgres'
      ? 'Temporal server built from go.temporal.io/server on PostgreSQL (scripts/build-temporal-sql.sh)'
      : 'Temporal dev server';
    const oursCpu = sum(ours.cpuSeconds);
    const oursRss = sum(ours.peakRssMiB);
    const vs = (r: FluxRunResult): { ratioVsFlux: number; cpuRatioVsFlux: number; rssRatioVsFlux: number } => ({
      ratioVsFlux: ours.allReadySeconds / r.allReadySeconds, cpuRatioVsFlux: oursCpu / sum(r.cpuSeconds), rssRatioVsFlux: oursRss / sum(r.peakRssMiB),
    });
    const fluxFigures = fluxRuns.map((r) => ({ ...r, cpuSecondsTotal: sum(r.cpuSeconds), peakRssMiBTotal: sum(r.peakRssMiB), ...vs(r) }));
    const [main20] = fluxFigures;
    if (main20 === undefined) throw new Error('no Flux run');

    for (const r of fluxFigures) {
      console.log(`Flux --concurrent=${String(r.concurrent)}: all ${count} Ready ${f(r.allReadySeconds)} s (controllers' clock ${f(r.controllerClockAllReadySeconds)} s; first ${f(r.firstReadySeconds)} s); CPU sc ${f(r.cpuSeconds.sourceController)} + kc ${f(r.cpuSeconds.kustomizeController)} s; peak RSS sc ${f(r.peakRssMiB.sourceController)} + kc ${f(r.peakRssMiB.kustomizeController)} MiB`);
    }
    console.log(`Flotilla: all ${count} Ready ${f(ours.allReadySeconds)} s (hub clock ${f(ours.hubClockAllReadySeconds)} s; first ${f(ours.firstReadySeconds)} s; apply command ${f(ours.applySeconds)} s); CPU hub ${f(ours.cpuSeconds.hub)} + Temporal ${f(ours.cpuSeconds.temporal)}${pg(ours.cpuSeconds.postgres, '')} + agent ${f(ours.cpuSeconds.agent)} s; peak RSS hub ${f(ours.peakRssMiB.hub)} (${f(ours.hubRssBeforeMiB)} before the apply), Temporal ${f(ours.peakRssMiB.temporal)}${pg(ours.peakRssMiB.postgres, '')}, agent ${f(ours.peakRssMiB.agent)} MiB`);
    for (const r of fluxFigures) {
      console.log(`Flotilla / Flux --concurrent=${String(r.concurrent)}: wall ${r.ratioVsFlux.toFixed(2)}×, CPU ${r.cpuRatioVsFlux.toFixed(2)}×, peak RSS ${r.rssRatioVsFlux.toFixed(2)}×`);
    }
    if (smoke) {
      console.log('smoke run (--count): nothing recorded');
      return;
    }
    const figures = {
      kustomizations: count, clusters: 1, fluxVersion: flux.version,
      // The bar of issue #27: against Flux --concurrent=20, measured in this same run.
      flotillaSeconds: ours.allReadySeconds, fluxSeconds: main20.allReadySeconds,
      ratioVsFlux: main20.ratioVsFlux, cpuRatioVsFlux: main20.cpuRatioVsFlux, rssRatioVsFlux: main20.rssRatioVsFlux,
      flotilla: { ...ours, cpuSecondsTotal: oursCpu, peakRssMiBTotal: oursRss },
      flux: fluxFigures,
    };
    const fluxRows = fluxFigures.flatMap((r) => [
      `| Flux \`--concurrent=${String(r.concurrent)}\`: all ${count} Ready (controllers' clock; first Ready) | ${f(r.allReadySeconds)} s (${f(r.controllerClockAllReadySeconds)} s; ${f(r.firstReadySeconds)} s) |`,
      `| — CPU: source-controller / kustomize-controller | ${f(r.cpuSeconds.sourceController)} / ${f(r.cpuSeconds.kustomizeController)} s (${f(r.cpuSecondsTotal)} s) |`,
      `| — peak RSS: source-controller / kustomize-controller | ${f(r.peakRssMiB.sourceController)} / ${f(r.peakRssMiB.kustomizeController)} MiB |`,
      `| **Flotilla / Flux \`--concurrent=${String(r.concurrent)}\`: wall / CPU / peak RSS (sum of each process's peak)** | **${r.ratioVsFlux.toFixed(2)}× / ${r.cpuRatioVsFlux.toFixed(2)}× / ${r.rssRatioVsFlux.toFixed(2)}×** |`,
    ]);
    recordResults(`kustomizations-${String(scale)}${temporalKind === 'postgres' ? '-postgres' : ''}`, { ...figures, temporal: temporalKind }, [
      `Head to head, one invocation, same machine: one GitRepository served over smart HTTP on loopback (git-http-backend) and ${count} Kustomizations (interval 10m, prune, wait: true, timeout 5m; each its own app: a Namespace, a ConfigMap, a 1-replica Deployment and a Service), the same YAML files applied to Flux ${flux.version} (source-controller + kustomize-controller built from their Go modules by scripts/build-flux.sh, run as processes outside the cluster, both at \`--concurrent=N\`) and to Flotilla (one \`flotilla apply -f <dir>\`; real \`flotilla-hub serve\`, ${temporalLabel}, one \`flotilla-agent\`). Each run on a fresh local cluster (kube-apiserver + controllers + kwok). Time from just before the objects are applied until all are Ready at the commit (status polled every ${String(POLL_MS)} ms); CPU of each system's processes over the same span; peak RSS sampled every ${SAMPLE_MS} ms (child processes such as git and kustomize not included).`,
      '',
      '| figure | value |',
      '|---|---|',
      ...fluxRows,
      `| Flotilla: all ${count} Ready (hub clock; first Ready; \`flotilla apply\` itself) | ${f(ours.allReadySeconds)} s (${f(ours.hubClockAllReadySeconds)} s; ${f(ours.firstReadySeconds)} s; ${f(ours.applySeconds)} s) |`,
      `| — CPU: hub / Temporal / agent | ${f(ours.cpuSeconds.hub)} / ${f(ours.cpuSeconds.temporal)}${pg(ours.cpuSeconds.postgres, ' s')} / ${f(ours.cpuSeconds.agent)} s (${f(oursCpu)} s) |`,
      `| — peak RSS: hub / Temporal / agent | ${f(ours.peakRssMiB.hub)} / ${f(ours.peakRssMiB.temporal)}${pg(ours.peakRssMiB.postgres, ' MiB')} / ${f(ours.peakRssMiB.agent)} MiB (hub ${f(ours.hubRssBeforeMiB)} MiB just before the apply) |`,
    ].join('\n'));
  } finally {
    await server?.stop();
    if (process.env.FLOTILLA_KEEP_TEST_DIRS) console.log(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
