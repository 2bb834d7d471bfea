// Flux itself, for the head-to-head benchmarks: runs Flux's source-controller and
// kustomize-controller (built by scripts/build-flux.sh) as processes outside a local cluster,
// applies the same Flux objects the Flotilla run applies, and measures until all
// Kustomizations are Ready: wall time, CPU seconds and peak RSS of each controller.
// helm-controller is not served by the Go module proxy, so there is no Flux Helm run here.
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { AppsV1Api } from '@kubernetes/client-node';
import { ClusterClient } from '../agents/apply/cluster-client.js';
import { assessHealth } from '../core/kstatus.js';
import { isRecord } from '../core/manifests.js';
import type { KubeObject } from '../core/objects.js';
import { cacheDir, readVersions } from '../deploy/dev/binaries.js';
import type { KubeCluster } from '../deploy/dev/kube-cluster.js';
import { freePorts } from '../deploy/dev/ports.js';
import { ManagedProcess, waitFor } from '../deploy/dev/processes.js';
import { cpuSeconds, pollUntilAllReady, type ReadyProbe, RssSampler } from './record.js';

const NAMESPACE = 'flux-system';

export interface FluxBinaries {
  readonly version: string;
  readonly sourceController: string;
  readonly kustomizeController: string;
  /** The controllers' CRDs (config/crd/bases of both modules). */
  readonly crdDir: string;
}

/** Where scripts/build-flux.sh put the pinned controllers; fails with how to build them. */
export function fluxBinaries(): FluxBinaries {
  const version = readVersions().FLUX_VERSION;
  const dir = join(cacheDir, 'bin', `flux-${version}`);
  const found = {
    version, sourceController: join(dir, 'source-controller'), kustomizeController: join(dir, 'kustomize-controller'), crdDir: join(dir, 'crds'),
  };
  for (const path of [found.sourceController, found.kustomizeController, found.crdDir]) {
    if (!existsSync(path)) throw new Error(`Flux ${version} is not built (no ${path}). Run 'bash scripts/build-flux.sh' (several minutes; npm run bench runs it for the benchmarks that need it).`);
  }
  return found;
}

export interface FluxRunOptions {
  /** A fresh cluster: Flux's CRDs, its objects and the applied apps land there. */
  readonly cluster: KubeCluster;
  /** Working directory: the controllers' logs and source-controller's artifact storage. */
  readonly dir: string;
  /** --concurrent of both controllers (Flux's own benchmark: 20; its default: 4). */
  readonly concurrent: number;
  /** The GitRepository and Kustomizations, as YAML files (what `flotilla apply -f` reads). */
  readonly declarationsDir: string;
  /** The revision every Kustomization must have applied, e.g. main@sha1:<commit>. */
  readonly revision: string;
  readonly timeoutMs: number;
  readonly pollMs: number;
  readonly sampleMs: number;
}

export interface FluxRunResult {
  readonly concurrent: number;
  /** From just before the objects are applied until the poll sees all Ready. */
  readonly allReadySeconds: number;
  /** The last and first Ready transitions, by the controllers' clock (second precision). */
  readonly controllerClockAllReadySeconds: number;
  readonly firstReadySeconds: number;
  readonly cpuSeconds: { readonly sourceController: number; readonly kustomizeController: number };
  readonly peakRssMiB: { readonly sourceController: number; readonly kustomizeController: number };
}

/**
 * One Flux run: CRDs, controllers, then (timed) the objects until all Kustomizations are Ready
 * at `revision`; the controllers are stopped before it returns.
 */
export async function runFlux(opts: FluxRunOptions): Promise<FluxRunResult> {
  const flux = fluxBinaries();
  mkdirSync(opts.dir, { recursive: true });
  const client = ClusterClient.fromKubeconfigFile(opts.cluster.kubeconfigPath);
  const controllers: ManagedProcess[] = [];
  try {
    // 1. CRDs first, and only once they are served: the controllers' informers and the
    //    objects below need their kinds (the client then forgets its discovery cache).
    await installCrds(client, flux.crdDir);
    await client.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } });

    // 2. Both controllers, up and ready before the clock starts: the Flotilla run's hub and
    //    agent are also started before its clock.
    const storage = join(opts.dir, 'storage'); // source-controller wants it to exist
    mkdirSync(storage);
    const sc = await startController('source-controller', flux.sourceController, opts, ['--storage-path', storage]);
    controllers.push(sc);
    const kc = await startController('kustomize-controller', flux.kustomizeController, opts, []);
    controllers.push(kc);

    // 3. Timed: apply the objects, then poll until every Kustomization is Ready.
    const objects = readDeclarations(opts.declarationsDir);
    const names = objects.filter((o) => o.kind === 'Kustomization').map((o) => o.metadata.name);
    const sampler = new RssSampler({ sourceController: sc.pid, kustomizeController: kc.pid }, opts.sampleMs);
    const cpu0 = { sourceController: cpuSeconds(sc.pid), kustomizeController: cpuSeconds(kc.pid) };
    const t0 = performance.now();
    const t0Epoch = Date.now();
    for (const obj of objects) await client.apply(obj, { fieldManager: 'flotilla-bench' });
    const statuses = new KustomizationStatuses(client, opts.pollMs / 2);
    const readySince = await pollUntilAllReady({
      ids: names, what: 'Flux Kustomizations', t0, timeoutMs: opts.timeoutMs, pollMs: opts.pollMs, logFile: kc.spec.logFile,
      probe: async (name) => readyAt((await statuses.get()).get(name), opts.revision),
    });
    const allReadySeconds = (performance.now() - t0) / 1000;
    const peak = sampler.stop();
    const cpu = {
      sourceController: cpuSeconds(sc.pid) - cpu0.sourceController, kustomizeController: cpuSeconds(kc.pid) - cpu0.kustomizeController,
    };
    await assertDeploymentsAvailable(opts.cluster, names.length);
    const times = [...readySince.values()];
    return {
      concurrent: opts.concurrent, allReadySeconds,
      controllerClockAllReadySeconds: (Math.max(...times) - t0Epoch) / 1000, firstReadySeconds: (Math.min(...times) - t0Epoch) / 1000,
      cpuSeconds: cpu,
      peakRssMiB: { sourceController: peak.sourceController ?? 0, kustomizeController: peak.kustomizeController ?? 0 },
    };
  } finally {
    await Promise.all(controllers.map((c) => c.stop()));
    client.close();
  }
}

/** Server-side applies every CRD in `dir` and waits until each is Established. */
async function installCrds(client: ClusterClient, dir: string): Promise<void> {
  const crds = readDeclarations(dir);
  for (const crd of crds) await client.apply(crd, { fieldManager: 'flotilla-bench' });
  for (const crd of crds) {
    await waitFor(`CRD ${crd.metadata.name} Established`, async () => {
      const live = await client.get(crd);
      return assessHealth(live).status === 'Current' ? true : undefined;
    }, { timeoutMs: 30_000 });
  }
  client.forgetDiscovery();
}

/**
 * Starts one controller outside the cluster (admin kubeconfig, no leader election, its
 * endpoints on free loopback ports) and waits for its /readyz.
 */
async function startController(name: string, binary: string, opts: FluxRunOptions, extra: readonly string[]): Promise<ManagedProcess> {
  const [metrics, health, storage] = await freePorts(3);
  const storageFlags = name === 'source-controller'
    ? [`--storage-addr=127.0.0.1:${String(storage)}`, `--storage-adv-addr=127.0.0.1:${String(storage)}`]
    : [];
  const proc = ManagedProcess.start({
    name: `${name}[${opts.cluster.name}]`,
    command: binary,
    args: [
      '--enable-leader-election=false', `--concurrent=${String(opts.concurrent)}`,
      `--metrics-addr=127.0.0.1:${String(metrics)}`, `--health-addr=127.0.0.1:${String(health)}`,
      '--log-level=info', ...storageFlags, ...extra,
    ],
    logFile: join(opts.dir, `${name}.log`),
    // RUNTIME_NAMESPACE: the namespace a controller believes it runs in (in-cluster it is the pod's).
    env: { ...process.env, KUBECONFIG: opts.cluster.kubeconfigPath, RUNTIME_NAMESPACE: NAMESPACE },
  });
  await waitFor(`${name} ready`, async () => {
    const res = await fetch(`http://127.0.0.1:${String(health)}/readyz`);
    return res.ok ? true : undefined;
  }, { timeoutMs: 60_000, intervalMs: 250, process: proc });
  return proc;
}

/** Every object of every YAML file in `dir`, in file-name order. */
function readDeclarations(dir: string): KubeObject[] {
  return readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort().flatMap((f) =>
    parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d): unknown => d.toJS() as unknown)
      .filter((o): o is KubeObject => isRecord(o) && typeof o.kind === 'string' && isRecord(o.metadata)));
}

/** A Flux Kustomization's status as a ReadyProbe: Ready=True at `revision`, and since when. */
function readyAt(status: unknown, revision: string): ReadyProbe {
  const s = isRecord(status) ? status : {};
  const ready = (Array.isArray(s.conditions) ? s.conditions : []).find((c): c is Record<string, unknown> => isRecord(c) && c.type === 'Ready');
  if (!ready) return { ready: false, detail: 'no Ready condition' };
  const since = Date.parse(String(ready.lastTransitionTime));
  return {
    ready: ready.status === 'True' && s.lastAppliedRevision === revision,
    ...(Number.isNaN(since) ? {} : { since }),
    detail: `${String(ready.reason)}: ${String(ready.message)}`,
  };
}

/**
 * The Kustomizations' statuses from one list call, reused for `maxAgeMs`: pollUntilAllReady
 * probes each pending object in turn, and one list per round costs the API server less than
 * one get per object.
 */
class KustomizationStatuses {
  private snapshot: Promise<Map<string, unknown>> | undefined;
  private taken = 0;

  constructor(private readonly client: ClusterClient, private readonly maxAgeMs: number) {}

  async get(): Promise<Map<string, unknown>> {
    if (this.snapshot === undefined || performance.now() - this.taken > this.maxAgeMs) {
      this.taken = performance.now();
      this.snapshot = this.client.list('kustomize.toolkit.fluxcd.io/v1', 'Kustomization', { namespace: NAMESPACE }).then((items) =>
        new Map(items.map((o) => [o.metadata.name, o.status])));
    }
    return this.snapshot;
  }
}

/** Sanity check, outside the timing: every app Deployment is there and available. */
export async function assertDeploymentsAvailable(cluster: KubeCluster, count: number): Promise<void> {
  const deployments = await cluster.kubeConfig().makeApiClient(AppsV1Api).listDeploymentForAllNamespaces({});
  const available = deployments.items.filter((d) => d.metadata?.namespace?.startsWith('app-') && d.status?.availableReplicas === 1).length;
  if (available !== count) throw new Error(`${available}/${count} app Deployments available on cluster ${cluster.name}`);
}
