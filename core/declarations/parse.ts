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
// Each kind's schema, defaults (stated in its header), conversion to a declaration and warnings
// sit together in core/declarations/kinds/<kind>.ts; the field checks they share are in
// kinds/shared.ts, Flotilla's placement and rollout in kinds/placement-rollout.ts. This file
// keeps the entry points, the classification of apiVersion/kind, the dispatch table (KINDS),
// the accepted-but-ignored warnings and the conversion of zod's issues into DeclarationErrors.
// The one default set here: metadata.namespace "default", what kubectl would use for an object
// without one.
//
// Flux fields Flotilla accepts but does not act on yet (e.g. verify, decryption) are listed
// in each kind's *_IGNORED and reported as warnings, so nobody believes they took effect.
// Pure (no Node built-ins): workflow code may import it.
import type { z } from 'zod';
import { isRecord, parseManifests } from '../manifests.js';
import { alert } from './kinds/alert.js';
import { configMap, secret } from './kinds/data.js';
import { gitRepository } from './kinds/git-repository.js';
import { helmRelease } from './kinds/helm-release.js';
import { helmRepository } from './kinds/helm-repository.js';
import { imagePolicy } from './kinds/image-policy.js';
import { imageRepository } from './kinds/image-repository.js';
import { imageUpdateAutomation } from './kinds/image-update-automation.js';
import { kustomization } from './kinds/kustomization.js';
import { provider } from './kinds/provider.js';
import { receiver } from './kinds/receiver.js';
import { describeValue, groupOf, type IgnoredField, type KindParser } from './kinds/shared.js';
import type { Declaration, DeclarationKind } from './types.js';
import { declarationId } from './types.js';
import { olderVersions, versionRule } from './versions.js';

// Moved to the kinds' modules; re-exported for the callers that import them from here.
export { decodeBase64Text } from './kinds/data.js';
export { normalizeSourcePath } from './kinds/shared.js';

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
 * The kinds Flotilla reads, each with its parser (core/declarations/kinds/): its newest
 * apiVersion, the one to write and the one every older version Flux served is converted to
 * (core/declarations/versions.ts), and what checks and builds an object of it.
 */
const KINDS: Readonly<Record<DeclarationKind, KindParser>> = {
  GitRepository: gitRepository,
  Kustomization: kustomization,
  ConfigMap: configMap,
  Secret: secret,
  HelmRepository: helmRepository,
  HelmRelease: helmRelease,
  Provider: provider,
  Alert: alert,
  Receiver: receiver,
  ImageRepository: imageRepository,
  ImagePolicy: imagePolicy,
  ImageUpdateAutomation: imageUpdateAutomation,
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

function isDeclarationKind(kind: string): kind is DeclarationKind {
  return Object.hasOwn(KINDS, kind);
}

function classify(apiVersion: string, kind: string): Classified {
  const group = groupOf(apiVersion);
  if (group === KUSTOMIZE_BUILD_GROUP) return { kind: 'skipped', note: `${apiVersion}: a kustomize build file, not a Flux object` };
  if (isDeclarationKind(kind)) {
    const newest = KINDS[kind].apiVersion;
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
  const supported = Object.entries(KINDS).map(([k, parser]) => `${parser.apiVersion} ${k}`).join(', ');
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

  const parser = KINDS[classified.declarationKind];
  const built = parser.parse(obj, { namespace, apiVersion }, input);
  // Problems in a converted object are reported where the user wrote them.
  const asWritten = <T extends { readonly field?: string }>(e: T): T =>
    (conversion === undefined || e.field === undefined ? e : { ...e, field: conversion.writtenField(e.field) });
  if (Array.isArray(built)) {
    return { outcome: 'invalid', errors: built.flatMap((issue) => issueToErrors(issue, obj, at, parser)).map(asWritten) };
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
// Accepted-but-ignored fields → warnings

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

/**
 * Hints for required fields whose absence deserves more than "required", whatever the kind; a
 * kind's own (KindParser.requiredHints, e.g. HelmRepository's spec.url) win over these.
 */
const REQUIRED_HINTS: Readonly<Record<string, string>> = {
  'spec.prune': 'required: Flux requires prune (true deletes objects removed from the source, false leaves them)',
  'spec.interval': 'required: how often to reconcile, e.g. 10m',
  'spec.url': 'required: the Git repository URL',
  'spec.rollout.waves': 'required: the waves to roll out in, e.g. [{name: canary, size: 1}, {name: rest}]',
  'spec.sourceRef': 'required: the GitRepository to build from, e.g. {kind: GitRepository, name: flux-system}',
  spec: 'required: the object has no spec',
};

const EXPECTED: Readonly<Record<string, string>> = {
  string: 'a string', boolean: 'true or false', number: 'a number', int: 'a whole number', array: 'a list', object: 'a mapping', record: 'a mapping',
};

/** A kind's hint for a field (own keys only: a field named "constructor" has no hint). */
function hintFor(hints: Readonly<Record<string, string>> | undefined, field: string): string | undefined {
  return hints !== undefined && Object.hasOwn(hints, field) ? hints[field] : undefined;
}

function issueToErrors(
  issue: z.core.$ZodIssue, obj: unknown, at: Omit<DeclarationError, 'message' | 'field'>, hints: Pick<KindParser, 'requiredHints' | 'removedFieldHints'>,
): DeclarationError[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => {
      const field = formatPath([...issue.path, key]);
      const pattern = field.replace(/\[\d+\]/g, '[*]');
      return { ...at, field, message: hintFor(hints.removedFieldHints, pattern) ?? 'unknown field' };
    });
  }
  const field = formatPath(issue.path);
  const value = valueAt(obj, issue.path);
  let message: string;
  switch (issue.code) {
    case 'invalid_type':
      message = value === undefined
        ? hintFor(hints.requiredHints, field) ?? REQUIRED_HINTS[field] ?? 'required field is missing'
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
