// What happens to each object of a Kustomization's build. Flux's controllers run inside the
// cluster and pick up the Flux objects a Kustomization applies; Flotilla's run on the hub, so
// a build is split:
//   - Flux objects (GitRepository, Kustomization, HelmRepository, HelmRelease, image and
//     notification kinds) are **adopted**: they become hub declarations in the owner's scope,
//     placed where the owner is placed, annotated with their owners (pruned with them);
//   - ConfigMaps and Secrets go to the clusters and are also kept on the hub, where the
//     hub-side controllers read them (postBuild.substituteFrom, valuesFrom, secretRef);
//   - Flux's own controllers and CRDs (gotk-components.yaml) are **skipped** with one notice:
//     the hub does their job. Their Namespace is applied (other objects may live in it);
//   - everything else is **applied** to the placed clusters by the agents.
// A Kustomization with `placement: {hub: true}` (Flotilla's own bootstrap) adopts everything.
// Pure: workflow code may import it.
import { stringify } from 'yaml';
import { parseManifests } from '../manifests.js';
import { describeObject, groupOf, type KubeObject } from '../objects.js';
import { parseObject, type DeclarationError } from './parse.js';
import { OWNED_BY_ANNOTATION, scopeDeclaration, scopedNamespace, type AdoptionContext } from './scope.js';
import { declarationId, type Declaration, type Placement } from './types.js';

export interface SkippedObject {
  readonly object: string;
  readonly reason: string;
}

export interface SplitBuild {
  /** Adopted declarations: scoped, placed, annotated with their owners. */
  readonly declarations: readonly Declaration[];
  /** Objects for the placed clusters (ConfigMaps and Secrets are here and in declarations). */
  readonly objects: readonly KubeObject[];
  readonly skipped: readonly SkippedObject[];
  /** Said once per build, not errors (Flux's controllers not installed). */
  readonly notices: readonly string[];
  /** Any error means nothing of the build is applied. */
  readonly errors: readonly DeclarationError[];
  readonly warnings: readonly DeclarationError[];
}

/** Flux's API groups: toolkit kinds and the extensions (ArtifactGenerator). */
function isFluxGroup(group: string): boolean {
  return group.endsWith('.toolkit.fluxcd.io') || group.endsWith('.extensions.fluxcd.io');
}

/** Flux's own installation (gotk-components.yaml): every object carries part-of: flux; its CRDs are Flux's groups. */
function isFluxComponent(obj: KubeObject): boolean {
  if (obj.metadata.labels?.['app.kubernetes.io/part-of'] === 'flux') return true;
  if (obj.kind !== 'CustomResourceDefinition') return false;
  const spec = obj.spec;
  const group = typeof spec === 'object' && spec !== null && 'group' in spec && typeof spec.group === 'string' ? spec.group : '';
  return isFluxGroup(group);
}

function hasPlacement(p: Placement): boolean {
  return p.hub || p.clusters.length > 0 || p.clusterSelector !== undefined;
}

/** Splits a build's YAML (`source` names it in messages). */
export function splitBuild(text: string, source: string, ctx: AdoptionContext): SplitBuild {
  const manifests = parseManifests(text, source);
  const errors: DeclarationError[] = manifests.errors.map((e) => ({
    file: source, message: e.message, ...(e.object !== undefined ? { object: e.object } : {}), ...(e.field !== undefined ? { field: e.field } : {}),
  }));
  const warnings: DeclarationError[] = [];
  const declarations: Declaration[] = [];
  const objects: KubeObject[] = [];
  const skipped: SkippedObject[] = [];
  const components: KubeObject[] = [];
  const seen = new Set<string>();

  /** Adopts one declaration; false when it is skipped or refused. */
  const adopt = (d: Declaration, document: number | undefined): boolean => {
    const scoped = scopeDeclaration(d, ctx.scope);
    const id = declarationId(scoped);
    const what = `${scoped.kind}/${scoped.namespace}/${scoped.name}`;
    const at = { file: source, object: what, ...(document !== undefined ? { document } : {}) };
    if (id === ctx.owner) {
      skipped.push({ object: what, reason: 'the Kustomization itself' });
      return false;
    }
    const kept = ctx.keep[id];
    if (kept !== undefined) {
      skipped.push({ object: what, reason: kept });
      return false;
    }
    if (ctx.ownerChain.includes(id)) {
      const cycle = [...ctx.ownerChain.slice(ctx.ownerChain.indexOf(id)), ctx.owner, id].join(' → ');
      errors.push({ ...at, message: `declaration cycle: ${cycle}; a Kustomization's build may not declare one of its owners (remove it from ${ctx.owner}'s path)` });
      return false;
    }
    if (seen.has(id)) {
      errors.push({ ...at, message: 'declared twice in the build (each object may be declared once)' });
      return false;
    }
    seen.add(id);
    let placed: Declaration = scoped;
    if (!ctx.hubOnly && (placed.kind === 'Kustomization' || placed.kind === 'HelmRelease')) {
      if (hasPlacement(placed.spec.placement)) {
        const message = `replaced: an adopted ${placed.kind} goes where ${ctx.owner} goes`;
        warnings.push({ ...at, field: 'spec.placement', message });
        placed = { ...placed, warnings: [...(placed.warnings ?? []), `spec.placement: ${message}`] };
      }
      placed = placed.kind === 'Kustomization'
        ? { ...placed, spec: { ...placed.spec, placement: ctx.placement } }
        : { ...placed, spec: { ...placed.spec, placement: { ...ctx.placement, hub: false } } };
    }
    declarations.push({ ...placed, annotations: { ...placed.annotations, [OWNED_BY_ANNOTATION]: [...ctx.ownerChain, ctx.owner].join(',') } });
    return true;
  };

  /** The parser names objects by their YAML namespace; messages name them as the hub keys them. */
  const scoped = (e: DeclarationError): DeclarationError => {
    const m = e.object === undefined || ctx.scope === undefined ? null : /^([A-Za-z]+)\/([^/@]+)\/(.+)$/.exec(e.object);
    return m ? { ...e, object: `${m[1] ?? ''}/${scopedNamespace(m[2] ?? '', ctx.scope)}/${m[3] ?? ''}` } : e;
  };

  for (const { object, source: where } of manifests.objects) {
    const document = documentOf(where);
    const group = groupOf(object.apiVersion);
    const data = group === '' && (object.kind === 'ConfigMap' || object.kind === 'Secret');
    if (!ctx.hubOnly && isFluxComponent(object)) {
      if (object.kind === 'Namespace') objects.push(object);
      else components.push(object);
      continue;
    }
    if (!ctx.hubOnly && !data && !isFluxGroup(group)) {
      if (group === 'kustomize.config.k8s.io') skipped.push({ object: describeObject(object), reason: 'a kustomize build file' });
      else objects.push(object);
      continue;
    }
    const result = parseObject(object, source, document);
    switch (result.outcome) {
      case 'declaration':
        // Warnings about an object that is not adopted (the bootstrap pair, a cycle) would mislead.
        if (adopt(result.declaration, document)) warnings.push(...result.warnings.map(scoped));
        break;
      case 'ignored':
        skipped.push({ object: result.description, reason: 'Flotilla does not reconcile this kind yet' });
        break;
      case 'invalid':
        // A ConfigMap or Secret the hub cannot read still goes to the clusters; in a hub-only build it has nowhere to go.
        if (!data || ctx.hubOnly) errors.push(...result.errors.map(scoped));
        break;
    }
    if (data && !ctx.hubOnly) objects.push(object);
  }

  const notices: string[] = [];
  if (components.length > 0) {
    const version = components.map((c) => c.metadata.labels?.['app.kubernetes.io/version']).find((v) => v !== undefined);
    notices.push(`Flux's own controllers and CRDs (gotk-components.yaml${version ? `, flux ${version}` : ''}: ${components.length} objects) are not installed: the hub does their job`);
    for (const c of components) skipped.push({ object: describeObject(c), reason: 'part of Flux\'s controllers (gotk-components.yaml)' });
  }
  return { declarations: applyOrder(declarations), objects, skipped, notices, errors, warnings };
}

/**
 * Data first (a Kustomization's substituteFrom reads it on its first build), then sources,
 * then what uses them, dependencies before their dependents (dependsOn); otherwise the
 * build's order. A dependsOn cycle keeps the build's order for those (the actors report it).
 */
function applyOrder(declarations: readonly Declaration[]): Declaration[] {
  const rank = (d: Declaration): number =>
    d.kind === 'ConfigMap' || d.kind === 'Secret' ? 0 : d.kind === 'GitRepository' || d.kind === 'HelmRepository' || d.kind === 'ImageRepository' ? 1 : 2;
  const ranked = declarations.map((d, i) => ({ d, i })).sort((a, b) => rank(a.d) - rank(b.d) || a.i - b.i).map(({ d }) => d);
  const ids = ranked.map((d) => declarationId(d));
  const dependsOn = (d: Declaration): string[] =>
    d.kind === 'Kustomization' || d.kind === 'HelmRelease' ? d.spec.dependsOn.map((r) => declarationId({ kind: d.kind, namespace: r.namespace, name: r.name })) : [];
  const ordered: Declaration[] = [];
  const placed = new Set<string>();
  const pending = [...ranked.keys()];
  while (pending.length > 0) {
    // The first in build order whose dependencies in this build are placed; none (a cycle): the first.
    const next = pending.findIndex((i) => dependsOn(ranked[i] as Declaration).every((dep) => placed.has(dep) || !ids.includes(dep) || dep === ids[i]));
    const [index] = pending.splice(next < 0 ? 0 : next, 1);
    if (index === undefined) break;
    ordered.push(ranked[index] as Declaration);
    placed.add(ids[index] ?? '');
  }
  return ordered;
}

/** The YAML the agents apply: the objects, one document each. */
export function objectsYaml(objects: readonly KubeObject[]): string {
  return objects.map((o) => stringify(o, { lineWidth: 0 })).join('---\n');
}

function documentOf(source: string): number | undefined {
  const hash = source.lastIndexOf('#');
  const n = hash < 0 ? NaN : Number(source.slice(hash + 1));
  return Number.isInteger(n) ? n : undefined;
}
