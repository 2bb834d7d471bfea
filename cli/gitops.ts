// The GitOps verbs of the `flotilla` command: apply, delete, get, reconcile, suspend, resume
// and bootstrap. They talk to the hub's actors through Temporal (the hub's worker runs them);
// ConfigMaps and Secrets go to the hub's data directory.
import { actorWorkflowId } from '../api/actor.js';
import { gitRepositoryId } from '../api/git-repository.js';
import { helmReleaseId } from '../api/helm-release.js';
import { helmRepositoryId } from '../api/helm-repository.js';
import { kustomizationId } from '../api/kustomization.js';
import { isReady, type Condition } from '../core/conditions.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { mapLimited } from '../core/concurrency.js';
import { formatDeclarationError, parseDeclarationObject } from '../core/declarations/parse.js';
import { loadDeclarationFiles } from '../core/declarations/load.js';
import { BOOTSTRAP_ANNOTATION, namespaceSelected, SCOPE_SEPARATOR, scopeDeclaration, scopedCandidates, scopeOf } from '../core/declarations/scope.js';
import { declarationId, type Declaration } from '../core/declarations/types.js';
import { kubeList, toKubeObject, type ActorStatusRecord, type KubeObject } from '../core/kube-shape.js';
import { existsSync } from 'node:fs';
import { FileBlobStore, type BlobStore } from '../hub/blob-store.js';
import { temporalConnectionOptions } from '../hub/config.js';
import { DataObjectStore } from '../hub/data-objects.js';
import { S3BlobStore } from '../hub/s3-store.js';
import { ACTOR_WORKFLOW_TYPES, DeclarationClient, NotFoundError, type ActorKind, type ActorStatus } from '../hub/declarations.js';
import { printStructured, printTable, readiness, type OutputFormat } from './output.js';
import { declarationRefusals, readSourcePolicy, SOURCE_POLICY_KEY, type SourcePolicy } from '../core/source-policy.js';

export class UsageError extends Error {}
/** Exit code 1 with a message, no usage text (the command was right, the outcome was not). */
export class CommandFailed extends Error {}

export interface GlobalOptions {
  readonly temporal: string;
  readonly temporalNamespace: string;
  readonly taskQueue: string;
  readonly hubData?: string;
  /** -n, folded into --scope when given (flux-system@staging); flux-system by default. */
  readonly namespace: string;
  readonly allNamespaces: boolean;
  /**
   * --scope <name>: the objects a command names are that scope's (namespace above is folded),
   * and a listing without -n (or with -A) takes every namespace of the scope.
   */
  readonly scope?: string;
  /** Whether -n was given. */
  readonly namespaceGiven?: boolean;
  readonly output: OutputFormat;
  /** The Temporal Web UI, for links (from the hub, or FLOTILLA_TEMPORAL_UI). */
  readonly temporalUi?: string;
  /** The hub's HTTP API (--hub / FLOTILLA_HUB), when known. */
  readonly hubUrl?: string;
  readonly hubToken?: string;
}

function declarationClient(connection: Connection, g: GlobalOptions): DeclarationClient {
  const client = new Client({ connection, namespace: g.temporalNamespace });
  const store = hubStore(g);
  const data = store ? new DataObjectStore(store) : undefined;
  return new DeclarationClient(client, g.taskQueue, data);
}

/**
 * TLS and the API key for a Temporal that wants them (a TLS-only cluster, Temporal Cloud),
 * from the hub's own variables: FLOTILLA_TEMPORAL_TLS, FLOTILLA_TEMPORAL_TLS_CA|CERT|KEY|SERVER_NAME,
 * FLOTILLA_TEMPORAL_API_KEY (docs/configuration.md).
 */
function temporalSecurity(g: GlobalOptions): ReturnType<typeof temporalConnectionOptions> {
  const env = (name: string): string | undefined => (process.env[name] === '' ? undefined : process.env[name]);
  const file = (name: string): string | undefined => {
    const path = env(name);
    if (path !== undefined && !existsSync(path)) throw new CommandFailed(`${name}: no file at ${path}`);
    return path;
  };
  const [caFile, certFile, keyFile, serverName] = [file('FLOTILLA_TEMPORAL_TLS_CA'), file('FLOTILLA_TEMPORAL_TLS_CERT'), file('FLOTILLA_TEMPORAL_TLS_KEY'), env('FLOTILLA_TEMPORAL_TLS_SERVER_NAME')];
  if ((certFile === undefined) !== (keyFile === undefined)) throw new CommandFailed('FLOTILLA_TEMPORAL_TLS_CERT and FLOTILLA_TEMPORAL_TLS_KEY go together: set both');
  const apiKey = env('FLOTILLA_TEMPORAL_API_KEY');
  const tls = /^(true|1|yes)$/i.test(env('FLOTILLA_TEMPORAL_TLS') ?? '') || [caFile, certFile, serverName, apiKey].some((x) => x !== undefined);
  return temporalConnectionOptions({
    address: g.temporal, namespace: g.temporalNamespace, taskQueue: g.taskQueue,
    ...(tls ? { tls: { ...(caFile ? { caFile } : {}), ...(certFile && keyFile ? { certFile, keyFile } : {}), ...(serverName ? { serverName } : {}) } } : {}),
    ...(apiKey !== undefined ? { apiKey } : {}),
  });
}

/**
 * The hub's store, for the ConfigMaps and Secrets `flotilla apply` declares to the hub: its S3
 * bucket when FLOTILLA_STORE=s3 (the hub's own variables: FLOTILLA_S3_ENDPOINT, _BUCKET,
 * _REGION, _PREFIX, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), else its data directory
 * (--hub-data / FLOTILLA_HUB_DATA); undefined when neither is given.
 */
/** The source policy the hub published in its store (hub/assemble.ts); undefined without a store or before a hub started. */
async function publishedSourcePolicy(g: GlobalOptions): Promise<SourcePolicy | undefined> {
  const store = hubStore(g);
  if (store === undefined) return undefined;
  try {
    const blob = await store.get(SOURCE_POLICY_KEY);
    return blob === undefined ? undefined : readSourcePolicy(blob.data.toString('utf8'));
  } catch {
    return undefined; // an unreachable store: the hub's fetch-time check still applies
  }
}

export function hubStore(g: GlobalOptions): BlobStore | undefined {
  const env = (name: string): string | undefined => (process.env[name] === '' ? undefined : process.env[name]);
  const store = env('FLOTILLA_STORE');
  if (store === undefined || store === 'filesystem') return g.hubData ? new FileBlobStore(g.hubData) : undefined;
  if (store !== 's3') throw new CommandFailed(`FLOTILLA_STORE must be filesystem or s3, got "${store}"`);
  const need = (name: string): string => {
    const value = env(name);
    if (value === undefined) throw new CommandFailed(`FLOTILLA_STORE=s3 needs ${name} (the hub's store settings: docs/configuration.md)`);
    return value;
  };
  const sessionToken = env('AWS_SESSION_TOKEN');
  try {
    return new S3BlobStore({
      endpoint: need('FLOTILLA_S3_ENDPOINT'), bucket: need('FLOTILLA_S3_BUCKET'), region: env('FLOTILLA_S3_REGION') ?? 'us-east-1',
      prefix: env('FLOTILLA_S3_PREFIX') ?? '', accessKeyId: need('AWS_ACCESS_KEY_ID'), secretAccessKey: need('AWS_SECRET_ACCESS_KEY'),
      ...(sessionToken !== undefined ? { sessionToken } : {}),
    });
  } catch (err) {
    throw new CommandFailed(err instanceof Error ? err.message : String(err));
  }
}

/**
 * Runs `fn` with a client of the hub's actors. When Temporal cannot be reached, `unreachable`
 * (if given) answers instead, told why; otherwise the command fails saying what to check.
 */
export async function withClient<T>(g: GlobalOptions, fn: (c: DeclarationClient) => Promise<T>, unreachable?: (reason: string) => T): Promise<T> {
  let connection: Connection;
  const options = temporalSecurity(g);
  try {
    connection = await Connection.connect({ ...options, connectTimeout: '5s' });
  } catch (err) {
    const reason = `cannot reach Temporal at ${g.temporal}: ${err instanceof Error ? err.message : String(err)}`;
    if (unreachable) return unreachable(reason);
    throw new CommandFailed(`${reason} (is the hub's Temporal running? set --temporal or FLOTILLA_TEMPORAL)`);
  }
  const client = declarationClient(connection, g);
  try {
    return await fn(client);
  } catch (err) {
    // An object named without its scope (or with another one): say which ones exist.
    if (err instanceof NotFoundError && err.id !== undefined) {
      const hint = await scopeHint(client, err.id).catch(() => undefined);
      if (hint !== undefined) throw new CommandFailed(hint);
    }
    throw err;
  } finally {
    await connection.close();
  }
}

const ACTOR_KIND_OF: Readonly<Record<string, ActorKind>> = Object.fromEntries(
  (Object.keys(ACTOR_WORKFLOW_TYPES) as ActorKind[]).map((k) => [k.toLowerCase(), k]),
);

/**
 * For an id that does not exist, the same object in other scopes, as a message:
 * `no kustomization flux-system/apps; did you mean flux-system@staging/apps or
 * flux-system@production/apps? …` (those of scope `prefer` first); undefined when there are none.
 */
export async function scopeHint(client: DeclarationClient, id: string, prefer?: string): Promise<string | undefined> {
  const [kind = '', namespace = '', name = ''] = id.split('/');
  const actorKind = ACTOR_KIND_OF[kind];
  if (actorKind === undefined || name === '') return undefined;
  const candidates = scopedCandidates(id, await client.list(actorKind), prefer);
  const first = candidates[0];
  if (first === undefined) return undefined;
  const names = candidates.map((c) => c.split('/').slice(1).join('/'));
  const alternatives = names.length === 1 ? names[0] ?? '' : `${names.slice(0, -1).join(', ')} or ${names.at(-1) ?? ''}`;
  const scope = scopeOf(first);
  const how = scope === undefined ? `name it ${first}` : `name it ${first}, or add --scope ${scope}`;
  return `no ${kind} ${namespace}/${name}; did you mean ${alternatives}? (declarations of a Flux repository are scoped per cluster: ${how})`;
}

/**
 * `flotilla apply -f …`; with a scope (`--scope staging`) every declaration goes into it, as
 * if a Kustomization of `flotilla bootstrap --cluster staging` had declared it (the way to give
 * a scoped bootstrap its credentials Secret).
 */
export async function applyCommand(files: readonly string[], dryRun: boolean, g: GlobalOptions, scope?: string): Promise<void> {
  if (files.length === 0) throw new UsageError('apply needs at least one -f <file|dir>');
  if (scope !== undefined && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(scope)) throw new UsageError(`--scope must be a DNS label (a cluster name), got "${scope}"`);
  const loaded = await loadDeclarationFiles(files);
  if (loaded.errors.length > 0) {
    throw new CommandFailed(`nothing applied; fix these first:\n${loaded.errors.map((e) => `  ${formatDeclarationError(e)}`).join('\n')}`);
  }
  for (const note of loaded.ignored) console.error(`skipped ${note}`);
  for (const w of loaded.warnings) console.error(`warning: ${formatDeclarationError(w)}`);
  // Sources first (dependents subscribe to them), then the rest; a few at a time, printed in order.
  const sourcesFirst = loaded.declarations.map((d) => scopeDeclaration(d, scope)).sort((a, b) => rank(a) - rank(b));
  // A dry run is first of all a check of the files (CI runs it where no hub is reachable, as
  // `kubectl apply --dry-run=client` would): everything above is local. Comparing with what the
  // hub holds needs Temporal; without it, each object is reported valid and the reason given.
  const validatedOnly = (reason: string): void => {
    console.error(`note: ${reason.split('\n')[0] ?? reason}; the files were validated locally but not compared with what the hub holds`);
    for (const d of sourcesFirst) console.log(`${d.kind}/${d.namespace}/${d.name} valid (dry run)`);
  };
  // The hub's source policy (published in its store), before anything is applied; the hub checks again when it fetches.
  const policy = await publishedSourcePolicy(g);
  const refused = policy === undefined ? [] : declarationRefusals(sourcesFirst, policy);
  if (refused.length > 0) throw new CommandFailed(`nothing applied; the hub's source policy refuses:\n${refused.map((r) => `  ${r}`).join('\n')}`);
  await withClient(g, async (client) => {
    const actions = await mapLimited(sourcesFirst, 8, (d) => (dryRun ? client.plan(d) : client.apply(d)));
    sourcesFirst.forEach((d, i) => { console.log(`${d.kind}/${d.namespace}/${d.name} ${actions[i] ?? ''}${dryRun ? ' (dry run)' : ''}`); });
  }, dryRun ? validatedOnly : undefined);
}

export async function deleteCommand(target: { readonly id: string }, g: GlobalOptions): Promise<void> {
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

export const ACTOR_KINDS: readonly ActorKind[] = ['GitRepository', 'HelmRepository', 'Kustomization', 'HelmRelease'];
export const IMAGE_KINDS: readonly ActorKind[] = ['ImageRepository', 'ImagePolicy', 'ImageUpdateAutomation'];

/** `image repository|policy|update <name>` (Flux's `flux reconcile image repository|update`). */
const IMAGE_WORDS: Readonly<Record<string, ActorKind>> = {
  repository: 'ImageRepository', repositories: 'ImageRepository', imagerepository: 'ImageRepository',
  policy: 'ImagePolicy', policies: 'ImagePolicy', imagepolicy: 'ImagePolicy',
  update: 'ImageUpdateAutomation', updates: 'ImageUpdateAutomation', imageupdateautomation: 'ImageUpdateAutomation',
};

/** `get images [repository|policy|update]` → the kinds listed. */
export function imageKindsOf(word: string | undefined): readonly ActorKind[] | undefined {
  if (word === undefined || word === 'all') return IMAGE_KINDS;
  const kind = IMAGE_WORDS[word];
  return kind ? [kind] : undefined;
}

/** Ids of the declarations of these kinds in the selected namespace (-n), scope (--scope), or every one (-A). */
export async function idsInScope(client: DeclarationClient, kinds: readonly ActorKind[], g: GlobalOptions): Promise<string[]> {
  return (await allIds(client, kinds)).filter((id) => selects(id.split('/')[1] ?? '', g));
}

async function allIds(client: DeclarationClient, kinds: readonly ActorKind[]): Promise<string[]> {
  const ids: string[] = [];
  for (const kind of kinds) ids.push(...await client.list(kind));
  return ids;
}

type Selection = Pick<GlobalOptions, 'namespace' | 'allNamespaces' | 'scope' | 'namespaceGiven'>;

/**
 * Whether a listing takes in a hub namespace: `-n flux-system` every scope's flux-system
 * (flux-system@staging, …), `-n flux-system@staging` only that one, `--scope staging` (or
 * `-n '*@staging'`) every namespace of the scope, -A everything (with --scope: the whole scope).
 */
export function selects(hubNamespace: string, g: Selection): boolean {
  if (g.scope !== undefined && (g.allNamespaces || g.namespaceGiven !== true)) return scopeOf(hubNamespace) === g.scope;
  return g.allNamespaces || namespaceSelected(hubNamespace, g.namespace);
}

/** Whether a listing may take in more than one namespace whatever is found: -A, a whole scope. */
export function manyNamespaces(g: Selection): boolean {
  return g.allNamespaces || (g.scope !== undefined && g.namespaceGiven !== true) || g.namespace.startsWith(`*${SCOPE_SEPARATOR}`);
}

/** What a listing selects, in words, for "nothing found in …". */
export function selectionOf(g: Selection): string {
  if (g.scope !== undefined && (g.allNamespaces || g.namespaceGiven !== true)) return `scope ${g.scope}`;
  if (g.namespace.startsWith(`*${SCOPE_SEPARATOR}`)) return `scope ${g.namespace.slice(2)}`;
  return `namespace ${g.namespace}`;
}

/**
 * A listing of one namespace leaves out the rest of the scopes it touches: `-n
 * flux-system@staging` (or `-n flux-system`, taking in flux-system@staging) leaves out the
 * HelmReleases in podinfo@staging. Those other namespaces, to say so; none for -A or a whole scope.
 */
export function otherNamespacesOfScope(ids: readonly string[], g: Selection): string[] {
  if (manyNamespaces(g)) return [];
  const namespaces = ids.map((id) => id.split('/')[1] ?? '');
  const touched = new Set([g.namespace, ...namespaces.filter((ns) => selects(ns, g))].map(scopeOf).filter((s) => s !== undefined));
  const others = namespaces.filter((ns) => !selects(ns, g) && touched.has(scopeOf(ns) ?? ''));
  return [...new Set(others)].sort();
}

/**
 * The note for otherNamespacesOfScope, on stderr; nothing when there are none. `listed`: the
 * namespaces the listing showed (nothing to look up when neither they nor -n are scoped).
 */
export async function noteRestOfScope(client: DeclarationClient, kinds: readonly ActorKind[], g: GlobalOptions, listed: readonly string[]): Promise<void> {
  if (g.output !== 'table' || manyNamespaces(g) || ![g.namespace, ...listed].some((ns) => scopeOf(ns) !== undefined)) return;
  const others = otherNamespacesOfScope(await allIds(client, kinds), g);
  const scopes = [...new Set(others.map((ns) => scopeOf(ns) ?? ''))].sort();
  if (others.length === 0) return;
  console.error(scopes.length === 1
    ? `note: scope ${scopes[0] ?? ''} also has ${others.join(', ')}: --scope ${scopes[0] ?? ''} lists every namespace of it`
    : `note: scopes ${scopes.join(', ')} also have ${others.join(', ')}: --scope <name> lists every namespace of one`);
}

/** Their statuses; one deleted meanwhile is left out. */
export async function statusesInScope(client: DeclarationClient, kinds: readonly ActorKind[], g: GlobalOptions): Promise<ActorStatus[]> {
  const statuses: ActorStatus[] = [];
  for (const id of await idsInScope(client, kinds, g)) {
    try {
      statuses.push(await client.status(id));
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
  }
  return statuses;
}

/** `flotilla get sources|kustomizations|helmreleases`: one table (or JSON) over one or more kinds. */
export async function getCommand(kinds: readonly ActorKind[], g: GlobalOptions, name?: string): Promise<void> {
  await withClient(g, async (client) => {
    const statuses = (await statusesInScope(client, kinds, g)).filter((s) => name === undefined || s.declaration.name === name);
    if (name !== undefined && statuses.length === 0) {
      const message = `${kinds.join(' or ')} ${name} not found in ${g.allNamespaces && g.scope === undefined ? 'any namespace' : selectionOf(g)}`;
      // One kind in one namespace: withClient names the same object in other scopes, if any.
      const [kind] = kinds;
      if (kinds.length === 1 && kind !== undefined && !g.allNamespaces) throw new NotFoundError(message, `${kind.toLowerCase()}/${g.namespace}/${name}`);
      throw new CommandFailed(message);
    }
    if (g.output !== 'table') {
      // As kubectl: one object when one was named (and found once), else a List.
      const objects = statuses.map(kubeObjectOf);
      printStructured(g.output, name !== undefined && objects.length === 1 ? objects[0] : kubeList(objects));
      return;
    }
    if (statuses.length === 0) {
      console.error(`nothing found${g.allNamespaces && g.scope === undefined ? '' : ` in ${selectionOf(g)}${g.scope === undefined ? ' (use -A for all)' : ''}`}`);
      await noteRestOfScope(client, kinds, g, []);
      return;
    }
    const placedKinds = kinds.some((k) => k === 'Kustomization' || k === 'HelmRelease');
    // Several scopes of one namespace (flux-system@staging, flux-system@production) need the column too.
    const showNamespace = manyNamespaces(g) || new Set(statuses.map((s) => s.declaration.namespace)).size > 1;
    const rows = statuses.map((s) => {
      const ready = s.status.conditions.find((c) => c.type === 'Ready');
      return [
        ...(showNamespace ? [s.declaration.namespace] : []), kinds.length > 1 ? `${s.kind}/${s.declaration.name}` : s.declaration.name,
        revisionOf(s), String(s.status.suspended), ...(placedKinds ? [clustersOf(s)] : []),
        readiness(ready?.status ?? 'Unknown'), rolloutNote(s) ?? ready?.message ?? 'not reconciled yet',
      ];
    });
    const header = [...(showNamespace ? ['NAMESPACE'] : []), 'NAME', 'REVISION', 'SUSPENDED', ...(placedKinds ? ['CLUSTERS'] : []), 'READY', 'MESSAGE'];
    printTable(header, rows);
    // Flux fields Flotilla does not act on are never silent.
    for (const s of statuses) {
      for (const line of s.status.unsupported ?? []) console.error(`warning: ${s.kind}/${s.declaration.namespace}/${s.declaration.name}: ${line}`);
    }
    await noteRestOfScope(client, kinds, g, statuses.map((s) => s.declaration.namespace));
  });
}

/** A declaration and its status as Kubernetes prints an object (core/kube-shape.ts). */
export function kubeObjectOf(s: ActorStatus): KubeObject {
  return toKubeObject(s.declaration, s.status as unknown as ActorStatusRecord);
}

/** A rollout in progress says so (the Ready message is the last finished reconcile's). */
function rolloutNote(s: ActorStatus): string | undefined {
  if (s.kind !== 'Kustomization' && s.kind !== 'HelmRelease') return undefined;
  const r = s.status.rollout;
  if (r?.phase !== 'Progressing') return undefined;
  return `rolling out ${r.revision} (flotilla rollout status ${s.kind.toLowerCase()}/${s.declaration.namespace}/${s.declaration.name})`;
}

export function revisionOf(s: ActorStatus): string {
  switch (s.kind) {
    case 'GitRepository': case 'HelmRepository': return s.status.artifact?.revision ?? '';
    case 'Kustomization': return s.status.lastAppliedRevision;
    case 'HelmRelease': return `${s.status.chartName}@${s.status.lastAttemptedChartVersion || '?'}`;
    case 'ImageRepository': return s.status.lastScan ? `${s.status.lastScan.tagCount} tags` : '';
    case 'ImagePolicy': return s.status.latestImage ?? '';
    case 'ImageUpdateAutomation': return s.status.lastPushCommit ? `${s.status.lastPushBranch ?? ''}@sha1:${s.status.lastPushCommit}` : '';
  }
}

/** ready/placed, or "hub" for a Kustomization whose output is hub declarations. */
function clustersOf(s: ActorStatus): string {
  if (s.kind === 'Kustomization') {
    if (s.declaration.kind === 'Kustomization' && s.declaration.spec.placement.hub) return 'hub';
    return `${s.status.clusters.filter((c) => c.ready === 'True').length}/${s.status.placed.length}`;
  }
  if (s.kind === 'HelmRelease') return `${s.status.clusters.filter((c) => c.ready === 'True').length}/${s.status.placed.length}`;
  return '';
}

/** `flotilla helm history <release> --cluster c`: the cluster's Helm revisions. */
export async function helmHistoryCommand(target: ActorTarget, cluster: string, g: GlobalOptions): Promise<void> {
  await withClient(g, async (client) => {
    const s = await client.status(target.id);
    if (s.kind !== 'HelmRelease') throw new UsageError(`${target.id} is not a HelmRelease`);
    const h = s.status.histories[cluster];
    if (!h) throw new CommandFailed(`${target.id} has no release on cluster ${cluster} (placed: ${s.status.placed.join(', ') || 'none'})`);
    if (g.output !== 'table') { printStructured(g.output, h); return; }
    printTable(['REVISION', 'UPDATED', 'STATUS', 'CHART', 'APP VERSION', 'DESCRIPTION'], h.revisions.map((r) => [
      String(r.revision), new Date(r.finishedAt ?? r.startedAt).toISOString(), r.status, `${r.chartName}-${r.chartVersion}`, r.appVersion ?? '', r.description,
    ]));
  });
}

/** `flotilla helm rollback <release> [--to-revision N] --cluster c`: waits for the rollback to finish. */
export async function helmRollbackCommand(target: ActorTarget, cluster: string, toRevision: number | undefined, timeoutMs: number, g: GlobalOptions): Promise<void> {
  await withClient(g, async (client) => {
    const accepted = await client.helmRollback(target.id, { cluster, ...(toRevision !== undefined ? { toRevision } : {}) });
    console.error(`► rolling back ${target.id} on ${cluster} to revision ${accepted.toRevision}`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await client.status(target.id);
      const h = s.kind === 'HelmRelease' ? s.status.histories[cluster] : undefined;
      const latest = h?.revisions[h.revisions.length - 1];
      if (latest?.action === 'rollback' && latest.rolledBackTo === accepted.toRevision && latest.finishedAt !== undefined) {
        if (latest.status !== 'deployed') throw new CommandFailed(`rollback failed: ${latest.description}`);
        console.log(`${target.id} on ${cluster}: revision ${latest.revision} deployed (rollback to ${accepted.toRevision})`);
        return;
      }
      if (Date.now() > deadline) throw new CommandFailed(`timed out waiting for the rollback of ${target.id} on ${cluster}`);
      await sleep(500);
    }
  });
}

export async function reconcileCommand(target: ActorTarget, withSource: boolean, timeoutMs: number, g: GlobalOptions): Promise<void> {
  await withClient(g, async (client) => {
    const deadline = Date.now() + timeoutMs;
    if (withSource && (target.kind === 'Kustomization' || target.kind === 'HelmRelease')) {
      const s = await client.status(target.id);
      const src = s.declaration.kind === 'Kustomization' ? s.declaration.spec.sourceRef
        : s.declaration.kind === 'HelmRelease' ? s.declaration.spec.chart.sourceRef : undefined;
      if (src) {
        const source = await reconcileOne(client, { kind: src.kind, id: `${src.kind.toLowerCase()}/${src.namespace}/${src.name}` }, deadline);
        const revision = source.kind === 'GitRepository' || source.kind === 'HelmRepository' ? source.status.artifact?.revision : undefined;
        // The source tells its subscribers on its own; wait until this one has heard, so the
        // reconcile below builds the revision just fetched.
        while (revision !== undefined) {
          const k = await client.status(target.id);
          if ((k.kind !== 'Kustomization' && k.kind !== 'HelmRelease') || k.status.sourceRevision === revision) break;
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
    const ready = s.status.conditions.find((c) => c.type === 'Ready');
    // Handled, and not in the middle of a later reconcile (one that started right after ours
    // — the next interval, a source event, the first pass after continue-as-new — shows
    // Ready=Unknown until it ends): its outcome is what the object is now.
    if (handledSince(s.status.lastHandledReconcileAt, token) && ready?.status !== 'Unknown') {
      console.error(`${ready?.status === 'True' ? '✔' : '✗'} ${target.id}: ${ready?.message ?? 'no Ready condition'}`);
      return s;
    }
    if (Date.now() > deadline) throw new CommandFailed(`timed out waiting for ${target.id} to reconcile (last: ${progress})`);
    await sleep(500);
  }
}

/**
 * Whether the actor has handled our request: our token, or a later request's (an actor keeps
 * only the latest token, so two `reconcile --with-source` on one source must both finish).
 * Tokens from the CLI are ISO times, which compare as strings; others only match exactly.
 */
export function handledSince(handled: string, token: string): boolean {
  const iso = /^\d{4}-\d\d-\d\dT/;
  return handled === token || (iso.test(handled) && iso.test(token) && handled >= token);
}

function describeProgress(s: ActorStatus): string {
  const reconciling: Condition | undefined = s.status.conditions.find((c) => c.type === 'Reconciling' && c.status === 'True');
  if (reconciling) return `reconciling: ${reconciling.message}`;
  if (s.kind === 'Kustomization' || s.kind === 'HelmRelease') {
    const ready = s.status.clusters.filter((c) => c.ready === 'True').length;
    return `waiting: ${ready}/${s.status.placed.length} clusters ready at ${revisionOf(s) || 'no revision yet'}`;
  }
  if (s.kind === 'GitRepository' || s.kind === 'HelmRepository') return `waiting: revision ${s.status.artifact?.revision ?? 'none yet'}`;
  return `waiting: ${revisionOf(s) || 'nothing yet'}`;
}

export interface BootstrapOptions {
  readonly url: string;
  readonly path: string;
  readonly branch: string;
  readonly interval: string;
  readonly secretRef?: string;
  /** Flux mode: reconcile the path for this cluster, the way Flux would inside it. */
  readonly cluster?: string;
  /** Flux mode for every cluster the selector matches (needs name). */
  readonly clusterSelector?: Readonly<Record<string, string>>;
  /** The scope of the declarations; defaults to the cluster. */
  readonly name?: string;
}

/**
 * Without a cluster: Flotilla's own bootstrap (every object in the path is a hub declaration,
 * in flotilla-system). With --cluster or --cluster-selector: Flux's, as `flux bootstrap`
 * leaves a repository: GitRepository and Kustomization `flux-system` in flux-system, scoped
 * to the cluster (hub namespace flux-system@<name>), whose build gives the hub the Flux
 * objects and the cluster everything else.
 */
export async function bootstrapCommand(opts: BootstrapOptions, timeoutMs: number, g: GlobalOptions): Promise<void> {
  const flux = opts.cluster !== undefined || opts.clusterSelector !== undefined;
  const scope = opts.name ?? opts.cluster;
  if (flux && scope === undefined) throw new UsageError('bootstrap with --cluster-selector needs --name <scope> (what to call this group of clusters)');
  const namespace = flux ? 'flux-system' : 'flotilla-system';
  const placement = !flux ? { hub: true }
    : { ...(opts.cluster !== undefined ? { clusters: [opts.cluster] } : {}), ...(opts.clusterSelector ? { clusterSelector: { matchLabels: opts.clusterSelector } } : {}) };
  const annotations = flux ? { [BOOTSTRAP_ANNOTATION]: 'true' } : {};
  const source = parseDeclarationObject({
    apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: namespace, namespace, annotations },
    spec: { url: opts.url, interval: opts.interval, ref: { branch: opts.branch }, ...(opts.secretRef ? { secretRef: { name: opts.secretRef } } : {}) },
  }, 'bootstrap');
  const kustomization = parseDeclarationObject({
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name: namespace, namespace, annotations },
    spec: { interval: opts.interval, path: opts.path, prune: true, sourceRef: { kind: 'GitRepository', name: namespace }, placement },
  }, 'bootstrap');
  const declarations: Declaration[] = [];
  for (const d of [source, kustomization]) {
    if (Array.isArray(d)) throw new UsageError(d.map(formatDeclarationError).join('; '));
    declarations.push(flux ? scopeDeclaration(d, scope) : d);
  }
  await withClient(g, async (client) => {
    for (const d of declarations) console.log(`${d.kind}/${d.namespace}/${d.name} ${await client.apply(d)}`);
  });
  const owner = declarations.find((d) => d.kind === 'Kustomization');
  if (!owner) return;
  const id = declarationId(owner);
  await reconcileCommand({ kind: 'Kustomization', id }, true, timeoutMs, g);
  if (!flux) return;
  // Said once, here, as a notice: the hub does the job of Flux's controllers.
  await withClient(g, async (client) => {
    const s = await client.status(id);
    if (s.kind !== 'Kustomization') return;
    for (const notice of s.status.lastBuild?.notices ?? []) console.log(`notice: ${notice}`);
    if (s.status.declarations.length > 0) {
      console.log(`adopted ${s.status.declarations.length} declarations for ${scope ?? ''}: ${s.status.declarations.join(', ')}`);
    }
    // The whole scope: its HelmReleases live in their own namespaces (podinfo@staging).
    console.log(`see them with: flotilla get all --scope ${scope ?? ''}`);
  });
}

export interface ActorTarget {
  readonly kind: ActorKind;
  readonly id: string;
}

/** `kustomization <name>`, `ks <name>` or `source git <name>` → the actor's id. */
export function parseTarget(words: readonly string[], namespace: string): ActorTarget {
  // The id form, as messages print it: kustomization/<ns>/<name> (or kustomization/<name>).
  const slashed = words.length === 1 ? words[0]?.split('/') ?? [] : [];
  if (slashed.length === 2 || slashed.length === 3) {
    const [kind = '', ns, name] = slashed.length === 3 ? slashed : [slashed[0], namespace, slashed[1]];
    const kinds: Readonly<Record<string, readonly string[]>> = {
      kustomization: ['kustomization'], helmrelease: ['helmrelease'], gitrepository: ['source', 'git'], helmrepository: ['source', 'helm'],
      imagerepository: ['image', 'repository'], imagepolicy: ['image', 'policy'], imageupdateautomation: ['image', 'update'],
    };
    const prefix = kinds[kind];
    if (prefix && ns && name) return parseTarget([...prefix, name], ns);
  }
  const [first, second, third] = words;
  if ((first === 'kustomization' || first === 'kustomizations' || first === 'ks') && second) {
    return { kind: 'Kustomization', id: kustomizationId(namespace, second) };
  }
  if ((first === 'helmrelease' || first === 'helmreleases' || first === 'hr') && second) {
    return { kind: 'HelmRelease', id: helmReleaseId(namespace, second) };
  }
  if (first === 'source' && (second === 'git' || second === 'gitrepository') && third) {
    return { kind: 'GitRepository', id: gitRepositoryId(namespace, third) };
  }
  if (first === 'source' && (second === 'helm' || second === 'helmrepository') && third) {
    return { kind: 'HelmRepository', id: helmRepositoryId(namespace, third) };
  }
  if (first === 'image' && third) {
    const kind = IMAGE_WORDS[second ?? ''];
    if (kind) return { kind, id: actorWorkflowId(kind, namespace, third) };
  }
  throw new UsageError(
    `expected "kustomization <name>", "helmrelease <name>", "source git|helm <name>", "image repository|policy|update <name>" `
    + `or an id such as kustomization/<namespace>/<name>, got "${words.join(' ')}"`,
  );
}

function rank(d: Declaration): number {
  return d.kind === 'ConfigMap' || d.kind === 'Secret' ? 0 : d.kind === 'GitRepository' || d.kind === 'HelmRepository' ? 1 : 2;
}
