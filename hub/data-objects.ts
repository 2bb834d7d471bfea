// ConfigMaps and Secrets declared to the hub (values for postBuild.substituteFrom, git
// credentials for secretRef). They live in the hub's data directory, never in workflow
// histories: a Secret is a file readable by the hub's user only.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { DataDeclaration } from '../core/declarations/types.js';

export type DataKind = DataDeclaration['kind'];
export type ApplyAction = 'created' | 'configured' | 'unchanged';

export class DataObjectStore {
  constructor(readonly dir: string) {}

  get(kind: DataKind, namespace: string, name: string): Readonly<Record<string, string>> | undefined {
    try {
      const parsed = JSON.parse(readFileSync(this.pathOf(kind, namespace, name), 'utf8')) as { data?: unknown };
      const data = parsed.data;
      if (typeof data !== 'object' || data === null) return undefined;
      return Object.fromEntries(Object.entries(data).filter((e): e is [string, string] => typeof e[1] === 'string'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** What put() would do, without doing it. */
  plan(d: DataDeclaration): ApplyAction {
    const existing = this.get(d.kind, d.namespace, d.name);
    if (!existing) return 'created';
    return JSON.stringify(sorted(existing)) === JSON.stringify(sorted(d.spec.data)) ? 'unchanged' : 'configured';
  }

  put(d: DataDeclaration): ApplyAction {
    const action = this.plan(d);
    if (action === 'unchanged') return action;
    const path = this.pathOf(d.kind, d.namespace, d.name);
    mkdirSync(join(this.dir, d.kind, d.namespace), { recursive: true, mode: 0o700 });
    const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    writeFileSync(tmp, JSON.stringify({ data: sorted(d.spec.data) }), { mode: 0o600 });
    renameSync(tmp, path);
    return action;
  }

  delete(kind: DataKind, namespace: string, name: string): boolean {
    const existed = this.get(kind, namespace, name) !== undefined;
    rmSync(this.pathOf(kind, namespace, name), { force: true });
    return existed;
  }

  private pathOf(kind: DataKind, namespace: string, name: string): string {
    // Names were validated as DNS names at the boundary; refuse anything path-like anyway.
    for (const part of [namespace, name]) if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(part)) throw new Error(`invalid ${kind} name "${namespace}/${name}"`);
    return join(this.dir, kind, namespace, `${name}.json`);
  }
}

function sorted(data: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(data).sort(([a], [b]) => a.localeCompare(b)));
}
