// Waiting for health: watches (not polling) on each kind and namespace of the objects,
// each event re-assessed with kstatus rules, until every object is Current, one has
// Failed, or the timeout passes. What is not Current comes back with its reason; for
// workloads, the reason of a failing pod is added (an image that cannot be pulled).
import { Watch } from '@kubernetes/client-node';
import { assessHealth, type Health } from '../../core/kstatus.js';
import { isRecord } from '../../core/manifests.js';
import { describeObject, objectId, type KubeObject } from '../../core/objects.js';
import type { ClusterClient } from './cluster-client.js';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ObjectHealth extends Health {
  readonly id: string;
  readonly object: string;
}

export interface HealthReport {
  /** True when every object is Current. */
  readonly healthy: boolean;
  readonly timedOut: boolean;
  readonly objects: readonly ObjectHealth[];
}

const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job']);

export async function waitForHealth(client: ClusterClient, objects: readonly KubeObject[], timeoutMs: number): Promise<HealthReport> {
  const state = new Map<string, { object: KubeObject; health: Health }>();
  for (const o of objects) state.set(objectId(o), { object: o, health: { status: 'NotFound', message: 'not seen yet' } });
  // The generation each object had when it was applied. A watch opened without a
  // resourceVersion starts from the API server's watch cache, which may not have caught up
  // with the write just made: its first event can be the object as it was before the apply
  // (a Deployment at its old generation, fully rolled out, looks healthy). Such events are
  // older than what we applied and say nothing about it. (Kubernetes serves an unset-RV watch
  // from the cache's current state unless WatchFromStorageWithoutResourceVersion is on; see
  // kubernetes/kubernetes#122830 and staging/src/k8s.io/apiserver/pkg/storage/cacher/cacher.go.)
  const appliedGeneration = new Map(objects.map((o) => [objectId(o), o.metadata.generation]));
  const pending = (): number => [...state.values()].filter((s) => s.health.status !== 'Current' && s.health.status !== 'Failed').length;

  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => { finish = resolve; });
  const groups = new Map<string, { apiVersion: string; kind: string; namespace?: string }>();
  for (const o of objects) {
    const ns = o.metadata.namespace;
    groups.set(`${o.apiVersion}|${o.kind}|${ns ?? ''}`, { apiVersion: o.apiVersion, kind: o.kind, ...(ns ? { namespace: ns } : {}) });
  }

  const watch = new Watch(client.kubeConfig);
  const controllers: AbortController[] = [];
  let stopped = false;
  const startWatch = async (g: { apiVersion: string; kind: string; namespace?: string }): Promise<void> => {
    const path = await client.listPath(g.apiVersion, g.kind, g.namespace);
    // Watch sends its own request (not through the client's API object): count it here. A
    // failed request calls `done` before watch() returns; a started one returns first.
    const request: { started: boolean; failed?: { statusCode?: unknown } } = { started: false };
    const controller = await watch.watch(path, { allowWatchBookmarks: false }, (type: string, raw: unknown) => {
      if (!isRecord(raw) || !isRecord(raw.metadata)) return;
      const live = { ...raw, apiVersion: g.apiVersion, kind: g.kind } as KubeObject;
      const entry = state.get(objectId(live));
      if (!entry) return;
      const applied = appliedGeneration.get(objectId(live));
      const seen = live.metadata.generation;
      if (type !== 'DELETED' && typeof applied === 'number' && typeof seen === 'number' && seen < applied) return;
      entry.health = type === 'DELETED' ? { status: 'NotFound', message: 'object was deleted' } : assessHealth(live);
      entry.object = live;
      if (pending() === 0) finish();
    }, (err: unknown) => {
      if (!request.started) request.failed = isRecord(err) ? err : {};
      // The server closed the watch (timeout, compaction): open it again while still waiting.
      if (!stopped) void sleep(500).then(() => stopped ? undefined : startWatch(g).catch(() => undefined));
    });
    request.started = true;
    const failed = request.failed;
    client.observeRequest('WATCH', failed === undefined ? '200' : typeof failed.statusCode === 'number' ? String(failed.statusCode) : 'error');
    controllers.push(controller);
  };

  const timer = setTimeout(finish, timeoutMs);
  try {
    await Promise.all([...groups.values()].map(startWatch));
    if (pending() === 0) finish();
    await done;
  } finally {
    stopped = true;
    clearTimeout(timer);
    for (const c of controllers) c.abort();
  }

  const timedOut = pending() > 0;
  const results: ObjectHealth[] = [];
  for (const [id, { object, health }] of state) {
    let h = health;
    if (h.status !== 'Current' && WORKLOADS.has(object.kind)) h = await withPodReason(client, object, h);
    if (timedOut && h.status === 'InProgress') h = { ...h, message: `${h.message} (not healthy within ${timeoutMs / 1000}s)` };
    results.push({ id, object: describeObject(object), ...h });
  }
  return { healthy: results.every((r) => r.status === 'Current'), timedOut, objects: results };
}

/** Adds the first failing pod's reason to a workload's health ("ErrImagePull: ..."). */
async function withPodReason(client: ClusterClient, workload: KubeObject, health: Health): Promise<Health> {
  const spec = isRecord(workload.spec) ? workload.spec : {};
  const selector = isRecord(spec.selector) && isRecord(spec.selector.matchLabels) ? spec.selector.matchLabels : undefined;
  if (!selector || !workload.metadata.namespace) return health;
  const labelSelector = Object.entries(selector).map(([k, v]) => `${k}=${String(v)}`).join(',');
  const pods = await client.list('v1', 'Pod', { namespace: workload.metadata.namespace, labelSelector });
  for (const pod of pods) {
    const ph = assessHealth(pod);
    if (ph.status === 'Failed') {
      return { status: health.status, reason: ph.reason ?? health.reason ?? 'PodFailed', message: `${health.message}; pod ${pod.metadata.name}: ${ph.message}` };
    }
  }
  return health;
}

/** Waits until every CRD is Established (its kinds are then served). */
export async function waitForCrds(client: ClusterClient, crds: readonly KubeObject[], timeoutMs: number): Promise<void> {
  const report = await waitForHealth(client, crds, timeoutMs);
  const bad = report.objects.filter((o) => o.status !== 'Current');
  if (bad.length > 0) throw new Error(`CustomResourceDefinitions not established: ${bad.map((b) => `${b.object}: ${b.message}`).join('; ')}`);
}
