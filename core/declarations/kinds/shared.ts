// What the kinds' parsers (core/declarations/kinds/*.ts) share: the checks of Kubernetes
// names, labels and annotations, Go durations and paths inside a source; the metadata every
// object carries and the wrapper that makes a spec schema a Flux object; a few fields more than
// one kind has (dependsOn, a notification type); and KindParser, the contract between a kind's
// module and the dispatch table of core/declarations/parse.ts.
//
// Defaults shared by every kind: labels and annotations none; durations are Go durations
// rounded up to whole seconds (core/declarations/duration.ts). The object's namespace default
// ("default", as kubectl) is parse.ts's, which passes it in BuildContext.
// Pure (no Node built-ins): workflow code may import it.
import { z } from 'zod';
import { parseGoDurationSeconds } from '../duration.js';
import type { Declaration } from '../types.js';

// ---------------------------------------------------------------------------------------
// Field checks shared by the schemas

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** A string schema with a check that returns an error message, or undefined when fine. */
export function checkedString(check: (value: string) => string | undefined) {
  return z.string().superRefine((value, ctx) => {
    const message = check(value);
    if (message !== undefined) ctx.addIssue({ code: 'custom', message });
  });
}

function dnsLabelProblem(value: string): string | undefined {
  return value.length <= 63 && DNS_LABEL.test(value) ? undefined
    : `invalid name ${JSON.stringify(value)}: must be a DNS label (at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit)`;
}

export function dnsSubdomainProblem(value: string): string | undefined {
  return value.length <= 253 && DNS_SUBDOMAIN.test(value) ? undefined
    : `invalid name ${JSON.stringify(value)}: must be a DNS subdomain (at most 253 lowercase letters, digits, '-' and '.', starting and ending with a letter or digit)`;
}

export function labelKeyProblem(key: string): string | undefined {
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

export const dnsLabel = checkedString(dnsLabelProblem);
export const dnsSubdomain = checkedString(dnsSubdomainProblem);
export const nonEmpty = z.string().min(1);

export const labelMap = z.record(z.string(), z.string()).superRefine((labels, ctx) => {
  for (const [key, value] of Object.entries(labels)) {
    const message = labelKeyProblem(key) ?? labelValueProblem(value);
    if (message !== undefined) ctx.addIssue({ code: 'custom', message, path: [key] });
  }
});

export const annotationMap = z.record(z.string(), z.string()).superRefine((annotations, ctx) => {
  for (const key of Object.keys(annotations)) {
    const message = labelKeyProblem(key);
    if (message !== undefined) ctx.addIssue({ code: 'custom', message, path: [key] });
  }
});

/** A Go duration, as whole seconds (rounded up) greater than zero. */
export const duration = z.string().transform((text, ctx) => {
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

export const sourcePath = z.string().transform((text, ctx) => {
  const result = normalizeSourcePath(text);
  if (result instanceof Error) {
    ctx.addIssue({ code: 'custom', message: result.message });
    return z.NEVER;
  }
  return result;
});

/** An object under metadata: the fields users write are checked, the ones servers add are allowed. */
export const Metadata = z.strictObject({
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
export const LocalRef = z.strictObject({ name: dnsSubdomain });

/** Masterminds/semver (Flux's) separates AND-ed constraints with commas; node-semver with spaces. */
export function toNodeSemverRange(range: string): string {
  return range.replace(/,/g, ' ').replace(/\s+/g, ' ').trim();
}

/** An entry of spec.dependsOn (Kustomization, HelmRelease). */

export const Dependency = z.strictObject({
  name: dnsSubdomain,
  namespace: dnsLabel.optional(),
  readyExpr: z.string().optional(), // accepted, not acted on yet
});

/** A `type` field: one of `supported`, with a distinct message for Flux's other values. */
export function notificationType<T extends string>(what: string, supported: readonly T[], fluxOnly: readonly string[]) {
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

/** The API group of an apiVersion ("" for the core group's "v1"). */

export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/** A value as an error message names it ("a list", a quoted string cut at 60 characters). */

export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value;
}

// ---------------------------------------------------------------------------------------
// A Flux object and its declaration

export function fluxObject<S extends z.ZodType>(spec: S) {
  return z.strictObject({ apiVersion: z.string(), kind: z.string(), metadata: Metadata, spec, status: z.unknown().optional() });
}

export interface BuildContext {
  readonly namespace: string;
  readonly apiVersion: string;
}

export function base(meta: Metadata, ctx: BuildContext) {
  return {
    apiVersion: ctx.apiVersion,
    namespace: ctx.namespace,
    name: meta.name,
    labels: meta.labels ?? {},
    annotations: meta.annotations ?? {},
  };
}

// ---------------------------------------------------------------------------------------
// Accepted-but-ignored fields and builder warnings (parse.ts turns both into warnings)

export interface IgnoredField {
  /** Path in the object, e.g. ['spec', 'verify']; '*' stands for every element of a list. */
  readonly path: readonly string[];
  /** Values that mean "off", so writing them is not worth a warning. */
  readonly harmless?: readonly unknown[];
  readonly note: string;
}

/** A warning found by a builder rather than by path (it depends on several fields). */
export interface FieldWarning {
  readonly field: string;
  readonly message: string;
}

export const NOT_YET = 'accepted but not acted on by Flotilla yet';

// ---------------------------------------------------------------------------------------
// One kind's parser, as parse.ts dispatches to it

/** A valid object's declaration, with the fields it accepts without acting on them and the warnings its builder found. */
export interface Built {
  readonly declaration: Declaration;
  readonly ignoredFields: readonly IgnoredField[];
  readonly warnings?: readonly FieldWarning[];
}

/** What parse.ts needs of a kind: its newest apiVersion, its parse, and the hints for its error messages. */
export interface KindParser {
  /**
   * The newest apiVersion: the one to write, and the one every older version Flux served is
   * converted to before parse is called (core/declarations/versions.ts).
   */
  readonly apiVersion: string;
  /**
   * Checks a newest-version object (nulls dropped) against the kind's schema and builds its
   * declaration with the defaults filled in, or returns zod's issues. `given` is the object as
   * written, nulls included, for a kind where a null means something (HelmRelease values).
   */
  readonly parse: (obj: Record<string, unknown>, ctx: BuildContext, given: Record<string, unknown>) => Built | z.core.$ZodIssue[];
  /** Hints for required fields whose absence deserves more than "required", by field; they win over parse.ts's hints for any kind. */
  readonly requiredHints?: Readonly<Record<string, string>>;
  /**
   * Fields earlier Flux versions had, written in a newest-version object, with what to write
   * instead, by field (list indexes are written [*]). An old version's object has them
   * converted instead (core/declarations/versions.ts).
   */
  readonly removedFieldHints?: Readonly<Record<string, string>>;
}

/** A KindParser from the kind's schema, builder and lists. */
export function kindParser<S extends z.ZodType>(kind: {
  readonly apiVersion: string;
  readonly schema: S;
  readonly build: (obj: z.output<S>, ctx: BuildContext) => Declaration;
  readonly ignoredFields: readonly IgnoredField[];
  /** Warnings that depend on more than one field. */
  readonly warnings?: (obj: z.output<S>) => FieldWarning[];
  /** What the schema checks, from the null-free object and the object as given; default the null-free object. */
  readonly input?: (obj: Record<string, unknown>, given: Record<string, unknown>) => Record<string, unknown>;
  readonly requiredHints?: Readonly<Record<string, string>>;
  readonly removedFieldHints?: Readonly<Record<string, string>>;
}): KindParser {
  const { apiVersion, schema, build, ignoredFields, warnings, input, requiredHints, removedFieldHints } = kind;
  return {
    apiVersion,
    requiredHints,
    removedFieldHints,
    parse: (obj, ctx, given) => {
      const r = schema.safeParse(input === undefined ? obj : input(obj, given));
      if (!r.success) return r.error.issues;
      const declaration = build(r.data, ctx);
      return warnings === undefined ? { declaration, ignoredFields } : { declaration, ignoredFields, warnings: warnings(r.data) };
    },
  };
}
