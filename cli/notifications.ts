// `flotilla get providers|alerts|receivers` and the notification ids of `flotilla delete`.
// Providers and Alerts come with their delivery counts from the notifications workflow;
// Receivers with their webhook path, which needs the token in their Secret: the hub's API
// computes it (--hub), or the CLI does from the hub's data directory (--hub-data).
import type { NotificationsStatus } from '../api/notifications.js';
import { formatDuration } from '../core/declarations/duration.js';
import { FileBlobStore } from '../hub/blob-store.js';
import { DataObjectStore } from '../hub/data-objects.js';
import { receiverEndpoints, resourceId, type ReceiverEndpoint } from '../hub/receivers.js';
import { CommandFailed, UsageError, withClient, type GlobalOptions } from './gitops.js';
import { printStructured, printTable } from './output.js';
import { hubFetch } from './hub-http.js';

export type NotificationKind = 'Provider' | 'Alert' | 'Receiver';

const WORDS: Readonly<Record<string, NotificationKind>> = {
  provider: 'Provider', providers: 'Provider', alert: 'Alert', alerts: 'Alert', receiver: 'Receiver', receivers: 'Receiver',
};

/** `alerts`, `provider`… → the kind; undefined for other words. */
export function notificationKind(word: string | undefined): NotificationKind | undefined {
  return word === undefined ? undefined : WORDS[word.toLowerCase()];
}

/** `alert <name>`, `alert/<name>` or `alert/<ns>/<name>` (also provider, receiver) → the id; undefined otherwise. */
export function notificationTarget(words: readonly string[], namespace: string): { readonly id: string } | undefined {
  const [first = '', second] = words;
  const slashed = words.length === 1 ? first.split('/') : [];
  if (slashed.length === 2 || slashed.length === 3) {
    const kind = notificationKind(slashed[0]);
    const [ns, name] = slashed.length === 3 ? [slashed[1], slashed[2]] : [namespace, slashed[1]];
    if (kind && ns && name) return { id: `${kind.toLowerCase()}/${ns}/${name}` };
  }
  const kind = notificationKind(first);
  if (kind && second && words.length === 2) return { id: `${kind.toLowerCase()}/${namespace}/${second}` };
  return undefined;
}

export async function getNotificationsCommand(kind: NotificationKind, g: GlobalOptions): Promise<void> {
  const status = await withClient(g, (client) => client.notifications());
  const inScope = <T extends { declaration: { namespace: string } }>(xs: readonly T[]): T[] =>
    xs.filter((x) => g.allNamespaces || x.declaration.namespace === g.namespace);
  const nothing = (): void => { console.error(`no ${kind}s found${g.allNamespaces ? '' : ` in namespace ${g.namespace} (use -A for all)`}`); };
  const ns = (x: { declaration: { namespace: string } }): string[] => (g.allNamespaces ? [x.declaration.namespace] : []);
  const nsHeader = g.allNamespaces ? ['NAMESPACE'] : [];
  const now = Date.now();
  const ago = (ms: number | undefined): string => (ms === undefined ? '-' : `${formatDuration(now - ms)} ago`);

  if (kind === 'Provider') {
    const rows = inScope(status.providers);
    if (g.output !== 'table') { printStructured(g.output, rows); return; }
    if (rows.length === 0) { nothing(); return; }
    printTable([...nsHeader, 'NAME', 'TYPE', 'SUSPENDED', 'SENT', 'FAILED', 'SKIPPED', 'PENDING', 'LAST SENT', 'MESSAGE'], rows.map((p) => [
      ...ns(p), p.declaration.name, p.declaration.spec.type, String(p.declaration.spec.suspend), String(p.sent), String(p.failed), String(p.skipped),
      String(p.pending), ago(p.lastSentAt), p.lastError ?? '-',
    ]));
    return;
  }
  if (kind === 'Alert') {
    const rows = inScope(status.alerts);
    if (g.output !== 'table') { printStructured(g.output, rows); return; }
    if (rows.length === 0) { nothing(); return; }
    printTable([...nsHeader, 'NAME', 'PROVIDER', 'SEVERITY', 'SUSPENDED', 'SENT', 'DUPLICATES', 'RATE-LIMITED', 'FAILED', 'SKIPPED', 'LAST SENT', 'MESSAGE'], rows.map((a) => [
      ...ns(a), a.declaration.name, a.declaration.spec.providerRef.name, a.declaration.spec.eventSeverity, String(a.declaration.spec.suspend),
      String(a.sent), String(a.duplicates), String(a.rateLimited), String(a.failed), String(a.skipped), ago(a.lastSentAt),
      a.lastError ?? a.lastSkipped ?? '-',
    ]));
    return;
  }
  const endpoints = await receiverPaths(status, g);
  const rows = inScope(status.receivers).map((r) => ({ ...r, endpoint: endpoints.get(r.id) }));
  if (g.output !== 'table') {
    printStructured(g.output, rows.map(({ endpoint, ...r }) => ({ ...r, ...(endpoint?.path ? { path: endpoint.path } : {}), ...(endpoint?.problem ? { problem: endpoint.problem } : {}) })));
    return;
  }
  if (rows.length === 0) { nothing(); return; }
  printTable([...nsHeader, 'NAME', 'TYPE', 'SUSPENDED', 'RESOURCES', 'PATH'], rows.map((r) => [
    ...ns(r), r.declaration.name, r.declaration.spec.type, String(r.declaration.spec.suspend), r.declaration.spec.resources.map(resourceId).join(','),
    r.endpoint?.path ?? r.endpoint?.problem ?? '(unknown: give --hub <url> or --hub-data <dir> to see the path)',
  ]));
  if (g.hubUrl && rows.some((r) => r.endpoint?.path)) console.error(`\nwebhook URL: ${g.hubUrl}<PATH> (the hub's --http address as GitHub or the sender reaches it)`);
}

/** Receiver id → its endpoint: from the hub's API when its URL is known, else from --hub-data. */
async function receiverPaths(status: NotificationsStatus, g: GlobalOptions): Promise<Map<string, ReceiverEndpoint>> {
  let endpoints: ReceiverEndpoint[] = [];
  if (g.hubUrl) {
    let res: Response;
    try {
      res = await hubFetch(`${g.hubUrl}/api/v1/receivers`, { signal: AbortSignal.timeout(10_000), headers: g.hubToken ? { authorization: `Bearer ${g.hubToken}` } : {} });
    } catch (err) {
      throw new CommandFailed(`cannot reach the hub API at ${g.hubUrl}: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (res.status === 401) throw new CommandFailed(`the hub at ${g.hubUrl} wants its API token: --hub-token or FLOTILLA_HUB_TOKEN`);
    if (!res.ok) throw new CommandFailed(`the hub at ${g.hubUrl} answered HTTP ${res.status} to /api/v1/receivers: ${await res.text()}`);
    endpoints = await res.json() as ReceiverEndpoint[];
  } else if (g.hubData) {
    const data = new DataObjectStore(new FileBlobStore(g.hubData));
    endpoints = await receiverEndpoints(status.receivers.map((r) => r.declaration), (ns, name) => data.get('Secret', ns, name));
  }
  return new Map(endpoints.map((e) => [e.id, e]));
}

/** The usage error of `get` for a word that is not a notification kind either. */
export function notAKind(words: readonly string[]): UsageError {
  return new UsageError(`get what? "all", "clusters", "sources", "kustomizations", "helmreleases", "providers", "alerts" or "receivers", got "${words.join(' ')}"`);
}
