// Drift: which fields of a live object differ from what applying our manifest would make
// of it. The comparison ignores what the API server owns (resourceVersion, managedFields,
// status, ...), so only a real change shows.
import { isRecord } from './manifests.js';

const IGNORED_METADATA = new Set([
  'resourceVersion', 'managedFields', 'generation', 'uid', 'creationTimestamp', 'selfLink',
]);

/** Removes server-owned fields, so that two reads of an unchanged object compare equal. */
export function normalizeForCompare(obj: Record<string, unknown>): Record<string, unknown> {
  const { status: _status, metadata, ...rest } = obj;
  const meta = isRecord(metadata) ? Object.fromEntries(Object.entries(metadata).filter(([k]) => !IGNORED_METADATA.has(k))) : {};
  return { ...rest, metadata: meta };
}

/**
 * Paths (dot and [index] notation) where `live` differs from `desired`. Both are compared
 * after normalizeForCompare. At most `limit` paths are returned.
 */
export function changedPaths(desired: Record<string, unknown>, live: Record<string, unknown>, limit = 50): string[] {
  const out: string[] = [];
  walk(normalizeForCompare(desired), normalizeForCompare(live), '', out, limit);
  return out;
}

function walk(a: unknown, b: unknown, path: string, out: string[], limit: number): void {
  if (out.length >= limit) return;
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) { out.push(path || '.'); return; }
    a.forEach((item, i) => { walk(item, b[i], `${path}[${i}]`, out, limit); });
    return;
  }
  if (isRecord(a) && isRecord(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const key of [...keys].sort()) walk(a[key], b[key], path ? `${path}.${key}` : key, out, limit);
    return;
  }
  if (a !== b) out.push(path || '.');
}

/**
 * Does `live` already hold everything `desired` sets? Maps may carry extra keys (defaults,
 * other managers' fields); lists must match element by element. Used to skip the
 * server-side dry-run of objects whose manifest did not change since the last apply.
 */
export function containsManifest(desired: unknown, live: unknown): boolean {
  if (Array.isArray(desired)) {
    return Array.isArray(live) && live.length === desired.length && desired.every((d, i) => containsManifest(d, live[i]));
  }
  if (isRecord(desired)) {
    return isRecord(live) && Object.entries(desired).every(([k, v]) => containsManifest(v, live[k]));
  }
  return desired === live;
}
