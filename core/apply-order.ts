// The order of apply and prune. Cluster-wide prerequisites go first, in their own stage,
// so that the rest can refer to them; prune runs the same order backwards.
import { groupOf, type KubeObject } from './objects.js';

/** Kinds applied in the first stage (and pruned last). CRDs must also be Established. */
const PREREQUISITE_KINDS: ReadonlyMap<string, number> = new Map([
  ['CustomResourceDefinition', 0],
  ['Namespace', 1],
  ['ResourceQuota', 2],
  ['LimitRange', 3],
  ['PodSecurityPolicy', 4],
  ['PriorityClass', 5],
  ['StorageClass', 6],
  ['IngressClass', 7],
  ['RuntimeClass', 8],
  ['ClusterRole', 9],
  ['ClusterRoleBinding', 10],
]);

/** Within the second stage, dependencies before their dependents (as kustomize orders them). */
const KIND_ORDER: ReadonlyMap<string, number> = new Map([
  ['ServiceAccount', 0], ['Role', 1], ['RoleBinding', 2], ['Secret', 3], ['ConfigMap', 4],
  ['PersistentVolume', 5], ['PersistentVolumeClaim', 6], ['Service', 7], ['Endpoints', 8],
  ['DaemonSet', 9], ['Pod', 10], ['ReplicationController', 11], ['ReplicaSet', 12],
  ['Deployment', 13], ['HorizontalPodAutoscaler', 14], ['StatefulSet', 15], ['Job', 16],
  ['CronJob', 17], ['Ingress', 18], ['APIService', 19],
  ['ValidatingWebhookConfiguration', 20], ['MutatingWebhookConfiguration', 21],
]);

export function isPrerequisite(obj: Pick<KubeObject, 'kind'>): boolean {
  return PREREQUISITE_KINDS.has(obj.kind);
}

export function isCrd(obj: Pick<KubeObject, 'kind' | 'apiVersion'>): boolean {
  return obj.kind === 'CustomResourceDefinition' && groupOf(obj.apiVersion) === 'apiextensions.k8s.io';
}

function rank(obj: Pick<KubeObject, 'kind'>): number {
  const pre = PREREQUISITE_KINDS.get(obj.kind);
  if (pre !== undefined) return pre;
  return 100 + (KIND_ORDER.get(obj.kind) ?? 50); // unknown kinds, custom resources among them: after core kinds
}

function compare<T extends Pick<KubeObject, 'kind' | 'metadata'>>(a: T, b: T): number {
  return rank(a) - rank(b)
    || a.kind.localeCompare(b.kind)
    || (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '')
    || a.metadata.name.localeCompare(b.metadata.name);
}

export interface Stages<T> {
  /** CRDs, Namespaces and other cluster-wide prerequisites. */
  readonly prerequisites: T[];
  /** Everything else, dependencies first. */
  readonly rest: T[];
}

export function applyStages<T extends Pick<KubeObject, 'kind' | 'metadata'>>(objects: readonly T[]): Stages<T> {
  const sorted = [...objects].sort(compare);
  return { prerequisites: sorted.filter(isPrerequisite), rest: sorted.filter((o) => !isPrerequisite(o)) };
}

/**
 * Prune order: the reverse of apply order, so namespaced objects go before their
 * Namespace and custom resources before their CRD.
 */
export function pruneOrder<T extends Pick<KubeObject, 'kind' | 'metadata'>>(objects: readonly T[]): T[] {
  return [...objects].sort(compare).reverse();
}
