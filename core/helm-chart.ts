// Helm charts, the pure part: reading a chart repository's index.yaml, picking the chart
// version a HelmRelease's semver range asks for (as Flux's source-controller does), and
// telling Helm hooks apart from release objects in rendered manifests (as Helm does:
// helm.sh/hook, hook-weight and hook-delete-policy annotations). The IO (downloads,
// running helm) is in activities/helm-chart.ts.
import semver from 'semver';
import { parse } from 'yaml';
import { isRecord } from './manifests.js';
import type { KubeObject } from './objects.js';

// ---------------------------------------------------------------------------------------------
// The repository index.

/** One chart version listed in a repository index. */
export interface HelmChartVersion {
  readonly name: string;
  readonly version: string;
  /** Where to download the .tgz; may be relative to the repository URL. */
  readonly urls: readonly string[];
  /** The sha256 of the .tgz, hex, as `helm repo index` writes it. */
  readonly digest?: string;
  readonly created?: string;
  readonly appVersion?: string;
  readonly kubeVersion?: string;
  readonly deprecated: boolean;
}

/** A parsed index.yaml. Plain data (no Map), so it can cross a Temporal activity boundary. */
export interface HelmIndex {
  /** The URL the index was read from, for messages. */
  readonly url: string;
  readonly apiVersion: string;
  readonly generated?: string;
  /** Chart name → its versions, newest first. */
  readonly entries: Readonly<Record<string, readonly HelmChartVersion[]>>;
}

/**
 * Parses an index.yaml (or its JSON form). Like Helm, an entry without a name or a valid
 * semver version is skipped, not fatal; a document that is not an index at all is an error
 * naming `url`.
 */
export function parseHelmIndex(text: string, url: string): HelmIndex {
  const notIndex = (why: string): Error => new Error(`${url} is not a Helm repository index: ${why}`);
  if (text.trim() === '') throw notIndex('the file is empty');
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw notIndex(`invalid YAML: ${message.split('\n')[0] ?? message}`);
  }
  if (!isRecord(doc)) throw notIndex('expected a YAML mapping with apiVersion and entries');
  if (typeof doc.apiVersion !== 'string' || doc.apiVersion === '') throw notIndex('no apiVersion specified');
  const rawEntries = doc.entries ?? {};
  if (!isRecord(rawEntries)) throw notIndex('entries is not a mapping of chart names to versions');

  const entries: Record<string, HelmChartVersion[]> = {};
  for (const [name, list] of Object.entries(rawEntries)) {
    if (list === null) continue;
    if (!Array.isArray(list)) throw notIndex(`entries.${name} is not a list of chart versions`);
    const versions = (list as unknown[]).flatMap((item) => {
      const version = chartVersion(item);
      return version ? [version] : [];
    });
    entries[name] = versions.sort(newestFirst);
  }
  return {
    url,
    apiVersion: doc.apiVersion,
    ...(typeof doc.generated === 'string' ? { generated: doc.generated } : {}),
    entries,
  };
}

/** One entry, or undefined when Helm would skip it (no name, no valid version). */
function chartVersion(item: unknown): HelmChartVersion | undefined {
  if (!isRecord(item)) return undefined;
  const name = typeof item.name === 'string' && item.name !== '' ? item.name : undefined;
  const version = typeof item.version === 'string' ? item.version : undefined;
  if (name === undefined || version === undefined || toSemver(version) === null) return undefined;
  const urls = Array.isArray(item.urls) ? item.urls.filter((u): u is string => typeof u === 'string' && u !== '') : [];
  const optional = (key: string): Record<string, string> => {
    const value = item[key];
    return typeof value === 'string' && value !== '' ? { [key]: value } : {};
  };
  return {
    name,
    version,
    urls,
    ...optional('digest'),
    ...optional('created'),
    ...optional('appVersion'),
    ...optional('kubeVersion'),
    deprecated: item.deprecated === true,
  };
}

/**
 * A chart version as semver. Helm's parser (Masterminds) is lenient: "v1.2.3", "1.2" and "1"
 * are versions too (1.2 → 1.2.0).
 */
function toSemver(version: string): semver.SemVer | null {
  const parsed = semver.parse(version, { loose: true });
  if (parsed) return parsed;
  const short = /^v?(\d+)(?:\.(\d+))?$/.exec(version.trim());
  if (!short) return null;
  return semver.parse(`${short[1] ?? '0'}.${short[2] ?? '0'}.0`);
}

/** Descending by semver; for versions equal but for build metadata, the newest `created` first (Flux's rule). */
function newestFirst(a: HelmChartVersion, b: HelmChartVersion): number {
  const va = toSemver(a.version);
  const vb = toSemver(b.version);
  if (va === null || vb === null) return 0; // never: parseHelmIndex keeps valid versions only
  return semver.compare(vb, va) || createdTime(b) - createdTime(a);
}

function createdTime(v: HelmChartVersion): number {
  const t = v.created === undefined ? NaN : Date.parse(v.created);
  return Number.isNaN(t) ? 0 : t;
}

// ---------------------------------------------------------------------------------------------
// Picking a version.

export type ChartResolutionReason = 'ChartNotFound' | 'NoMatchingVersion' | 'InvalidRange';

export class ChartResolutionError extends Error {
  override readonly name = 'ChartResolutionError';
  constructor(
    readonly reason: ChartResolutionReason,
    message: string,
  ) {
    super(message);
  }
}

/** How many versions the "no match" message lists. */
const LISTED_VERSIONS = 10;

/**
 * The chart version `range` asks for, as Flux resolves a HelmChart's spec.version:
 *   - a version string that appears verbatim in the index is taken as is (prereleases too);
 *   - `*` or empty means the latest stable version;
 *   - otherwise the highest version satisfying the semver range. As in Helm's semver library,
 *     prereleases are candidates only for a range (one `||` alternative) that itself names a
 *     prerelease: `>=1.0.0-0` matches 2.0.0-rc.1, `>=1.0.0` does not.
 * Ranges use Helm's syntax: `>=1.2 <2`, `^1.2`, `~1.2.3`, `1.2.x`, `1.0 - 2.0`, `a || b`, and
 * commas as AND (`>=1.0, <2.0`).
 */
export function resolveChartVersion(index: HelmIndex, chart: string, range: string): HelmChartVersion {
  const versions = Object.hasOwn(index.entries, chart) ? index.entries[chart] : undefined;
  if (versions === undefined) {
    throw new ChartResolutionError('ChartNotFound', `chart "${chart}" not found in ${index.url}`);
  }
  const wanted = range.trim();
  const exact = versions.find((v) => v.version === wanted);
  if (exact && wanted !== '') return exact;

  const matches = versionMatcher(wanted === '' ? '*' : wanted);
  const found = versions.find((v) => {
    const parsed = toSemver(v.version);
    return parsed !== null && matches(parsed);
  });
  if (found) return found;

  const listed = versions.slice(0, LISTED_VERSIONS).map((v) => v.version);
  const available = versions.length === 0 ? 'no versions' : `available: ${listed.join(', ')}${versions.length > LISTED_VERSIONS ? ', …' : ''}`;
  throw new ChartResolutionError('NoMatchingVersion', `no chart version of "${chart}" matches "${wanted}" (${available})`);
}

/** A predicate for a Helm-syntax range; throws ChartResolutionError('InvalidRange'). */
function versionMatcher(range: string): (v: semver.SemVer) => boolean {
  const invalid = (): ChartResolutionError => new ChartResolutionError('InvalidRange', `invalid semver range "${range}"`);
  const alternatives = range.split('||').map((alternative) => {
    const text = alternative.replace(/,/g, ' ').trim();
    if (text === '' && range.includes('||')) throw invalid();
    const includePrerelease = namesPrerelease(text);
    let parsed: semver.Range;
    try {
      parsed = new semver.Range(text === '' ? '*' : text, { loose: true, includePrerelease });
    } catch {
      throw invalid();
    }
    return (v: semver.SemVer): boolean => (includePrerelease || v.prerelease.length === 0) && parsed.test(v);
  });
  return (v) => alternatives.some((test) => test(v));
}

/** Whether a range (one `||` alternative) names a prerelease version, e.g. `>=1.0.0-0`. */
function namesPrerelease(text: string): boolean {
  return text
    .split(/\s+/)
    .map((token) => token.replace(/^[=<>~^!]*v?/, ''))
    .some((token) => /^\d+(\.(\d+|[xX*])){0,2}-[0-9A-Za-z]/.test(token));
}

// ---------------------------------------------------------------------------------------------
// Hooks.

export const HOOK_EVENTS = [
  'pre-install', 'post-install', 'pre-delete', 'post-delete',
  'pre-upgrade', 'post-upgrade', 'pre-rollback', 'post-rollback', 'test',
] as const;
export type HookEvent = (typeof HOOK_EVENTS)[number];

export const HOOK_DELETE_POLICIES = ['before-hook-creation', 'hook-succeeded', 'hook-failed'] as const;
export type HookDeletePolicy = (typeof HOOK_DELETE_POLICIES)[number];

export const HOOK_ANNOTATION = 'helm.sh/hook';
export const HOOK_WEIGHT_ANNOTATION = 'helm.sh/hook-weight';
export const HOOK_DELETE_POLICY_ANNOTATION = 'helm.sh/hook-delete-policy';

export interface HelmHook {
  readonly object: KubeObject;
  /** Without duplicates, in annotation order; Helm 2's `test-success` is `test`. */
  readonly events: readonly HookEvent[];
  /** helm.sh/hook-weight; 0 when absent or not an integer. */
  readonly weight: number;
  /**
   * When Helm deletes the hook object. `before-hook-creation` when the annotation is absent.
   * Always empty for a CustomResourceDefinition: Helm never deletes a CRD hook.
   */
  readonly deletePolicies: readonly HookDeletePolicy[];
}

/** An object whose helm.sh/hook names an event Helm does not know; Helm drops such objects. */
export interface SkippedHook {
  readonly object: KubeObject;
  readonly annotation: string;
}

export interface SplitHooks {
  /** The release's objects, in input order. */
  readonly resources: KubeObject[];
  readonly hooks: HelmHook[];
  /** Dropped, as Helm drops them ("skipping unknown hook"); worth a warning. */
  readonly skipped: SkippedHook[];
}

/** Helm 3's hook names; `test-success` is Helm 2's name for `test`. */
const EVENT_NAMES: ReadonlyMap<string, HookEvent> = new Map<string, HookEvent>([
  ...HOOK_EVENTS.map((e): [string, HookEvent] => [e, e]),
  ['test-success', 'test'],
]);

/** Splits rendered objects into release objects and hooks, with Helm's rules (releaseutil.SortManifests). */
export function splitHooks(objects: readonly KubeObject[]): SplitHooks {
  const resources: KubeObject[] = [];
  const hooks: HelmHook[] = [];
  const skipped: SkippedHook[] = [];
  for (const object of objects) {
    const annotations = object.metadata.annotations ?? {};
    const value = annotation(annotations, HOOK_ANNOTATION);
    if (value === undefined) {
      resources.push(object);
      continue;
    }
    const events: HookEvent[] = [];
    let unknown = false;
    for (const part of commaList(value)) {
      const event = EVENT_NAMES.get(part);
      if (event === undefined) unknown = true;
      else if (!events.includes(event)) events.push(event);
    }
    if (unknown) {
      skipped.push({ object, annotation: value });
      continue;
    }
    hooks.push({ object, events, weight: hookWeight(annotation(annotations, HOOK_WEIGHT_ANNOTATION)), deletePolicies: deletePolicies(object) });
  }
  return { resources, hooks, skipped };
}

function annotation(annotations: Readonly<Record<string, unknown>>, key: string): string | undefined {
  const value = Object.hasOwn(annotations, key) ? annotations[key] : undefined;
  return typeof value === 'string' ? value : undefined;
}

/** Helm splits on commas, trims and lower-cases each part. */
function commaList(value: string): string[] {
  return value.split(',').map((part) => part.trim().toLowerCase());
}

/** Go's strconv.Atoi, as Helm parses the weight: a signed decimal integer, else 0. */
function hookWeight(value: string | undefined): number {
  if (value === undefined || !/^[+-]?\d+$/.test(value)) return 0;
  const n = Number(value);
  return Math.abs(n) <= 2 ** 63 ? n : 0;
}

/**
 * The annotation's known policies. Like Helm, the default applies only when the annotation
 * is absent (an annotation naming only unknown policies deletes nothing), and CRDs are never
 * deleted.
 */
function deletePolicies(object: KubeObject): HookDeletePolicy[] {
  if (object.kind === 'CustomResourceDefinition') return [];
  const value = annotation(object.metadata.annotations ?? {}, HOOK_DELETE_POLICY_ANNOTATION);
  if (value === undefined) return ['before-hook-creation'];
  const policies: HookDeletePolicy[] = [];
  for (const part of commaList(value)) {
    const policy = HOOK_DELETE_POLICIES.find((p) => p === part);
    if (policy !== undefined && !policies.includes(policy)) policies.push(policy);
  }
  return policies;
}

/** Helm's install order of kinds (releaseutil.InstallOrder); other kinds come after, by kind name. */
const INSTALL_ORDER: ReadonlyMap<string, number> = new Map(
  [
    'PriorityClass', 'Namespace', 'NetworkPolicy', 'ResourceQuota', 'LimitRange', 'PodSecurityPolicy',
    'PodDisruptionBudget', 'ServiceAccount', 'Secret', 'SecretList', 'ConfigMap', 'StorageClass',
    'PersistentVolume', 'PersistentVolumeClaim', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleList',
    'ClusterRoleBinding', 'ClusterRoleBindingList', 'Role', 'RoleList', 'RoleBinding', 'RoleBindingList',
    'Service', 'DaemonSet', 'Pod', 'ReplicationController', 'ReplicaSet', 'Deployment', 'HorizontalPodAutoscaler',
    'StatefulSet', 'Job', 'CronJob', 'IngressClass', 'Ingress', 'APIService', 'MutatingWebhookConfiguration',
    'ValidatingWebhookConfiguration',
  ].map((kind, i) => [kind, i]),
);

/** Hooks of one weight, in the order Helm creates them. */
export interface HookStep {
  readonly weight: number;
  readonly hooks: readonly HelmHook[];
}

/**
 * The hooks of one event, grouped by weight (lowest first), each group sorted by kind (Helm's
 * install order, unknown kinds last) then name. Helm runs them one at a time in this order:
 * for each hook it deletes a previous copy when the policy has before-hook-creation, creates
 * it, and waits for it to be ready (a Job or Pod: completed). The first failure stops the
 * event (the failed hook is deleted if hook-failed); when all succeed, those with
 * hook-succeeded are deleted, last first.
 */
export function hookSteps(hooks: readonly HelmHook[], event: HookEvent): HookStep[] {
  const sorted = hooks.filter((h) => h.events.includes(event)).sort(byWeightKindName);
  const steps: { weight: number; hooks: HelmHook[] }[] = [];
  for (const hook of sorted) {
    const last = steps.at(-1);
    if (last?.weight === hook.weight) last.hooks.push(hook);
    else steps.push({ weight: hook.weight, hooks: [hook] });
  }
  return steps;
}

function byWeightKindName(a: HelmHook, b: HelmHook): number {
  if (a.weight !== b.weight) return a.weight - b.weight;
  const ka = INSTALL_ORDER.get(a.object.kind) ?? Number.MAX_SAFE_INTEGER;
  const kb = INSTALL_ORDER.get(b.object.kind) ?? Number.MAX_SAFE_INTEGER;
  if (ka !== kb) return ka - kb;
  if (a.object.kind !== b.object.kind) return compareStrings(a.object.kind, b.object.kind);
  return compareStrings(a.object.metadata.name, b.object.metadata.name);
}

/** Byte order, as Go compares strings. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
