// Ownership between deployments and co-controllers (tracker issue #23, "Ownership").
//
// Server-side apply records, per field, which *field manager* set it. Flotilla applies each
// deployment under its own manager (`flotilla:<deployment>`), so that two deployments, an
// HPA or a person running `kubectl` are told apart in an object's managedFields. This file
// holds the pure rules the apply engine (applier.ts) uses with that information:
// - the manager name of a deployment (valid for the API server: ≤ 128 printable characters);
// - moving ownership from an old manager to the deployment's (the `flotilla` manager of
//   earlier versions, or the previous deployment of a handed-over object);
// - field paths and the `flotilla.dev/ignore-fields` annotation;
// - "holding" fields: leaving to their current owner fields a deployment must not re-assert
//   (ignored fields, `spec.replicas` under an HPA, fields it lost a fight over);
// - which HorizontalPodAutoscalers target what;
// - fights: a field another manager keeps changing back.
import { createHash } from 'node:crypto';
import { isRecord } from '../../core/manifests.js';
import { groupOf, type KubeObject } from '../../core/objects.js';

/** The one manager of Flotilla before per-deployment managers (still used for the agent's own state). */
export const LEGACY_FIELD_MANAGER = 'flotilla';
export const FIELD_MANAGER_PREFIX = 'flotilla:';
/** The API server refuses longer field managers (apimachinery's ValidateFieldManager counts bytes). */
export const MAX_FIELD_MANAGER_LENGTH = 128;
const MANAGER_HASH_LENGTH = 10;

/** Fields of a manifest object that are never re-asserted once the object exists. */
export const IGNORE_FIELDS_ANNOTATION = 'flotilla.dev/ignore-fields';

/**
 * A field changed back by the same other manager this many times within FIGHT_WINDOW_MS is a
 * fight: Flotilla stops re-applying it. Three, because one change is drift (corrected, once)
 * and two can be a person retrying; a controller that undoes each correction gets there
 * within three drift rounds (the agent's default round is one minute).
 */
export const FIGHT_CHANGES = 3;
/** Ten minutes: three drift rounds at the default interval fit in it with room to spare. */
export const FIGHT_WINDOW_MS = 10 * 60_000;

/**
 * The field manager of a deployment: `flotilla:<deployment name>`, e.g.
 * `flotilla:kustomization/apps/podinfo`. Names with characters outside printable ASCII
 * (other than space) have them replaced by `_`; names that are altered so, or too long for
 * the API server's 128 characters, end in `~` and the first 10 hex digits of the name's
 * sha256, so that different deployments never share a manager.
 */
export function fieldManagerFor(deployment: string): string {
  if (deployment === '') throw new Error('a deployment needs a name for its field manager');
  const clean = deployment.replace(/[^\x21-\x7e]/g, '_');
  const whole = `${FIELD_MANAGER_PREFIX}${clean}`;
  if (clean === deployment && whole.length <= MAX_FIELD_MANAGER_LENGTH) return whole;
  const hash = createHash('sha256').update(deployment).digest('hex').slice(0, MANAGER_HASH_LENGTH);
  const room = MAX_FIELD_MANAGER_LENGTH - FIELD_MANAGER_PREFIX.length - 1 - hash.length;
  return `${FIELD_MANAGER_PREFIX}${clean.slice(0, room)}~${hash}`;
}

// ---------------------------------------------------------------------------------------
// Field paths

/** A field as map keys from the object's root, e.g. ["spec", "replicas"]. */
export type FieldPath = readonly string[];

const PLAIN_SEGMENT = /^[^.[\]"'\s,]+$/;

/**
 * The path in the annotation's syntax: dots between keys, `["key"]` for a key that holds
 * a dot or other punctuation: `spec.replicas`, `metadata.annotations["example.com/x"]`.
 */
export function formatPath(path: FieldPath): string {
  return path.map((seg, i) => (PLAIN_SEGMENT.test(seg) ? `${i === 0 ? '' : '.'}${seg}` : `["${seg}"]`)).join('');
}

/** The path as core/drift.ts reports drift (keys joined by dots), to filter drift reports. */
export function driftPath(path: FieldPath): string {
  return path.join('.');
}

/** Is the drift path `reported` (core/drift.ts notation) at or below one of `paths`? */
export function isUnder(reported: string, paths: readonly FieldPath[]): boolean {
  return paths.some((p) => {
    const prefix = driftPath(p);
    return reported === prefix || reported.startsWith(`${prefix}.`) || reported.startsWith(`${prefix}[`);
  });
}

/** Flotilla's own marks and an object's identity may not be ignored: ownership and prune rely on them. */
function protectedReason(path: FieldPath): string | undefined {
  const [top, second, third] = path;
  if (top === 'apiVersion' || top === 'kind') return 'is the object\'s type';
  if (top !== 'metadata') return undefined;
  if (second === undefined || second === 'name' || second === 'namespace') return 'is the object\'s identity';
  if ((second === 'annotations' || second === 'labels') && third === undefined) return `holds Flotilla's own ${second}; name single keys instead`;
  if ((second === 'annotations' || second === 'labels') && third !== undefined
    && (third.startsWith('flotilla.dev/') || third === 'app.kubernetes.io/managed-by')) return 'is Flotilla\'s own mark';
  return undefined;
}

/**
 * Parses the value of `flotilla.dev/ignore-fields`: comma-separated paths of map keys
 * (`spec.replicas, spec.template.metadata.annotations, metadata.labels["example.com/tier"]`).
 * List elements cannot be named (a whole list can). Errors say which path and why.
 */
export function parseIgnoreFields(value: string): { paths: FieldPath[]; errors: string[] } {
  const paths: FieldPath[] = [];
  const errors: string[] = [];
  let i = 0;
  const n = value.length;
  const skipSpace = (): void => { while (i < n && /\s/.test(value.charAt(i))) i++; };
  while (i < n) {
    skipSpace();
    if (i >= n) break;
    if (value.charAt(i) === ',') { i++; continue; } // empty entries ("a,,b", a trailing comma) are harmless
    const start = i;
    const segments: string[] = [];
    let error: string | undefined;
    let expectKey = true; // at the start and after a dot
    while (i < n && value.charAt(i) !== ',' && !/\s/.test(value.charAt(i))) {
      const c = value.charAt(i);
      if (c === '[') {
        const m = /^\["([^"]*)"\]/.exec(value.slice(i));
        if (!m || m[1] === undefined || m[1] === '') { error = 'a bracket must hold a quoted, non-empty key: ["example.com/x"] (list elements cannot be named)'; break; }
        segments.push(m[1]);
        i += m[0].length;
        expectKey = false;
      } else if (c === '.') {
        if (expectKey) { error = 'empty key (two dots, or a leading dot)'; break; }
        i++;
        expectKey = true;
      } else {
        if (!expectKey) { error = 'a key must follow a dot'; break; }
        const m = /^[^.[\]"'\s,]+/.exec(value.slice(i));
        if (!m) { error = `unexpected character ${JSON.stringify(c)}`; break; }
        segments.push(m[0]);
        i += m[0].length;
        expectKey = false;
      }
    }
    if (!error && expectKey) error = 'a path must not end with a dot';
    // Resynchronise at the next comma.
    while (i < n && value.charAt(i) !== ',') {
      if (!error && !/\s/.test(value.charAt(i))) error = 'paths are separated by commas';
      i++;
    }
    const text = value.slice(start, i).trim();
    if (error) { errors.push(`${JSON.stringify(text)}: ${error}`); continue; }
    const reason = protectedReason(segments);
    if (reason) { errors.push(`${JSON.stringify(text)} cannot be ignored: it ${reason}`); continue; }
    if (!paths.some((p) => JSON.stringify(p) === JSON.stringify(segments))) paths.push(segments);
  }
  return { paths, errors };
}

function getAt(obj: unknown, path: FieldPath): unknown {
  let node = obj;
  for (const seg of path) {
    if (!isRecord(node)) return undefined;
    node = node[seg];
  }
  return node;
}

/** Sets `value` at `path`, creating maps on the way; false when a non-map is in the way. */
function setAt(obj: Record<string, unknown>, path: FieldPath, value: unknown): boolean {
  let node = obj;
  for (const [i, seg] of path.entries()) {
    if (i === path.length - 1) { node[seg] = value; return true; }
    const next = node[seg];
    if (next === undefined) node[seg] = {};
    else if (!isRecord(next)) return false;
    node = node[seg] as Record<string, unknown>;
  }
  return false;
}

function deleteAt(obj: Record<string, unknown>, path: FieldPath): void {
  const parent = getAt(obj, path.slice(0, -1));
  const last = path[path.length - 1];
  if (isRecord(parent) && last !== undefined) Reflect.deleteProperty(parent, last);
}

// ---------------------------------------------------------------------------------------
// managedFields

export interface ManagedFieldsEntry {
  readonly manager: string;
  readonly operation: string;
  readonly apiVersion?: string;
  readonly time?: string;
  readonly fieldsType?: string;
  readonly fieldsV1?: Record<string, unknown>;
  readonly subresource?: string;
  readonly [key: string]: unknown;
}

/** An object's managedFields, skipping anything malformed. */
export function managedFieldsOf(obj: KubeObject): ManagedFieldsEntry[] {
  const raw = obj.metadata.managedFields;
  if (!Array.isArray(raw)) return [];
  return raw.filter((e): e is ManagedFieldsEntry => isRecord(e) && typeof e.manager === 'string' && typeof e.operation === 'string');
}

/** The set of fields `manager` holds by apply on the object itself (not a subresource). */
export function appliedFieldsOf(obj: KubeObject, manager: string): Record<string, unknown> | undefined {
  return managedFieldsOf(obj).find((e) => isApplyEntry(e) && e.manager === manager)?.fieldsV1;
}

function isApplyEntry(e: ManagedFieldsEntry): boolean {
  return e.operation === 'Apply' && (e.subresource === undefined || e.subresource === '');
}

/**
 * The field set (FieldsV1) at `path`: `{}` when an ancestor is held as a whole (an atomic
 * map or struct), undefined when the set holds nothing at or below it.
 */
export function fieldsAt(fields: unknown, path: FieldPath): Record<string, unknown> | undefined {
  let node: unknown = fields;
  for (const [i, seg] of path.entries()) {
    if (!isRecord(node)) return undefined;
    if (i > 0 && Object.keys(node).length === 0) return {}; // an atomic ancestor, owned whole
    node = node[`f:${seg}`];
  }
  return isRecord(node) ? node : undefined;
}

/** Union of two FieldsV1 sets (they are tries of keys; `{}` marks a leaf). */
export function mergeFields(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [key, value] of Object.entries(b)) {
    const mine = out[key];
    out[key] = isRecord(mine) && isRecord(value) ? mergeFields(mine, value) : (mine ?? value);
  }
  return out;
}

/**
 * managedFields with every apply entry of the managers `from` moved to `to` (merged into
 * `to`'s own apply entry when there is one, which then comes last), or undefined when no
 * entry matches. After it, `to` owns what those managers owned, so a field the deployment
 * no longer declares is removed by its next apply, as if it had always applied it.
 *
 * This is Flux's technique for the same migration (kustomize-controller moving objects from
 * its old manager names): PatchReplaceFieldsManagers in
 * github.com/fluxcd/pkg ssa/patch.go, called by ResourceManager.cleanupMetadata in
 * ssa/manager_apply.go; kubectl's client-go "csaupgrade" package does the same for
 * client-side-apply managers. The result is written with a JSON patch of
 * /metadata/managedFields; the API server keeps managedFields a request sets explicitly.
 */
export function transferOwnership(obj: KubeObject, from: readonly string[], to: string): ManagedFieldsEntry[] | undefined {
  const entries = managedFieldsOf(obj);
  const moving = entries.filter((e) => isApplyEntry(e) && from.includes(e.manager) && e.manager !== to);
  const first = moving[0];
  if (first === undefined) return undefined;
  const own = entries.find((e) => isApplyEntry(e) && e.manager === to);
  let target: ManagedFieldsEntry = own ?? { ...first, manager: to };
  for (const e of moving) {
    target = { ...target, fieldsV1: mergeFields(target.fieldsV1 ?? {}, e.fieldsV1 ?? {}) };
  }
  return [...entries.filter((e) => e !== own && !moving.includes(e)), target];
}

/**
 * The managers other than `self` that hold the field at `path` (by apply or update, on the
 * object or its scale subresource), the most recent first.
 */
export function otherOwners(obj: KubeObject, path: FieldPath, self: string): string[] {
  return managedFieldsOf(obj)
    .filter((e) => e.manager !== self && fieldsAt(e.fieldsV1, path) !== undefined)
    .sort((a, b) => (b.time ?? '').localeCompare(a.time ?? ''))
    .map((e) => e.manager);
}

// ---------------------------------------------------------------------------------------
// Holding fields

/**
 * What to send for a held field: the part of its live value that `owned` (this manager's
 * field set at that path) covers. Server-side apply removes a field its only owner stops
 * sending, so a field the deployment owns is sent with its live value (kept, not
 * re-asserted); a field it does not own is left out (its owner keeps it). Flux does the same
 * for its drift ignore rules ("strip" vs "adopt", computeDriftedPaths in fluxcd/pkg
 * ssa/manager_apply.go). Lists are taken whole: their elements are not split by owner.
 */
function heldValue(live: unknown, owned: Record<string, unknown> | undefined): unknown {
  if (owned === undefined || live === undefined) return undefined;
  if (!isRecord(live) || Object.keys(owned).length === 0) return structuredClone(live);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(live)) {
    const child = owned[`f:${key}`];
    const kept = heldValue(value, isRecord(child) ? child : undefined);
    if (kept !== undefined) out[key] = kept;
  }
  return out;
}

/**
 * `desired` with the fields at `paths` left as they are live: what applying it changes
 * leaves those fields alone. `owned` is the deployment's field set on the live object.
 */
export function holdFields(desired: KubeObject, live: KubeObject, paths: readonly FieldPath[], owned: Record<string, unknown> | undefined): KubeObject {
  if (paths.length === 0) return desired;
  const out = structuredClone(desired);
  for (const path of paths) {
    const value = heldValue(getAt(live, path), fieldsAt(owned, path));
    if (value === undefined || !setAt(out, path, value)) deleteAt(out, path);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// HorizontalPodAutoscalers

/** spec.replicas of the built-in kinds with a scale subresource, by "group/Kind". */
export const BUILTIN_REPLICAS: ReadonlyMap<string, FieldPath> = new Map([
  ['apps/Deployment', ['spec', 'replicas']],
  ['apps/StatefulSet', ['spec', 'replicas']],
  ['apps/ReplicaSet', ['spec', 'replicas']],
  ['/ReplicationController', ['spec', 'replicas']],
]);

/** Groups served by Kubernetes itself (their scalable kinds are all in BUILTIN_REPLICAS). */
export function isBuiltinGroup(group: string): boolean {
  return !group.includes('.') || group.endsWith('.k8s.io');
}

export interface ScaleTarget {
  readonly namespace: string;
  readonly group: string;
  readonly kind: string;
  readonly name: string;
}

/** The scaleTargetRef of each HPA (autoscaling/v1 and v2 spell it alike), in the HPA's namespace. */
export function hpaTargets(hpas: readonly KubeObject[]): ScaleTarget[] {
  const out: ScaleTarget[] = [];
  for (const hpa of hpas) {
    const spec = isRecord(hpa.spec) ? hpa.spec : {};
    const ref = isRecord(spec.scaleTargetRef) ? spec.scaleTargetRef : {};
    if (typeof ref.kind !== 'string' || typeof ref.name !== 'string' || !hpa.metadata.namespace) continue;
    const apiVersion = typeof ref.apiVersion === 'string' ? ref.apiVersion : '';
    out.push({ namespace: hpa.metadata.namespace, group: groupOf(apiVersion), kind: ref.kind, name: ref.name });
  }
  return out;
}

export function isTargeted(obj: KubeObject, targets: readonly ScaleTarget[]): boolean {
  return targets.some((t) => t.namespace === obj.metadata.namespace && t.name === obj.metadata.name
    && t.kind === obj.kind && t.group === groupOf(obj.apiVersion));
}

/**
 * The replicas path a CRD's scale subresource declares for the version of `apiVersion`
 * (`specReplicasPath: .spec.replicas`), or undefined when it has none (or one in a
 * form Flotilla cannot hold, with list indexes).
 */
export function crdReplicasPath(crd: KubeObject, apiVersion: string): FieldPath | undefined {
  const version = apiVersion.slice(apiVersion.indexOf('/') + 1);
  const spec = isRecord(crd.spec) ? crd.spec : {};
  const versions = Array.isArray(spec.versions) ? spec.versions.filter(isRecord) : [];
  const v = versions.find((x) => x.name === version);
  const scale = v && isRecord(v.subresources) && isRecord(v.subresources.scale) ? v.subresources.scale : undefined;
  const path = scale?.specReplicasPath;
  if (typeof path !== 'string' || !/^(\.[A-Za-z0-9_-]+)+$/.test(path)) return undefined;
  return path.slice(1).split('.');
}

// ---------------------------------------------------------------------------------------
// Fights

/** A field someone else keeps changing: FIGHT_CHANGES changes by one manager within FIGHT_WINDOW_MS. */
export interface Fight {
  readonly path: FieldPath;
  /** The path as written in ignore-fields (`spec.replicas`). */
  readonly field: string;
  readonly manager: string;
  readonly changes: number;
  /** When it was declared (ms since the epoch). */
  readonly since: number;
  /** Declared by this very apply (the agent reports a fight once). */
  readonly new: boolean;
}

/** A field of `desired` that differs live and is owned there by another manager (who changed it). */
export interface ChangedField {
  readonly path: FieldPath;
  readonly manager: string;
}

/**
 * Fields the deployment sets (`desired`, map keys only: list elements cannot be held) whose
 * live value differs and which another manager now owns instead of the deployment's
 * manager `self`. Update operations take ownership of the fields they change, so this is
 * "someone else changed our field", not a difference of notation (a quantity written `1000m`
 * and stored as `1` stays ours).
 */
export function changedByOthers(desired: KubeObject, live: KubeObject, self: string): ChangedField[] {
  const owned = appliedFieldsOf(live, self);
  const out: ChangedField[] = [];
  const walk = (d: unknown, path: string[]): void => {
    if (isRecord(d)) {
      for (const [key, value] of Object.entries(d)) walk(value, [...path, key]);
      return;
    }
    if (Array.isArray(d) || path[0] === 'status') return;
    if (JSON.stringify(d) === JSON.stringify(getAt(live, path))) return;
    if (fieldsAt(owned, path) !== undefined) return;
    const manager = otherOwners(live, path, self)[0];
    if (manager !== undefined) out.push({ path, manager });
  };
  walk(desired, []);
  return out;
}

interface FieldState {
  manager: string;
  times: number[];
  /** resourceVersion of the live object at the last counted change (one change, one count). */
  revision: string;
  fight?: { since: number; changes: number };
}

/**
 * Fights per deployment, object and field, in memory (an agent restart forgets them: the
 * fight is found again within FIGHT_CHANGES rounds). A fight holds until the object's
 * manifest changes: a new manifest is a new intent and is applied.
 */
export class FightTracker {
  private readonly objects = new Map<string, { digest: string; fields: Map<string, FieldState> }>();

  constructor(private readonly now: () => number = Date.now, readonly changes = FIGHT_CHANGES, readonly windowMs = FIGHT_WINDOW_MS) {}

  /**
   * Records the fields found changed by others on one object (deployment and object id in
   * `key`) at live `revision` of manifest `digest`; returns the fights now active.
   */
  observe(key: string, digest: string, revision: string, changed: readonly ChangedField[]): Fight[] {
    const obj = this.objectFor(key, digest);
    const now = this.now();
    const declared = new Set<string>();
    for (const { path, manager } of changed) {
      const id = JSON.stringify(path);
      let state = obj.fields.get(id);
      if (state?.fight) continue;
      if (state?.manager !== manager) state = { manager, times: [], revision: '' };
      if (state.revision === revision) continue; // the same change, seen again
      state.revision = revision;
      state.times = [...state.times.filter((t) => now - t < this.windowMs), now];
      if (state.times.length >= this.changes) {
        state.fight = { since: now, changes: state.times.length };
        declared.add(id);
      }
      obj.fields.set(id, state);
    }
    return this.list(obj, declared);
  }

  /** The fights active on an object for manifest `digest` (none once the manifest changed). */
  active(key: string, digest: string): Fight[] {
    return this.list(this.objectFor(key, digest), new Set());
  }

  /** Forgets every object whose key starts with `prefix` (a deleted deployment). */
  forget(prefix: string): void {
    for (const key of [...this.objects.keys()]) if (key.startsWith(prefix)) this.objects.delete(key);
  }

  private objectFor(key: string, digest: string): { digest: string; fields: Map<string, FieldState> } {
    let obj = this.objects.get(key);
    if (obj?.digest !== digest) {
      obj = { digest, fields: new Map() };
      this.objects.set(key, obj);
    }
    return obj;
  }

  private list(obj: { fields: Map<string, FieldState> }, declared: ReadonlySet<string>): Fight[] {
    const out: Fight[] = [];
    for (const [id, state] of obj.fields) {
      if (!state.fight) continue;
      const path = JSON.parse(id) as string[];
      out.push({ path, field: formatPath(path), manager: state.manager, changes: state.fight.changes, since: state.fight.since, new: declared.has(id) });
    }
    return out;
  }
}

/** "fight over spec.replicas with manager kubectl-edit: stopped re-applying". */
export function describeFight(f: Pick<Fight, 'field' | 'manager'>): string {
  return `fight over ${f.field} with manager ${f.manager}: stopped re-applying`;
}
