// The inventory: which objects one deployment applied, so that the next apply can prune
// what left the set. Entries are stable ids plus the apiVersion used to reach the object.
import { objectId, parseObjectId, type KubeObject } from './objects.js';

export interface InventoryEntry {
  /** namespace_name_group_kind */
  readonly id: string;
  readonly apiVersion: string;
}

export interface Inventory {
  readonly deployment: string;
  readonly generation: number;
  readonly entries: readonly InventoryEntry[];
}

export function inventoryOf(deployment: string, generation: number, objects: readonly KubeObject[]): Inventory {
  const entries = objects.map((o) => ({ id: objectId(o), apiVersion: o.apiVersion }));
  entries.sort((a, b) => a.id.localeCompare(b.id));
  return { deployment, generation, entries };
}

/** Entries of `previous` that are not in `next`: the objects to prune. */
export function staleEntries(previous: Inventory | undefined, next: Inventory): InventoryEntry[] {
  if (!previous) return [];
  const keep = new Set(next.entries.map((e) => e.id));
  return previous.entries.filter((e) => !keep.has(e.id));
}

/** A minimal object (apiVersion, kind, name, namespace) for an inventory entry. */
export function entryObject(entry: InventoryEntry): KubeObject {
  const p = parseObjectId(entry.id);
  return {
    apiVersion: entry.apiVersion,
    kind: p.kind,
    metadata: p.namespace ? { name: p.name, namespace: p.namespace } : { name: p.name },
  };
}
