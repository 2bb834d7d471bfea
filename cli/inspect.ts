// `flotilla history` and `flotilla events`: what happened, read from the Temporal workflow
// histories of the hub's actors (hub/history.ts decodes them).
import { setTimeout as sleep } from 'node:timers/promises';
import { scopeOf } from '../core/declarations/scope.js';
import { parseDuration } from '../core/registration.js';
import { shortRevision } from '../core/revision.js';
import { NotFoundError, type DeclarationClient } from '../hub/declarations.js';
import { entryMessage, filterEntries, isFailureEntry, temporalRunUrl, type HistoryEntry, type Timeline } from '../hub/history.js';
import { ACTOR_KINDS, IMAGE_KINDS, idsInScope, manyNamespaces, UsageError, withClient, type GlobalOptions } from './gitops.js';
import { formatTable, formatTime, paint, printStructured } from './output.js';

export interface HistoryOptions {
  readonly cluster?: string;
  readonly since?: string;
  readonly revision?: string;
}

/** `--since 1h` → ms since epoch (undefined: no bound). */
export function sinceOf(since: string | undefined, now = Date.now()): number | undefined {
  if (since === undefined) return undefined;
  try {
    return now - parseDuration(since);
  } catch {
    throw new UsageError(`--since wants a duration such as 30m, 1h or 2d, got "${since}"`);
  }
}


function eventType(type: string): string {
  return isFailureEntry(type) ? paint('red', type) : type;
}

/** The timeline as a table plus the runs it came from, for people. */
export function renderTimeline(t: Timeline, entries: readonly HistoryEntry[], temporalUi?: string, namespace = 'default'): string {
  const lines: string[] = [];
  const actorRuns = t.runs.filter((r) => r.workflowId === t.id);
  const rollouts = t.runs.length - actorRuns.length;
  lines.push(`${t.id}: ${entries.length} events from ${actorRuns.length} run${actorRuns.length === 1 ? '' : 's'}${rollouts ? ` and ${rollouts} rollout${rollouts === 1 ? '' : 's'}` : ''} (newest last)`);
  if (entries.length === 0) lines.push('  nothing happened in the selected window');
  else {
    lines.push(...formatTable(['TIME', 'CLUSTER', 'EVENT', 'REVISION', 'MESSAGE'], entries.map((e) => [
      formatTime(e.at), e.cluster ?? '-', eventType(e.type), e.revision ? shortRevision(e.revision) : '-', entryMessage(e),
    ])));
  }
  lines.push('', 'workflow runs (temporal workflow show --workflow-id <id> --run-id <run>):');
  lines.push(...formatTable(['WORKFLOW', 'RUN', 'STARTED', 'STATUS', 'EVENTS'], t.runs.map((r) => [
    r.workflowId, r.runId, formatTime(r.startedAt), r.status, String(r.events),
  ])).map((l) => `  ${l}`));
  if (temporalUi) {
    const last = actorRuns[actorRuns.length - 1];
    if (last) lines.push(`  ${temporalRunUrl(temporalUi, namespace, last.workflowId, last.runId)}`);
  }
  return lines.join('\n');
}

/** `kustomization/podinfo`, `kustomization podinfo`, `kustomization/apps/podinfo`, `cluster/prod` → workflow id. */
export function historyId(words: readonly string[], namespace: string): string {
  const joined = words.length === 2 ? `${words[0] ?? ''}/${words[1] ?? ''}` : words[0] ?? '';
  const parts = joined.split('/');
  const kinds: Readonly<Record<string, string>> = {
    kustomization: 'kustomization', kustomizations: 'kustomization', ks: 'kustomization',
    helmrelease: 'helmrelease', helmreleases: 'helmrelease', hr: 'helmrelease',
    gitrepository: 'gitrepository', git: 'gitrepository', helmrepository: 'helmrepository',
    imagerepository: 'imagerepository', imagepolicy: 'imagepolicy', imageupdateautomation: 'imageupdateautomation',
  };
  const [kindWord = '', a, b] = parts;
  if (kindWord === 'cluster' && a && b === undefined) return `cluster/${a}`;
  const kind = kinds[kindWord.toLowerCase()];
  if (kind && a && b === undefined) return `${kind}/${namespace}/${a}`;
  if (kind && a && b) return `${kind}/${a}/${b}`;
  throw new UsageError(
    `expected <kind>/<name> (kustomization, helmrelease, gitrepository, helmrepository, imagerepository, imagepolicy, `
    + `imageupdateautomation or cluster), got "${words.join(' ')}"`,
  );
}

export async function historyCommand(words: readonly string[], opts: HistoryOptions, g: GlobalOptions): Promise<void> {
  const id = historyId(words, g.namespace);
  const since = sinceOf(opts.since);
  await withClient(g, async (client) => {
    const t = await client.timeline(id, since === undefined ? {} : { since });
    const entries = filterEntries(t.entries, opts, since);
    if (g.output !== 'table') {
      printStructured(g.output, { id: t.id, runs: t.runs, entries });
      return;
    }
    console.log(renderTimeline(t, entries, g.temporalUi, g.temporalNamespace));
  });
}

export interface EventsOptions {
  readonly for?: readonly string[];
  readonly since?: string;
  readonly watch: boolean;
}

/** `kustomization/apps/web` → `kustomization/web` (the namespace has its own column when it tells objects apart). */
function objectOf(owner: string): string {
  const [kind = '', , name = ''] = owner.split('/');
  return `${kind}/${name}`;
}

/** The root Kustomization of a scope, as `flotilla bootstrap` declares it. */
function scopeRootId(scope: string): string {
  return `kustomization/flux-system@${scope}/flux-system`;
}

/**
 * The clusters of each scope among the owners: where the scope's bootstrap Kustomization is
 * placed (every adopted declaration goes where it goes); none when it is not there.
 */
async function scopeClusters(client: DeclarationClient, owners: readonly string[]): Promise<Map<string, readonly string[]>> {
  const clusters = new Map<string, readonly string[]>();
  for (const scope of new Set(owners.map(scopeOf))) {
    if (scope === undefined) continue;
    try {
      const root = await client.status(scopeRootId(scope));
      clusters.set(scope, root.kind === 'Kustomization' ? root.status.placed : []);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      clusters.set(scope, []);
    }
  }
  return clusters;
}

/**
 * The CLUSTER of an event: its own; for an event about no cluster in particular on a scoped
 * object (a fetch, a build, a reconcile of `flux-system@staging/apps`), the clusters of its
 * scope (`staging`), or `@<scope>` when none is known; `-` for an unscoped one.
 */
export function eventCluster(e: Pick<HistoryEntry, 'cluster'>, owner: string, clusters: ReadonlyMap<string, readonly string[]>): string {
  if (e.cluster !== undefined) return e.cluster;
  const scope = scopeOf(owner);
  if (scope === undefined) return '-';
  const placed = clusters.get(scope) ?? [];
  return placed.length > 0 ? placed.join(',') : `@${scope}`;
}

/** `flotilla events`: the recent entries of every declaration's timeline (or one's), merged by time. */
export async function eventsCommand(opts: EventsOptions, g: GlobalOptions): Promise<void> {
  const since = sinceOf(opts.since ?? '1h');
  await withClient(g, async (client) => {
    const seen = new Set<string>();
    let header = true;
    // The NAMESPACE column, decided with the header: with -A, a whole scope, or when the objects
    // listed are in several namespaces (flux-system@staging and flux-system@production).
    let namespaceColumn: boolean | undefined;
    for (;;) {
      const ids = opts.for ? [historyId(opts.for, g.namespace)] : await idsInScope(client, [...ACTOR_KINDS, ...IMAGE_KINDS], g);
      const rows: { entry: HistoryEntry; owner: string }[] = [];
      for (const id of ids) {
        try {
          const t = await client.timeline(id, { related: false, ...(since === undefined ? {} : { since }) });
          for (const entry of filterEntries(t.entries, {}, since)) rows.push({ entry, owner: id });
        } catch (err) {
          // One named with --for: withClient says so (naming its scoped namesakes); one deleted meanwhile: left out.
          if (!(err instanceof NotFoundError) || opts.for) throw err;
        }
      }
      const several = new Set(ids.map((id) => id.split('/')[1] ?? '')).size > 1;
      namespaceColumn ??= manyNamespaces(g) || several;
      // Watching, when namespaces come to differ after the header: the whole id.
      const objectName = (owner: string): string => (namespaceColumn === true || !several ? objectOf(owner) : owner);
      const clusters = await scopeClusters(client, ids);
      rows.sort((a, b) => a.entry.at - b.entry.at);
      const fresh = rows.filter(({ entry: e, owner }) => {
        const key = `${owner} ${e.workflowId} ${e.runId} ${e.eventId} ${e.type} ${e.cluster ?? ''} ${e.at}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
      if (g.output !== 'table') {
        // A scoped object's rows name its scope and the scope's clusters (the entry's own cluster stays as it was).
        const structured = (r: { entry: HistoryEntry; owner: string }): Record<string, unknown> => {
          const scope = scopeOf(r.owner);
          return { object: r.owner, ...(scope !== undefined ? { scope, scopeClusters: clusters.get(scope) ?? [] } : {}), ...r.entry };
        };
        if (opts.watch) for (const r of fresh) console.log(JSON.stringify(structured(r)));
        else printStructured(g.output, fresh.map(structured));
      } else if (fresh.length > 0 || header) {
        const table = formatTable(['TIME', ...(namespaceColumn ? ['NAMESPACE'] : []), 'OBJECT', 'CLUSTER', 'EVENT', 'MESSAGE'], fresh.map(({ entry: e, owner }) => [
          formatTime(e.at), ...(namespaceColumn ? [owner.split('/')[1] ?? ''] : []), objectName(owner), eventCluster(e, owner, clusters), eventType(e.type), entryMessage(e),
        ]));
        // Watching: the header once, then rows as they come (column widths may differ).
        for (const line of header ? table : table.slice(1)) console.log(line);
        if (fresh.length === 0 && !opts.watch) console.error(`no events${opts.since ? ` in the last ${opts.since}` : ' in the last hour (--since to look further back)'}`);
        header = false;
      }
      if (!opts.watch) return;
      await sleep(2000);
    }
  });
}
