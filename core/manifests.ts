// Reading manifests: multi-document YAML (or JSON) into objects, with one clear error per
// bad document. Nothing here throws on bad input; callers decide what an error means.
import { parseAllDocuments } from 'yaml';
import { describeObject, objectId, type KubeObject } from './objects.js';
import { formatBytes } from './render-limits.js';

/** etcd's default request limit is 1.5 MiB; the API server refuses anything larger. */
export const MAX_OBJECT_BYTES = 1_572_864;
/** Aliases per document: enough for real manifests, far too few for an alias bomb. */
const MAX_ALIASES = 100;
/**
 * What one parse accepts (the agent parses every artifact it applies; the hub, every render):
 * a render's default output caps (core/render-limits.ts limits.render.maxBytes, maxObjects).
 * The yaml parser holds ~20× the text in nodes, so 64 MiB is already ~1.3 GB of parse.
 */
export const MAX_MANIFEST_BYTES = 64 * 2 ** 20;
export const MAX_MANIFEST_OBJECTS = 10_000;

/**
 * Caps of one parse, and how a refusal names them: the hub's parses use the defaults above;
 * the agent passes its own (--max-artifact-bytes, --max-objects, agents/main.ts).
 */
export interface ParseLimits {
  readonly maxBytes: number;
  readonly maxObjects: number;
  /** Ends a refusal ("over the 64 MiB <bytesHint>"): which setting the cap is and what to do. */
  readonly bytesHint: string;
  /** Ends a refusal ("more than 10000 objects, the most <objectsHint>"). */
  readonly objectsHint: string;
}

const DEFAULT_PARSE_LIMITS: ParseLimits = {
  maxBytes: MAX_MANIFEST_BYTES, maxObjects: MAX_MANIFEST_OBJECTS,
  bytesHint: "a parse accepts (limits.render.maxBytes' default)",
  objectsHint: "a parse accepts (limits.render.maxObjects' default)",
};

export interface SourcedObject {
  readonly object: KubeObject;
  /** Where it came from: file name and 1-based document index. */
  readonly source: string;
}

export interface ManifestError {
  readonly source: string;
  /** The object, when it could be identified. */
  readonly object?: string;
  readonly field?: string;
  readonly message: string;
}

export interface ParseResult {
  readonly objects: SourcedObject[];
  readonly errors: ManifestError[];
}

const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export function parseManifests(text: string, file: string, limits: ParseLimits = DEFAULT_PARSE_LIMITS): ParseResult {
  const objects: SourcedObject[] = [];
  const errors: ManifestError[] = [];
  // text.length counts UTF-16 units: never more than the UTF-8 bytes, so this never refuses early.
  if (text.length > limits.maxBytes) {
    return { objects, errors: [{ source: file, message: `refused: ${formatBytes(text.length)} of manifests, over the ${formatBytes(limits.maxBytes)} ${limits.bytesHint}` }] };
  }
  let docs;
  try {
    docs = parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    return { objects, errors: [{ source: file, message: `cannot parse YAML: ${String(err)}` }] };
  }
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, i) => {
    const source = `${file}#${i + 1}`;
    const first = doc.errors[0];
    if (first) {
      errors.push({ source, message: `malformed YAML: ${first.message.split('\n')[0] ?? first.message}` });
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIASES });
    } catch (err) {
      errors.push({ source, message: `rejected YAML: ${err instanceof Error ? err.message : String(err)} (alias expansion is limited to ${MAX_ALIASES} per document)` });
      return;
    }
    if (value === null || value === undefined) return; // empty document, e.g. a trailing ---
    if (objects.length > limits.maxObjects) return;
    for (const item of expandLists(value)) {
      const checked = checkObject(item, source);
      if (checked.ok) objects.push({ object: checked.object, source });
      else errors.push(checked.error);
    }
  });
  if (objects.length > limits.maxObjects) {
    return { objects: [], errors: [{ source: file, message: `refused: more than ${limits.maxObjects} objects, the most ${limits.objectsHint}` }] };
  }
  return { objects, errors };
}

function expandLists(value: unknown): unknown[] {
  if (isRecord(value) && typeof value.kind === 'string' && value.kind.endsWith('List') && Array.isArray(value.items)) {
    return value.items as unknown[];
  }
  return [value];
}

type Checked = { ok: true; object: KubeObject } | { ok: false; error: ManifestError };

function checkObject(value: unknown, source: string): Checked {
  const bad = (error: ManifestError): Checked => ({ ok: false, error });
  if (!isRecord(value)) return bad({ source, message: 'document is not a mapping (a Kubernetes object is a YAML mapping)' });
  const { apiVersion, kind, metadata } = value;
  if (typeof apiVersion !== 'string' || apiVersion === '') return bad({ source, field: 'apiVersion', message: 'missing apiVersion' });
  if (typeof kind !== 'string' || kind === '') return bad({ source, field: 'kind', message: 'missing kind' });
  if (!isRecord(metadata) || typeof metadata.name !== 'string' || metadata.name === '') {
    return bad({ source, object: kind, field: 'metadata.name', message: `${kind} has no metadata.name` });
  }
  const ns = metadata.namespace;
  if (ns !== undefined && (typeof ns !== 'string' || !NAME.test(ns))) {
    return bad({ source, object: `${kind}/${metadata.name}`, field: 'metadata.namespace', message: `invalid namespace ${JSON.stringify(ns)}` });
  }
  const obj = value as KubeObject;
  const size = new TextEncoder().encode(JSON.stringify(obj)).length;
  if (size > MAX_OBJECT_BYTES) {
    return bad({
      source,
      object: describeObject(obj),
      message: `object is ${(size / 2 ** 20).toFixed(1)} MiB; Kubernetes stores objects up to ${(MAX_OBJECT_BYTES / 2 ** 20).toFixed(1)} MiB — move large data out (e.g. into several ConfigMaps or an image)`,
    });
  }
  return { ok: true, object: obj };
}

/** Duplicate objects (same id) in one set: each is an error naming both sources. */
export function findDuplicates(objects: readonly SourcedObject[]): ManifestError[] {
  const seen = new Map<string, string>();
  const errors: ManifestError[] = [];
  for (const { object, source } of objects) {
    const id = objectId(object);
    const first = seen.get(id);
    if (first !== undefined) {
      errors.push({ source, object: describeObject(object), message: `duplicate of the object in ${first}` });
    } else seen.set(id, source);
  }
  return errors;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
