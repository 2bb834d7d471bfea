// Scopes: one Flux "cluster" worth of declarations on the hub. Flux runs controllers inside
// each cluster, so `flux-system/apps` in staging and `flux-system/apps` in production are
// different objects. On the hub they are told apart by a scope (the name given to
// `flotilla bootstrap --cluster <name>`), folded into the namespace the hub keys them by:
// `flux-system@staging`. Every reference a declaration makes to another hub object
// (sourceRef, dependsOn, include, chart source, imageRepositoryRef, Alert event sources,
// Receiver resources) is folded the same way, so references stay inside the scope, as they
// stay inside one cluster in Flux. Fields the cluster sees (HelmRelease target and storage
// namespaces, health check namespaces) keep the real namespace: they were defaulted from it
// when the object was parsed. Pure: workflow code may import it.
import { declarationId, type Declaration, type KustomizationDeclaration, type ObjectRef, type Placement } from './types.js';

/** Separates a namespace from its scope in the hub's namespace: `flux-system@staging`. */
export const SCOPE_SEPARATOR = '@';

/** The namespace the hub keys a scoped object by; unscoped (undefined) leaves it as is. */
export function scopedNamespace(namespace: string, scope: string | undefined): string {
  if (scope === undefined || namespace === '*' || namespace.includes(SCOPE_SEPARATOR)) return namespace;
  return `${namespace}${SCOPE_SEPARATOR}${scope}`;
}

/** `flux-system@staging` → { namespace: 'flux-system', scope: 'staging' }; unscoped → scope undefined. */
export function splitScope(hubNamespace: string): { readonly namespace: string; readonly scope?: string } {
  const at = hubNamespace.indexOf(SCOPE_SEPARATOR);
  if (at < 0) return { namespace: hubNamespace };
  return { namespace: hubNamespace.slice(0, at), scope: hubNamespace.slice(at + 1) };
}

/** The namespace as the cluster (and the user's YAML) knows it. */
export function clusterNamespace(hubNamespace: string): string {
  return splitScope(hubNamespace).namespace;
}

/** The scope of a hub namespace or declaration id (`kustomization/flux-system@staging/apps`), if any. */
export function scopeOf(namespaceOrId: string): string | undefined {
  const parts = namespaceOrId.split('/');
  return splitScope(parts.length === 3 ? parts[1] ?? '' : namespaceOrId).scope;
}

/**
 * Whether a hub namespace is selected by `-n <wanted>`: `flux-system` takes in every scope's
 * flux-system (flux-system@staging, …), `flux-system@staging` only that one, and
 * `*@staging` every namespace of the scope (what `--scope staging` lists).
 */
export function namespaceSelected(hubNamespace: string, wanted: string): boolean {
  if (wanted.startsWith(`*${SCOPE_SEPARATOR}`)) return scopeOf(hubNamespace) === wanted.slice(2);
  return hubNamespace === wanted || (!wanted.includes(SCOPE_SEPARATOR) && clusterNamespace(hubNamespace) === wanted);
}

/**
 * The ids among `ids` that `id` may have meant: the same kind and name, in the same namespace
 * as the cluster knows it, in another scope (or unscoped). `kustomization/flux-system/apps` →
 * `kustomization/flux-system@production/apps`, `kustomization/flux-system@staging/apps`; those
 * of scope `prefer` first, the rest sorted.
 */
export function scopedCandidates(id: string, ids: readonly string[], prefer?: string): string[] {
  const [kind = '', namespace = '', name = ''] = id.split('/');
  const wanted = clusterNamespace(namespace);
  const found = ids.filter((other) => {
    const [k = '', ns = '', n = '', ...rest] = other.split('/');
    return rest.length === 0 && k === kind && n === name && ns !== namespace && clusterNamespace(ns) === wanted;
  });
  const rank = (x: string): number => (prefer !== undefined && scopeOf(x) === prefer ? 0 : 1);
  return [...new Set(found)].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/**
 * The declaration inside `scope`: its namespace and every reference to another hub object
 * folded. Without a scope (or already scoped) it is returned unchanged.
 */
export function scopeDeclaration(d: Declaration, scope: string | undefined): Declaration {
  if (scope === undefined || d.namespace.includes(SCOPE_SEPARATOR)) return d;
  const ns = (namespace: string): string => scopedNamespace(namespace, scope);
  const ref = <R extends ObjectRef>(r: R): R => ({ ...r, namespace: ns(r.namespace) });
  const namespace = ns(d.namespace);
  switch (d.kind) {
    case 'GitRepository':
      return { ...d, namespace, spec: { ...d.spec, include: d.spec.include.map((i) => ({ ...i, repository: ref(i.repository) })) } };
    case 'Kustomization':
      return { ...d, namespace, spec: { ...d.spec, sourceRef: ref(d.spec.sourceRef), dependsOn: d.spec.dependsOn.map(ref) } };
    case 'HelmRelease':
      return {
        ...d, namespace,
        spec: { ...d.spec, chart: { ...d.spec.chart, sourceRef: ref(d.spec.chart.sourceRef) }, dependsOn: d.spec.dependsOn.map(ref) },
      };
    case 'ImagePolicy':
      return { ...d, namespace, spec: { ...d.spec, imageRepositoryRef: ref(d.spec.imageRepositoryRef) } };
    case 'ImageUpdateAutomation':
      return { ...d, namespace, spec: { ...d.spec, sourceRef: ref(d.spec.sourceRef) } };
    case 'Alert':
      return { ...d, namespace, spec: { ...d.spec, eventSources: d.spec.eventSources.map(ref) } };
    case 'Receiver':
      return { ...d, namespace, spec: { ...d.spec, resources: d.spec.resources.map(ref) } };
    case 'HelmRepository': case 'ImageRepository': case 'Provider': case 'ConfigMap': case 'Secret':
      // Their references (secretRef, providerRef) name objects of their own namespace.
      return { ...d, namespace };
  }
}

// ---------------------------------------------------------------------------------------
// Ownership of adopted declarations (core/declarations/adopt.ts splits the builds)

/** On adopted declarations: the ids of the Kustomizations that own it, outermost first, comma separated. */
export const OWNED_BY_ANNOTATION = 'flotilla.dev/owned-by';
/** On the declarations `flotilla bootstrap` creates: a build that repeats them (gotk-sync.yaml) does not replace them. */
export const BOOTSTRAP_ANNOTATION = 'flotilla.dev/bootstrap';

/** Where a Kustomization stands when its build is split; see adoptionContext. */
export interface AdoptionContext {
  /** The Kustomization's id. */
  readonly owner: string;
  /** Its own owners, outermost first (from its owned-by annotation). */
  readonly ownerChain: readonly string[];
  readonly scope?: string;
  /** Inherited by adopted Kustomizations and HelmReleases. */
  readonly placement: Placement;
  /** `placement: {hub: true}`: every object must be a declaration (nothing goes to clusters). */
  readonly hubOnly: boolean;
  /** Ids a build may repeat without replacing them (the bootstrap pair), with why. */
  readonly keep: Readonly<Record<string, string>>;
}

export function ownersOf(d: Pick<Declaration, 'annotations'>): string[] {
  const value = d.annotations[OWNED_BY_ANNOTATION];
  return value === undefined || value === '' ? [] : value.split(',');
}

export function adoptionContext(owner: KustomizationDeclaration): AdoptionContext {
  const id = declarationId(owner);
  const keep: Record<string, string> = {};
  if (owner.annotations[BOOTSTRAP_ANNOTATION] !== undefined) {
    const source = declarationId({ kind: 'GitRepository', namespace: owner.spec.sourceRef.namespace, name: owner.spec.sourceRef.name });
    keep[source] = 'declared by flotilla bootstrap: its url and ref stay as bootstrap set them';
  }
  const scope = scopeOf(owner.namespace);
  return {
    owner: id, ownerChain: ownersOf(owner), placement: owner.spec.placement, hubOnly: owner.spec.placement.hub, keep,
    ...(scope !== undefined ? { scope } : {}),
  };
}

