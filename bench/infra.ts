// Benchmark "infra": the cost of the local infrastructure. Cold build times come from
// scripts/install-infra.sh, which times each build when it runs; warm starts and idle
// memory are measured here.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cacheDir } from '../deploy/dev/binaries.js';
import { startEtcd } from '../deploy/dev/etcd.js';
import { startCluster } from '../deploy/dev/kube-cluster.js';
import { startTemporal } from '../deploy/dev/temporal-server.js';
import { median, recordResults, rssMiB } from './record.js';

const RUNS = 3;

interface BuildTime { component: string; version: string; seconds: number; when: string }

function buildTimes(): BuildTime[] {
  const file = join(cacheDir, 'build-times.tsv');
  if (!existsSync(file)) return [];
  const latest = new Map<string, BuildTime>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const [component, version, seconds, when] = line.split('\t');
    if (component && version && seconds && when) latest.set(component, { component, version, seconds: Number(seconds), when });
  }
  return [...latest.values()];
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-bench-infra-'));
  try {
    const temporalStarts: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      const t = await startTemporal({ dir: join(dir, `temporal-${i}`) });
      temporalStarts.push((performance.now() - t0) / 1000);
      await t.stop();
    }
    const etcd = await startEtcd(join(dir, 'etcd'));
    const clusterStarts: number[] = [];
    let idle: Record<string, number> = {};
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      const cluster = await startCluster({ name: `bench${i}`, dir: join(dir, `cluster-${i}`), etcdEndpoint: etcd.endpoint });
      clusterStarts.push((performance.now() - t0) / 1000);
      if (i === RUNS - 1) {
        await sleep(20_000); // let start-up caches settle before reading idle memory
        idle = Object.fromEntries(cluster.processes.map((p) => [p.spec.name.replace(/\[.*\]/, ''), rssMiB(p.pid)]));
        idle.etcd = rssMiB(etcd.process.pid);
      }
      await cluster.stop();
    }
    await etcd.stop();

    const idleClusterMiB = Object.entries(idle).filter(([k]) => k !== 'etcd').reduce((s, [, v]) => s + v, 0);
    const builds = buildTimes();
    const figures = {
      temporalWarmStartSeconds: median(temporalStarts),
      clusterWarmStartSeconds: median(clusterStarts),
      idleClusterRssMiB: idleClusterMiB,
      idleRssMiBByProcess: idle,
      coldBuildSeconds: Object.fromEntries(builds.map((b) => [b.component, b.seconds])),
      coldBuildTotalSeconds: builds.filter((b) => b.version !== '-').reduce((s, b) => s + b.seconds, 0),
      runs: RUNS,
    };
    console.log(JSON.stringify(figures, null, 2));
    const f = (n: number): string => n.toFixed(1);
    recordResults('infra', figures, [
      '| figure | value |',
      '|---|---|',
      `| Temporal dev server warm start (median of ${RUNS}) | ${f(figures.temporalWarmStartSeconds)} s |`,
      `| one cluster warm start: apiserver ready, controllers, kwok node Ready, default SA (median of ${RUNS}) | ${f(figures.clusterWarmStartSeconds)} s |`,
      `| idle cluster RSS (apiserver + controller-manager + scheduler + kwok) | ${f(idleClusterMiB)} MiB |`,
      ...Object.entries(idle).map(([k, v]) => `| — ${k} | ${f(v)} MiB |`),
      ...builds.map((b) => `| cold build: ${b.component}${b.version === '-' ? '' : ` ${b.version}`} (measured ${b.when.slice(0, 10)}) | ${b.seconds} s |`),
      `| cold build total (Go builds timed by install-infra.sh) | ${figures.coldBuildTotalSeconds} s |`,
    ].join('\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
