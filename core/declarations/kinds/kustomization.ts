// Kustomization (kustomize.toolkit.fluxcd.io/v1; v1beta2 and v1beta1 are converted to it first,
// core/declarations/versions.ts): a kustomize build of a GitRepository's directory, applied to
// the clusters its placement selects, optionally wave by wave (spec.rollout).
//
// Defaults, as Flux applies them unless noted: retryInterval and timeout = interval; path "."
// (the source root); wait/force/suspend false; sourceRef, dependsOn and healthChecks
// namespaces = the Kustomization's own; no patches, images, commonMetadata or postBuild;
// placement (Flotilla's) = every registered cluster; no rollout (placement-rollout.ts has the
// defaults of both).
// Pure (no Node built-ins): workflow code may import it.
import { z } from 'zod';
import { renderSafetyProblems } from '../../render-safety.js';
import type { CommonMetadata, KustomizationDeclaration, KustomizePatch, PostBuild } from '../types.js';
import { SOURCE_API_VERSIONS } from './git-repository.js';
import { buildPlacement, buildRollout, noRolloutOnHub, PlacementSchema, RolloutSchema } from './placement-rollout.js';
import {
  annotationMap, base, checkedString, Dependency, dnsLabel, dnsSubdomain, duration, fluxObject, kindParser, labelMap, nonEmpty,
  NOT_YET, sourcePath, type BuildContext, type IgnoredField,
} from './shared.js';

/** postBuild variable names, as kustomize-controller checks them. */
const VAR_NAME = /^[_a-zA-Z][_a-zA-Z0-9]*$/;

const SourceRef = z.strictObject({
  apiVersion: checkedString((v) => (SOURCE_API_VERSIONS.includes(v) ? undefined
    : `unsupported apiVersion ${JSON.stringify(v)}: use ${SOURCE_API_VERSIONS.join(' or ')}, or leave it out`)).optional(),
  kind: z.string().transform((kind, ctx) => {
    if (kind === 'GitRepository') return 'GitRepository' as const;
    const fluxKinds = ['OCIRepository', 'Bucket', 'ExternalArtifact'];
    ctx.addIssue({
      code: 'custom',
      message: kind === 'ExternalArtifact'
        ? 'ExternalArtifact sources (from an ArtifactGenerator) are not supported: use sourceRef {kind: GitRepository} with spec.path set to the directory the generator copies'
        : fluxKinds.includes(kind)
        ? `${kind} sources are not supported yet: Flotilla builds Kustomizations from a GitRepository`
        : `invalid source kind ${JSON.stringify(kind)}: must be GitRepository (Flux's ${fluxKinds.join(', ')} are not supported yet)`,
    });
    return z.NEVER;
  }),
  name: dnsSubdomain,
  namespace: dnsLabel.optional(),
});

/** Which objects a patch applies to (kustomize's selector). */
const PatchSelector = z.strictObject({
  group: z.string().optional(),
  version: z.string().optional(),
  kind: z.string().optional(),
  name: z.string().optional(),
  namespace: z.string().optional(),
  labelSelector: z.string().optional(),
  annotationSelector: z.string().optional(),
});

export const Patch = z.strictObject({ patch: nonEmpty, target: PatchSelector.optional() });

export const Image = z.strictObject({
  name: nonEmpty,
  newName: z.string().optional(),
  newTag: z.string().optional(),
  digest: z.string().optional(),
});

const HealthCheck = z.strictObject({
  apiVersion: z.string().optional(),
  kind: nonEmpty,
  name: nonEmpty,
  namespace: dnsLabel.optional(),
});

const PostBuildSchema = z.strictObject({
  substitute: z.record(z.string(), z.string()).superRefine((vars, ctx) => {
    for (const key of Object.keys(vars)) {
      if (!VAR_NAME.test(key)) {
        ctx.addIssue({ code: 'custom', path: [key], message: `invalid variable name ${JSON.stringify(key)}: letters, digits and '_', not starting with a digit` });
      }
    }
  }).optional(),
  substituteFrom: z.array(z.strictObject({
    kind: z.enum(['ConfigMap', 'Secret']),
    name: dnsSubdomain,
    optional: z.boolean().optional(),
  })).optional(),
});

export const CommonMetadataSchema = z.strictObject({ labels: labelMap.optional(), annotations: annotationMap.optional() });

const KustomizationSpecV1 = z.strictObject({
  sourceRef: SourceRef,
  path: sourcePath.optional(),
  interval: duration,
  retryInterval: duration.optional(),
  timeout: duration.optional(),
  prune: z.boolean(),
  wait: z.boolean().optional(),
  force: z.boolean().optional(),
  suspend: z.boolean().optional(),
  healthChecks: z.array(HealthCheck).optional(),
  dependsOn: z.array(Dependency).optional(),
  targetNamespace: dnsLabel.optional(),
  namePrefix: z.string().min(1).max(200).optional(),
  nameSuffix: z.string().min(1).max(200).optional(),
  patches: z.array(Patch).optional(),
  images: z.array(Image).optional(),
  commonMetadata: CommonMetadataSchema.optional(),
  postBuild: PostBuildSchema.optional(),
  placement: PlacementSchema.optional(),
  rollout: RolloutSchema.optional(),
  // Impersonated by the agent (core/tenancy.ts).
  serviceAccountName: dnsSubdomain.optional(),
  // Accepted, not acted on yet (see KUSTOMIZATION_IGNORED).
  decryption: z.unknown().optional(),
  kubeConfig: z.unknown().optional(),
  components: z.array(z.string()).optional(),
  ignoreMissingComponents: z.boolean().optional(),
  deletionPolicy: z.enum(['MirrorPrune', 'Delete', 'WaitForTermination', 'Orphan']).optional(),
  healthCheckExprs: z.unknown().optional(),
  driftIgnoreRules: z.unknown().optional(),
});

// Refined here, not above: zod cannot extend a refined object schema.
const KustomizationObject = fluxObject(KustomizationSpecV1.superRefine(noRolloutOnHub)).superRefine((obj, ctx) => {
  for (const p of renderSafetyProblems(obj.metadata.annotations ?? {})) {
    ctx.addIssue({ code: 'custom', path: ['metadata', 'annotations', p.key], message: p.message });
  }
});
type KustomizationInput = z.infer<typeof KustomizationObject>;

function buildKustomization(obj: KustomizationInput, ctx: BuildContext): KustomizationDeclaration {
  const { spec } = obj;
  const ns = ctx.namespace;
  const patches: KustomizePatch[] = (spec.patches ?? []).map((p) => ({ patch: p.patch, target: p.target }));
  return {
    kind: 'Kustomization',
    ...base(obj.metadata, ctx),
    spec: {
      sourceRef: { kind: spec.sourceRef.kind, namespace: spec.sourceRef.namespace ?? ns, name: spec.sourceRef.name },
      path: spec.path ?? '.',
      intervalSeconds: spec.interval,
      retryIntervalSeconds: spec.retryInterval ?? spec.interval,
      timeoutSeconds: spec.timeout ?? spec.interval,
      prune: spec.prune,
      wait: spec.wait ?? false,
      healthChecks: (spec.healthChecks ?? []).map((h) => ({ apiVersion: h.apiVersion ?? '', kind: h.kind, name: h.name, namespace: h.namespace ?? ns })),
      dependsOn: (spec.dependsOn ?? []).map((d) => ({ namespace: d.namespace ?? ns, name: d.name })),
      targetNamespace: spec.targetNamespace,
      namePrefix: spec.namePrefix,
      nameSuffix: spec.nameSuffix,
      patches,
      images: spec.images ?? [],
      commonMetadata: spec.commonMetadata === undefined ? undefined : buildCommonMetadata(spec.commonMetadata),
      postBuild: spec.postBuild === undefined ? undefined : buildPostBuild(spec.postBuild),
      force: spec.force ?? false,
      suspend: spec.suspend ?? false,
      placement: buildPlacement(spec.placement),
      ...(spec.rollout === undefined ? {} : { rollout: buildRollout(spec.rollout) }),
      ...(spec.serviceAccountName === undefined ? {} : { serviceAccountName: spec.serviceAccountName }),
    },
  };
}

function buildCommonMetadata(m: z.infer<typeof CommonMetadataSchema>): CommonMetadata {
  return { labels: m.labels ?? {}, annotations: m.annotations ?? {} };
}

function buildPostBuild(p: z.infer<typeof PostBuildSchema>): PostBuild {
  return {
    substitute: p.substitute ?? {},
    substituteFrom: (p.substituteFrom ?? []).map((s) => ({ kind: s.kind, name: s.name, optional: s.optional ?? false })),
  };
}

const KUSTOMIZATION_IGNORED: readonly IgnoredField[] = [
  { path: ['spec', 'decryption'], note: `${NOT_YET}: SOPS-encrypted files are applied as they are` },
  { path: ['spec', 'kubeConfig'], note: `${NOT_YET}: use spec.placement to choose clusters` },
  { path: ['spec', 'components'], note: NOT_YET },
  { path: ['spec', 'ignoreMissingComponents'], harmless: [false], note: NOT_YET },
  { path: ['spec', 'deletionPolicy'], harmless: ['MirrorPrune'], note: `${NOT_YET}: deletion follows spec.prune` },
  { path: ['spec', 'healthCheckExprs'], note: NOT_YET },
  { path: ['spec', 'driftIgnoreRules'], note: NOT_YET },
  { path: ['spec', 'dependsOn', '*', 'readyExpr'], note: `${NOT_YET}: a dependency is ready when its Ready condition is True` },
];

export const kustomization = kindParser({
  apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
  schema: KustomizationObject,
  build: buildKustomization,
  ignoredFields: KUSTOMIZATION_IGNORED,
  removedFieldHints: {
    'spec.patchesStrategicMerge': 'unknown field (removed in kustomize.toolkit.fluxcd.io/v1: use spec.patches)',
    'spec.patchesJson6902': 'unknown field (removed in kustomize.toolkit.fluxcd.io/v1: use spec.patches with a target)',
    'spec.validation': 'unknown field (removed in kustomize.toolkit.fluxcd.io/v1)',
  },
});
