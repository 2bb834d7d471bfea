// dependsOn, exactly as Flux decides it, plus Flotilla's fleet rule. Pure.
//
// Flux (kustomize-controller internal/controller/kustomization_controller.go
// checkDependencies; helm-controller internal/controller/helmrelease_controller.go
// checkDependencies): a dependency is met when
//   1. it exists;
//   2. its observed generation is its generation (its Ready condition is about its current spec);
//   3. its Ready condition is True;
//   4. Kustomizations only: when it uses the same source as the dependent (kind, namespace,
//      name), it has applied the revision the dependent is about to apply
//      ("dependency '<ns>/<name>' revision is not up to date"). HelmReleases have no such rule.
// Flux stops at the first unmet dependency; Flotilla lists all, in order. Flotilla adds:
//   5. it is Ready on every cluster the dependent is placed on.
/** What a Kustomization tells its dependents whenever its readiness changes (and on subscribe). */
export interface DependencyStatus {
  readonly id: string;
  readonly ready: boolean;
  readonly readyClusters: readonly string[];
  /** Kustomization: its last applied source revision. HelmRelease: its chart version. */
  readonly revision: string;
  readonly deleted: boolean;
  /** Its source actor's id (Kustomizations): dependents on the same source compare revisions. Absent from older actors. */
  readonly sourceId?: string;
  /** False while its Ready condition is about an older generation of its spec. Absent from older actors. */
  readonly generationObserved?: boolean;
}

export interface Dependent {
  readonly kind: 'Kustomization' | 'HelmRelease';
  /** The dependent's source actor id (gitrepository/<ns>/<name>); Kustomizations only. */
  readonly sourceId?: string;
  /** The source revision the dependent is about to apply; Kustomizations only. */
  readonly revision?: string;
  /** The clusters the dependent is placed on. */
  readonly placed: readonly string[];
}

/** `kustomization/<ns>/<name>` → `<ns>/<name>`, as Flux names a dependency in its messages. */
function nameOf(id: string): string {
  return id.split('/').slice(1).join('/');
}

/** Why the dependent must wait, one line per unmet dependency (empty: it may go on). */
export function unmetDependencies(ids: readonly string[], known: ReadonlyMap<string, DependencyStatus>, me: Dependent): string[] {
  return ids.flatMap((id) => {
    const d = known.get(id);
    const name = nameOf(id);
    if (!d || d.deleted) return [`dependency '${name}' not found`];
    if (d.generationObserved === false || !d.ready) return [`dependency '${name}' is not ready`];
    if (me.kind === 'Kustomization' && d.sourceId !== undefined && d.sourceId === me.sourceId
      && me.revision !== undefined && d.revision !== me.revision) {
      return [`dependency '${name}' revision is not up to date (it applied ${d.revision || 'nothing yet'}, this is ${me.revision})`];
    }
    const missing = me.placed.filter((c) => !d.readyClusters.includes(c));
    return missing.length > 0 ? [`dependency '${name}' is not ready on ${missing.join(', ')}`] : [];
  });
}
