// ConfigMaps and Secrets declared to the hub (values for postBuild.substituteFrom, git
// credentials for secretRef). They live in the hub's data directory, never in workflow
// histories: a Secret is a file readable by the hub's user only.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { OWNED_BY_ANNOTATION } from '../core/declarations/scope.js';
import type { DataDeclaration } from '../core/declarations/types.js';

export type DataKind = DataDeclaration['kind'];
export type ApplyAction = 'created' | 'configured' | 'unchanged';

export class DataObjectStore {
  constructor(readonly dir: string) {}

  get(kind: DataKind, namespace: string, name: string): Readonly<Record<string, string>> | undefined {
    return this.read(kind, namespace, name)?.data;
  }

  /** The Kustomizations that adopted it from a build (comma separated, outermost first); '' when applied directly; undefined when absent. */
  ownedBy(kind: DataKind, namespace: string, name: string): string | undefined {
    const stored = this.read(kind, namespace, name);
    return stored === undefined ? undefined : stored.ownedBy;
  }

  /** What put() would do, without doing it. */
  plan(d: DataDeclaration): ApplyAction {
    const existing = this.read(d.kind, d.namespace, d.name);
    if (!existing) return 'created';
    const same = JSON.stringify(sorted(existing.data)) === JSON.stringify(sorted(d.spec.data)) && existing.ownedBy === ownedBy(d);
    return same ? 'unchanged' : 'configured';
  }

  put(d: DataDeclaration): ApplyAction {
    const action = this.plan(d);
    if (action === 'unchanged') return action;
    const path = this.pathOf(d.kind, d.namespace, d.name);
    mkdirSync(join(this.dir, d.kind, d.namespace), { recursive: true, mode: 0o700 });
    const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    const owner = ownedBy(d);
    writeFileSync(tmp, JSON.stringify({ data: sorted(d.spec.data), ...(owner !== '' ? { ownedBy: owner } : {}) }), { mode: 0o600 });
    renameSync(tmp, path);
    return action;
  }

  private read(kind: DataKind, namespace: string, name: string): { data: Record<string, string>; ownedBy: string } | undefined {
    try {
      const parsed = JSON.parse(readFileSync(this.pathOf(kind, namespace, name), 'utf8')) as { data?: unknown; ownedBy?: unknown };
      const data = parsed.data;
      if (typeof data !== 'object' || data === null) return undefined;
      return {
        data: Object.fromEntries(Object.entries(data).filter((e): e is [string, string] => typeof e[1] === 'string')),
        ownedBy: typeof parsed.ownedBy === 'string' ? parsed.ownedBy : '',
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  delete(kind: DataKind, namespace: string, name: string): boolean {
    const existed = this.get(kind, namespace, name) !== undefined;
    rmSync(this.pathOf(kind, namespace, name), { force: true });
    return existed;
  }

  private pathOf(kind: DataKind, namespace: string, name: string): string {
    // Names were validated as DNS names at the boundary; refuse anything path-like anyway.
    // A scoped namespace (flux-system@staging, core/declarations/scope.ts) has one '@'.
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(@[a-z0-9]([-a-z0-9]*[a-z0-9])?)?$/.test(namespace) || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name)) {
      throw new Error(`invalid ${kind} name "${namespace}/${name}"`);
    }
    return join(this.dir, kind, namespace, `${name}.json`);
  }
}

function ownedBy(d: DataDeclaration): string {
  return d.annotations[OWNED_BY_ANNOTATION] ?? '';
}

function sorted(data: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(data).sort(([a], [b]) => a.localeCompare(b)));
}
