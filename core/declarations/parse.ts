// Flux YAML → the typed, validated, defaulted declarations of core/declarations/types.ts.
//
// The flow for one file: parseManifests (core/manifests.ts) splits the YAML into objects;
// an object of an older Flux apiVersion is converted to the newest one the way Flux's API
// evolution does (core/declarations/versions.ts: one deprecation warning, removed fields
// converted, dropped or refused); each object's apiVersion/kind is classified (read, skipped as
// a Flux kind Flotilla does not reconcile yet, or refused); a zod schema of the newest version
// checks its shape like Flux's CRDs do (unknown fields are errors, durations/URLs/refs/paths are
// checked where they are); then a builder fills in Flux's defaults. Every problem becomes a
// DeclarationError naming the file, the object (Kind/namespace/name) and the field
// (spec.patches[1].target.kind). A declaration carries the newest apiVersion.
//
// Versions read (newest first; the older ones are converted, docs/flux-repositories.md has the
// table of what is converted or refused):
// - GitRepository, HelmRepository: source.toolkit.fluxcd.io/v1, v1beta2, v1beta1.
// - Kustomization: kustomize.toolkit.fluxcd.io/v1, v1beta2, v1beta1.
// - HelmRelease: helm.toolkit.fluxcd.io/v2, v2beta2, v2beta1.
// - ImageRepository, ImagePolicy, ImageUpdateAutomation: image.toolkit.fluxcd.io/v1, v1beta2, v1beta1.
// - Provider, Alert: notification.toolkit.fluxcd.io/v1beta3, v1beta2, v1beta1 (Flux has no v1 of them).
// - Receiver: notification.toolkit.fluxcd.io/v1, v1beta2, v1beta1.
//
// Defaults, as Flux applies them unless noted:
// - metadata.namespace: "default", what kubectl would use for an object without one.
// - GitRepository: ref = branch "master"; timeout 60s; suspend false; include fromPath "."
//   and toPath = the included repository's name.
// - Kustomization: retryInterval and timeout = interval; path "." (the source root);
//   wait/force/suspend false; sourceRef, dependsOn and healthChecks namespaces = the
//   Kustomization's own; placement (Flotilla's) = every registered cluster.
// - HelmRepository: type "default"; interval 1m and timeout 60s; provider "generic".
// - HelmRelease (helm-controller api/v2): chart version "*"; chart interval = interval;
//   reconcileStrategy ChartVersion; timeout 5m, and every action's timeout = timeout;
//   releaseName `[<targetNamespace>-]<name>` (hashed past 53 characters); targetNamespace and
//   storageNamespace = its own namespace; install.crds Create, upgrade.crds Skip; remediation
//   retries 0, upgrade strategy rollback, upgrade remediateLastFailure = retries > 0, install
//   remediateLastFailure false, ignoreTestFailures = test.ignoreFailures; valuesKey
//   "values.yaml"; maxHistory 5; placement = every registered cluster.
// - Provider (notification v1beta3): timeout 15s; suspend false. Types generic, generic-hmac,
//   slack, msteams, github (Flux's others are refused by name).
// - Alert (notification v1beta3): eventSeverity info; eventSources namespaces = the Alert's;
//   no inclusion/exclusion lists; no eventMetadata; suspend false. Regexes are compiled here.
// - ImageRepository (image v1): timeout = interval; exclusionList ["^.*\\.sig$"]; insecure
//   and suspend false. ImagePolicy: imageRepositoryRef namespace = its own; alphabetical and
//   numerical order asc. ImageUpdateAutomation: sourceRef kind GitRepository in its own
//   namespace; checkout branch = the GitRepository's; push branch = the checkout branch; author
//   name "Flotilla"; Flux's default message template; update path "." with strategy Setters.
// - Receiver (notification v1): interval 10m; events none (= all); resources namespaces = the
//   Receiver's; suspend false.
// - rollout (Flotilla's, on Kustomizations and HelmReleases): none = every placed cluster at
//   once; onFailure rollback; per wave maxFailures 0, bakeTime 0, approval false; analysis
//   interval 10s, timeout 5s, failureLimit 0, successCodes 200..299, no headers.
// - Durations are Go durations rounded up to whole seconds (core/declarations/duration.ts).
//
// Flux fields Flotilla accepts but does not act on yet (e.g. verify, decryption) are listed
// in *_IGNORED below and reported as warnings, so nobody believes they took effect.
// Pure (no Node built-ins): workflow code may import it.
import semver from 'semver';
import { z } from 'zod';
import { renderSafetyProblems } from '../render-safety.js';
import { isRecord, parseManifests } from '../manifests.js';
import { defaultReleaseName, MAX_RELEASE_NAME } from '../helm-release.js';
import { parseCountOrPercent } from '../rollout-plan.js';
import { parseGoDuration, parseGoDurationSeconds } from './duration.js';
import { compileGoRegex } from '../go-regex.js';
import { commitTemplateProblem } from '../image/message-template.js';
import { selectTag } from '../image/policy.js';
import type {
  AlertDeclaration, AnalysisCheck, CommonMetadata, CountOrPercent, CrdsPolicy, DataDeclaration, Declaration, DeclarationKind, EventSourceKind, GitRef,
  GitRepositoryDeclaration, HelmReleaseDeclaration, ImagePolicyDeclaration, ImagePolicyRule, ImagePolicySpec, ImageRepositoryDeclaration, ImageUpdateAutomationDeclaration, HelmRepositoryDeclaration, KustomizationDeclaration, KustomizePatch, LabelSelector, Placement,
  PostBuild, ProviderDeclaration, ProviderType, ReceiverDeclaration, ReceiverResourceKind, ReceiverType, RolloutStrategy, RolloutWave,
} from './types.js';
import { declarationId } from './types.js';
import { olderVersions, removedTemplateFieldProblem, versionRule } from './versions.js';

export interface DeclarationError {
  readonly file: string;
  /** 1-based YAML document in the file, when known. */
  readonly document?: number;
  /** e.g. Kustomization/flux-system/apps */
  readonly object?: string;
  /** e.g. spec.interval */
  readonly field?: string;
  readonly message: string;
}

export interface ParsedDeclarations {
  readonly declarations: readonly Declaration[];
  readonly errors: readonly DeclarationError[];
  /** Objects of kinds Flotilla does not reconcile yet, e.g. "OCIRepository/x/y". */
  readonly ignored: readonly string[];
  /** Fields that were accepted but have no effect yet (same shape as errors; nothing is refused). */
  readonly warnings: readonly DeclarationError[];
}

/** A declaration with where it was declared (for duplicate reports and messages). */
export interface SourcedDeclaration {
  readonly declaration: Declaration;
  readonly file: string;
  readonly document?: number;
}

/** One file's result before duplicates across files are looked for (see mergeParsed). */
export interface ParsedFile {
  readonly declarations: readonly SourcedDeclaration[];
  readonly errors: readonly DeclarationError[];
  readonly ignored: readonly string[];
  readonly warnings: readonly DeclarationError[];
}

/** "apps.yaml: Kustomization/flux-system/apps: spec.interval: invalid duration ..." */
export function formatDeclarationError(e: DeclarationError): string {
  // Without an object name, the document number is the only way to find the place.
  const where = e.object === undefined && e.document !== undefined ? `${e.file}#${e.document}` : e.file;
  return [where, e.object, e.field, e.message].filter((part) => part !== undefined && part !== '').join(': ');
}

/** Parses one file's text (YAML or JSON, several documents allowed). */
export function parseDeclarations(text: string, file: string): ParsedDeclarations {
  return mergeParsed([parseDeclarationFile(text, file)]);
}

/** Like parseDeclarations, but keeps where each declaration came from and does not look for duplicates. */
export function parseDeclarationFile(text: string, file: string): ParsedFile {
  const manifests = parseManifests(text, file);
  const errors: DeclarationError[] = manifests.errors.map((e) => ({
    file, document: documentOf(e.source, file), object: e.object, field: e.field, message: e.message,
  }));
  const declarations: SourcedDeclaration[] = [];
  const ignored: string[] = [];
  const warnings: DeclarationError[] = [];
  for (const { object, source } of manifests.objects) {
    const document = documentOf(source, file);
    const result = parseObject(object, file, document);
    switch (result.outcome) {
      case 'declaration':
        declarations.push({ declaration: result.declaration, file, document });
        warnings.push(...result.warnings);
        break;
      case 'ignored':
        ignored.push(result.description);
        break;
      case 'invalid':
        errors.push(...result.errors);
        break;
    }
  }
  return { declarations, errors, ignored, warnings };
}

/**
 * Joins several files' results. An object declared twice (same kind, namespace and name) is
 * an error naming both places; the first declaration is kept.
 */
export function mergeParsed(files: readonly ParsedFile[]): ParsedDeclarations {
  const seen = new Map<string, SourcedDeclaration>();
  const declarations: Declaration[] = [];
  const errors: DeclarationError[] = [];
  for (const f of files) {
    errors.push(...f.errors);
    for (const item of f.declarations) {
      const id = declarationId(item.declaration);
      const first = seen.get(id);
      if (first === undefined) {
        seen.set(id, item);
        declarations.push(item.declaration);
      } else {
        const firstPlace = first.document === undefined ? first.file : `${first.file}#${first.document}`;
        errors.push({
          file: item.file, document: item.document, object: describe(item.declaration),
          message: `declared twice: also in ${firstPlace} (each object may be declared once)`,
        });
      }
    }
  }
  return {
    declarations,
    errors,
    ignored: files.flatMap((f) => f.ignored),
    warnings: files.flatMap((f) => f.warnings),
  };
}

/**
 * Validates and defaults one object. Objects of kinds Flotilla skips (OCIRepository, ...) are
 * an error here, since the caller asked for a declaration; parseDeclarations lists them in
 * `ignored` instead. Warnings about accepted-but-unused fields are only reported by
 * parseDeclarations.
 */
export function parseDeclarationObject(obj: Record<string, unknown>, file: string): Declaration | DeclarationError[] {
  const result = parseObject(obj, file, undefined);
  switch (result.outcome) {
    case 'declaration': return result.declaration;
    case 'ignored': return [{ file, object: result.description, message: 'Flotilla does not reconcile this kind yet' }];
    case 'invalid': return result.errors;
  }
}

// ---------------------------------------------------------------------------------------
// Kinds and versions

/**
 * The kinds Flotilla reads, with their newest apiVersion: the one to write, and the one every
 * older version Flux served is converted to (core/declarations/versions.ts).
 */
const SUPPORTED: Readonly<Record<DeclarationKind, string>> = {
  GitRepository: 'source.toolkit.fluxcd.io/v1',
  Kustomization: 'kustomize.toolkit.fluxcd.io/v1',
  ConfigMap: 'v1',
  Secret: 'v1',
  HelmRepository: 'source.toolkit.fluxcd.io/v1',
  HelmRelease: 'helm.toolkit.fluxcd.io/v2',
  Provider: 'notification.toolkit.fluxcd.io/v1beta3',
  Alert: 'notification.toolkit.fluxcd.io/v1beta3',
  Receiver: 'notification.toolkit.fluxcd.io/v1',
  ImageRepository: 'image.toolkit.fluxcd.io/v1',
  ImagePolicy: 'image.toolkit.fluxcd.io/v1',
  ImageUpdateAutomation: 'image.toolkit.fluxcd.io/v1',
};

/** Flux kinds that are valid input but not reconciled yet, with their API group (any version). */
const SKIPPED_FLUX_KINDS: Readonly<Record<string, string>> = {
  HelmChart: 'source.toolkit.fluxcd.io',
  OCIRepository: 'source.toolkit.fluxcd.io',
  Bucket: 'source.toolkit.fluxcd.io',
};

/**
 * Flux kinds Flotilla refuses, with what to do instead. Flux 2.7's ArtifactGenerator (run by
 * source-watcher) carves sub-artifacts out of a source and publishes them as ExternalArtifacts;
 * Flotilla builds every Kustomization straight from its GitRepository, so the same result is a
 * Kustomization whose spec.path is the directory the generator copied.
 */
const REFUSED_FLUX_KINDS: Readonly<Record<string, { readonly group: string; readonly message: string }>> = {
  ArtifactGenerator: {
    group: 'source.extensions.fluxcd.io',
    message: 'ArtifactGenerator is not supported: Flotilla builds each Kustomization straight from its GitRepository. '
      + 'Point the Kustomizations that use the generated ExternalArtifact at the GitRepository instead '
      + '(sourceRef: {kind: GitRepository, name: <the generator\'s source>}) with spec.path set to the directory the generator copies',
  },
  ExternalArtifact: {
    group: 'source.toolkit.fluxcd.io',
    message: 'ExternalArtifact is not supported: it is produced by an ArtifactGenerator or another controller, which Flotilla does not run. '
      + 'Use a GitRepository (or HelmRepository) source and spec.path for the sub-directory',
  },
};

/** kustomize's own build file (kustomization.yaml): input to a build, not an object to reconcile. */
const KUSTOMIZE_BUILD_GROUP = 'kustomize.config.k8s.io';

type Classified =
  | { readonly kind: 'supported'; readonly declarationKind: DeclarationKind }
  | { readonly kind: 'skipped'; readonly note?: string }
  | { readonly kind: 'refused'; readonly field: string; readonly message: string };

function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

function isDeclarationKind(kind: string): kind is DeclarationKind {
  return Object.hasOwn(SUPPORTED, kind);
}

function classify(apiVersion: string, kind: string): Classified {
  const group = groupOf(apiVersion);
  if (group === KUSTOMIZE_BUILD_GROUP) return { kind: 'skipped', note: `${apiVersion}: a kustomize build file, not a Flux object` };
  if (isDeclarationKind(kind)) {
    const newest = SUPPORTED[kind];
    if (apiVersion === newest) return { kind: 'supported', declarationKind: kind };
    if (groupOf(newest) === group) {
      const older = olderVersions(kind);
      return {
        kind: 'refused', field: 'apiVersion',
        message: `${kind} ${apiVersion} is not supported: use ${newest}${older.length > 0 ? ` (older versions read: ${older.join(', ')})` : ''}`,
      };
    }
  }
  if (SKIPPED_FLUX_KINDS[kind] === group) return { kind: 'skipped' };
  const refused = REFUSED_FLUX_KINDS[kind];
  if (refused?.group === group) return { kind: 'refused', field: 'kind', message: refused.message };
  const supported = Object.entries(SUPPORTED).map(([k, newest]) => `${newest} ${k}`).join(', ');
  return {
    kind: 'refused', field: 'kind',
    message: `unsupported object ${apiVersion} ${kind}: Flotilla reads ${supported} ` +
      `(Flux's ${Object.keys(SKIPPED_FLUX_KINDS).join(', ')} are accepted and skipped for now)`,
  };
}

// ---------------------------------------------------------------------------------------
// One object

export type ObjectResult =
  | { readonly outcome: 'declaration'; readonly declaration: Declaration; readonly warnings: DeclarationError[] }
  | { readonly outcome: 'ignored'; readonly description: string }
  | { readonly outcome: 'invalid'; readonly errors: DeclarationError[] };

/** Namespace of objects that do not name one: kubectl's default namespace. */
const DEFAULT_NAMESPACE = 'default';

/** One object: a declaration (with its warnings), a kind Flotilla skips, or the errors. */
export function parseObject(input: Record<string, unknown>, file: string, document: number | undefined): ObjectResult {
  // Kubernetes drops null fields of a CRD before validating (`ref:` with nothing under it).
  const written = dropNulls(input) as Record<string, unknown>;
  const kind = typeof written.kind === 'string' ? written.kind : '';
  const meta = isRecord(written.metadata) ? written.metadata : {};
  const namespace = typeof meta.namespace === 'string' ? meta.namespace : DEFAULT_NAMESPACE;
  const objectName = typeof meta.name === 'string' ? `${kind}/${namespace}/${meta.name}` : kind || undefined;
  const at = { file, document, object: objectName };
  const writtenVersion = typeof written.apiVersion === 'string' ? written.apiVersion : '';
  if (writtenVersion === '' || kind === '') {
    return { outcome: 'invalid', errors: [{ ...at, field: writtenVersion === '' ? 'apiVersion' : 'kind', message: 'required field is missing' }] };
  }

  // An older Flux version is rewritten to the newest first: from here on, only newest-version objects.
  const rule = versionRule(kind, writtenVersion);
  const conversion = rule?.convert(written);
  if (conversion !== undefined && conversion.errors.length > 0) {
    return { outcome: 'invalid', errors: conversion.errors.map((e) => ({ ...at, field: e.field, message: e.message })) };
  }
  const obj = conversion?.object ?? written;
  const apiVersion = rule?.newest ?? writtenVersion;

  const classified = classify(apiVersion, kind);
  switch (classified.kind) {
    case 'skipped': {
      const description = objectName ?? kind;
      return { outcome: 'ignored', description: classified.note === undefined ? description : `${description} (${classified.note})` };
    }
    case 'refused':
      return { outcome: 'invalid', errors: [{ ...at, field: classified.field, message: classified.message }] };
    case 'supported':
      break;
  }

  const ctx: BuildContext = { namespace, apiVersion };
  let built: { declaration: Declaration; ignoredFields: readonly IgnoredField[]; warnings?: readonly FieldWarning[] } | z.core.$ZodIssue[];
  switch (classified.declarationKind) {
    case 'GitRepository': {
      const r = GitRepositoryObject.safeParse(obj);
      built = r.success ? { declaration: buildGitRepository(r.data, ctx), ignoredFields: GIT_REPOSITORY_IGNORED } : r.error.issues;
      break;
    }
    case 'Kustomization': {
      const r = KustomizationObject.safeParse(obj);
      built = r.success ? { declaration: buildKustomization(r.data, ctx), ignoredFields: KUSTOMIZATION_IGNORED } : r.error.issues;
      break;
    }
    case 'ConfigMap': {
      const r = ConfigMapObject.safeParse(obj);
      built = r.success ? { declaration: buildConfigMap(r.data, ctx), ignoredFields: CONFIGMAP_IGNORED } : r.error.issues;
      break;
    }
    case 'Secret': {
      const r = SecretObject.safeParse(obj);
      built = r.success ? { declaration: buildSecret(r.data, ctx), ignoredFields: [] } : r.error.issues;
      break;
    }
    case 'HelmRepository': {
      const r = HelmRepositoryObject.safeParse(obj);
      built = r.success ? { declaration: buildHelmRepository(r.data, ctx), ignoredFields: HELM_REPOSITORY_IGNORED } : r.error.issues;
      break;
    }
    case 'HelmRelease': {
      const r = HelmReleaseObject.safeParse(keepHelmValueNulls(input, obj));
      built = r.success
        ? { declaration: buildHelmRelease(r.data, ctx), ignoredFields: HELM_RELEASE_IGNORED, warnings: helmReleaseWarnings(r.data) }
        : r.error.issues;
      break;
    }
    case 'Provider': {
      const r = ProviderObject.safeParse(obj);
      built = r.success ? { declaration: buildProvider(r.data, ctx), ignoredFields: PROVIDER_IGNORED } : r.error.issues;
      break;
    }
    case 'Alert': {
      const r = AlertObject.safeParse(obj);
      built = r.success ? { declaration: buildAlert(r.data, ctx), ignoredFields: [], warnings: alertWarnings(r.data) } : r.error.issues;
      break;
    }
    case 'ImageRepository': {
      const r = ImageRepositoryObject.safeParse(obj);
      built = r.success ? { declaration: buildImageRepository(r.data, ctx), ignoredFields: IMAGE_REPOSITORY_IGNORED } : r.error.issues;
      break;
    }
    case 'ImagePolicy': {
      const r = ImagePolicyObject.safeParse(obj);
      built = r.success ? { declaration: buildImagePolicy(r.data, ctx), ignoredFields: IMAGE_POLICY_IGNORED } : r.error.issues;
      break;
    }
    case 'ImageUpdateAutomation': {
      const r = ImageUpdateAutomationObject.safeParse(obj);
      built = r.success ? { declaration: buildImageUpdateAutomation(r.data, ctx), ignoredFields: IMAGE_UPDATE_AUTOMATION_IGNORED } : r.error.issues;
      break;
    }
    case 'Receiver': {
      const r = ReceiverObject.safeParse(obj);
      built = r.success
        ? { declaration: buildReceiver(r.data, ctx), ignoredFields: RECEIVER_IGNORED, warnings: receiverWarnings(r.data) }
        : r.error.issues;
      break;
    }
  }
  // Problems in a converted object are reported where the user wrote them.
  const asWritten = <T extends { readonly field?: string }>(e: T): T =>
    (conversion === undefined || e.field === undefined ? e : { ...e, field: conversion.writtenField(e.field) });
  if (Array.isArray(built)) {
    return { outcome: 'invalid', errors: built.flatMap((issue) => issueToErrors(issue, obj, at, kind)).map(asWritten) };
  }
  const extra = (built.warnings ?? []).map((w) => ({ ...at, field: w.field, message: w.message }));
  const converted = (conversion?.warnings ?? []).map((w) => ({ ...at, field: w.field, message: w.message }));
  const warnings = [...converted, ...[...ignoredFieldWarnings(obj, built.ignoredFields, at), ...extra].map(asWritten)];
  // The declaration carries them, so the actor's status can show them (never silently ignored).
  const declaration = warnings.length === 0 ? built.declaration
    : { ...built.declaration, warnings: warnings.map((w) => (w.field === undefined ? w.message : `${w.field}: ${w.message}`)) };
  return { outcome: 'declaration', declaration, warnings };
}

// ---------------------------------------------------------------------------------------
// Field checks shared by the schemas

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
/** postBuild variable names, as kustomize-controller checks them. */
const VAR_NAME = /^[_a-zA-Z][_a-zA-Z0-9]*$/;

/** A string schema with a check that returns an error message, or undefined when fine. */
function checkedString(check: (value: string) => string | undefined) {
  return z.string().superRefine((value, ctx) => {
    const message = check(value);
    if (message !== undefined) ctx.addIssue({ code: 'custom', message });
  });
}

function dnsLabelProblem(value: string): string | undefined {
  return value.length <= 63 && DNS_LABEL.test(value) ? undefined
    : `invalid name ${JSON.stringify(value)}: must be a DNS label (at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit)`;
}

function dnsSubdomainProblem(value: string): string | undefined {
  return value.length <= 253 && DNS_SUBDOMAIN.test(value) ? undefined
    : `invalid name ${JSON.stringify(value)}: must be a DNS subdomain (at most 253 lowercase letters, digits, '-' and '.', starting and ending with a letter or digit)`;
}

function labelKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  const prefixOk = prefix === undefined || (prefix.length <= 253 && DNS_SUBDOMAIN.test(prefix));
  return prefixOk && name.length <= 63 && LABEL_NAME.test(name) ? undefined
    : `invalid key ${JSON.stringify(key)}: want an optional DNS-subdomain prefix and '/', then at most 63 letters, digits, '-', '_' and '.'`;
}

function labelValueProblem(value: string): string | undefined {
  return value === '' || (value.length <= 63 && LABEL_NAME.test(value)) ? undefined
    : `invalid label value ${JSON.stringify(value)}: at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit`;
}

const dnsLabel = checkedString(dnsLabelProblem);
const dnsSubdomain = checkedString(dnsSubdomainProblem);
const nonEmpty = z.string().min(1);

const labelMap = z.record(z.string(), z.string()).superRefine((labels, ctx) => {
  for (const [key, value] of Object.entries(labels)) {
    const message = labelKeyProblem(key) ?? labelValueProblem(value);
    if (message !== undefined) ctx.addIssue({ code: 'custom', message, path: [key] });
  }
});

const annotationMap = z.record(z.string(), z.string()).superRefine((annotations, ctx) => {
  for (const key of Object.keys(annotations)) {
    const message = labelKeyProblem(key);
    if (message !== undefined) ctx.addIssue({ code: 'custom', message, path: [key] });
  }
});

/** A Go duration, as whole seconds (rounded up) greater than zero. */
const duration = z.string().transform((text, ctx) => {
  try {
    return parseGoDurationSeconds(text);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
    return z.NEVER;
  }
});

/**
 * A path inside a source, normalised: "./apps/" → "apps", "" or "./" → ".". Absolute paths
 * and paths that climb out of the source root with ".." are refused. Returns the normalised
 * path or an Error.
 */
export function normalizeSourcePath(path: string): string | Error {
  if (path.startsWith('/')) return new Error(`path ${JSON.stringify(path)} must be relative to the source root (drop the leading '/')`);
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.pop() === undefined) return new Error(`path ${JSON.stringify(path)} leaves the source root ('..' climbs above it)`);
    } else parts.push(part);
  }
  return parts.length === 0 ? '.' : parts.join('/');
}

const sourcePath = z.string().transform((text, ctx) => {
  const result = normalizeSourcePath(text);
  if (result instanceof Error) {
    ctx.addIssue({ code: 'custom', message: result.message });
    return z.NEVER;
  }
  return result;
});

/** An object under metadata: the fields users write are checked, the ones servers add are allowed. */
const Metadata = z.strictObject({
  name: dnsSubdomain,
  namespace: dnsLabel.optional(),
  labels: labelMap.optional(),
  annotations: annotationMap.optional(),
  // Written by the API server; present in `kubectl get -o yaml` output, meaningless here.
  generateName: z.unknown().optional(),
  uid: z.unknown().optional(),
  resourceVersion: z.unknown().optional(),
  generation: z.unknown().optional(),
  creationTimestamp: z.unknown().optional(),
  deletionTimestamp: z.unknown().optional(),
  deletionGracePeriodSeconds: z.unknown().optional(),
  finalizers: z.unknown().optional(),
  ownerReferences: z.unknown().optional(),
  managedFields: z.unknown().optional(),
  selfLink: z.unknown().optional(),
});
type Metadata = z.infer<typeof Metadata>;

/** A reference to an object in the same namespace: `{ name }`. */
const LocalRef = z.strictObject({ name: dnsSubdomain });

// ---------------------------------------------------------------------------------------
// GitRepository (source.toolkit.fluxcd.io)

/** https://, http://, ssh://, file:// (Flotilla's addition, for local repositories) or scp-like user@host:path. */
function gitUrlProblem(url: string): string | undefined {
  if (/^(https?|ssh):\/\/[^\s/]+(\/\S*)?$/.test(url)) return undefined;
  if (/^file:\/\/\S+$/.test(url)) return undefined;
  if (/^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:(?!\/\/)\S+$/.test(url)) return undefined;
  return `unsupported URL ${JSON.stringify(url)}: use https://, http://, ssh://, git@host:path or file://`;
}

/** git check-ref-format, the parts that matter for a written reference. */
function refNameProblem(name: string): string | undefined {
  const ok = name.startsWith('refs/') && !/[\s~^:?*[\\]|\.\.|@\{|\/\/|\/$|\.lock$|\.$/.test(name);
  return ok ? undefined : `invalid reference ${JSON.stringify(name)}: want a full reference name such as refs/heads/main or refs/pull/1/head`;
}

/** Masterminds/semver (Flux's) separates AND-ed constraints with commas; node-semver with spaces. */
function toNodeSemverRange(range: string): string {
  return range.replace(/,/g, ' ').replace(/\s+/g, ' ').trim();
}

const GitRefSchema = z.strictObject({
  branch: z.string().optional(),
  tag: z.string().optional(),
  semver: z.string().optional(),
  name: z.string().optional(),
  commit: z.string().optional(),
}).superRefine((ref, ctx) => {
  // An empty string is "not set", as Flux's omitempty fields treat it.
  const set = (['tag', 'semver', 'name', 'commit'] as const).filter((k) => (ref[k] ?? '') !== '');
  if (set.length > 1) {
    ctx.addIssue({ code: 'custom', message: `set only one of tag, semver, name and commit (found ${set.join(' and ')})` });
  }
  if ((ref.branch ?? '') !== '' && set.some((k) => k !== 'commit')) {
    ctx.addIssue({ code: 'custom', message: `branch can only be combined with commit (found branch and ${set.join(' and ')})` });
  }
  if (ref.commit !== undefined && ref.commit !== '' && !/^[0-9a-fA-F]{40}$/.test(ref.commit)) {
    ctx.addIssue({ code: 'custom', path: ['commit'], message: `invalid commit ${JSON.stringify(ref.commit)}: want the full 40-character SHA` });
  }
  if (ref.semver !== undefined && ref.semver !== '' && semver.validRange(toNodeSemverRange(ref.semver)) === null) {
    ctx.addIssue({ code: 'custom', path: ['semver'], message: `invalid semver range ${JSON.stringify(ref.semver)}` });
  }
  if (ref.name !== undefined && ref.name !== '') {
    const message = refNameProblem(ref.name);
    if (message !== undefined) ctx.addIssue({ code: 'custom', path: ['name'], message });
  }
});

const GitRepositoryInclude = z.strictObject({
  repository: LocalRef,
  fromPath: sourcePath.optional(),
  toPath: sourcePath.optional(),
});

const GitRepositorySpecV1 = z.strictObject({
  url: checkedString(gitUrlProblem),
  secretRef: LocalRef.optional(),
  interval: duration,
  timeout: duration.optional(),
  ref: GitRefSchema.optional(),
  ignore: z.string().optional(),
  suspend: z.boolean().optional(),
  include: z.array(GitRepositoryInclude).optional(),
  // Accepted, not acted on yet (see GIT_REPOSITORY_IGNORED).
  provider: z.enum(['generic', 'aws', 'azure', 'github']).optional(),
  serviceAccountName: z.string().optional(),
  verify: z.unknown().optional(),
  proxySecretRef: z.unknown().optional(),
  recurseSubmodules: z.boolean().optional(),
  sparseCheckout: z.array(z.string()).optional(),
});

function fluxObject<S extends z.ZodType>(spec: S) {
  return z.strictObject({ apiVersion: z.string(), kind: z.string(), metadata: Metadata, spec, status: z.unknown().optional() });
}

const GitRepositoryObject = fluxObject(GitRepositorySpecV1);
type GitRepositoryInput = z.infer<typeof GitRepositoryObject>;

interface BuildContext {
  readonly namespace: string;
  readonly apiVersion: string;
}

function base(meta: Metadata, ctx: BuildContext) {
  return {
    apiVersion: ctx.apiVersion,
    namespace: ctx.namespace,
    name: meta.name,
    labels: meta.labels ?? {},
    annotations: meta.annotations ?? {},
  };
}

function buildGitRepository(obj: GitRepositoryInput, ctx: BuildContext): GitRepositoryDeclaration {
  const { spec } = obj;
  return {
    kind: 'GitRepository',
    ...base(obj.metadata, ctx),
    spec: {
      url: spec.url,
      intervalSeconds: spec.interval,
      timeoutSeconds: spec.timeout ?? 60,
      ref: buildRef(spec.ref),
      ignore: spec.ignore,
      include: (spec.include ?? []).map((inc) => ({
        repository: { namespace: ctx.namespace, name: inc.repository.name },
        fromPath: inc.fromPath ?? '.',
        toPath: inc.toPath ?? inc.repository.name,
      })),
      secretRef: spec.secretRef?.name,
      suspend: spec.suspend ?? false,
    },
  };
}

/** Only the fields that are set; branch "master" when none is (Flux's default). */
function buildRef(ref: z.infer<typeof GitRefSchema> | undefined): GitRef {
  const given = (value: string | undefined): string | undefined => (value === '' ? undefined : value);
  const out: { -readonly [K in keyof GitRef]: GitRef[K] } = {};
  const branch = given(ref?.branch);
  const tag = given(ref?.tag);
  const range = given(ref?.semver);
  const name = given(ref?.name);
  const commit = given(ref?.commit);
  if (branch !== undefined) out.branch = branch;
  if (tag !== undefined) out.tag = tag;
  if (range !== undefined) out.semver = toNodeSemverRange(range);
  if (name !== undefined) out.name = name;
  if (commit !== undefined) out.commit = commit.toLowerCase();
  return Object.keys(out).length === 0 ? { branch: 'master' } : out;
}

// ---------------------------------------------------------------------------------------
// Kustomization (kustomize.toolkit.fluxcd.io)

/** A sourceRef may name any source version Flotilla reads (Flux finds the source by kind and name). */
const SOURCE_API_VERSIONS = [SUPPORTED.GitRepository, ...olderVersions('GitRepository')];

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

const Patch = z.strictObject({ patch: nonEmpty, target: PatchSelector.optional() });

const Image = z.strictObject({
  name: nonEmpty,
  newName: z.string().optional(),
  newTag: z.string().optional(),
  digest: z.string().optional(),
});

const Dependency = z.strictObject({
  name: dnsSubdomain,
  namespace: dnsLabel.optional(),
  readyExpr: z.string().optional(), // accepted, not acted on yet
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

const CommonMetadataSchema = z.strictObject({ labels: labelMap.optional(), annotations: annotationMap.optional() });

const SelectorRequirement = z.strictObject({
  key: checkedString(labelKeyProblem),
  operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
  values: z.array(z.string()).optional(),
}).superRefine((req, ctx) => {
  const values = req.values ?? [];
  if ((req.operator === 'In' || req.operator === 'NotIn') && values.length === 0) {
    ctx.addIssue({ code: 'custom', path: ['values'], message: `operator ${req.operator} needs at least one value` });
  }
  if ((req.operator === 'Exists' || req.operator === 'DoesNotExist') && values.length > 0) {
    ctx.addIssue({ code: 'custom', path: ['values'], message: `operator ${req.operator} takes no values` });
  }
});

const LabelSelectorSchema = z.strictObject({
  matchLabels: labelMap.optional(),
  matchExpressions: z.array(SelectorRequirement).optional(),
});

/** Flotilla's addition: which registered clusters receive the build (see types.ts Placement). */
const PlacementSchema = z.strictObject({
  clusters: z.array(dnsLabel).optional(),
  clusterSelector: LabelSelectorSchema.optional(),
  hub: z.boolean().optional(),
}).superRefine((p, ctx) => {
  if (p.hub === true && ((p.clusters ?? []).length > 0 || p.clusterSelector !== undefined)) {
    ctx.addIssue({ code: 'custom', path: ['hub'], message: 'hub: true places the build on the hub; it cannot be combined with clusters or clusterSelector' });
  }
});

// ---------------------------------------------------------------------------------------
// Rollout (Flotilla's spec.rollout, on Kustomizations and HelmReleases)

/**
 * A Go duration as whole seconds (rounded up), at least `minimum` seconds as written:
 * with 0, "0s" is allowed (unlike `duration`); with 1, "500ms" is refused rather than rounded up.
 */
function durationAtLeast(minimum: number) {
  return z.string().transform((text, ctx) => {
    let ms: number;
    try {
      ms = parseGoDuration(text);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
      return z.NEVER;
    }
    if (ms < minimum * 1000) {
      ctx.addIssue({
        code: 'custom',
        message: minimum === 0 ? `duration ${JSON.stringify(text)} must not be negative` : `duration ${JSON.stringify(text)} must be at least ${minimum}s`,
      });
      return z.NEVER;
    }
    return Math.ceil(ms / 1000);
  });
}

/** A count of clusters (3 or "3") or a percentage ("25%"), as core/rollout-plan.ts reads them. */
const countOrPercent = z.unknown().transform((value, ctx): CountOrPercent => {
  if (typeof value !== 'number' && typeof value !== 'string') {
    ctx.addIssue({ code: 'custom', message: `want a whole number >= 1 or a percentage such as "25%", got ${describeValue(value)}` });
    return z.NEVER;
  }
  try {
    return parseCountOrPercent(value, 'value');
  } catch (err) {
    // parseCountOrPercent prefixes its messages with the field name; the error names the field already.
    const message = err instanceof Error ? err.message : String(err);
    ctx.addIssue({ code: 'custom', message: message.startsWith('value: ') ? message.slice('value: '.length) : message });
    return z.NEVER;
  }
});

function analysisUrlProblem(url: string): string | undefined {
  return /^https?:\/\/[^\s/?#]+([/?#]\S*)?$/.test(url) ? undefined
    : `unsupported URL ${JSON.stringify(url)}: want an http:// or https:// URL (spaces percent-encoded), e.g. http://prometheus:9090/api/v1/query?query=...`;
}

function jsonPathProblem(path: string): string | undefined {
  return /^[^.\s]+(\.[^.\s]+)*$/.test(path) ? undefined
    : `invalid jsonPath ${JSON.stringify(path)}: want a dotted path into the JSON body such as data.result.0.value.1`;
}

/** HTTP header names are tokens (RFC 9110); values cannot hold line breaks. */
const headerMap = z.record(z.string(), z.string()).superRefine((headers, ctx) => {
  for (const [name, value] of Object.entries(headers)) {
    if (!/^[-!#$%&'*+.^_`|~0-9A-Za-z]+$/.test(name)) {
      ctx.addIssue({ code: 'custom', path: [name], message: `invalid header name ${JSON.stringify(name)}: letters, digits and !#$%&'*+-.^_\`|~` });
    } else if (/[\r\n\0]/.test(value)) {
      ctx.addIssue({ code: 'custom', path: [name], message: 'a header value cannot contain line breaks' });
    }
  }
});

/** Flotilla's addition: an HTTP check run during each wave's bake time (see types.ts AnalysisCheck). */
const AnalysisSchema = z.strictObject({
  url: checkedString(analysisUrlProblem),
  interval: durationAtLeast(1).optional(),
  timeout: duration.optional(),
  failureLimit: z.number().int().min(0).optional(),
  successCodes: z.array(z.number().int().min(100).max(599)).min(1).optional(),
  jsonPath: checkedString(jsonPathProblem).optional(),
  min: z.number().optional(),
  max: z.number().optional(),
  headers: headerMap.optional(),
}).superRefine((a, ctx) => {
  if (a.jsonPath === undefined) {
    for (const bound of ['min', 'max'] as const) {
      if (a[bound] !== undefined) {
        ctx.addIssue({ code: 'custom', path: [bound], message: `${bound} needs jsonPath: it bounds the number found at jsonPath in the response` });
      }
    }
  } else if (a.min === undefined && a.max === undefined) {
    ctx.addIssue({ code: 'custom', path: ['jsonPath'], message: 'jsonPath needs min and/or max: the range the number found there must lie in' });
  }
  if (a.min !== undefined && a.max !== undefined && a.min > a.max) {
    ctx.addIssue({ code: 'custom', path: ['min'], message: `min (${a.min}) must not be greater than max (${a.max})` });
  }
});

const RolloutWaveSchema = z.strictObject({
  name: dnsLabel,
  clusters: z.array(dnsLabel).superRefine((names, ctx) => {
    if (names.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'an empty list selects no cluster: leave clusters out to take every cluster that remains' });
    }
  }).optional(),
  clusterSelector: LabelSelectorSchema.optional(),
  size: countOrPercent.optional(),
  maxConcurrency: countOrPercent.optional(),
  maxFailures: z.number().int().min(0).optional(),
  bakeTime: durationAtLeast(0).optional(),
  healthTimeout: durationAtLeast(1).optional(),
  approval: z.boolean().optional(),
});

const MAX_ROLLOUT_WAVES = 20;

/**
 * Flotilla's addition: a progressive rollout across the placed clusters, wave by wave (see
 * types.ts RolloutStrategy and core/rollout-plan.ts). The YAML:
 *
 *   spec:
 *     rollout:
 *       onFailure: rollback        # or pause; default rollback
 *       analysis:                  # optional
 *         url: http://127.0.0.1:9090/api/v1/query?query=...   # http or https URL, required
 *         interval: 10s            # default 10s, at least 1s
 *         timeout: 5s              # default 5s
 *         failureLimit: 0          # failed checks tolerated per wave; default 0
 *         successCodes: [200]      # default 200..299; each 100..599
 *         jsonPath: data.result.0.value.1   # optional dotted path into the JSON body
 *         min: 0                   # optional, only with jsonPath
 *         max: 0.05                # optional, only with jsonPath (jsonPath needs min and/or max)
 *         headers: {Authorization: "Bearer x"}   # optional
 *       waves:                     # required, 1..20 waves
 *         - name: canary           # required DNS label, unique within waves
 *           clusters: [dev]        # optional cluster names
 *           clusterSelector: {matchLabels: {tier: canary}}   # optional, as placement.clusterSelector
 *           size: 1                # optional: a count >= 1 or a percentage "25%"
 *           maxConcurrency: "50%"  # optional: same form as size
 *           maxFailures: 0         # optional, default 0
 *           bakeTime: 30s          # optional, default 0
 *           healthTimeout: 2m      # optional, at least 1s; default the deployment's timeout
 *           approval: true         # optional, default false: wait for approval before the wave starts
 *
 * A rollout waits for health itself, so it does not need `wait: true` on a Kustomization.
 */
const RolloutSchema = z.strictObject({
  onFailure: z.enum(['rollback', 'pause']).optional(),
  analysis: AnalysisSchema.optional(),
  waves: z.array(RolloutWaveSchema).superRefine((waves, ctx) => {
    if (waves.length === 0) ctx.addIssue({ code: 'custom', message: 'a rollout needs at least one wave' });
    if (waves.length > MAX_ROLLOUT_WAVES) ctx.addIssue({ code: 'custom', message: `at most ${MAX_ROLLOUT_WAVES} waves (got ${waves.length})` });
    const seen = new Map<string, number>();
    waves.forEach((wave, i) => {
      const first = seen.get(wave.name);
      if (first === undefined) seen.set(wave.name, i);
      else ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate wave name ${JSON.stringify(wave.name)} (also waves[${first}]): wave names must be unique` });
    });
  }),
});

/** `placement.hub: true` builds hub declarations: there are no clusters for a rollout to go through. */
function noRolloutOnHub(spec: { readonly placement?: { readonly hub?: boolean }; readonly rollout?: unknown }, ctx: z.core.$RefinementCtx): void {
  if (spec.rollout !== undefined && spec.placement?.hub === true) {
    ctx.addIssue({ code: 'custom', path: ['rollout'], message: 'a rollout needs clusters; hub: true places the build on the hub' });
  }
}

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

/** No placement = every registered cluster (no names, no selector, not the hub). */
function buildPlacement(p: z.infer<typeof PlacementSchema> | undefined): Placement {
  const selector = p?.clusterSelector === undefined ? undefined : buildLabelSelector(p.clusterSelector);
  return { clusters: p?.clusters ?? [], clusterSelector: selector, hub: p?.hub ?? false };
}

function buildLabelSelector(s: z.infer<typeof LabelSelectorSchema>): LabelSelector {
  return {
    matchLabels: s.matchLabels ?? {},
    matchExpressions: (s.matchExpressions ?? []).map((e) => ({ key: e.key, operator: e.operator, values: e.values ?? [] })),
  };
}

/** Defaults filled in; optional fields not given are left out (not set to undefined). */
function buildRollout(r: z.infer<typeof RolloutSchema>): RolloutStrategy {
  return {
    waves: r.waves.map(buildRolloutWave),
    ...(r.analysis === undefined ? {} : { analysis: buildAnalysis(r.analysis) }),
    onFailure: r.onFailure ?? 'rollback',
  };
}

function buildRolloutWave(w: z.infer<typeof RolloutWaveSchema>): RolloutWave {
  const out: { -readonly [K in keyof RolloutWave]: RolloutWave[K] } = {
    name: w.name,
    maxFailures: w.maxFailures ?? 0,
    bakeSeconds: w.bakeTime ?? 0,
    approval: w.approval ?? false,
  };
  if (w.clusters !== undefined) out.clusters = w.clusters;
  if (w.clusterSelector !== undefined) out.clusterSelector = buildLabelSelector(w.clusterSelector);
  if (w.size !== undefined) out.size = w.size;
  if (w.maxConcurrency !== undefined) out.maxConcurrency = w.maxConcurrency;
  if (w.healthTimeout !== undefined) out.healthTimeoutSeconds = w.healthTimeout;
  return out;
}

/** HTTP 2xx, the default successCodes. */
const SUCCESS_2XX: readonly number[] = Array.from({ length: 100 }, (_, i) => 200 + i);

function buildAnalysis(a: z.infer<typeof AnalysisSchema>): AnalysisCheck {
  const out: { -readonly [K in keyof AnalysisCheck]: AnalysisCheck[K] } = {
    url: a.url,
    intervalSeconds: a.interval ?? 10,
    timeoutSeconds: a.timeout ?? 5,
    failureLimit: a.failureLimit ?? 0,
    successCodes: a.successCodes ?? [...SUCCESS_2XX],
    headers: a.headers ?? {},
  };
  if (a.jsonPath !== undefined) out.jsonPath = a.jsonPath;
  if (a.min !== undefined) out.min = a.min;
  if (a.max !== undefined) out.max = a.max;
  return out;
}

// ---------------------------------------------------------------------------------------
// HelmRepository (source.toolkit.fluxcd.io)

/** Flux's CRD allows http://, https:// and oci:// (with a host). */
function helmRepositoryUrlProblem(url: string): string | undefined {
  return /^(https?|oci):\/\/[^\s/]+(\/\S*)?$/.test(url) ? undefined
    : `unsupported URL ${JSON.stringify(url)}: use https:// or http:// (a chart repository) or oci:// (an OCI registry)`;
}

const HelmRepositorySpecSchema = z.strictObject({
  url: checkedString(helmRepositoryUrlProblem),
  type: z.enum(['default', 'oci']).optional(),
  interval: duration.optional(),
  timeout: duration.optional(),
  secretRef: LocalRef.optional(),
  passCredentials: z.boolean().optional(),
  insecure: z.boolean().optional(),
  suspend: z.boolean().optional(),
  // Accepted, not acted on yet (see HELM_REPOSITORY_IGNORED).
  provider: z.enum(['generic', 'aws', 'azure', 'gcp']).optional(),
  certSecretRef: LocalRef.optional(),
  accessFrom: z.unknown().optional(),
}).superRefine((spec, ctx) => {
  // Flux: "When this field is set to oci, the URL field value must be prefixed with oci://";
  // the other way round, source-controller cannot fetch an index from an oci:// URL.
  const ociUrl = spec.url.startsWith('oci://');
  if (spec.type === 'oci' && !ociUrl) {
    ctx.addIssue({ code: 'custom', path: ['url'], message: `type oci needs an oci:// URL (got ${JSON.stringify(spec.url)})` });
  }
  if (spec.type !== 'oci' && ociUrl) {
    ctx.addIssue({ code: 'custom', path: ['type'], message: 'an oci:// URL needs type: oci' });
  }
});

const HelmRepositoryObject = fluxObject(HelmRepositorySpecSchema);

function buildHelmRepository(obj: z.infer<typeof HelmRepositoryObject>, ctx: BuildContext): HelmRepositoryDeclaration {
  const { spec } = obj;
  return {
    kind: 'HelmRepository',
    ...base(obj.metadata, ctx),
    spec: {
      url: spec.url,
      type: spec.type ?? 'default',
      intervalSeconds: spec.interval ?? 60,
      timeoutSeconds: spec.timeout ?? 60,
      secretRef: spec.secretRef?.name,
      passCredentials: spec.passCredentials ?? false,
      insecure: spec.insecure ?? false,
      provider: spec.provider ?? 'generic',
      suspend: spec.suspend ?? false,
    },
  };
}

// ---------------------------------------------------------------------------------------
// HelmRelease (helm.toolkit.fluxcd.io)

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

// ---------------------------------------------------------------------------------------
// Provider and Alert (notification.toolkit.fluxcd.io/v1beta3), Receiver (…/v1)

const PROVIDER_TYPES = ['generic', 'generic-hmac', 'slack', 'msteams', 'github'] as const satisfies readonly ProviderType[];
/** Flux's other Provider types: valid Flux, not sent to by Flotilla yet. */
const FLUX_PROVIDER_TYPES = [
  'alertmanager', 'azuredevops', 'azureeventhub', 'bitbucket', 'bitbucketserver', 'datadog', 'discord', 'gitea',
  'githubdispatch', 'gitlab', 'googlechat', 'googlepubsub', 'grafana', 'lark', 'matrix', 'nats', 'opsgenie', 'pagerduty',
  'rocket', 'sentry', 'telegram', 'webex',
];

const RECEIVER_TYPES = ['generic', 'generic-hmac', 'github'] as const satisfies readonly ReceiverType[];
const FLUX_RECEIVER_TYPES = ['gitlab', 'bitbucket', 'harbor', 'dockerhub', 'quay', 'gcr', 'nexus', 'acr', 'cdevents', 'generic-oidc'];

/** A `type` field: one of `supported`, with a distinct message for Flux's other values. */
function notificationType<T extends string>(what: string, supported: readonly T[], fluxOnly: readonly string[]) {
  return z.string().transform((type, ctx): T => {
    const found = supported.find((t) => t === type);
    if (found !== undefined) return found;
    ctx.addIssue({
      code: 'custom',
      message: fluxOnly.includes(type)
        ? `${what} type ${JSON.stringify(type)} is not supported yet: Flotilla supports ${supported.join(', ')}`
        : `invalid ${what} type ${JSON.stringify(type)}: must be one of ${supported.join(', ')}`,
    });
    return z.NEVER;
  });
}

function httpUrlProblem(url: string): string | undefined {
  return /^https?:\/\/[^\s/?#]+([/?#]\S*)?$/.test(url) ? undefined : `invalid address ${JSON.stringify(url)}: want an http:// or https:// URL`;
}

/** `<scheme>://<host>/<owner>/<repo>` (".git" and a trailing "/" allowed), as the github Provider needs. */
function gitHubRepositoryProblem(address: string): string | undefined {
  return /^https?:\/\/[^\s/?#]+\/[^\s/?#]+\/[^\s/?#]+?(\.git)?\/?$/.test(address) ? undefined
    : `invalid address ${JSON.stringify(address)}: the github provider wants the repository URL, <scheme>://<host>/<owner>/<repo>`;
}

/** Flux's Provider timeout default (Provider.GetTimeout). */
const PROVIDER_DEFAULT_TIMEOUT_SECONDS = 15;
/** Flux's Receiver interval default. */
const RECEIVER_DEFAULT_INTERVAL_SECONDS = 600;

const ProviderSpecSchema = z.strictObject({
  type: notificationType<ProviderType>('provider', PROVIDER_TYPES, FLUX_PROVIDER_TYPES),
  address: z.string().max(2048).optional(),
  channel: z.string().max(2048).optional(),
  username: z.string().max(2048).optional(),
  timeout: duration.optional(),
  secretRef: LocalRef.optional(),
  suspend: z.boolean().optional(),
  // Accepted, not acted on (see PROVIDER_IGNORED).
  interval: duration.optional(),
  proxy: z.string().max(2048).optional(),
  proxySecretRef: LocalRef.optional(),
  certSecretRef: LocalRef.optional(),
  commitStatusExpr: z.string().optional(),
  serviceAccountName: z.string().optional(),
}).superRefine((spec, ctx) => {
  if (spec.address !== undefined && spec.address !== '') {
    const message = spec.type === 'github' ? gitHubRepositoryProblem(spec.address) : httpUrlProblem(spec.address);
    if (message !== undefined) ctx.addIssue({ code: 'custom', path: ['address'], message });
  } else if (spec.secretRef === undefined) {
    ctx.addIssue({ code: 'custom', path: ['address'], message: 'required: where to send, in spec.address or (for a URL holding a token) under the address key of the Secret named by spec.secretRef' });
  }
  if (spec.type === 'github' && spec.secretRef === undefined) {
    ctx.addIssue({ code: 'custom', path: ['secretRef'], message: 'required for type github: a Secret with a token key (a GitHub token allowed to set commit statuses)' });
  }
});

const ProviderObject = fluxObject(ProviderSpecSchema);

function buildProvider(obj: z.infer<typeof ProviderObject>, ctx: BuildContext): ProviderDeclaration {
  const { spec } = obj;
  return {
    kind: 'Provider',
    ...base(obj.metadata, ctx),
    spec: {
      type: spec.type,
      ...(spec.address === undefined || spec.address === '' ? {} : { address: spec.address }),
      ...(spec.channel === undefined || spec.channel === '' ? {} : { channel: spec.channel }),
      ...(spec.username === undefined || spec.username === '' ? {} : { username: spec.username }),
      timeoutSeconds: spec.timeout ?? PROVIDER_DEFAULT_TIMEOUT_SECONDS,
      ...(spec.secretRef === undefined ? {} : { secretRef: { name: spec.secretRef.name } }),
      suspend: spec.suspend ?? false,
    },
  };
}

const EVENT_SOURCE_KINDS = [
  'GitRepository', 'Kustomization', 'HelmRepository', 'HelmRelease', 'HelmChart', 'OCIRepository', 'Bucket',
  'ImageRepository', 'ImagePolicy', 'ImageUpdateAutomation', 'Rollout', 'Cluster',
] as const satisfies readonly EventSourceKind[];
/** The event source kinds Flotilla emits events for. */
const EMITTING_KINDS: readonly EventSourceKind[] = [
  'GitRepository', 'Kustomization', 'HelmRepository', 'HelmRelease', 'ImageRepository', 'ImagePolicy', 'ImageUpdateAutomation', 'Cluster',
];

/** An object name, "*", or a name pattern with "*" wildcards ("podinfo-*"). */
function eventSourceNameProblem(name: string): string | undefined {
  return name.length <= 253 && /^[a-z0-9*]([-a-z0-9.*]*[a-z0-9*])?$/.test(name) ? undefined
    : `invalid name ${JSON.stringify(name)}: an object name, "*", or a name with "*" wildcards such as "podinfo-*"`;
}

const EventSourceSchema = z.strictObject({
  apiVersion: z.string().optional(), // Flux does not match on it either
  kind: z.string().transform((kind, ctx): EventSourceKind => {
    const found = EVENT_SOURCE_KINDS.find((k) => k === kind);
    if (found !== undefined) return found;
    ctx.addIssue({ code: 'custom', message: `invalid event source kind ${JSON.stringify(kind)}: must be one of ${EVENT_SOURCE_KINDS.join(', ')}` });
    return z.NEVER;
  }),
  name: checkedString(eventSourceNameProblem),
  namespace: dnsLabel.optional(),
  matchLabels: labelMap.optional(),
});

/** A list of regular expressions, each compiled now so that a bad one is reported with its index. */
const regexList = z.array(z.string()).superRefine((patterns, ctx) => {
  patterns.forEach((pattern, i) => {
    const re = compileGoRegex(pattern);
    if (re instanceof Error) ctx.addIssue({ code: 'custom', path: [i], message: re.message });
  });
});

const AlertSpecSchema = z.strictObject({
  providerRef: LocalRef,
  eventSources: z.array(EventSourceSchema).min(1),
  eventSeverity: z.enum(['info', 'error']).optional(),
  inclusionList: regexList.optional(),
  exclusionList: regexList.optional(),
  eventMetadata: z.record(z.string(), z.string()).optional(),
  summary: z.string().max(255).optional(),
  suspend: z.boolean().optional(),
});

const AlertObject = fluxObject(AlertSpecSchema);

function buildAlert(obj: z.infer<typeof AlertObject>, ctx: BuildContext): AlertDeclaration {
  const { spec } = obj;
  return {
    kind: 'Alert',
    ...base(obj.metadata, ctx),
    spec: {
      providerRef: { name: spec.providerRef.name },
      eventSources: spec.eventSources.map((s) => ({
        kind: s.kind, name: s.name, namespace: s.namespace ?? ctx.namespace,
        ...(s.matchLabels === undefined ? {} : { matchLabels: s.matchLabels }),
      })),
      eventSeverity: spec.eventSeverity ?? 'info',
      inclusionList: spec.inclusionList ?? [],
      exclusionList: spec.exclusionList ?? [],
      eventMetadata: spec.eventMetadata ?? {},
      ...(spec.summary === undefined || spec.summary === '' ? {} : { summary: spec.summary }),
      suspend: spec.suspend ?? false,
    },
  };
}

function alertWarnings(obj: z.infer<typeof AlertObject>): FieldWarning[] {
  const warnings: FieldWarning[] = [];
  obj.spec.eventSources.forEach((s, i) => {
    if (s.kind === 'Rollout') {
      warnings.push({ field: `spec.eventSources[${i}].kind`, message: 'rollout events are reported on the Kustomization or HelmRelease that rolls out: select that kind instead' });
    } else if (!EMITTING_KINDS.includes(s.kind)) {
      warnings.push({ field: `spec.eventSources[${i}].kind`, message: `Flotilla does not reconcile ${s.kind} objects yet: no events will come from them` });
    }
    if (s.matchLabels !== undefined) {
      warnings.push({ field: `spec.eventSources[${i}].matchLabels`, message: s.name.includes('*')
        ? 'is not supported yet: the hub does not know the labels of the objects it reports on, so this source matches nothing; list names instead'
        : 'has no effect with an exact name (as in Flux: matchLabels narrows "*" or a wildcard name)' });
    }
  });
  return warnings;
}

/** The kinds a Receiver can ask to reconcile, with their API group. */
const RECEIVER_RESOURCE_GROUPS: Readonly<Record<ReceiverResourceKind, string>> = {
  GitRepository: 'source.toolkit.fluxcd.io',
  HelmRepository: 'source.toolkit.fluxcd.io',
  Kustomization: 'kustomize.toolkit.fluxcd.io',
  HelmRelease: 'helm.toolkit.fluxcd.io',
  ImageRepository: 'image.toolkit.fluxcd.io',
  ImagePolicy: 'image.toolkit.fluxcd.io',
  ImageUpdateAutomation: 'image.toolkit.fluxcd.io',
};
const FLUX_RECEIVER_KINDS = ['Bucket', 'HelmChart', 'OCIRepository'];

const ReceiverResourceSchema = z.strictObject({
  apiVersion: z.string().optional(),
  kind: z.string().transform((kind, ctx): ReceiverResourceKind => {
    if (Object.hasOwn(RECEIVER_RESOURCE_GROUPS, kind)) return kind as ReceiverResourceKind;
    const supported = Object.keys(RECEIVER_RESOURCE_GROUPS).join(', ');
    ctx.addIssue({
      code: 'custom',
      message: FLUX_RECEIVER_KINDS.includes(kind)
        ? `Flotilla does not reconcile ${kind} objects yet: a Receiver can trigger ${supported}`
        : `invalid resource kind ${JSON.stringify(kind)}: must be one of ${supported}`,
    });
    return z.NEVER;
  }),
  name: checkedString((name) => (name === '*'
    ? 'name "*" (every object with matchLabels) is not supported yet: list each object by name'
    : dnsSubdomainProblem(name))),
  namespace: dnsLabel.optional(),
  matchLabels: labelMap.optional(),
  filter: z.string().optional(), // notification v1 (Flux 2.7): a CEL expression; accepted, not acted on (see RECEIVER_IGNORED)
}).superRefine((r, ctx) => {
  const group = RECEIVER_RESOURCE_GROUPS[r.kind];
  if (r.apiVersion !== undefined && r.apiVersion !== '' && (groupOf(r.apiVersion) !== group || !/^[^/]+\/v\w+$/.test(r.apiVersion))) {
    ctx.addIssue({ code: 'custom', path: ['apiVersion'], message: `invalid apiVersion ${JSON.stringify(r.apiVersion)} for ${r.kind}: want ${group}/<version>, or leave it out` });
  }
});

const ReceiverSpecSchema = z.strictObject({
  type: notificationType<ReceiverType>('receiver', RECEIVER_TYPES, FLUX_RECEIVER_TYPES),
  events: z.array(z.string()).optional(),
  resources: z.array(ReceiverResourceSchema).min(1),
  secretRef: LocalRef,
  interval: duration.optional(),
  suspend: z.boolean().optional(),
  resourceFilter: z.string().optional(), // accepted, not acted on (see RECEIVER_IGNORED)
  oidcProviders: z.array(z.record(z.string(), z.unknown())).optional(), // for type generic-oidc, which is refused
});

const ReceiverObject = fluxObject(ReceiverSpecSchema);

function buildReceiver(obj: z.infer<typeof ReceiverObject>, ctx: BuildContext): ReceiverDeclaration {
  const { spec } = obj;
  return {
    kind: 'Receiver',
    ...base(obj.metadata, ctx),
    spec: {
      type: spec.type,
      events: spec.events ?? [],
      resources: spec.resources.map((r) => ({
        ...(r.apiVersion === undefined || r.apiVersion === '' ? {} : { apiVersion: r.apiVersion }),
        kind: r.kind, name: r.name, namespace: r.namespace ?? ctx.namespace,
        ...(r.matchLabels === undefined ? {} : { matchLabels: r.matchLabels }),
      })),
      secretRef: { name: spec.secretRef.name },
      intervalSeconds: spec.interval ?? RECEIVER_DEFAULT_INTERVAL_SECONDS,
      suspend: spec.suspend ?? false,
    },
  };
}

function receiverWarnings(obj: z.infer<typeof ReceiverObject>): FieldWarning[] {
  const { spec } = obj;
  return spec.type !== 'github' && (spec.events ?? []).length > 0
    ? [{ field: 'spec.events', message: `has no effect for type ${spec.type} (as in Flux: only github filters on events)` }]
    : [];
}

// ---------------------------------------------------------------------------------------
// ImageRepository, ImagePolicy, ImageUpdateAutomation (image.toolkit.fluxcd.io)

/** Flux's default exclusionList: cosign signature tags. */
const IMAGE_DEFAULT_EXCLUSIONS = ['^.*\\.sig$'];

/** Flux's spec.image: a repository, without scheme, tag or digest (the policy picks the tag). */
function imageNameProblem(image: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(image)) return `invalid image ${JSON.stringify(image)}: write it without a scheme (e.g. ghcr.io/org/app; set insecure: true for plain HTTP)`;
  if (image.includes('@')) return `invalid image ${JSON.stringify(image)}: must not contain a digest; the ImagePolicy picks the tag`;
  const last = image.slice(image.lastIndexOf('/') + 1);
  if (image.includes('/') && last.includes(':') || !image.includes('/') && /:[^0-9]/.test(image)) {
    return `invalid image ${JSON.stringify(image)}: must not contain a tag; the ImagePolicy picks the tag`;
  }
  return /^[a-z0-9]+([._:/-]+[a-z0-9]+)*$/i.test(image) && image === image.trim() ? undefined
    : `invalid image ${JSON.stringify(image)}: want <registry>/<path>, e.g. ghcr.io/org/app`;
}

const goRegex = z.string().superRefine((pattern, ctx) => {
  const re = compileGoRegex(pattern);
  if (re instanceof Error) ctx.addIssue({ code: 'custom', message: re.message });
});

const ImageRepositorySpecSchema = z.strictObject({
  image: checkedString(imageNameProblem),
  interval: duration,
  timeout: duration.optional(),
  secretRef: LocalRef.optional(),
  exclusionList: z.array(goRegex).max(25).optional(),
  insecure: z.boolean().optional(),
  suspend: z.boolean().optional(),
  // Accepted, not acted on yet (see IMAGE_REPOSITORY_IGNORED).
  provider: z.enum(['generic', 'aws', 'azure', 'gcp']).optional(),
  certSecretRef: LocalRef.optional(),
  proxySecretRef: LocalRef.optional(),
  serviceAccountName: z.string().optional(),
  accessFrom: z.unknown().optional(),
});

const ImageRepositoryObject = fluxObject(ImageRepositorySpecSchema);

function buildImageRepository(obj: z.infer<typeof ImageRepositoryObject>, ctx: BuildContext): ImageRepositoryDeclaration {
  const { spec } = obj;
  return {
    kind: 'ImageRepository',
    ...base(obj.metadata, ctx),
    spec: {
      image: spec.image,
      intervalSeconds: spec.interval,
      timeoutSeconds: spec.timeout ?? spec.interval,
      ...(spec.secretRef ? { secretRef: spec.secretRef.name } : {}),
      exclusionList: spec.exclusionList ?? IMAGE_DEFAULT_EXCLUSIONS,
      insecure: spec.insecure ?? false,
      suspend: spec.suspend ?? false,
    },
  };
}

const SortOrderSchema = z.enum(['asc', 'desc']);

const ImagePolicySpecSchema = z.strictObject({
  imageRepositoryRef: z.strictObject({ name: dnsSubdomain, namespace: dnsLabel.optional() }),
  policy: z.strictObject({
    semver: z.strictObject({ range: nonEmpty }).optional(),
    alphabetical: z.strictObject({ order: SortOrderSchema.optional() }).optional(),
    numerical: z.strictObject({ order: SortOrderSchema.optional() }).optional(),
  }),
  filterTags: z.strictObject({ pattern: z.string().optional(), extract: z.string().optional() }).optional(),
  // Accepted, not acted on yet (see IMAGE_POLICY_IGNORED).
  digestReflectionPolicy: z.enum(['Never', 'IfNotPresent', 'Always']).optional(),
  interval: duration.optional(),
  suspend: z.boolean().optional(),
}).superRefine((spec, ctx) => {
  const rules = (['semver', 'alphabetical', 'numerical'] as const).filter((k) => spec.policy[k] !== undefined);
  if (rules.length !== 1) {
    ctx.addIssue({
      code: 'custom', path: ['policy'],
      message: rules.length === 0 ? 'set one of semver, alphabetical or numerical' : `set only one of semver, alphabetical and numerical (found ${rules.join(' and ')})`,
    });
    return;
  }
  const problem = imagePolicyProblem(buildImagePolicyRule(spec.policy), buildTagFilter(spec.filterTags));
  if (problem !== undefined) ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
});

const ImagePolicyObject = fluxObject(ImagePolicySpecSchema);
type ImagePolicyInput = z.infer<typeof ImagePolicyObject>;

function buildImagePolicyRule(p: ImagePolicyInput['spec']['policy']): ImagePolicyRule {
  if (p.semver) return { semver: { range: p.semver.range } };
  if (p.alphabetical) return { alphabetical: { order: p.alphabetical.order ?? 'asc' } };
  return { numerical: { order: p.numerical?.order ?? 'asc' } };
}

function buildTagFilter(f: ImagePolicyInput['spec']['filterTags']): ImagePolicySpec['filterTags'] {
  if (f === undefined || (f.pattern ?? '') === '') return undefined;
  return { pattern: f.pattern ?? '', ...((f.extract ?? '') !== '' ? { extract: f.extract ?? '' } : {}) };
}

/** The policy checked by the code that will run it: selectTag on no tags validates every field. */
function imagePolicyProblem(rule: ImagePolicyRule, filterTags: ImagePolicySpec['filterTags']): { path: string[]; message: string } | undefined {
  try {
    selectTag([], { ...rule, ...(filterTags ? { filterTags } : {}) });
    return undefined;
  } catch (err) {
    // selectTag's messages start with the field (spec.policy.semver.range: …).
    const message = err instanceof Error ? err.message : String(err);
    const field = /^spec\.([\w.]+): /.exec(message);
    return field ? { path: (field[1] ?? '').split('.'), message: message.slice(field[0].length) } : { path: ['policy'], message };
  }
}

function buildImagePolicy(obj: ImagePolicyInput, ctx: BuildContext): ImagePolicyDeclaration {
  const { spec } = obj;
  const filterTags = buildTagFilter(spec.filterTags);
  return {
    kind: 'ImagePolicy',
    ...base(obj.metadata, ctx),
    spec: {
      imageRepositoryRef: { name: spec.imageRepositoryRef.name, namespace: spec.imageRepositoryRef.namespace ?? ctx.namespace },
      policy: buildImagePolicyRule(spec.policy),
      ...(filterTags ? { filterTags } : {}),
      suspend: spec.suspend ?? false,
    },
  };
}

const ImageUpdateSourceRef = z.strictObject({
  apiVersion: z.string().optional(),
  kind: z.string().optional().transform((kind, ctx) => {
    if (kind === undefined || kind === 'GitRepository') return 'GitRepository' as const;
    ctx.addIssue({ code: 'custom', message: `invalid source kind ${JSON.stringify(kind)}: an ImageUpdateAutomation commits to a GitRepository` });
    return z.NEVER;
  }),
  name: dnsSubdomain,
  namespace: dnsLabel.optional(),
});

/** A branch name as git check-ref-format accepts it, without refs/heads/. */
const branchName = checkedString((b) => {
  if (b.startsWith('refs/')) return `write the branch name without "refs/heads/" (got ${JSON.stringify(b)})`;
  return b !== '' && !b.startsWith('-') && !b.startsWith('/') && !/[\s~^:?*[\\]|\.\.|@\{|\/\/|\/$|\.lock$|\.$/.test(b) ? undefined
    : `invalid branch name ${JSON.stringify(b)}: no spaces, ~ ^ : ? * [ \\, "..", "@{" or "//", and not ending in "/", "." or ".lock"`;
});

const ImageUpdateGitSchema = z.strictObject({
  checkout: z.strictObject({ ref: GitRefSchema }).optional(),
  commit: z.strictObject({
    author: z.strictObject({ name: z.string().optional(), email: nonEmpty }),
    signingKey: z.unknown().optional(),
    messageTemplate: z.string().optional(),
    messageTemplateValues: z.record(z.string(), z.string()).optional(),
  }),
  push: z.strictObject({
    branch: branchName.optional(),
    refspec: z.string().optional(),
    options: z.record(z.string(), z.string()).optional(),
  }).optional(),
}).superRefine((git, ctx) => {
  const ref = git.checkout?.ref;
  if (ref !== undefined && ['tag', 'semver', 'name', 'commit'].some((k) => (ref[k as keyof typeof ref] ?? '') !== '')) {
    ctx.addIssue({ code: 'custom', path: ['checkout', 'ref'], message: 'only a branch can be checked out for updates (Flotilla does not support tag, semver, name or commit here yet)' });
  }
  const template = git.commit.messageTemplate;
  // v1 has no .Updated or .Changed.ImageResult (core/declarations/versions.ts cites Flux).
  const problem = template === undefined ? undefined : commitTemplateProblem(template) ?? removedTemplateFieldProblem(template);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['commit', 'messageTemplate'], message: problem });
});

const ImageUpdateAutomationSpecSchema = z.strictObject({
  sourceRef: ImageUpdateSourceRef,
  git: ImageUpdateGitSchema.optional(),
  interval: duration,
  policySelector: LabelSelectorSchema.optional(),
  update: z.strictObject({ path: sourcePath.optional(), strategy: z.literal('Setters').optional() }).optional(),
  suspend: z.boolean().optional(),
}).superRefine((spec, ctx) => {
  // Flux's CRD makes git optional, but the controller cannot commit without an author.
  if (spec.git === undefined) ctx.addIssue({ code: 'custom', path: ['git'], message: 'required: at least {commit: {author: {email: ...}}}' });
});

const ImageUpdateAutomationObject = fluxObject(ImageUpdateAutomationSpecSchema);

/** The author name when spec.git.commit.author.name is empty. */
const DEFAULT_AUTHOR_NAME = 'Flotilla';

function buildImageUpdateAutomation(obj: z.infer<typeof ImageUpdateAutomationObject>, ctx: BuildContext): ImageUpdateAutomationDeclaration {
  const { spec } = obj;
  const commit = spec.git?.commit;
  const checkoutBranch = spec.git?.checkout?.ref.branch;
  return {
    kind: 'ImageUpdateAutomation',
    ...base(obj.metadata, ctx),
    spec: {
      sourceRef: { kind: 'GitRepository', name: spec.sourceRef.name, namespace: spec.sourceRef.namespace ?? ctx.namespace },
      ...(checkoutBranch ? { checkoutBranch } : {}),
      ...(spec.git?.push?.branch ? { pushBranch: spec.git.push.branch } : {}),
      author: { name: commit?.author.name || DEFAULT_AUTHOR_NAME, email: commit?.author.email ?? '' },
      ...(commit?.messageTemplate ? { messageTemplate: commit.messageTemplate } : {}),
      messageTemplateValues: commit?.messageTemplateValues ?? {},
      intervalSeconds: spec.interval,
      ...(spec.policySelector ? { policySelector: buildLabelSelector(spec.policySelector) } : {}),
      updatePath: spec.update?.path ?? '.',
      strategy: 'Setters',
      suspend: spec.suspend ?? false,
    },
  };
}

// ---------------------------------------------------------------------------------------
// ConfigMap and Secret (core v1)

/** Kubernetes' rule for ConfigMap and Secret data keys. */
const dataKeys = (ctxName: string) => (data: Record<string, string>, ctx: z.core.$RefinementCtx) => {
  for (const key of Object.keys(data)) {
    if (key.length > 253 || !/^[-._a-zA-Z0-9]+$/.test(key)) {
      ctx.addIssue({ code: 'custom', path: [key], message: `invalid ${ctxName} key ${JSON.stringify(key)}: letters, digits, '-', '_' and '.'` });
    }
  }
};

const ConfigMapObject = z.strictObject({
  apiVersion: z.string(),
  kind: z.string(),
  metadata: Metadata,
  data: z.record(z.string(), z.string()).superRefine(dataKeys('ConfigMap')).optional(),
  binaryData: z.record(z.string(), z.string()).optional(), // accepted, not used (Flux substitutes from data only)
  immutable: z.boolean().optional(),
});

const SecretObject = z.strictObject({
  apiVersion: z.string(),
  kind: z.string(),
  metadata: Metadata,
  type: z.string().optional(),
  /** Values are base64; decoded here, refusing anything that is not valid base64 of UTF-8 text. */
  data: z.record(z.string(), z.string().transform((encoded, ctx) => {
    const decoded = decodeBase64Text(encoded);
    if (decoded instanceof Error) {
      ctx.addIssue({ code: 'custom', message: decoded.message });
      return z.NEVER;
    }
    return decoded;
  })).superRefine(dataKeys('Secret')).optional(),
  stringData: z.record(z.string(), z.string()).superRefine(dataKeys('Secret')).optional(),
  immutable: z.boolean().optional(),
});

function buildConfigMap(obj: z.infer<typeof ConfigMapObject>, ctx: BuildContext): DataDeclaration {
  return { kind: 'ConfigMap', ...base(obj.metadata, ctx), spec: { data: obj.data ?? {} } };
}

/** stringData wins over data for the same key, as the API server merges them. */
function buildSecret(obj: z.infer<typeof SecretObject>, ctx: BuildContext): DataDeclaration {
  return { kind: 'Secret', ...base(obj.metadata, ctx), spec: { data: { ...obj.data, ...obj.stringData } } };
}

const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/**
 * Standard padded base64 (what Kubernetes writes and accepts; line breaks are skipped, as
 * Go's decoder does) to UTF-8 text. Written out here because Buffer is Node-only.
 */
export function decodeBase64Text(encoded: string): string | Error {
  const text = encoded.replace(/[\r\n]/g, '');
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
    return new Error('invalid base64 (Secret data values are base64; put plain text under stringData)');
  }
  const body = text.replace(/=+$/, '');
  const bytes = new Uint8Array(Math.floor((body.length * 6) / 8));
  let bits = 0;
  let buffer = 0;
  let out = 0;
  for (const char of body) {
    buffer = (buffer << 6) | BASE64_ALPHABET.indexOf(char);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes[out++] = (buffer >> bits) & 0xff;
    }
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return new Error('value is not UTF-8 text once decoded (Flotilla holds Secret values as text)');
  }
}

// ---------------------------------------------------------------------------------------
// Accepted-but-ignored fields → warnings

interface IgnoredField {
  /** Path in the object, e.g. ['spec', 'verify']; '*' stands for every element of a list. */
  readonly path: readonly string[];
  /** Values that mean "off", so writing them is not worth a warning. */
  readonly harmless?: readonly unknown[];
  readonly note: string;
}

/** A warning found by a builder rather than by path (it depends on several fields). */
interface FieldWarning {
  readonly field: string;
  readonly message: string;
}

const NOT_YET = 'accepted but not acted on by Flotilla yet';

const GIT_REPOSITORY_IGNORED: readonly IgnoredField[] = [
  { path: ['spec', 'verify'], note: `${NOT_YET}: commit signatures are NOT verified` },
  { path: ['spec', 'provider'], harmless: ['generic'], note: `${NOT_YET}: only secretRef credentials are used` },
  { path: ['spec', 'serviceAccountName'], note: NOT_YET },
  { path: ['spec', 'proxySecretRef'], note: `${NOT_YET}: the repository is fetched without the proxy` },
  { path: ['spec', 'recurseSubmodules'], harmless: [false], note: `${NOT_YET}: submodules are not fetched` },
  { path: ['spec', 'sparseCheckout'], note: `${NOT_YET}: the whole repository is fetched` },
];

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

const HELM_REPOSITORY_IGNORED: readonly IgnoredField[] = [
  { path: ['spec', 'provider'], harmless: ['generic'], note: `${NOT_YET}: only secretRef credentials are used` },
  { path: ['spec', 'certSecretRef'], note: `${NOT_YET}: no client certificate or CA is used` },
  { path: ['spec', 'accessFrom'], note: 'has no effect (never implemented by Flux)' },
];

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

const PROVIDER_IGNORED: readonly IgnoredField[] = [
  { path: ['spec', 'interval'], note: 'has no effect (deprecated by Flux: a Provider is not reconciled on an interval)' },
  { path: ['spec', 'proxy'], note: `${NOT_YET}: notifications are sent without the proxy` },
  { path: ['spec', 'proxySecretRef'], note: `${NOT_YET}: notifications are sent without the proxy` },
  { path: ['spec', 'certSecretRef'], note: `${NOT_YET}: the server certificate is checked against the system's CAs only` },
  { path: ['spec', 'commitStatusExpr'], note: `${NOT_YET}: the commit status context is <kind>/<name>[/<cluster>]` },
  { path: ['spec', 'serviceAccountName'], note: NOT_YET },
];

const IMAGE_REPOSITORY_IGNORED: readonly IgnoredField[] = [
  { path: ['spec', 'provider'], harmless: ['generic'], note: `${NOT_YET}: only secretRef credentials are used` },
  { path: ['spec', 'certSecretRef'], note: `${NOT_YET}: the system's CAs are used` },
  { path: ['spec', 'proxySecretRef'], note: `${NOT_YET}: the registry is reached without the proxy` },
  { path: ['spec', 'serviceAccountName'], note: `${NOT_YET}: only secretRef credentials are used` },
  { path: ['spec', 'accessFrom'], note: 'has no effect (never implemented by Flux)' },
];

const IMAGE_POLICY_IGNORED: readonly IgnoredField[] = [
  { path: ['spec', 'digestReflectionPolicy'], harmless: ['Never'], note: `${NOT_YET}: images are pinned by tag, not digest` },
  { path: ['spec', 'interval'], note: 'not used: the policy is evaluated whenever its ImageRepository has new tags' },
];

const IMAGE_UPDATE_AUTOMATION_IGNORED: readonly IgnoredField[] = [
  { path: ['spec', 'sourceRef', 'apiVersion'], note: 'not used: the GitRepository is found by name' },
  { path: ['spec', 'git', 'commit', 'signingKey'], note: `${NOT_YET}: commits are NOT signed` },
  { path: ['spec', 'git', 'push', 'refspec'], note: `${NOT_YET}: only push.branch is pushed` },
  { path: ['spec', 'git', 'push', 'options'], note: `${NOT_YET}: git push runs without push options` },
];

const RECEIVER_IGNORED: readonly IgnoredField[] = [
  { path: ['spec', 'resourceFilter'], note: `${NOT_YET}: every listed resource is reconciled` },
  { path: ['spec', 'resources', '*', 'filter'], note: `${NOT_YET}: the resource is reconciled whatever the payload` },
  { path: ['spec', 'oidcProviders'], note: 'not used: Flotilla does not support the generic-oidc type yet' },
  { path: ['spec', 'resources', '*', 'matchLabels'], note: 'has no effect: Flux uses matchLabels only with name "*", which Flotilla does not support yet' },
];

const CONFIGMAP_IGNORED: readonly IgnoredField[] = [
  { path: ['binaryData'], note: 'not used: postBuild.substituteFrom reads data only, as in Flux' },
];

function ignoredFieldWarnings(obj: unknown, fields: readonly IgnoredField[], at: Omit<DeclarationError, 'message'>): DeclarationError[] {
  const warnings: DeclarationError[] = [];
  const visit = (value: unknown, rest: readonly string[], path: (string | number)[], field: IgnoredField): void => {
    const [head, ...tail] = rest;
    if (head === undefined) {
      const empty = Array.isArray(value) && value.length === 0;
      if (value !== undefined && !empty && !(field.harmless ?? []).includes(value)) {
        warnings.push({ ...at, field: formatPath(path), message: field.note });
      }
    } else if (head === '*') {
      if (Array.isArray(value)) value.forEach((item: unknown, i) => { visit(item, tail, [...path, i], field); });
    } else if (isRecord(value)) {
      visit(value[head], tail, [...path, head], field);
    }
  };
  for (const field of fields) visit(obj, field.path, [], field);
  return warnings;
}

// ---------------------------------------------------------------------------------------
// zod issues → DeclarationErrors

/** Hints for required fields whose absence deserves more than "required"; "<Kind> <field>" keys win over "<field>". */
const REQUIRED_HINTS: Readonly<Record<string, string>> = {
  'HelmRepository spec.url': 'required: the Helm repository URL (https://... or oci://...)',
  'HelmRelease spec.chart.spec.sourceRef': 'required: where the chart comes from, e.g. {kind: HelmRepository, name: podinfo}',
  'HelmRelease spec.chart.spec.chart': 'required: the chart name (HelmRepository) or its path (GitRepository)',
  'Provider spec.type': `required: one of ${PROVIDER_TYPES.join(', ')}`,
  'Alert spec.providerRef': 'required: the Provider (same namespace) to send with, e.g. {name: slack}',
  'Alert spec.eventSources': 'required: the objects whose events to send, e.g. [{kind: Kustomization, name: "*"}]',
  'Receiver spec.type': `required: one of ${RECEIVER_TYPES.join(', ')}`,
  'Receiver spec.secretRef': 'required: a Secret (same namespace) with a token key; the token salts the webhook path and keys the HMAC',
  'Receiver spec.resources': 'required: the objects to reconcile, e.g. [{kind: GitRepository, name: flux-system}]',
  'spec.prune': 'required: Flux requires prune (true deletes objects removed from the source, false leaves them)',
  'spec.interval': 'required: how often to reconcile, e.g. 10m',
  'spec.url': 'required: the Git repository URL',
  'spec.rollout.waves': 'required: the waves to roll out in, e.g. [{name: canary, size: 1}, {name: rest}]',
  'spec.sourceRef': 'required: the GitRepository to build from, e.g. {kind: GitRepository, name: flux-system}',
  spec: 'required: the object has no spec',
};

/**
 * Fields earlier Flux versions had, written in a newest-version object, with what to write
 * instead, keyed "<Kind> <field>" (list indexes are written [*]). An old
 * version's object has them converted instead (core/declarations/versions.ts).
 */
const REMOVED_FIELD_HINTS: Readonly<Record<string, string>> = {
  'Kustomization spec.patchesStrategicMerge': 'unknown field (removed in kustomize.toolkit.fluxcd.io/v1: use spec.patches)',
  'Kustomization spec.patchesJson6902': 'unknown field (removed in kustomize.toolkit.fluxcd.io/v1: use spec.patches with a target)',
  'Kustomization spec.validation': 'unknown field (removed in kustomize.toolkit.fluxcd.io/v1)',
  'GitRepository spec.gitImplementation': 'unknown field (removed in source.toolkit.fluxcd.io/v1)',
  'GitRepository spec.accessFrom': 'unknown field (removed in source.toolkit.fluxcd.io/v1; it was never implemented)',
  'HelmRelease spec.chart.spec.valuesFile': 'unknown field (removed in helm.toolkit.fluxcd.io/v2: use spec.chart.spec.valuesFiles)',
  'HelmRelease spec.postRenderers[*].kustomize.patchesStrategicMerge': 'unknown field (removed in helm.toolkit.fluxcd.io/v2: use patches)',
  'HelmRelease spec.postRenderers[*].kustomize.patchesJson6902': 'unknown field (removed in helm.toolkit.fluxcd.io/v2: use patches with a target)',
};

const EXPECTED: Readonly<Record<string, string>> = {
  string: 'a string', boolean: 'true or false', number: 'a number', int: 'a whole number', array: 'a list', object: 'a mapping', record: 'a mapping',
};

function issueToErrors(issue: z.core.$ZodIssue, obj: unknown, at: Omit<DeclarationError, 'message' | 'field'>, kind: string): DeclarationError[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => {
      const field = formatPath([...issue.path, key]);
      const pattern = field.replace(/\[\d+\]/g, '[*]');
      return { ...at, field, message: REMOVED_FIELD_HINTS[`${kind} ${pattern}`] ?? 'unknown field' };
    });
  }
  const field = formatPath(issue.path);
  const value = valueAt(obj, issue.path);
  let message: string;
  switch (issue.code) {
    case 'invalid_type':
      message = value === undefined
        ? REQUIRED_HINTS[`${kind} ${field}`] ?? REQUIRED_HINTS[field] ?? 'required field is missing'
        : `expected ${EXPECTED[issue.expected] ?? issue.expected}, got ${describeValue(value)}`;
      break;
    case 'invalid_value':
      message = `must be one of ${issue.values.map(String).join(', ')} (got ${describeValue(value)})`;
      break;
    case 'too_small':
      if (isNumberOrigin(issue.origin)) message = `must be at least ${String(issue.minimum)} (got ${describeValue(value)})`;
      else message = issue.origin === 'string' && Number(issue.minimum) === 1 ? 'must not be empty' : `must be at least ${String(issue.minimum)} long`;
      break;
    case 'too_big':
      message = isNumberOrigin(issue.origin) ? `must be at most ${String(issue.maximum)} (got ${describeValue(value)})`
        : `must be at most ${String(issue.maximum)} ${issue.origin === 'string' ? 'characters' : 'long'}`;
      break;
    default:
      message = issue.message;
  }
  return [{ ...at, field: field === '' ? undefined : field, message }];
}

function isNumberOrigin(origin: string): boolean {
  return origin === 'number' || origin === 'int' || origin === 'bigint';
}

/** ['spec', 'patches', 1, 'target'] → "spec.patches[1].target"; odd keys are quoted: labels["app.kubernetes.io/name"]. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else {
      const s = String(segment);
      out += /^[A-Za-z_$][\w$]*$/.test(s) ? (out === '' ? s : `.${s}`) : `[${JSON.stringify(s)}]`;
    }
  }
  return out;
}

/** The value at `path` (keys of mappings, indexes of lists) in parsed YAML, or undefined. */
export function valueAt(obj: unknown, path: readonly PropertyKey[]): unknown {
  let current = obj;
  for (const segment of path) {
    if (Array.isArray(current) && typeof segment === 'number') current = current[segment] as unknown;
    else if (isRecord(current) && typeof segment === 'string') current = current[segment];
    else return undefined;
  }
  return current;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value;
}

// ---------------------------------------------------------------------------------------
// Small helpers

/** Removes null-valued keys from mappings, recursively (lists keep their elements). */
function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNulls);
  if (!isRecord(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) if (v !== null) out[key] = dropNulls(v);
  return out;
}

/** parseManifests names documents "<file>#<n>". */
function documentOf(source: string, file: string): number | undefined {
  const n = Number(source.slice(file.length + 1));
  return source.startsWith(`${file}#`) && Number.isInteger(n) && n > 0 ? n : undefined;
}

function describe(d: Declaration): string {
  return `${d.kind}/${d.namespace}/${d.name}`;
}
