// HelmRelease (helm.toolkit.fluxcd.io/v2; v2beta2 and v2beta1 are converted to it first,
// core/declarations/versions.ts): a Helm chart from a HelmRepository or a GitRepository,
// installed and upgraded on the clusters its placement selects, optionally wave by wave.
//
// Defaults, as helm-controller (api/v2) applies them unless noted: chart version "*"; chart
// interval = interval; reconcileStrategy ChartVersion; timeout 5m, and every action's timeout
// = timeout; releaseName `[<targetNamespace>-]<name>` (hashed past 53 characters);
// targetNamespace and storageNamespace = its own namespace; install.crds Create (Skip with the
// deprecated skipCRDs), upgrade.crds Skip; remediation retries 0, upgrade strategy rollback,
// upgrade remediateLastFailure = retries > 0, install remediateLastFailure false,
// ignoreTestFailures = test.ignoreFailures; test disabled; valuesKey "values.yaml"; maxHistory
// 5; sourceRef and dependsOn namespaces = its own; every other flag false; placement
// (Flotilla's) = every registered cluster, never the hub; no rollout (placement-rollout.ts).
// Pure (no Node built-ins): workflow code may import it.
import semver from 'semver';
import { z } from 'zod';
import { defaultReleaseName, MAX_RELEASE_NAME } from '../../helm-release.js';
import { isRecord } from '../../manifests.js';
import type { CrdsPolicy, HelmReleaseDeclaration } from '../types.js';
import { SOURCE_API_VERSIONS } from './git-repository.js';
import { CommonMetadataSchema, Image, Patch } from './kustomization.js';
import { buildPlacement, buildRollout, PlacementSchema, RolloutSchema } from './placement-rollout.js';
import {
  annotationMap, base, checkedString, Dependency, dnsLabel, dnsSubdomain, duration, fluxObject, kindParser, labelMap,
  normalizeSourcePath, NOT_YET, toNodeSemverRange, type BuildContext, type FieldWarning, type IgnoredField,
} from './shared.js';

/** helm-controller's default action timeout (HelmRelease.GetTimeout: 300s). */
const HELM_DEFAULT_TIMEOUT_SECONDS = 300;
/** helm-controller's defaultMaxHistory. */
const HELM_DEFAULT_MAX_HISTORY = 5;

/** Helm's release name rule (chartutil.ValidateReleaseName). */
function releaseNameProblem(name: string): string | undefined {
  const ok = name.length <= MAX_RELEASE_NAME && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(name);
  return ok ? undefined
    : `invalid release name ${JSON.stringify(name)}: at most ${MAX_RELEASE_NAME} lowercase letters, digits, '-' and '.', starting and ending with a letter or digit`;
}

function chartVersionProblem(version: string): string | undefined {
  return semver.validRange(toNodeSemverRange(version)) === null
    ? `invalid chart version ${JSON.stringify(version)}: want a version or semver range such as 1.2.3, 6.5.* or ">=1.0.0 <2.0.0"`
    : undefined;
}

const HelmChartSourceRef = z.strictObject({
  apiVersion: checkedString((v) => (SOURCE_API_VERSIONS.includes(v) ? undefined
    : `unsupported apiVersion ${JSON.stringify(v)}: use ${SOURCE_API_VERSIONS.join(' or ')}, or leave it out`)).optional(),
  kind: z.string().transform((kind, ctx) => {
    if (kind === 'HelmRepository' || kind === 'GitRepository') return kind;
    ctx.addIssue({
      code: 'custom',
      message: kind === 'Bucket'
        ? 'Bucket sources are not supported yet: use a HelmRepository or a GitRepository'
        : `invalid chart source kind ${JSON.stringify(kind)}: must be HelmRepository or GitRepository (Flux's Bucket is not supported yet)`,
    });
    return z.NEVER;
  }),
  name: dnsSubdomain,
  namespace: dnsLabel.optional(),
});

/** spec.chart.spec: the HelmChart Flux would create. */
const HelmChartTemplateSpecSchema = z.strictObject({
  chart: z.string().min(1).max(2048),
  version: z.string().optional(),
  sourceRef: HelmChartSourceRef,
  interval: duration.optional(),
  reconcileStrategy: z.enum(['ChartVersion', 'Revision']).optional(),
  // Accepted, not acted on yet (see HELM_RELEASE_IGNORED).
  valuesFiles: z.array(z.string()).optional(),
  ignoreMissingValuesFiles: z.boolean().optional(),
  verify: z.unknown().optional(),
}).superRefine((spec, ctx) => {
  if (spec.sourceRef.kind === 'GitRepository') {
    // From a GitRepository the chart is a directory of the repository.
    const path = normalizeSourcePath(spec.chart);
    if (path instanceof Error) ctx.addIssue({ code: 'custom', path: ['chart'], message: path.message });
  } else if (spec.version !== undefined && spec.version !== '') {
    const message = chartVersionProblem(spec.version);
    if (message !== undefined) ctx.addIssue({ code: 'custom', path: ['version'], message });
  }
});

const HelmChartTemplateSchema = z.strictObject({
  /** Newer Flux: the kind of source object the template makes; only HelmChart (the default) here. */
  kind: z.string().transform((kind, ctx) => {
    if (kind === 'HelmChart') return kind;
    ctx.addIssue({
      code: 'custom',
      message: kind === 'OCIRepository'
        ? 'OCIRepository chart templates are not supported yet: use a HelmRepository of type oci in spec.chart.spec.sourceRef'
        : `invalid chart template kind ${JSON.stringify(kind)}: must be HelmChart`,
    });
    return z.NEVER;
  }).optional(),
  metadata: z.strictObject({ labels: labelMap.optional(), annotations: annotationMap.optional() }).optional(),
  spec: HelmChartTemplateSpecSchema,
});

/** spec.chartRef points at a source holding a packaged chart: none of its kinds is supported yet. */
const HelmChartRefSchema = z.strictObject({
  apiVersion: z.string().optional(),
  kind: z.string().transform((kind, ctx) => {
    const fluxKinds = ['OCIRepository', 'HelmChart', 'ExternalArtifact'];
    ctx.addIssue({
      code: 'custom',
      message: fluxKinds.includes(kind)
        ? `spec.chartRef to a${kind === 'OCIRepository' || kind === 'ExternalArtifact' ? 'n' : ''} ${kind} is not supported yet: use spec.chart with a HelmRepository or GitRepository sourceRef`
        : `invalid chartRef kind ${JSON.stringify(kind)}: Flux's kinds are ${fluxKinds.join(', ')} (none supported yet: use spec.chart)`,
    });
    return z.NEVER;
  }),
  name: dnsSubdomain,
  namespace: dnsLabel.optional(),
});

const CrdsPolicySchema = z.enum(['Skip', 'Create', 'CreateReplace']);

const HelmInstallSchema = z.strictObject({
  timeout: duration.optional(),
  remediation: z.strictObject({
    retries: z.number().int().optional(),
    ignoreTestFailures: z.boolean().optional(),
    remediateLastFailure: z.boolean().optional(),
  }).optional(),
  createNamespace: z.boolean().optional(),
  crds: CrdsPolicySchema.optional(),
  /** Deprecated by Flux in favour of crds: Skip; honoured when crds is not set. */
  skipCRDs: z.boolean().optional(),
  replace: z.boolean().optional(),
  disableWait: z.boolean().optional(),
  // Accepted, not acted on yet (see HELM_RELEASE_IGNORED).
  disableWaitForJobs: z.boolean().optional(),
  disableHooks: z.boolean().optional(),
  disableOpenAPIValidation: z.boolean().optional(),
  disableSchemaValidation: z.boolean().optional(),
  disableTakeOwnership: z.boolean().optional(),
  serverSideApply: z.unknown().optional(),
  strategy: z.unknown().optional(),
});

const HelmUpgradeSchema = z.strictObject({
  timeout: duration.optional(),
  remediation: z.strictObject({
    retries: z.number().int().optional(),
    ignoreTestFailures: z.boolean().optional(),
    remediateLastFailure: z.boolean().optional(),
    strategy: z.enum(['rollback', 'uninstall']).optional(),
  }).optional(),
  crds: CrdsPolicySchema.optional(),
  force: z.boolean().optional(),
  disableWait: z.boolean().optional(),
  cleanupOnFail: z.boolean().optional(),
  // Accepted, not acted on yet (see HELM_RELEASE_IGNORED).
  disableWaitForJobs: z.boolean().optional(),
  disableHooks: z.boolean().optional(),
  disableOpenAPIValidation: z.boolean().optional(),
  disableSchemaValidation: z.boolean().optional(),
  disableTakeOwnership: z.boolean().optional(),
  preserveValues: z.boolean().optional(),
  serverSideApply: z.unknown().optional(),
  strategy: z.unknown().optional(),
  chartNameChangeStrategy: z.unknown().optional(),
});

const HelmRollbackSchema = z.strictObject({
  timeout: duration.optional(),
  force: z.boolean().optional(),
  cleanupOnFail: z.boolean().optional(),
  recreate: z.boolean().optional(),
  disableWait: z.boolean().optional(),
  // Accepted, not acted on yet (see HELM_RELEASE_IGNORED).
  disableWaitForJobs: z.boolean().optional(),
  disableHooks: z.boolean().optional(),
  serverSideApply: z.unknown().optional(),
});

const HelmUninstallSchema = z.strictObject({
  timeout: duration.optional(),
  keepHistory: z.boolean().optional(),
  disableWait: z.boolean().optional(),
  // Accepted, not acted on yet (see HELM_RELEASE_IGNORED).
  disableHooks: z.boolean().optional(),
  deletionPropagation: z.enum(['background', 'foreground', 'orphan']).optional(),
});

const HelmTestSchema = z.strictObject({
  enable: z.boolean().optional(),
  timeout: duration.optional(),
  ignoreFailures: z.boolean().optional(),
  filters: z.unknown().optional(), // accepted, not acted on yet
});

/** Flux's CRD patterns for valuesKey and targetPath. */
const ValuesReferenceSchema = z.strictObject({
  kind: z.enum(['ConfigMap', 'Secret']),
  name: dnsSubdomain,
  valuesKey: checkedString((key) => (key.length <= 253 && /^[-._a-zA-Z0-9]+$/.test(key) ? undefined
    : `invalid valuesKey ${JSON.stringify(key)}: a data key (letters, digits, '-', '_' and '.')`)).optional(),
  targetPath: checkedString((path) => (path.length <= 250 && /^([a-zA-Z0-9_\-.\\/]|\[[0-9]{1,5}\])+$/.test(path) ? undefined
    : `invalid targetPath ${JSON.stringify(path)}: a Helm --set path such as ingress.hosts[0].host`)).optional(),
  optional: z.boolean().optional(),
  literal: z.boolean().optional(), // accepted, not acted on yet
});

/** Checked like Flux's CRD (v2 has kustomize patches and images only), though not acted on yet. */
const PostRendererSchema = z.strictObject({
  kustomize: z.strictObject({ patches: z.array(Patch).optional(), images: z.array(Image).optional() }).optional(),
});

/** The Kustomization's placement, minus `hub: true`: a Helm release is installed on clusters. */
const HelmPlacementSchema = PlacementSchema.superRefine((p, ctx) => {
  if (p.hub === true) {
    ctx.addIssue({ code: 'custom', path: ['hub'], message: 'hub: true is for Kustomizations that build hub declarations; a HelmRelease is installed on clusters' });
  }
});

/** "Exactly one of chart and chartRef" must be checked even when other fields have errors. */
const always = { when: () => true };

const HelmReleaseSpecSchema = z.strictObject({
  chart: HelmChartTemplateSchema.optional(),
  chartRef: HelmChartRefSchema.optional(),
  interval: duration,
  timeout: duration.optional(),
  releaseName: checkedString(releaseNameProblem).optional(),
  targetNamespace: dnsLabel.optional(),
  storageNamespace: dnsLabel.optional(),
  install: HelmInstallSchema.optional(),
  upgrade: HelmUpgradeSchema.optional(),
  rollback: HelmRollbackSchema.optional(),
  uninstall: HelmUninstallSchema.optional(),
  test: HelmTestSchema.optional(),
  values: z.record(z.string(), z.unknown()).optional(),
  valuesFrom: z.array(ValuesReferenceSchema).optional(),
  dependsOn: z.array(Dependency).optional(),
  suspend: z.boolean().optional(),
  maxHistory: z.number().int().min(0).optional(),
  placement: HelmPlacementSchema.optional(),
  rollout: RolloutSchema.optional(),
  // Accepted, not acted on yet (see HELM_RELEASE_IGNORED).
  driftDetection: z.strictObject({
    mode: z.enum(['enabled', 'warn', 'disabled']).optional(),
    ignore: z.array(z.unknown()).optional(),
  }).optional(),
  postRenderers: z.array(PostRendererSchema).optional(),
  postRenderStrategy: z.string().optional(),
  commonMetadata: CommonMetadataSchema.optional(),
  // Impersonated by the agent (core/tenancy.ts).
  serviceAccountName: dnsSubdomain.optional(),
  kubeConfig: z.unknown().optional(),
  persistentClient: z.boolean().optional(),
})
  .refine((spec) => !isRecord(spec) || spec.chart !== undefined || spec.chartRef !== undefined, {
    ...always, path: ['chart'],
    message: 'required: the chart to install, e.g. {spec: {chart: podinfo, sourceRef: {kind: HelmRepository, name: podinfo}}}',
  })
  .refine((spec) => !isRecord(spec) || spec.chart === undefined || spec.chartRef === undefined, {
    ...always, path: ['chartRef'], message: 'set only one of spec.chart and spec.chartRef',
  });

const HelmReleaseObject = fluxObject(HelmReleaseSpecSchema);
type HelmReleaseInput = z.infer<typeof HelmReleaseObject>;

/**
 * Null inside spec.values is meaningful to Helm (it deletes the chart's default for that
 * key) and the API server keeps it there (the field preserves unknown fields), so the values
 * are taken from the input as written rather than from the null-free copy.
 */
function keepHelmValueNulls(input: Record<string, unknown>, cleaned: Record<string, unknown>): Record<string, unknown> {
  const values = isRecord(input.spec) ? input.spec.values : undefined;
  if (!isRecord(values) || !isRecord(cleaned.spec)) return cleaned;
  return { ...cleaned, spec: { ...cleaned.spec, values } };
}

function buildHelmRelease(obj: HelmReleaseInput, ctx: BuildContext): HelmReleaseDeclaration {
  const { spec } = obj;
  const ns = ctx.namespace;
  // The refinements above make sure chart is set whenever parsing succeeded (chartRef always fails).
  const template = spec.chart?.spec;
  if (template === undefined) throw new Error('HelmRelease without spec.chart passed validation');
  const timeout = spec.timeout ?? HELM_DEFAULT_TIMEOUT_SECONDS;
  const ignoreTestFailures = spec.test?.ignoreFailures ?? false;
  const installRemediation = spec.install?.remediation;
  const upgradeRemediation = spec.upgrade?.remediation;
  const upgradeRetries = upgradeRemediation?.retries ?? 0;
  const gitChart = template.sourceRef.kind === 'GitRepository';
  const chartPath = gitChart ? normalizeSourcePath(template.chart) : template.chart;
  const installCrds: CrdsPolicy = spec.install?.crds ?? (spec.install?.skipCRDs === true ? 'Skip' : 'Create');
  return {
    kind: 'HelmRelease',
    ...base(obj.metadata, ctx),
    spec: {
      chart: {
        chart: chartPath instanceof Error ? template.chart : chartPath,
        version: template.version === undefined || template.version === '' ? '*' : toNodeSemverRange(template.version),
        sourceRef: { kind: template.sourceRef.kind, namespace: template.sourceRef.namespace ?? ns, name: template.sourceRef.name },
        intervalSeconds: template.interval ?? spec.interval,
        reconcileStrategy: template.reconcileStrategy ?? 'ChartVersion',
      },
      intervalSeconds: spec.interval,
      timeoutSeconds: timeout,
      releaseName: spec.releaseName ?? defaultReleaseName(obj.metadata.name, spec.targetNamespace),
      targetNamespace: spec.targetNamespace ?? ns,
      storageNamespace: spec.storageNamespace ?? ns,
      ...(spec.serviceAccountName === undefined ? {} : { serviceAccountName: spec.serviceAccountName }),
      install: {
        timeoutSeconds: spec.install?.timeout ?? timeout,
        createNamespace: spec.install?.createNamespace ?? false,
        crds: installCrds,
        remediation: {
          retries: installRemediation?.retries ?? 0,
          ignoreTestFailures: installRemediation?.ignoreTestFailures ?? ignoreTestFailures,
          remediateLastFailure: installRemediation?.remediateLastFailure ?? false,
        },
        disableWait: spec.install?.disableWait ?? false,
        replace: spec.install?.replace ?? false,
      },
      upgrade: {
        timeoutSeconds: spec.upgrade?.timeout ?? timeout,
        remediation: {
          retries: upgradeRetries,
          ignoreTestFailures: upgradeRemediation?.ignoreTestFailures ?? ignoreTestFailures,
          remediateLastFailure: upgradeRemediation?.remediateLastFailure ?? upgradeRetries > 0,
          strategy: upgradeRemediation?.strategy ?? 'rollback',
        },
        crds: spec.upgrade?.crds ?? 'Skip',
        force: spec.upgrade?.force ?? false,
        disableWait: spec.upgrade?.disableWait ?? false,
        cleanupOnFail: spec.upgrade?.cleanupOnFail ?? false,
      },
      rollback: {
        timeoutSeconds: spec.rollback?.timeout ?? timeout,
        force: spec.rollback?.force ?? false,
        cleanupOnFail: spec.rollback?.cleanupOnFail ?? false,
        recreate: spec.rollback?.recreate ?? false,
        disableWait: spec.rollback?.disableWait ?? false,
      },
      uninstall: {
        timeoutSeconds: spec.uninstall?.timeout ?? timeout,
        keepHistory: spec.uninstall?.keepHistory ?? false,
        disableWait: spec.uninstall?.disableWait ?? false,
      },
      test: {
        enable: spec.test?.enable ?? false,
        timeoutSeconds: spec.test?.timeout ?? timeout,
        ignoreFailures: ignoreTestFailures,
      },
      values: spec.values ?? {},
      valuesFrom: (spec.valuesFrom ?? []).map((v) => ({
        kind: v.kind, name: v.name, valuesKey: v.valuesKey ?? 'values.yaml', targetPath: v.targetPath, optional: v.optional ?? false,
      })),
      dependsOn: (spec.dependsOn ?? []).map((d) => ({ namespace: d.namespace ?? ns, name: d.name })),
      suspend: spec.suspend ?? false,
      maxHistory: spec.maxHistory ?? HELM_DEFAULT_MAX_HISTORY,
      placement: buildPlacement(spec.placement),
      ...(spec.rollout === undefined ? {} : { rollout: buildRollout(spec.rollout) }),
    },
  };
}

/** Warnings that depend on more than one field. */
function helmReleaseWarnings(obj: HelmReleaseInput): FieldWarning[] {
  const template = obj.spec.chart?.spec;
  const warnings: FieldWarning[] = [];
  if (template?.sourceRef.kind === 'GitRepository' && template.version !== undefined && template.version !== '' && template.version !== '*') {
    warnings.push({ field: 'spec.chart.spec.version', message: 'not used for a chart from a GitRepository (as in Flux): the chart in the repository is installed whatever its version' });
  }
  return warnings;
}

const HELM_RELEASE_IGNORED: readonly IgnoredField[] = [
  { path: ['spec', 'chart', 'metadata'], note: 'has no effect: Flotilla creates no HelmChart object' },
  { path: ['spec', 'chart', 'spec', 'valuesFiles'], note: `${NOT_YET}: the chart's own values.yaml is used` },
  { path: ['spec', 'chart', 'spec', 'ignoreMissingValuesFiles'], harmless: [false], note: NOT_YET },
  { path: ['spec', 'chart', 'spec', 'verify'], note: `${NOT_YET}: chart signatures are NOT verified` },
  { path: ['spec', 'postRenderers'], note: `${NOT_YET}: the rendered manifests are applied without post-rendering` },
  { path: ['spec', 'postRenderStrategy'], note: NOT_YET },
  { path: ['spec', 'commonMetadata'], note: `${NOT_YET}: no labels or annotations are added` },
  { path: ['spec', 'kubeConfig'], note: `${NOT_YET}: use spec.placement to choose clusters` },
  { path: ['spec', 'persistentClient'], harmless: [true], note: 'has no effect (a helm-controller client setting)' },
  { path: ['spec', 'driftDetection', 'mode'], harmless: ['disabled'], note: `${NOT_YET}: drift is not detected` },
  { path: ['spec', 'driftDetection', 'ignore'], note: NOT_YET },
  ...(['install', 'upgrade', 'rollback', 'uninstall'] as const).map((action): IgnoredField =>
    ({ path: ['spec', action, 'disableHooks'], harmless: [false], note: `${NOT_YET}: chart hooks run` })),
  ...(['install', 'upgrade', 'rollback'] as const).flatMap((action): IgnoredField[] => [
    { path: ['spec', action, 'disableWaitForJobs'], harmless: [false], note: NOT_YET },
    { path: ['spec', action, 'serverSideApply'], note: NOT_YET },
  ]),
  ...(['install', 'upgrade'] as const).flatMap((action): IgnoredField[] => [
    { path: ['spec', action, 'disableOpenAPIValidation'], harmless: [false], note: NOT_YET },
    { path: ['spec', action, 'disableSchemaValidation'], harmless: [false], note: NOT_YET },
    { path: ['spec', action, 'disableTakeOwnership'], harmless: [false], note: NOT_YET },
    { path: ['spec', action, 'strategy'], note: `${NOT_YET}: failures are handled as spec.${action}.remediation says` },
  ]),
  { path: ['spec', 'upgrade', 'preserveValues'], harmless: [false], note: `${NOT_YET}: each upgrade uses the declared values only` },
  { path: ['spec', 'upgrade', 'chartNameChangeStrategy'], note: NOT_YET },
  { path: ['spec', 'uninstall', 'deletionPropagation'], harmless: ['background'], note: NOT_YET },
  { path: ['spec', 'test', 'filters'], note: `${NOT_YET}: every test of the chart runs` },
  { path: ['spec', 'valuesFrom', '*', 'literal'], harmless: [false], note: `${NOT_YET}: values at a targetPath are read with Helm's --set syntax` },
  { path: ['spec', 'dependsOn', '*', 'readyExpr'], note: `${NOT_YET}: a dependency is ready when its Ready condition is True` },
];

export const helmRelease = kindParser({
  apiVersion: 'helm.toolkit.fluxcd.io/v2',
  schema: HelmReleaseObject,
  input: (obj, given) => keepHelmValueNulls(given, obj),
  build: buildHelmRelease,
  ignoredFields: HELM_RELEASE_IGNORED,
  warnings: helmReleaseWarnings,
  requiredHints: {
    'spec.chart.spec.sourceRef': 'required: where the chart comes from, e.g. {kind: HelmRepository, name: podinfo}',
    'spec.chart.spec.chart': 'required: the chart name (HelmRepository) or its path (GitRepository)',
  },
  removedFieldHints: {
    'spec.chart.spec.valuesFile': 'unknown field (removed in helm.toolkit.fluxcd.io/v2: use spec.chart.spec.valuesFiles)',
    'spec.postRenderers[*].kustomize.patchesStrategicMerge': 'unknown field (removed in helm.toolkit.fluxcd.io/v2: use patches)',
    'spec.postRenderers[*].kustomize.patchesJson6902': 'unknown field (removed in helm.toolkit.fluxcd.io/v2: use patches with a target)',
  },
});
