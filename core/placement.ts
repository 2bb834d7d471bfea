// Placement: which registered clusters a Kustomization goes to (Flotilla's addition to Flux,
// spec.placement; see Placement in core/declarations/types.ts). A cluster is placed when it
// is named in `clusters` OR its labels match `clusterSelector`; with neither, every
// registered cluster is placed. `hub: true` places the build on the hub itself, so no
// cluster. Label selectors follow Kubernetes: matchLabels AND every matchExpression.
// Pure: workflow code may import it.
import type { LabelSelector, Placement } from './declarations/types.js';

export interface PlacementCluster {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** Kubernetes label selector semantics; an empty selector matches everything. */
export function matchesSelector(labels: Readonly<Record<string, string>>, selector: LabelSelector): boolean {
  const has = (key: string): boolean => Object.hasOwn(labels, key);
  for (const [key, value] of Object.entries(selector.matchLabels)) {
    if (!has(key) || labels[key] !== value) return false;
  }
  return selector.matchExpressions.every((req) => {
    const value = labels[req.key];
    switch (req.operator) {
      case 'In': return has(req.key) && value !== undefined && req.values.includes(value);
      case 'NotIn': return !has(req.key) || value === undefined || !req.values.includes(value);
      case 'Exists': return has(req.key);
      case 'DoesNotExist': return !has(req.key);
    }
  });
}

/** Names of the registered clusters the placement selects, sorted. Named clusters that are not registered are left out (see unknownClusters). */
export function placedClusters(placement: Placement, clusters: readonly PlacementCluster[]): string[] {
  if (placement.hub) return [];
  const everyCluster = placement.clusters.length === 0 && placement.clusterSelector === undefined;
  const named = new Set(placement.clusters);
  const selector = placement.clusterSelector;
  const placed = clusters.filter((c) =>
    everyCluster || named.has(c.name) || (selector !== undefined && matchesSelector(c.labels, selector)));
  return [...new Set(placed.map((c) => c.name))].sort();
}

/** Clusters named in the placement that are not registered (sorted), for callers to warn about. */
export function unknownClusters(placement: Placement, clusters: readonly PlacementCluster[]): string[] {
  const registered = new Set(clusters.map((c) => c.name));
  return [...new Set(placement.clusters.filter((name) => !registered.has(name)))].sort();
}
