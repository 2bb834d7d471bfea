// The GitOps verbs of the `flotilla` command: apply, delete, get, reconcile, suspend, resume
// and bootstrap. They talk to the hub's actors through Temporal (the hub's worker runs them);
// ConfigMaps and Secrets go to the hub's data directory.
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { isReady } from '../core/conditions.js';
import { formatDeclarationError, parseDeclarationObject } from '../core/declarations/parse.js';
import { loadDeclarationFiles } from '../core/declarations/load.js';
import { declarationId, type Declaration } from '../core/declarations/types.js';
import { DataObjectStore } from '../hub/data-objects.js';
import { DeclarationClient, NotFoundError, type ActorKind, type ActorStatus } from '../hub/declarations.js';
import type { Condition } from '../workflows/messages.js';

export class UsageError extends Error {}
/** Exit code 1 with a message, no usage text (the command was right, the outcome was not). */
export class CommandFailed extends Error {}

export interface GlobalOptions {
  readonly temporal: string;
  readonly temporalNamespace: string;
  readonly taskQueue: string;
  readonly hubData?: string;
  readonly namespace: string;
  readonly allNamespaces: boolean;
  readonly output: 'table' | 'json';
}

export const gitopsUsage = `GitOps commands:
  flotilla apply -f <file|dir>... [--dry-run]
      loads GitRepository, Kustomization, ConfigMap and Secret declarations (Flux's YAML) into
      the hub; idempotent. --dry-run prints what would be created / configured / unchanged.
  flotilla delete kustomization|source git <name>
      a deleted Kustomization with prune: true removes its objects from every cluster.
  flotilla get sources [git] | kustomizations [-A] [-o json]
  flotilla reconcile kustomization <name> [--with-source] [--timeout 5m]
  flotilla reconcile source git <name> [--timeout 5m]
      asks for a reconcile now, shows progress and waits for the outcome (exit 1 when not Ready).
  flotilla suspend|resume kustomization|source git <name>
  flotilla bootstrap --url <git-url> --path <dir> [--branch main] [--interval 1m] [--secret-ref <name>]
      makes the hub reconcile its own declarations from git: a GitRepository and a
      Kustomization named flotilla-system (namespace flotilla-system) whose build output is
      applied to the hub as declarations (and pruned from it when removed from git).

examples:
  flotilla apply -f fleet/sources.yaml -f fleet/apps/
  flotilla get kustomizations -A
  flotilla reconcile kustomization podinfo -n apps --with-source`;

function declarationClient(connection: Connection, g: GlobalOptions): DeclarationClient {
  const client = new Client({ connection, namespace: g.temporalNamespace });
  const data = g.hubData ? new DataObjectStore(join(g.hubData, 'objects')) : undefined;
  return new DeclarationClient(client, g.taskQueue, data);
}

async function withClient<T>(g: GlobalOptions, fn: (c: DeclarationClient) => Promise<T>): Promise<T> {
  let connection: Connection;
  try {
    connection = await Connection.connect({ address: g.temporal, connectTimeout: '5s' });
  } catch (err) {
    throw new CommandFailed(`cannot reach Temporal at ${g.temporal}: ${err instanceof Error ? err.message : String(err)} (is the hub's Temporal running? set --temporal or FLOTILLA_TEMPORAL)`);
  }
  try {
    return await fn(declarationClient(connection, g));
  } finally {
    await connection.close();
  }
}

export async function applyCommand(files: readonly string[], dryRun: boolean, g: GlobalOptions): Promise<void> {
  if (files.length === 0) throw new UsageError('apply needs at least one -f <file|dir>');
  const loaded = await loadDeclarationFiles(files);
  if (loaded.errors.length > 0) {
    throw new CommandFailed(`nothing applied; fix these first:\n${loaded.errors.map((e) => `  ${formatDeclarationError(e)}`).join('\n')}`);
  }
  for (const note of loaded.ignored) console.error(`skipped ${note}`);
  for (const w of loaded.warnings) console.error(`warning: ${formatDeclarationError(w)}`);
  await withClient(g, async (client) => {
    for (const d of loaded.declarations) {
      const action = dryRun ? await client.plan(d) : await client.apply(d);
      console.log(`${kindLabel(d)}/${d.namespace}/${d.name} ${action}${dryRun ? ' (dry run)' : ''}`);
    }
  });
}

export async function deleteCommand(target: ActorTarget, g: GlobalOptions): Promise<void> {
  await withClient(g, async (client) => {
    if (!await client.delete(target.id)) throw new CommandFailed(`${target.id} not found`);
    console.log(`${target.id} deleted`);
  });
}

export async function suspendCommand(target: ActorTarget, suspend: boolean, g: GlobalOptions): Promise<void> {
  await withClient(g, async (client) => {
    await client.suspend(target.id, suspend);
    console.log(`${target.id} ${suspend ? 'suspended' : 'resumed'}`);
    if (!suspend) {
      const s = await client.status(target.id);
      if (s.declaration.spec.suspend) {
        console.error(`note: spec.suspend is true in its declaration, so it stays suspended until that changes`);
      }
    }
  });
}

export async function getCommand(kind: ActorKind, g: GlobalOptions): Promise<void> {
  await withClient(g, async (client) => {
    const ids = (await client.list(kind)).filter((id) => g.allNamespaces || id.split('/')[1] === g.namespace);
    const statuses: ActorStatus[] = [];
    for (const id of ids) {
      try {
        statuses.push(await client.status(id));
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err; // deleted meanwhile
      }
    }
    if (g.output === 'json') {
      console.log(JSON.stringify(statuses.map((s) => ({ kind: s.kind, namespace: s.declaration.namespace, name: s.declaration.name, status: s.status })), null, 2));
      return;
    }
    if (statuses.length === 0) {
      console.error(`no ${kind === 'GitRepository' ? 'sources' : 'kustomizations'} found${g.allNamespaces ? '' : ` in namespace ${g.namespace} (use -A for all)`}`);
      return;
    }
    const rows = statuses.map((s) => {
      const ready = s.status.conditions.find((c) => c.type === 'Ready');
      const revision = s.kind === 'GitRepository' ? s.status.artifact?.revision ?? '' : s.status.lastAppliedRevision;
      const clusters = s.kind === 'Kustomization'
        ? (s.declaration.kind === 'Kustomization' && s.declaration.spec.placement.hub ? 'hub' : `${s.status.clusters.filter((c) => c.ready === 'True').length}/${s.status.placed.length}`)
        : '';
      return [
        ...(g.allNamespaces ? [s.declaration.namespace] : []), s.declaration.name, revision, String(s.status.suspended),
        ...(kind === 'Kustomization' ? [clusters] : []), ready?.status ?? 'Unknown', ready?.message ?? 'not reconciled yet',
      ];
    });
    const header = [...(g.allNamespaces ? ['NAMESPACE'] : []), 'NAME', 'REVISION', 'SUSPENDED', ...(kind === 'Kustomization' ? ['CLUSTERS'] : []), 'READY', 'MESSAGE'];
    printTable(header, rows);
  });
}

export async function reconcileCommand(target: ActorTarget, withSource: boolean, timeoutMs: number, g: GlobalOptions): Promise<void> {
  await withClient(g, async (client) => {
    const deadline = Date.now() + timeoutMs;
    if (withSource && target.kind === 'Kustomization') {
      const s = await client.status(target.id);
      if (s.declaration.kind === 'Kustomization') {
        const src = s.declaration.spec.sourceRef;
        const source = await reconcileOne(client, { kind: 'GitRepository', id: `gitrepository/${src.namespace}/${src.name}` }, deadline);
        const revision = source.kind === 'GitRepository' ? source.status.artifact?.revision : undefined;
        // The source tells its subscribers on its own; wait until this one has heard, so the
        // reconcile below builds the revision just fetched.
        while (revision !== undefined) {
          const k = await client.status(target.id);
          if (k.kind !== 'Kustomization' || k.status.sourceRevision === revision) break;
          if (Date.now() > deadline) throw new CommandFailed(`timed out waiting for ${target.id} to receive revision ${revision}`);
          await sleep(200);
        }
      }
    }
    const final = await reconcileOne(client, target, deadline);
    if (!isReady(final.status.conditions)) {
      const ready = final.status.conditions.find((c) => c.type === 'Ready');
      throw new CommandFailed(`${target.id} is not ready: ${ready?.reason ?? 'Unknown'}: ${ready?.message ?? ''}`);
    }
  });
}

async function reconcileOne(client: DeclarationClient, target: ActorTarget, deadline: number): Promise<ActorStatus> {
  const token = new Date().toISOString();
  const tty = process.stderr.isTTY;
  if ((await client.status(target.id)).status.suspended) {
    throw new CommandFailed(`${target.id} is suspended; resume it first (flotilla resume ...)`);
  }
  await client.requestReconcile(target.id, token);
  console.error(`► annotating ${target.id} for reconciliation`);
  let last = '';
  for (;;) {
    const s = await client.status(target.id);
    const progress = describeProgress(s);
    if (progress !== last) {
      console.error(`${tty ? '◎' : '-'} ${progress}`);
      last = progress;
    }
    if (s.status.lastHandledReconcileAt === token) {
      const ready = s.status.conditions.find((c) => c.type === 'Ready');
      console.error(`${ready?.status === 'True' ? '✔' : '✗'} ${target.id}: ${ready?.message ?? 'no Ready condition'}`);
      return s;
    }
    if (Date.now() > deadline) throw new CommandFailed(`timed out waiting for ${target.id} to reconcile (last: ${progress})`);
    await sleep(500);
  }
}

function describeProgress(s: ActorStatus): string {
  const reconciling: Condition | undefined = s.status.conditions.find((c) => c.type === 'Reconciling' && c.status === 'True');
  if (reconciling) return `reconciling: ${reconciling.message}`;
  if (s.kind === 'Kustomization') {
    const ready = s.status.clusters.filter((c) => c.ready === 'True').length;
    return `waiting: ${ready}/${s.status.placed.length} clusters ready at ${s.status.lastAppliedRevision || 'no revision yet'}`;
  }
  return `waiting: revision ${s.status.artifact?.revision ?? 'none yet'}`;
}

export async function bootstrapCommand(opts: { url: string; path: string; branch: string; interval: string; secretRef?: string }, g: GlobalOptions): Promise<void> {
  const namespace = 'flotilla-system';
  const source = parseDeclarationObject({
    apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: namespace, namespace },
    spec: { url: opts.url, interval: opts.interval, ref: { branch: opts.branch }, ...(opts.secretRef ? { secretRef: { name: opts.secretRef } } : {}) },
  }, 'bootstrap');
  const kustomization = parseDeclarationObject({
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name: namespace, namespace },
    spec: { interval: opts.interval, path: opts.path, prune: true, sourceRef: { kind: 'GitRepository', name: namespace }, placement: { hub: true } },
  }, 'bootstrap');
  const declarations: Declaration[] = [];
  for (const d of [source, kustomization]) {
    if (Array.isArray(d)) throw new UsageError(d.map(formatDeclarationError).join('; '));
    declarations.push(d);
  }
  await withClient(g, async (client) => {
    for (const d of declarations) console.log(`${kindLabel(d)}/${d.namespace}/${d.name} ${await client.apply(d)}`);
  });
  const id = declarationId({ kind: 'Kustomization', namespace, name: namespace });
  await reconcileCommand({ kind: 'Kustomization', id }, true, 5 * 60_000, g);
}

export interface ActorTarget {
  readonly kind: ActorKind;
  readonly id: string;
}

/** `kustomization <name>`, `ks <name>` or `source git <name>` → the actor's id. */
export function parseTarget(words: readonly string[], namespace: string): ActorTarget {
  const [first, second, third] = words;
  if ((first === 'kustomization' || first === 'kustomizations' || first === 'ks') && second) {
    return { kind: 'Kustomization', id: `kustomization/${namespace}/${second}` };
  }
  if (first === 'source' && (second === 'git' || second === 'gitrepository') && third) {
    return { kind: 'GitRepository', id: `gitrepository/${namespace}/${third}` };
  }
  throw new UsageError(`expected "kustomization <name>" or "source git <name>", got "${words.join(' ')}"`);
}

function kindLabel(d: Declaration): string {
  return d.kind;
}

function printTable(header: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ');
  console.log(line(header));
  for (const r of rows) console.log(line(r));
}
