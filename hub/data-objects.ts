// ConfigMaps and Secrets declared to the hub (values for postBuild.substituteFrom, git
// credentials for secretRef). They live in the hub's store ("objects/<kind>/<ns>/<name>.json"),
// never in workflow histories: on disk a Secret is a file readable by the hub's user only.
import type { BlobStore } from './blob-store.js';
import { OWNED_BY_ANNOTATION } from '../core/declarations/scope.js';
import type { DataDeclaration } from '../core/declarations/types.js';

export type DataKind = DataDeclaration['kind'];
export type ApplyAction = 'created' | 'configured' | 'unchanged';

export class DataObjectStore {
  /** `prefix` is '' or ends with '/': "objects/" in a hub's store. */
  constructor(private readonly blobs: BlobStore, private readonly prefix = 'objects/') {}

  async get(kind: DataKind, namespace: string, name: string): Promise<Readonly<Record<string, string>> | undefined> {
    return (await this.read(kind, namespace, name))?.data;
  }

  /** The Kustomizations that adopted it from a build (comma separated, outermost first); '' when applied directly; undefined when absent. */
  async ownedBy(kind: DataKind, namespace: string, name: string): Promise<string | undefined> {
    const stored = await this.read(kind, namespace, name);
    return stored === undefined ? undefined : stored.ownedBy;
  }

  /** What put() would do, without doing it. */
  async plan(d: DataDeclaration): Promise<ApplyAction> {
    const existing = await this.read(d.kind, d.namespace, d.name);
    if (!existing) return 'created';
    const same = JSON.stringify(sorted(existing.data)) === JSON.stringify(sorted(d.spec.data)) && existing.ownedBy === ownedBy(d);
    return same ? 'unchanged' : 'configured';
  }

  async put(d: DataDeclaration): Promise<ApplyAction> {
    const action = await this.plan(d);
    if (action === 'unchanged') return action;
    const owner = ownedBy(d);
    await this.blobs.put(this.keyOf(d.kind, d.namespace, d.name),
      JSON.stringify({ data: sorted(d.spec.data), ...(owner !== '' ? { ownedBy: owner } : {}) }), { secret: true });
    return action;
  }

  private async read(kind: DataKind, namespace: string, name: string): Promise<{ data: Record<string, string>; ownedBy: string } | undefined> {
    const blob = await this.blobs.get(this.keyOf(kind, namespace, name));
    if (!blob) return undefined;
    const parsed = JSON.parse(blob.data.toString('utf8')) as { data?: unknown; ownedBy?: unknown };
    const data = parsed.data;
    if (typeof data !== 'object' || data === null) return undefined;
    return {
      data: Object.fromEntries(Object.entries(data).filter((e): e is [string, string] => typeof e[1] === 'string')),
      ownedBy: typeof parsed.ownedBy === 'string' ? parsed.ownedBy : '',
    };
  }

  async delete(kind: DataKind, namespace: string, name: string): Promise<boolean> {
    const existed = (await this.get(kind, namespace, name)) !== undefined;
    await this.blobs.delete(this.keyOf(kind, namespace, name));
    return existed;
  }

  private keyOf(kind: DataKind, namespace: string, name: string): string {
    // Names were validated as DNS names at the boundary; refuse anything path-like anyway.
    // A scoped namespace (flux-system@staging, core/declarations/scope.ts) has one '@'.
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(@[a-z0-9]([-a-z0-9]*[a-z0-9])?)?$/.test(namespace) || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name)) {
      throw new Error(`invalid ${kind} name "${namespace}/${name}"`);
    }
    return `${this.prefix}${kind}/${namespace}/${name}.json`;
  }
}

function ownedBy(d: DataDeclaration): string {
  return d.annotations[OWNED_BY_ANNOTATION] ?? '';
}

function sorted(data: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(data).sort(([a], [b]) => a.localeCompare(b)));
}
