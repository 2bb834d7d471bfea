// The fleet at a glance and the "why" commands: `flotilla get all`, `get clusters`,
// `explain`, `trace` and `check`. They read the actors' statuses (queries), the rollouts,
// the clusters' actors and, for `trace` of an object, the build artifacts through the hub.
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { ClusterStatus } from '../api/cluster.js';
import type { RolloutStatus } from '../api/rollout.js';
import { formatDuration } from '../core/declarations/duration.js';
import { explain, healthLine, type Explanation } from '../core/explain.js';
import { describeDigest, shortRevision } from '../core/revision.js';
import { FileArtifactStore } from '../hub/artifact-store.js';
import { NotFoundError, type ActorStatus, type DeclarationClient } from '../hub/declarations.js';
import { explainSubject, isPlaced, type Placed } from '../hub/fleet-view.js';
import {
  ACTOR_KINDS, CommandFailed, IMAGE_KINDS, kubeObjectOf, manyNamespaces, noteRestOfScope, revisionOf, scopeHint, statusesInScope, UsageError, withClient, type GlobalOptions,
} from './gitops.js';
import { historyId } from './inspect.js';
import { formatTable, paint, printStructured, readiness } from './output.js';
import { hubFetch } from './hub-http.js';

function clusterRows(clusters: readonly ClusterStatus[], now: number): string[][] {
  // A MESSAGE column only when a cluster has something to say (its agent holds its state).
  const held = clusters.some((c) => c.held !== undefined);
  return clusters.map((c) => [
    c.name, c.connection === 'Connected' ? paint('green', c.connection) : paint('red', c.connection), formatDuration(now - c.connectionSince),
    c.agentVersion || '-', c.kubernetesVersion || '-', Object.entries(c.labels).map(([k, v]) => `${k}=${v}`).join(',') || '-',
    ...(held ? [c.held ? paint('red', `HeldState: ${c.held.reason}`) : ''] : []),
  ]);
}

function clusterHeader(clusters: readonly ClusterStatus[]): string[] {
  return clusters.some((c) => c.held !== undefined) ? [...CLUSTER_HEADER, 'MESSAGE'] : CLUSTER_HEADER;
}

const CLUSTER_HEADER = ['NAME', 'CONNECTION', 'SINCE', 'AGENT', 'KUBERNETES', 'LABELS'];

/**
 * `flotilla cluster adopt <name> [--prune-missing]`: after the hub's record of a cluster was
 * lost (its agent refuses the new, emptier state and holds what runs), the operator's consent
 * that the hub's state now stands. What the hub's state lacks is orphaned (left running,
 * forgotten), or deleted with --prune-missing.
 */
export async function adoptClusterCommand(words: readonly string[], pruneMissing: boolean, g: GlobalOptions): Promise<void> {
  const [cluster, ...extra] = words;
  if (cluster === undefined || extra.length > 0) throw new UsageError('usage: flotilla cluster adopt <name> [--prune-missing]');
  await withClient(g, async (client) => {
    let desired;
    try {
      desired = await client.adoptCluster(cluster, { pruneMissing, by: process.env.USER ?? 'flotilla' });
    } catch (err) {
      if (err instanceof NotFoundError) throw new CommandFailed(`cluster ${cluster}: ${err.message}`);
      throw err;
    }
    const names = desired.deployments.map((d) => d.name);
    console.log(`cluster ${cluster}: the hub's desired state (version ${desired.version}, ${names.length} deployment${names.length === 1 ? '' : 's'}${names.length > 0 ? `: ${names.join(', ')}` : ''}) replaces what the agent held;`
      + ` deployments it lacks are ${pruneMissing ? 'deleted (each with its own prune option)' : 'orphaned: left running, no longer managed'}.`);
  });
}

/** Per cluster readiness of a Kustomization or HelmRelease: `dev:True staging:False`. */
function perCluster(s: Placed): string {
  const byName = new Map<string, string>(s.status.clusters.map((c) => [c.cluster, c.ready]));
  return s.status.placed.map((name) => `${name}:${readiness(byName.get(name) ?? 'Unknown')}`).join(' ') || '(no cluster placed)';
}

function readyOf(s: ActorStatus): { status: string; message: string } {
  const r = s.status.conditions.find((c) => c.type === 'Ready');
  return { status: r?.status ?? 'Unknown', message: shortRevision(r?.message ?? 'not reconciled yet') };
}

function idOf(s: ActorStatus, all: boolean): string {
  return all ? `${s.declaration.namespace}/${s.declaration.name}` : s.declaration.name;
}

/** `flotilla get all`: clusters, sources, deployments with per-cluster readiness, rollouts in progress. */
export async function getAllCommand(g: GlobalOptions): Promise<void> {
  await withClient(g, async (client) => {
    const now = Date.now();
    const [clusters, all] = [await client.clusters(), await statusesInScope(client, [...ACTOR_KINDS, ...IMAGE_KINDS], g)];
    const rollouts: RolloutStatus[] = [];
    for (const s of all.filter(isPlaced)) {
      if (s.status.rollout?.phase !== 'Progressing') continue;
      const r = await client.rolloutStatus(s.status.id);
      if (r) rollouts.push(r);
    }
    if (g.output !== 'table') {
      printStructured(g.output, {
        clusters,
        // As Kubernetes prints objects (core/kube-shape.ts): metadata, spec, status with RFC 3339 times.
        declarations: all.map(kubeObjectOf),
        rollouts,
      });
      return;
    }
    const section = (title: string, header: readonly string[], rows: readonly (readonly string[])[]): void => {
      console.log(paint('bold', title));
      if (rows.length === 0) console.log('  (none)');
      else for (const l of formatTable(header, rows)) console.log(`  ${l}`);
      console.log('');
    };
    // The namespace whenever names alone would be ambiguous: -A, or several scopes of one
    // namespace (flux-system@staging/apps, flux-system@production/apps), or a whole scope.
    const ns = manyNamespaces(g) || new Set(all.map((s) => s.declaration.namespace)).size > 1;
    section('CLUSTERS', clusterHeader(clusters), clusterRows(clusters, now));
    section('SOURCES', ['NAME', 'REVISION', 'READY', 'MESSAGE'], all.filter((s) => s.kind === 'GitRepository' || s.kind === 'HelmRepository').map((s) => {
      const r = readyOf(s);
      return [`${s.kind === 'GitRepository' ? 'gitrepository' : 'helmrepository'}/${idOf(s, ns)}`, shortRevision(revisionOf(s) || '-'), readiness(r.status), r.message];
    }));
    for (const kind of ['Kustomization', 'HelmRelease'] as const) {
      section(kind === 'Kustomization' ? 'KUSTOMIZATIONS' : 'HELMRELEASES', ['NAME', 'REVISION', 'SUSPENDED', 'READY', 'CLUSTERS', 'MESSAGE'],
        all.filter(isPlaced).filter((s) => s.kind === kind).map((s) => {
          const r = readyOf(s);
          const hub = s.declaration.kind === 'Kustomization' && s.declaration.spec.placement.hub;
          // The Ready message is the last finished reconcile's; the ROLLOUTS section has the rest.
          const rolling = s.status.rollout?.phase === 'Progressing' ? `rolling out ${shortRevision(s.status.rollout.revision)}` : undefined;
          return [idOf(s, ns), shortRevision(revisionOf(s) || '-'), String(s.status.suspended), readiness(r.status), hub ? '(hub declarations)' : perCluster(s), rolling ?? r.message];
        }));
    }
    const images = all.filter((s) => IMAGE_KINDS.includes(s.kind));
    // Only when there are some: most fleets have no image automation.
    if (images.length > 0) {
      section('IMAGES', ['NAME', 'LATEST', 'READY', 'MESSAGE'], images.map((s) => {
        const r = readyOf(s);
        return [`${s.kind.toLowerCase()}/${idOf(s, ns)}`, shortRevision(revisionOf(s) || '-'), readiness(r.status), r.message];
      }));
    }
    section('ROLLOUTS IN PROGRESS', ['OWNER', 'REVISION', 'PHASE', 'WAVE', 'MESSAGE'], rollouts.map((r) => [
      r.owner, shortRevision(r.revision), r.phase, `${r.waves[r.currentWave]?.name ?? '-'} (${r.currentWave + 1}/${r.waves.length})`, shortRevision(r.message),
    ]));
    await noteRestOfScope(client, [...ACTOR_KINDS, ...IMAGE_KINDS], g, all.map((s) => s.declaration.namespace));
  });
}

/** `flotilla get clusters`. */
export async function getClustersCommand(g: GlobalOptions): Promise<void> {
  await withClient(g, async (client) => {
    const clusters = await client.clusters();
    if (g.output !== 'table') { printStructured(g.output, clusters); return; }
    if (clusters.length === 0) { console.error('no cluster has registered yet (flotilla cluster token create, then start an agent with the token)'); return; }
    for (const l of formatTable(clusterHeader(clusters), clusterRows(clusters, Date.now()))) console.log(l);
  });
}

async function placedStatus(client: DeclarationClient, words: readonly string[], cluster: string, g: GlobalOptions): Promise<Placed> {
  const id = historyId(words, g.namespace);
  if (!id.startsWith('kustomization/') && !id.startsWith('helmrelease/')) throw new UsageError(`explain works on a kustomization or a helmrelease, got ${id}`);
  let s;
  try {
    s = await client.status(id);
  } catch (err) {
    // Named without its scope: the scoped ones, the cluster's own first.
    const hint = err instanceof NotFoundError ? await scopeHint(client, id, cluster) : undefined;
    if (hint !== undefined) throw new CommandFailed(hint);
    throw err;
  }
  if (!isPlaced(s)) throw new UsageError(`${id} is not a Kustomization or HelmRelease`);
  return s;
}

export function renderExplanation(e: Explanation): string {
  return [e.sentence, '', 'evidence:', ...e.evidence.map((l) => `  - ${l}`)].join('\n');
}

/** `flotilla explain <kind>/<name> --cluster c`. Exit 0 when the cluster is up to date, 1 otherwise. */
export async function explainCommand(words: readonly string[], cluster: string, g: GlobalOptions): Promise<void> {
  await withClient(g, async (client) => {
    const s = await placedStatus(client, words, cluster, g);
    const [clusters, rollout] = [await client.clusters(), await client.rolloutStatus(s.status.id)];
    const c = clusters.find((x) => x.name === cluster);
    const e = explain(explainSubject(s, cluster, rollout, c), cluster, c, Date.now());
    if (g.output !== 'table') printStructured(g.output, { id: s.status.id, cluster, ...e });
    else console.log(renderExplanation(e));
    if (e.verdict !== 'UpToDate') process.exitCode = 1;
  });
}

/** The artifact's bytes: from the hub's API, or its data directory when given. */
async function readArtifact(g: GlobalOptions, digest: string): Promise<string | undefined> {
  if (g.hubData) return (await new FileArtifactStore(join(g.hubData, 'artifacts')).get(digest))?.toString('utf8');
  if (!g.hubUrl) throw new CommandFailed('tracing an object reads build artifacts from the hub: give --hub <url> (or --hub-data <dir> on the hub machine)');
  const res = await hubFetch(`${g.hubUrl}/api/v1/artifacts/${digest}`, { headers: g.hubToken ? { authorization: `Bearer ${g.hubToken}` } : {} });
  if (res.status === 404) return undefined;
  if (!res.ok) throw new CommandFailed(`the hub refused the artifact ${digest}: HTTP ${res.status} ${await res.text()}`);
  return res.text();
}

interface ObjectRef {
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
}

/** Does this built YAML stream hold the object? Returns its namespace/name as found. */
function findObject(yamlText: string, ref: ObjectRef, defaultNamespace: string): { namespace: string; name: string; apiVersion: string; kind: string } | undefined {
  for (const doc of parseAllDocuments(yamlText)) {
    const o = doc.toJS() as unknown;
    if (typeof o !== 'object' || o === null) continue;
    const obj = o as { kind?: unknown; apiVersion?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
    if (typeof obj.kind !== 'string' || obj.kind.toLowerCase() !== ref.kind.toLowerCase()) continue;
    if (obj.metadata?.name !== ref.name) continue;
    const ns = typeof obj.metadata.namespace === 'string' ? obj.metadata.namespace : defaultNamespace;
    if (ref.namespace !== undefined && ns !== ref.namespace) continue;
    return { namespace: ns, name: ref.name, apiVersion: typeof obj.apiVersion === 'string' ? obj.apiVersion : '', kind: obj.kind };
  }
  return undefined;
}

const DECLARATION_WORDS = new Set(['kustomization', 'kustomizations', 'ks', 'helmrelease', 'helmreleases', 'hr']);

/**
 * `flotilla trace <kind>/<name> --cluster c`: for a declaration, its chain (source → build →
 * cluster); for any other object, which declaration delivers it to that cluster, then the same.
 */
export async function traceCommand(words: readonly string[], cluster: string, objectNamespace: string | undefined, g: GlobalOptions): Promise<void> {
  const [kindWord = ''] = (words[0] ?? '').split('/');
  await withClient(g, async (client) => {
    let s: Placed;
    let found: { namespace: string; name: string; apiVersion: string; kind: string } | undefined;
    if (DECLARATION_WORDS.has(kindWord.toLowerCase())) {
      s = await placedStatus(client, words, cluster, g);
    } else {
      const [kind = '', name = ''] = words.length === 2 ? [words[0] ?? '', words[1] ?? ''] : (words[0] ?? '').split('/');
      if (!kind || !name) throw new UsageError(`trace wants <kind>/<name>, e.g. deployment/podinfo, got "${words.join(' ')}"`);
      const ref: ObjectRef = { kind, name, ...(objectNamespace ? { namespace: objectNamespace } : {}) };
      const candidates = (await statusesInScope(client, ['Kustomization', 'HelmRelease'], { ...g, allNamespaces: true })).filter(isPlaced)
        .filter((x) => x.status.placed.includes(cluster));
      let match: Placed | undefined;
      for (const c of candidates) {
        const digest = c.kind === 'Kustomization'
          ? c.status.clusters.find((x) => x.cluster === cluster)?.artifactDigest
          : c.status.histories[cluster]?.revisions.at(-1)?.artifactDigest;
        if (!digest) continue;
        const text = await readArtifact(g, digest);
        const defaultNs = c.declaration.kind === 'Kustomization' ? c.declaration.spec.targetNamespace ?? 'default'
          : c.declaration.kind === 'HelmRelease' ? c.declaration.spec.targetNamespace : 'default';
        found = text === undefined ? undefined : findObject(text, ref, defaultNs);
        if (found) { match = c; break; }
      }
      if (!match) {
        throw new CommandFailed(`no Kustomization or HelmRelease placed on ${cluster} delivers ${kind}/${name}${objectNamespace ? ` in namespace ${objectNamespace}` : ''} (searched ${candidates.length}: ${candidates.map((c) => c.status.id).join(', ') || 'none'})`);
      }
      s = match;
    }
    const clusters = await client.clusters();
    const c = clusters.find((x) => x.name === cluster);
    const rollout = await client.rolloutStatus(s.status.id);
    const now = Date.now();
    const subject = explainSubject(s, cluster, rollout, c);
    const e = explain(subject, cluster, c, now);
    // From the agent's last report on the deployment at the generation the cluster is to run
    // (per object: what that report says of it), never from the owner's Ready condition.
    const health = healthLine(subject, cluster, c, now, found ? (found.namespace ? `${found.kind}/${found.namespace}/${found.name}` : `${found.kind}/${found.name}`) : undefined);
    const source = s.status.source;
    let sourceLine = source;
    try {
      const src = source ? await client.status(source) : undefined;
      if (src && (src.kind === 'GitRepository' || src.kind === 'HelmRepository')) {
        sourceLine = `${source}  ${src.status.url}  ${shortRevision(src.status.artifact?.revision ?? 'no artifact yet')}${src.status.artifact ? ` (fetched ${formatDuration(Date.now() - src.status.artifact.fetchedAt)} ago)` : ''}`;
      }
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      sourceLine = `${source} (not found)`;
    }
    const onCluster = s.kind === 'Kustomization' ? s.status.clusters.find((x) => x.cluster === cluster) : undefined;
    const helmOn = s.kind === 'HelmRelease' ? s.status.clusters.find((x) => x.cluster === cluster) : undefined;
    const lines = [
      ...(found ? [`object:       ${found.kind}/${found.name} in namespace ${found.namespace} (${found.apiVersion})`] : []),
      `managed by:   ${s.status.id}`,
      `source:       ${sourceLine}`,
      ...(s.kind === 'Kustomization' && s.declaration.kind === 'Kustomization' ? [`path:         ${s.declaration.spec.path}`] : []),
      ...(s.kind === 'HelmRelease' ? [`chart:        ${s.status.chartName}@${s.status.lastAttemptedChartVersion} (release ${s.status.releaseName})`] : []),
      `cluster:      ${cluster}${c ? ` (agent ${c.connection}, ${c.agentVersion || '?'}, Kubernetes ${c.kubernetesVersion || '?'})` : ' (not registered)'}`,
      ...(onCluster ? [
        `revision:     ${shortRevision(onCluster.revision || '-')} (generation ${onCluster.generation}, artifact ${describeDigest(onCluster.artifactDigest || '-')})`,
        `applied:      ${onCluster.updatedAt ? `${formatDuration(Date.now() - onCluster.updatedAt)} ago` : 'not yet'}${Object.keys(onCluster.counts).length ? ` (${Object.entries(onCluster.counts).map(([k, v]) => `${k} ${v}`).join(', ')})` : ''}`,
        `owner says:   Ready=${readiness(onCluster.ready)} ${onCluster.reason}: ${shortRevision(onCluster.message)}`,
      ] : []),
      ...(helmOn ? [
        `revision:     chart ${helmOn.chartVersion || '-'}, release revision ${helmOn.revision} (${helmOn.releaseStatus || '-'})`,
        `applied:      ${helmOn.updatedAt ? `${formatDuration(Date.now() - helmOn.updatedAt)} ago` : 'not yet'}`,
        `owner says:   Ready=${readiness(helmOn.ready)} ${helmOn.reason}: ${helmOn.message}`,
      ] : []),
      `health:       ${health}`,
      ...(rollout ? [`rollout:      ${shortRevision(rollout.revision)} ${rollout.phase}: ${shortRevision(rollout.message)}`] : []),
      `status:       ${e.sentence}`,
      '',
      `history:      flotilla history ${s.status.id} --cluster ${cluster}`,
    ];
    if (g.output !== 'table') {
      printStructured(g.output, { object: found, managedBy: s.status.id, source, cluster, clusterStatus: onCluster ?? helmOn, health, rollout, explanation: e });
      return;
    }
    console.log(lines.join('\n'));
  });
}

export interface CheckResult {
  readonly name: string;
  readonly ok: boolean;
  readonly message: string;
}

/** `flotilla check`: the hub API, Temporal, the hub's worker and every agent. Exit 1 when one fails. */
export async function checkCommand(g: GlobalOptions): Promise<void> {
  const results: CheckResult[] = [];
  const print = (r: CheckResult): void => {
    results.push(r);
    if (g.output === 'table') console.log(`${r.ok ? paint('green', '✔') : paint('red', '✗')} ${r.name}: ${r.message}`);
  };
  if (g.hubUrl) {
    try {
      const res = await hubFetch(`${g.hubUrl}/healthz`, { signal: AbortSignal.timeout(5000) });
      const body = await res.json() as { problems?: string[] };
      print({ name: 'hub', ok: res.ok, message: res.ok ? `${g.hubUrl} is healthy` : `${g.hubUrl} is unready: ${(body.problems ?? []).join('; ')}` });
    } catch (err) {
      print({ name: 'hub', ok: false, message: `cannot reach ${g.hubUrl}: ${err instanceof Error ? err.message : String(err)} (is flotilla-hub serve running with --http?)` });
    }
  } else {
    print({ name: 'hub', ok: true, message: 'no hub API given (--hub); checking through Temporal only' });
  }
  try {
    await withClient(g, async (client) => {
      print({ name: 'temporal', ok: true, message: `${g.temporal} namespace ${g.temporalNamespace} reachable` });
      const p = await client.pollers();
      print({
        name: 'hub worker', ok: p.workflow > 0 && p.activity > 0,
        message: p.workflow > 0 && p.activity > 0 ? `task queue ${g.taskQueue}: ${p.workflow} workflow and ${p.activity} activity pollers`
          : `no hub worker polls task queue ${g.taskQueue} (workflow pollers ${p.workflow}, activity pollers ${p.activity}): start flotilla-hub serve`,
      });
      const clusters = await client.clusters();
      if (clusters.length === 0) print({ name: 'agents', ok: false, message: 'no cluster has registered yet' });
      for (const c of clusters) {
        print({ name: `agent ${c.name}`, ok: c.connection === 'Connected', message: `${c.connection} for ${formatDuration(Date.now() - c.connectionSince)}${c.agentVersion ? `, agent ${c.agentVersion}, Kubernetes ${c.kubernetesVersion}` : ''}` });
      }
    });
  } catch (err) {
    print({ name: 'temporal', ok: false, message: err instanceof Error ? err.message : String(err) });
  }
  if (g.output !== 'table') printStructured(g.output, results);
  const failed = results.filter((r) => !r.ok);
  if (failed.length > 0) throw new CommandFailed(`${failed.length} check${failed.length === 1 ? '' : 's'} failed: ${failed.map((f) => f.name).join(', ')}`);
}
