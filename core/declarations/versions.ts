// Older Flux apiVersions → the newest, the way Flux's own API evolution converts them.
//
// Flux's CRDs serve several versions of a kind without a conversion webhook (conversion
// strategy None): an object written in an old version is read by the newer controller field
// by field, and each promotion removed the fields the old version had deprecated. Reading an
// old version here is the same: the apiVersion becomes the newest one, and each field a newer
// version removed is converted to the field that replaced it, dropped when it never had an
// effect, or refused (naming the field and what to write instead) when nothing replaced it.
// parse.ts converts every object before it classifies and checks it, so the rest of parse.ts
// only ever sees newest-version objects, and an old object gives the same declaration as its
// newest equivalent.
//
// Every rule cites the Flux file it follows, at the last release that served the old version.
// `flux migrate -f` (fluxcd/flux2 cmd/flux/migrate.go) rewrites only the apiVersion line, so a
// converted field gets its own warning saying what to write before migrating.
// Pure (no Node built-ins): workflow code imports it through parse.ts.
import { isRecord } from '../manifests.js';

export interface VersionWarning {
  /** e.g. "apiVersion" or "spec.patchesStrategicMerge". */
  readonly field?: string;
  readonly message: string;
}

export interface VersionError {
  readonly field: string;
  readonly message: string;
}

/** An old-version object rewritten to the newest version (apiVersion included). */
export interface Conversion {
  readonly object: Record<string, unknown>;
  readonly warnings: readonly VersionWarning[];
  readonly errors: readonly VersionError[];
  /** A field of `object` as the user wrote it (converted patches put before theirs shift their indexes). */
  readonly writtenField: (field: string) => string;
}

/**
 * What a field rule does: with a field the next version removed, convert it to the field that
 * replaced it, drop it (it never had an effect) or refuse it (nothing replaced it); with a field
 * the next version added ('added'), refuse it in an object of this older version, as Flux's CRD
 * would have (the newest schema would otherwise accept it).
 */
export type FieldAction = 'converted' | 'dropped' | 'refused' | 'added';

export interface FieldRule {
  /** The old field, "[*]" standing for every element of a list (spec.postRenderers[*].kustomize.patchesJson6902). */
  readonly field: string;
  readonly action: FieldAction;
  /** The Flux source it follows: repository, path and release. */
  readonly flux: string;
  /** Rewrites `obj` (a private copy) in place, reporting what it did. */
  readonly apply: (obj: Raw, report: Report, versions: Versions) => void;
}

/** The versions around a rule: the one written, the step's next one, the newest. */
interface Versions {
  readonly written: string;
  readonly next: string;
  readonly newest: string;
}

export interface VersionRule {
  readonly kind: string;
  /** The old apiVersion this rule reads. */
  readonly apiVersion: string;
  /** The version one step newer, which the next rule of the chain (if any) converts from. */
  readonly next: string;
  /** The newest apiVersion of the kind: what the declaration carries. */
  readonly newest: string;
  /** The Flux release whose CRDs stopped serving `apiVersion` (still read here, with the warning). */
  readonly removedIn: string;
  /** Where Flux declares it deprecated. */
  readonly flux: string;
  /** The step to `next`: the fields it added (refused here), then those it removed. */
  readonly fields: readonly FieldRule[];
  /** The whole conversion, through every later step, to `newest`. */
  readonly convert: (obj: Readonly<Record<string, unknown>>) => Conversion;
}

type Raw = Record<string, unknown>;

interface Report {
  warn(field: string, message: string): void;
  fail(field: string, message: string): void;
  /** `count` entries were put before the written ones of the list at `list`. */
  shifted(list: string, count: number): void;
}

// ---------------------------------------------------------------------------------------
// The table

const SOURCE = 'source.toolkit.fluxcd.io';
const KUSTOMIZE = 'kustomize.toolkit.fluxcd.io';
const HELM = 'helm.toolkit.fluxcd.io';
const IMAGE = 'image.toolkit.fluxcd.io';
const NOTIFICATION = 'notification.toolkit.fluxcd.io';

/** One old version of a chain, oldest first; `next` is the following entry's version (or the newest). */
interface Step {
  readonly apiVersion: string;
  readonly removedIn: string;
  readonly flux: string;
  readonly fields?: readonly FieldRule[];
  /** Fields the next version added that Flotilla's newest schema accepts (the others it refuses anyway). */
  readonly added?: { readonly fields: readonly string[]; readonly flux: string };
}

/** The rules of one kind: each old version converts through the later ones to `newest`. */
function chain(kind: string, newest: string, steps: readonly Step[]): VersionRule[] {
  const resolved = steps.map((step, i) => ({
    ...step,
    next: steps[i + 1]?.apiVersion ?? newest,
    fields: [...(step.added?.fields ?? []).map((field) => addedField(field, step.added?.flux ?? '')), ...(step.fields ?? [])],
  }));
  return resolved.map((step, i) => ({
    kind, apiVersion: step.apiVersion, next: step.next, newest, removedIn: step.removedIn, flux: step.flux, fields: step.fields,
    convert: (obj) => convertThrough(obj, resolved.slice(i), newest),
  }));
}

// source.toolkit.fluxcd.io/v1beta2 → v1 removed two GitRepository fields: "the deprecated
// field .spec.gitImplementation was removed; the unused field .spec.accessFrom was removed"
// (fluxcd/source-controller CHANGELOG.md 1.0.0-rc.1).
const GIT_REPOSITORY_V1BETA2_FIELDS: readonly FieldRule[] = [
  // fluxcd/source-controller api/v1beta2/gitrepository_types.go (v1.7.0): GitImplementation
  // "Deprecated: gitImplementation is deprecated now that 'go-git' is the only supported implementation."
  dropped(['spec', 'gitImplementation'], `has no effect (removed in ${SOURCE}/v1)`,
    'fluxcd/source-controller api/v1beta2/gitrepository_types.go (v1.7.0): GitRepositorySpec.GitImplementation'),
  // fluxcd/source-controller api/v1beta2/gitrepository_types.go (v1.7.0): AccessFrom "NOTE: Not implemented".
  dropped(['spec', 'accessFrom'], `has no effect (never implemented by Flux; removed in ${SOURCE}/v1)`,
    'fluxcd/source-controller api/v1beta2/gitrepository_types.go (v1.7.0): GitRepositorySpec.AccessFrom'),
];

// kustomize.toolkit.fluxcd.io/v1beta2 → v1: "the deprecated field .spec.validation was removed;
// .spec.patchesStrategicMerge and .spec.patchesJson6902 were removed (replaced by .spec.patches)"
// (fluxcd/kustomize-controller CHANGELOG.md 1.0.0-rc.1).
const KUSTOMIZATION_V1BETA2_FIELDS: readonly FieldRule[] = [
  strategicMergePatches(['spec'], `${KUSTOMIZE}/v1`,
    'fluxcd/kustomize-controller api/v1beta2/kustomization_types.go (v1.7.0): KustomizationSpec.PatchesStrategicMerge'),
  json6902Patches(['spec'], `${KUSTOMIZE}/v1`,
    'fluxcd/kustomize-controller api/v1beta2/kustomization_types.go (v1.7.0): KustomizationSpec.PatchesJSON6902'),
  // fluxcd/kustomize-controller api/v1beta2/kustomization_types.go (v1.7.0): Validation "Deprecated: Not used in v1beta2."
  dropped(['spec', 'validation'], `has no effect (removed in ${KUSTOMIZE}/v1)`,
    'fluxcd/kustomize-controller api/v1beta2/kustomization_types.go (v1.7.0): KustomizationSpec.Validation'),
];

// helm.toolkit.fluxcd.io/v2beta2 → v2: ".spec.chart.spec.valuesFile replaced by .spec.chart.spec.valuesFiles;
// .spec.postRenderers.kustomize.patchesJson6902 and .patchesStrategicMerge replaced by .patches"
// (fluxcd/helm-controller CHANGELOG.md 1.0.0).
const HELM_RELEASE_V2BETA2_FIELDS: readonly FieldRule[] = [
  valuesFile(),
  strategicMergePatches(['spec', 'postRenderers', '*', 'kustomize'], `${HELM}/v2`,
    'fluxcd/helm-controller api/v2beta2/helmrelease_types.go (v1.4.0): Kustomize.PatchesStrategicMerge'),
  json6902Patches(['spec', 'postRenderers', '*', 'kustomize'], `${HELM}/v2`,
    'fluxcd/helm-controller api/v2beta2/helmrelease_types.go (v1.4.0): Kustomize.PatchesJSON6902'),
];

// image.toolkit.fluxcd.io/v1beta2 → v1 kept every ImageUpdateAutomation field, but
// image-automation-controller v1.0.0 (Flux 2.7) removed two parts of the commit message
// template data, for objects of every version: .Updated and .Changed.ImageResult.
const IMAGE_UPDATE_AUTOMATION_V1BETA2_FIELDS: readonly FieldRule[] = [{
  field: 'spec.git.commit.messageTemplate', action: 'refused',
  flux: 'fluxcd/image-automation-controller internal/source/source.go (v1.0.0): RemovedTemplateFieldError, checkRemovedTemplateField',
  apply: (obj, report) => {
    const commit = at(obj, ['spec', 'git', 'commit']);
    const message = typeof commit?.messageTemplate === 'string' ? removedTemplateFieldProblem(commit.messageTemplate) : undefined;
    if (message !== undefined) report.fail('spec.git.commit.messageTemplate', message);
  },
}];

// notification.toolkit.fluxcd.io/v1beta3 deprecated Alert spec.summary: "Deprecated: Use
// EventMetadata instead" (fluxcd/notification-controller api/v1beta3/alert_types.go). The
// controller adds it to the event metadata as "summary" right after eventMetadata, so it wins
// over eventMetadata.summary (internal/server/event_handlers.go combineEventMetadata, steps 2
// and 3): moving it there, overriding, is the same event.
const ALERT_V1BETA2_FIELDS: readonly FieldRule[] = [{
  field: 'spec.summary', action: 'converted',
  flux: 'fluxcd/notification-controller api/v1beta3/alert_types.go: AlertSpec.Summary; internal/server/event_handlers.go: combineEventMetadata',
  apply: (obj, report, { newest }) => {
    const spec = at(obj, ['spec']);
    if (spec?.summary === undefined) return;
    const summary = spec.summary;
    delete spec.summary;
    if (typeof summary !== 'string') {
      report.fail('spec.summary', 'expected a string');
      return;
    }
    // Empty is unset (omitempty).
    if (summary === '') return;
    const metadata = spec.eventMetadata ?? {};
    if (!isRecord(metadata)) {
      report.fail('spec.eventMetadata', 'expected a mapping');
      return;
    }
    const overridden = metadata.summary !== undefined && metadata.summary !== summary;
    spec.eventMetadata = { ...metadata, summary };
    report.warn('spec.summary', overridden
      ? `overrides spec.eventMetadata.summary, as in Flux (deprecated in ${newest}): keep only eventMetadata: {summary: ${JSON.stringify(summary)}}`
      : `converted to spec.eventMetadata.summary (deprecated in ${newest}): write eventMetadata: {summary: ${JSON.stringify(summary)}}`);
  },
}];

/**
 * Every old version Flotilla reads, per kind, with the newest version it becomes. Kinds and
 * versions are the ones Flux served in its last three years of releases; the removal releases
 * are from the controllers' CHANGELOG.md ("Remove deprecated APIs in group ...") and the
 * controller versions each Flux release pins (fluxcd/flux2 go.mod at v2.7.0, v2.8.0, v2.9.0).
 * `added` lists the fields of the next version an object of the old one cannot have; they come
 * from comparing the api/<version>/*_types.go structs at the last release serving each version.
 */
export const VERSION_RULES: readonly VersionRule[] = [
  // fluxcd/source-controller api/v1beta1/gitrepository_types.go (v1.6.0): +kubebuilder:deprecatedversion
  // "v1beta1 GitRepository is deprecated, upgrade to v1"; v1beta1 → v1beta2 only added fields (CHANGELOG.md 0.22.0).
  ...chain('GitRepository', `${SOURCE}/v1`, [
    {
      apiVersion: `${SOURCE}/v1beta1`, removedIn: 'Flux 2.7 (source-controller v1.7.0)', flux: 'fluxcd/source-controller api/v1beta1/gitrepository_types.go (v1.6.0)',
      added: { fields: ['spec.ref.name'], flux: 'fluxcd/source-controller api/v1beta2/gitrepository_types.go (v1.7.0): GitRepositoryRef.Name' },
    },
    {
      apiVersion: `${SOURCE}/v1beta2`, removedIn: 'Flux 2.8 (source-controller v1.8.0)', flux: 'fluxcd/source-controller api/v1beta2/gitrepository_types.go (v1.7.0)',
      fields: GIT_REPOSITORY_V1BETA2_FIELDS,
      added: { fields: ['spec.provider', 'spec.serviceAccountName', 'spec.proxySecretRef', 'spec.sparseCheckout'], flux: 'fluxcd/source-controller api/v1/gitrepository_types.go: GitRepositorySpec' },
    },
  ]),
  // fluxcd/source-controller api/v1beta{1,2}/helmrepository_types.go: each later version only
  // added fields ("The v1 API is backwards compatible with v1beta2", CHANGELOG.md 1.3.0).
  ...chain('HelmRepository', `${SOURCE}/v1`, [
    {
      apiVersion: `${SOURCE}/v1beta1`, removedIn: 'Flux 2.7 (source-controller v1.7.0)', flux: 'fluxcd/source-controller api/v1beta1/helmrepository_types.go (v1.6.0)',
      added: { fields: ['spec.type', 'spec.provider', 'spec.insecure', 'spec.certSecretRef'], flux: 'fluxcd/source-controller api/v1beta2/helmrepository_types.go (v1.7.0): HelmRepositorySpec' },
    },
    { apiVersion: `${SOURCE}/v1beta2`, removedIn: 'Flux 2.8 (source-controller v1.8.0)', flux: 'fluxcd/source-controller api/v1beta2/helmrepository_types.go (v1.7.0)' },
  ]),
  // "The kustomize.toolkit.fluxcd.io/v1beta2 API is backwards compatible with v1beta1"
  // (fluxcd/kustomize-controller CHANGELOG.md 0.15.0): the removals come with v1.
  ...chain('Kustomization', `${KUSTOMIZE}/v1`, [
    {
      apiVersion: `${KUSTOMIZE}/v1beta1`, removedIn: 'Flux 2.7 (kustomize-controller v1.7.0)', flux: 'fluxcd/kustomize-controller api/v1beta1/kustomization_types.go (v1.6.0)',
      added: {
        fields: ['spec.wait', 'spec.commonMetadata', 'spec.components', 'spec.postBuild.substituteFrom[*].optional'],
        flux: 'fluxcd/kustomize-controller api/v1beta2/kustomization_types.go (v1.7.0): KustomizationSpec, SubstituteReference',
      },
    },
    {
      apiVersion: `${KUSTOMIZE}/v1beta2`, removedIn: 'Flux 2.8 (kustomize-controller v1.8.0)', flux: 'fluxcd/kustomize-controller api/v1beta2/kustomization_types.go (v1.7.0)',
      fields: KUSTOMIZATION_V1BETA2_FIELDS,
      added: {
        fields: ['spec.namePrefix', 'spec.nameSuffix', 'spec.deletionPolicy', 'spec.ignoreMissingComponents', 'spec.healthCheckExprs', 'spec.dependsOn[*].readyExpr'],
        flux: 'fluxcd/kustomize-controller api/v1/kustomization_types.go: KustomizationSpec; fluxcd/pkg apis/meta DependencyReference',
      },
    },
  ]),
  // "The upgrade is backwards compatible" (fluxcd/helm-controller CHANGELOG.md 0.37.0, v2beta1 →
  // v2beta2). maxHistory: v2beta1 documented a default of 10, but the controllers that served
  // v2beta1 next to v2beta2 (0.37 to 1.3) read it with v2beta2's default 5; so does Flotilla.
  // v2beta1's chartRef and driftDetection (v1.3.0) are v2's types, "provisional".
  ...chain('HelmRelease', `${HELM}/v2`, [
    {
      apiVersion: `${HELM}/v2beta1`, removedIn: 'Flux 2.7 (helm-controller v1.4.0)', flux: 'fluxcd/helm-controller api/v2beta1/helmrelease_types.go (v1.3.0)',
      added: { fields: ['spec.chart.spec.ignoreMissingValuesFiles', 'spec.test.filters'], flux: 'fluxcd/helm-controller api/v2beta2/helmrelease_types.go (v1.4.0): HelmChartTemplateSpec, Test' },
    },
    {
      apiVersion: `${HELM}/v2beta2`, removedIn: 'Flux 2.8 (helm-controller v1.5.0)', flux: 'fluxcd/helm-controller api/v2beta2/helmrelease_types.go (v1.4.0)',
      fields: HELM_RELEASE_V2BETA2_FIELDS,
      added: {
        fields: [
          'spec.commonMetadata', 'spec.postRenderStrategy', 'spec.dependsOn[*].readyExpr',
          'spec.install.strategy', 'spec.install.disableSchemaValidation', 'spec.install.disableTakeOwnership', 'spec.install.serverSideApply',
          'spec.upgrade.strategy', 'spec.upgrade.disableSchemaValidation', 'spec.upgrade.disableTakeOwnership', 'spec.upgrade.serverSideApply',
          'spec.upgrade.chartNameChangeStrategy', 'spec.rollback.serverSideApply',
        ],
        flux: 'fluxcd/helm-controller api/v2/helmrelease_types.go: HelmReleaseSpec, Install, Upgrade, Rollback',
      },
    },
  ]),
  // "The v1 API is backwards compatible with v1beta2" (fluxcd/image-reflector-controller CHANGELOG.md 1.0.0).
  ...chain('ImageRepository', `${IMAGE}/v1`, [
    {
      apiVersion: `${IMAGE}/v1beta1`, removedIn: 'Flux 2.7 (image-reflector-controller v1.0.0)', flux: 'fluxcd/image-reflector-controller api/v1beta1/imagerepository_types.go (v0.35.0)',
      added: { fields: ['spec.provider', 'spec.insecure', 'spec.proxySecretRef'], flux: 'fluxcd/image-reflector-controller api/v1beta2/imagerepository_types.go (v1.1.0): ImageRepositorySpec' },
    },
    { apiVersion: `${IMAGE}/v1beta2`, removedIn: 'Flux 2.9 (image-reflector-controller v1.2.0)', flux: 'fluxcd/image-reflector-controller api/v1beta2/imagerepository_types.go (v1.1.0)' },
  ]),
  ...chain('ImagePolicy', `${IMAGE}/v1`, [
    {
      apiVersion: `${IMAGE}/v1beta1`, removedIn: 'Flux 2.7 (image-reflector-controller v1.0.0)', flux: 'fluxcd/image-reflector-controller api/v1beta1/imagepolicy_types.go (v0.35.0)',
      added: { fields: ['spec.digestReflectionPolicy', 'spec.interval', 'spec.suspend'], flux: 'fluxcd/image-reflector-controller api/v1beta2/imagepolicy_types.go (v1.1.0): ImagePolicySpec' },
    },
    { apiVersion: `${IMAGE}/v1beta2`, removedIn: 'Flux 2.9 (image-reflector-controller v1.2.0)', flux: 'fluxcd/image-reflector-controller api/v1beta2/imagepolicy_types.go (v1.1.0)' },
  ]),
  // fluxcd/image-automation-controller api/v1beta1/imageupdateautomation_types.go (v0.41.0):
  // "v1beta1 ImageUpdateAutomation is deprecated, upgrade to v1beta2"; update.strategy became optional (same default).
  ...chain('ImageUpdateAutomation', `${IMAGE}/v1`, [
    {
      apiVersion: `${IMAGE}/v1beta1`, removedIn: 'Flux 2.7 (image-automation-controller v1.0.0)', flux: 'fluxcd/image-automation-controller api/v1beta1/imageupdateautomation_types.go (v0.41.0)',
      added: {
        fields: ['spec.policySelector', 'spec.git.commit.messageTemplateValues'],
        flux: 'fluxcd/image-automation-controller api/v1beta2/imageupdateautomation_types.go, api/v1beta2/git.go (v1.1.0)',
      },
    },
    {
      apiVersion: `${IMAGE}/v1beta2`, removedIn: 'Flux 2.9 (image-automation-controller v1.2.0)', flux: 'fluxcd/image-automation-controller api/v1beta2/imageupdateautomation_types.go (v1.1.0)',
      fields: IMAGE_UPDATE_AUTOMATION_V1BETA2_FIELDS,
      added: { fields: ['spec.git.commit.signingKey.type'], flux: 'fluxcd/image-automation-controller api/v1/git.go: SigningKey.Type' },
    },
  ]),
  // Provider and Alert never had a v1: v1beta3 is the newest ("Static Alerts and Providers",
  // fluxcd/notification-controller CHANGELOG.md 1.2.0). Provider v1beta2's interval stays: v1beta3
  // keeps it as "Deprecated and not used in v1beta3" (PROVIDER_IGNORED in kinds/provider.ts warns).
  ...chain('Provider', `${NOTIFICATION}/v1beta3`, [
    {
      apiVersion: `${NOTIFICATION}/v1beta1`, removedIn: 'Flux 2.7 (notification-controller v1.7.0)', flux: 'fluxcd/notification-controller api/v1beta1/provider_types.go (v1.6.0)',
      added: { fields: ['spec.interval'], flux: 'fluxcd/notification-controller api/v1beta2/provider_types.go (v1.8.0): ProviderSpec.Interval' },
    },
    {
      apiVersion: `${NOTIFICATION}/v1beta2`, removedIn: 'Flux 2.9 (notification-controller v1.9.0)', flux: 'fluxcd/notification-controller api/v1beta2/provider_types.go (v1.8.0)',
      added: { fields: ['spec.commitStatusExpr', 'spec.serviceAccountName', 'spec.proxySecretRef'], flux: 'fluxcd/notification-controller api/v1beta3/provider_types.go: ProviderSpec' },
    },
  ]),
  ...chain('Alert', `${NOTIFICATION}/v1beta3`, [
    {
      apiVersion: `${NOTIFICATION}/v1beta1`, removedIn: 'Flux 2.7 (notification-controller v1.7.0)', flux: 'fluxcd/notification-controller api/v1beta1/alert_types.go (v1.6.0)',
      added: { fields: ['spec.inclusionList', 'spec.eventMetadata'], flux: 'fluxcd/notification-controller api/v1beta2/alert_types.go (v1.8.0): AlertSpec' },
    },
    {
      apiVersion: `${NOTIFICATION}/v1beta2`, removedIn: 'Flux 2.9 (notification-controller v1.9.0)', flux: 'fluxcd/notification-controller api/v1beta2/alert_types.go (v1.8.0)',
      fields: ALERT_V1BETA2_FIELDS,
    },
  ]),
  ...chain('Receiver', `${NOTIFICATION}/v1`, [
    {
      apiVersion: `${NOTIFICATION}/v1beta1`, removedIn: 'Flux 2.7 (notification-controller v1.7.0)', flux: 'fluxcd/notification-controller api/v1beta1/receiver_types.go (v1.6.0)',
      added: { fields: ['spec.interval'], flux: 'fluxcd/notification-controller api/v1beta2/receiver_types.go (v1.8.0): ReceiverSpec.Interval' },
    },
    {
      apiVersion: `${NOTIFICATION}/v1beta2`, removedIn: 'Flux 2.9 (notification-controller v1.9.0)', flux: 'fluxcd/notification-controller api/v1beta2/receiver_types.go (v1.8.0)',
      added: {
        fields: ['spec.resourceFilter', 'spec.oidcProviders', 'spec.resources[*].filter'],
        flux: 'fluxcd/notification-controller api/v1/receiver_types.go: ReceiverSpec.ResourceFilter, ReceiverSpec.OIDCProviders, CrossNamespaceObjectReference.Filter',
      },
    },
  ]),
];

/** The rule reading `apiVersion` of `kind`, when it is an old version Flotilla converts. */
export function versionRule(kind: string, apiVersion: string): VersionRule | undefined {
  return VERSION_RULES.find((r) => r.kind === kind && r.apiVersion === apiVersion);
}

/** The old versions of `kind` Flotilla reads, newest first. */
export function olderVersions(kind: string): string[] {
  return VERSION_RULES.filter((r) => r.kind === kind).map((r) => r.apiVersion).reverse();
}

/** The one warning every old-version object gets: the version to move to, as `flux migrate` would. */
export function deprecationMessage(apiVersion: string, newest: string): string {
  return `${apiVersion} is deprecated: use ${newest} (flux migrate rewrites it)`;
}

function convertThrough(input: Readonly<Record<string, unknown>>, steps: readonly (Step & { readonly next: string })[], newest: string): Conversion {
  const object = clone(input) as Raw;
  const from = typeof object.apiVersion === 'string' ? object.apiVersion : '';
  const warnings: VersionWarning[] = [{ field: 'apiVersion', message: deprecationMessage(from, newest) }];
  const errors: VersionError[] = [];
  const shifts = new Map<string, number>();
  const report: Report = {
    warn: (field, message) => { warnings.push({ field, message }); },
    fail: (field, message) => { errors.push({ field, message }); },
    shifted: (list, count) => { shifts.set(list, (shifts.get(list) ?? 0) + count); },
  };
  for (const step of steps) for (const rule of step.fields ?? []) rule.apply(object, report, { written: from, next: step.next, newest });
  object.apiVersion = newest;
  const writtenField = (field: string): string => {
    for (const [list, count] of shifts) {
      const index = field.startsWith(`${list}[`) ? /^\[(\d+)\]/.exec(field.slice(list.length)) : null;
      if (index !== null && Number(index[1]) >= count) return `${list}[${Number(index[1]) - count}]${field.slice(list.length + index[0].length)}`;
    }
    return field;
  };
  return { object, warnings, errors, writtenField };
}

// ---------------------------------------------------------------------------------------
// Field rules

/**
 * A field the next version added: Flux's CRD for the written version did not have it, so the
 * API server would have refused it; so does Flotilla, rather than act on it silently.
 */
function addedField(field: string, flux: string): FieldRule {
  const path = field.replace(/\[\*\]/g, '.*').split('.');
  return {
    field, action: 'added', flux,
    apply: (obj, report, { written, next, newest }) => {
      for (const { value, field: parent } of mappingsAt(obj, path.slice(0, -1))) {
        const key = path[path.length - 1] ?? '';
        if (value[key] !== undefined) {
          report.fail(parent === '' ? key : `${parent}.${key}`, `unknown field in ${written} (added in ${next}): write apiVersion ${newest}`);
        }
      }
    },
  };
}

/** A field that never had an effect: removed, with a warning so nobody believes it did something. */
function dropped(path: readonly string[], note: string, flux: string): FieldRule {
  const field = path.join('.');
  return {
    field, action: 'dropped', flux,
    apply: (obj, report) => {
      const parent = at(obj, path.slice(0, -1));
      const key = path[path.length - 1] ?? '';
      if (parent === undefined || !(key in parent)) return;
      Reflect.deleteProperty(parent, key);
      report.warn(field, note);
    },
  };
}

/** Every mapping at `path` ('*' = each element of a list), with its formatted field name. */
function mappingsAt(obj: Raw, path: readonly string[]): { readonly value: Raw; readonly field: string }[] {
  let found: { value: unknown; field: string }[] = [{ value: obj, field: '' }];
  for (const segment of path) {
    found = found.flatMap(({ value, field }) => {
      if (segment === '*') return Array.isArray(value) ? value.map((item: unknown, i) => ({ value: item, field: `${field}[${i}]` })) : [];
      return isRecord(value) && value[segment] !== undefined ? [{ value: value[segment], field: field === '' ? segment : `${field}.${segment}` }] : [];
    });
  }
  return found.flatMap(({ value, field }) => (isRecord(value) ? [{ value, field }] : []));
}

function at(obj: Raw, path: readonly string[]): Raw | undefined {
  let current: unknown = obj;
  for (const segment of path) current = isRecord(current) ? current[segment] : undefined;
  return isRecord(current) ? current : undefined;
}

/**
 * The `patches` list of the mapping at `field`, to add converted patches to; undefined (and
 * an error) when it is there but not a list.
 */
function patchesOf(holder: Raw, field: string, report: Report): unknown[] | undefined {
  const patches: unknown = holder.patches ?? [];
  if (!Array.isArray(patches)) {
    report.fail(`${field}.patches`, 'expected a list');
    return undefined;
  }
  return patches as unknown[];
}

/**
 * A removed patch list (`key` under each mapping at `holderPath`) → entries of that mapping's
 * `patches`, each item converted by `item` (undefined after reporting an error), put before the
 * written patches (`first`) or after them, where kustomize applied the old list.
 */
function patchListRule(holderPath: readonly string[], key: string, flux: string, how: {
  readonly notAList: string;
  readonly item: (item: unknown, field: string, report: Report) => Raw | undefined;
  readonly first: boolean;
  /** The warning after the field: what was done and what to write. */
  readonly advice: (patchesField: string) => string;
}): FieldRule {
  return {
    field: [...holderPath, key].join('.').replace(/\.\*/g, '[*]'), action: 'converted', flux,
    apply: (obj, report) => {
      for (const { value: holder, field: holderField } of mappingsAt(obj, holderPath)) {
        if (holder[key] === undefined) continue;
        const here = `${holderField}.${key}`;
        const list = holder[key];
        Reflect.deleteProperty(holder, key);
        if (!Array.isArray(list)) {
          report.fail(here, how.notAList);
          continue;
        }
        const converted = list.flatMap((item: unknown, i) => how.item(item, `${here}[${i}]`, report) ?? []);
        const patches = patchesOf(holder, holderField, report);
        if (patches === undefined) continue;
        holder.patches = how.first ? [...converted, ...patches] : [...patches, ...converted];
        if (how.first) report.shifted(`${holderField}.patches`, converted.length);
        if (list.length > 0) report.warn(here, how.advice(`${holderField}.patches`));
      }
    },
  };
}

/**
 * patchesStrategicMerge → patches, each mapping becoming one patch without a target (kustomize
 * finds the target in the patch itself). They go first: Flux wrote them to kustomization.yaml's
 * patchesStrategicMerge (fluxcd/pkg kustomize/kustomize_generator.go 9c489959; helm-controller
 * internal/postrender/kustomize.go v0.37.0), which kustomize applies before `patches`
 * (kubernetes-sigs/kustomize api/internal/target/kusttarget.go configureBuiltinTransformers).
 */
function strategicMergePatches(holderPath: readonly string[], removedIn: string, flux: string): FieldRule {
  return patchListRule(holderPath, 'patchesStrategicMerge', flux, {
    notAList: 'expected a list of strategic merge patches (mappings)',
    item: (item, field, report) => {
      if (isRecord(item)) return { patch: JSON.stringify(item) };
      report.fail(field, 'expected a mapping (a strategic merge patch: apiVersion, kind, metadata and the fields to merge)');
      return undefined;
    },
    first: true,
    advice: (patches) => `converted to ${patches} (removed in ${removedIn}: move each patch there as {patch: <the YAML>} before running flux migrate)`,
  });
}

/** Flux's kustomize.Selector fields (fluxcd/pkg apis/kustomize/kustomize_types.go). */
const SELECTOR_FIELDS = ['group', 'version', 'kind', 'namespace', 'name', 'annotationSelector', 'labelSelector'];
/** kustomize.JSON6902 Op's enum (fluxcd/pkg apis/kustomize/kustomize_types.go). */
const JSON6902_OPS = ['test', 'remove', 'add', 'replace', 'move', 'copy'];

/**
 * patchesJson6902 → patches, each becoming {patch: <the operations as JSON>, target}. They go
 * last, where kustomize applied them (see strategicMergePatches); the JSON is what Flux wrote
 * (json.Marshal of []kustomize.JSON6902: op, path, from, value), fluxcd/pkg
 * kustomize/kustomize_generator.go 9c489959.
 */
function json6902Patches(holderPath: readonly string[], removedIn: string, flux: string): FieldRule {
  return patchListRule(holderPath, 'patchesJson6902', flux, {
    notAList: 'expected a list of {target, patch}',
    item: json6902Patch,
    first: false,
    advice: (patches) => `converted to ${patches} (removed in ${removedIn}: move each as {patch: <the operations>, target} before running flux migrate)`,
  });
}

/** One kustomize.JSON6902Patch checked like Flux's CRD did, as a `patches` entry; undefined after an error. */
function json6902Patch(item: unknown, field: string, report: Report): Raw | undefined {
  if (!isRecord(item)) {
    report.fail(field, 'expected a mapping: {target: {kind: ..., name: ...}, patch: [{op: ..., path: ...}]}');
    return undefined;
  }
  const problems: [string, string][] = [];
  for (const key of Object.keys(item)) if (key !== 'target' && key !== 'patch') problems.push([`${field}.${key}`, 'unknown field']);
  const { target, patch } = item;
  if (!isRecord(target)) problems.push([`${field}.target`, target === undefined ? 'required: the objects to patch, e.g. {kind: Deployment, name: web}' : 'expected a mapping']);
  else {
    for (const [key, value] of Object.entries(target)) {
      if (!SELECTOR_FIELDS.includes(key)) problems.push([`${field}.target.${key}`, 'unknown field']);
      else if (typeof value !== 'string') problems.push([`${field}.target.${key}`, 'expected a string']);
    }
  }
  const operations: Raw[] = [];
  if (!Array.isArray(patch)) problems.push([`${field}.patch`, patch === undefined ? 'required: the JSON 6902 operations, e.g. [{op: replace, path: /spec/replicas, value: 2}]' : 'expected a list']);
  else {
    patch.forEach((op: unknown, i) => {
      const where = `${field}.patch[${i}]`;
      if (!isRecord(op)) {
        problems.push([where, 'expected a mapping: {op, path, from, value}']);
        return;
      }
      for (const key of Object.keys(op)) if (!['op', 'path', 'from', 'value'].includes(key)) problems.push([`${where}.${key}`, 'unknown field']);
      if (typeof op.op !== 'string' || !JSON6902_OPS.includes(op.op)) problems.push([`${where}.op`, `must be one of ${JSON6902_OPS.join(', ')}`]);
      if (typeof op.path !== 'string') problems.push([`${where}.path`, 'required: a JSON pointer such as /spec/replicas']);
      if (op.from !== undefined && typeof op.from !== 'string') problems.push([`${where}.from`, 'expected a string']);
      // Go's struct order, omitting what is empty (omitempty).
      operations.push({
        op: op.op, path: op.path,
        ...(op.from === undefined || op.from === '' ? {} : { from: op.from }),
        ...(op.value === undefined ? {} : { value: op.value }),
      });
    });
  }
  for (const [where, message] of problems) report.fail(where, message);
  return problems.length === 0 && isRecord(target) ? { patch: JSON.stringify(operations), target } : undefined;
}

/**
 * spec.chart.spec.valuesFile → the first of valuesFiles: "for backwards compatibility the file
 * defined here is merged before the ValuesFiles items" (fluxcd/helm-controller
 * api/v2beta2/helmrelease_types.go v1.4.0; fluxcd/source-controller api/v1beta2/helmchart_types.go
 * v1.7.0 GetValuesFiles prepends it).
 */
function valuesFile(): FieldRule {
  const field = 'spec.chart.spec.valuesFile';
  return {
    field, action: 'converted',
    flux: 'fluxcd/helm-controller api/v2beta2/helmrelease_types.go (v1.4.0): HelmChartTemplateSpec.ValuesFile; fluxcd/source-controller api/v1beta2/helmchart_types.go (v1.7.0): GetValuesFiles',
    apply: (obj, report) => {
      const template = at(obj, ['spec', 'chart', 'spec']);
      if (template?.valuesFile === undefined) return;
      const file = template.valuesFile;
      delete template.valuesFile;
      if (typeof file !== 'string') {
        report.fail(field, 'expected a string');
        return;
      }
      // Empty is unset (omitempty).
      if (file === '') return;
      const files: unknown = template.valuesFiles ?? [];
      if (!Array.isArray(files)) {
        report.fail('spec.chart.spec.valuesFiles', 'expected a list');
        return;
      }
      template.valuesFiles = [file, ...(files as unknown[])];
      report.warn(field, `converted to spec.chart.spec.valuesFiles (removed in ${HELM}/v2: write valuesFiles: [${JSON.stringify(file)}${files.length > 0 ? ', ...' : ''}] before running flux migrate)`);
    },
  };
}

const MESSAGE_TEMPLATE_DOCS = 'https://fluxcd.io/flux/components/image/imageupdateautomations/#message-template';

/**
 * Why a commit message template cannot run on image-automation-controller v1.0.0 and later:
 * it reaches the removed .Updated or .Changed.ImageResult (Flux's RemovedTemplateFieldError
 * texts, with the v1 equivalents). Looks inside {{ }} only, for the field of the root data
 * ($.Updated, or .Updated not following another name); undefined when the template is fine.
 */
export function removedTemplateFieldProblem(template: string): string | undefined {
  const actions = [...template.matchAll(/\{\{([\s\S]*?)\}\}/g)].map((m) => m[1] ?? '');
  if (actions.some((a) => /(^|[^\w\])$.])\.Updated\b|\$\.Updated\b/.test(a))) {
    return "template uses removed '.Updated' field (removed in image-automation-controller v1.0.0, Flux 2.7). Please use '.Changed' instead: "
      + `.Updated.Files → .Changed.FileChanges, .Updated.Objects → .Changed.Objects, .Updated.Images → .Changed.Changes (.NewValue). See ${MESSAGE_TEMPLATE_DOCS}`;
  }
  if (actions.some((a) => /(^|[^\w\])$.])\.Changed\.ImageResult\b|\$\.Changed\.ImageResult\b/.test(a))) {
    return "template uses removed '.Changed.ImageResult' field (removed in image-automation-controller v1.0.0, Flux 2.7). "
      + `Please use '.Changed.FileChanges' or '.Changed.Objects' instead. See ${MESSAGE_TEMPLATE_DOCS}`;
  }
  return undefined;
}

/** A deep copy of plain YAML data (structuredClone is not in every JavaScript sandbox). */
function clone(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(clone);
  if (!isRecord(value)) return value;
  const out: Raw = {};
  for (const [key, v] of Object.entries(value)) out[key] = clone(v);
  return out;
}
