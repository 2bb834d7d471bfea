// The dashboard's pages, rendered from typed values (a fleet snapshot, a rollout status, a
// timeline) to HTML. Pure: the routes fetch, these render; the benchmark renders them too.
import type { ClusterStatus } from '../../api/cluster.js';
import type { RolloutStatus } from '../../api/rollout.js';
import { formatDuration } from '../../core/declarations/duration.js';
import { explain, type ExplainVerdict, type Explanation } from '../../core/explain.js';
import { shortRevision } from '../../core/revision.js';
import { clusterFacts, explainSubjects, isPlaced, type FleetSnapshot, type Placed } from '../fleet-view.js';
import { entryMessage, isFailureEntry, temporalRunUrl, type HistoryEntry, type Timeline } from '../history.js';
import { badge, countdown, esc, historyPath, rolloutPath, table, type Tone } from './html.js';

const VERDICT_TONE: Readonly<Record<ExplainVerdict, Tone>> = {
  UpToDate: 'ok', Delivering: 'progress', HeldInRollout: 'progress', WaitingApproval: 'progress',
  Unhealthy: 'fail', BuildFailed: 'fail', RolloutFailed: 'fail', AgentUnreachable: 'fail', Removed: 'fail',
  Suspended: 'idle', DependencyNotReady: 'idle', NotRegistered: 'idle', NoRevision: 'idle', NotInRollout: 'idle',
  NotPlaced: 'off',
};

/** The short mark a grid cell shows besides its color. */
const VERDICT_MARK: Readonly<Record<ExplainVerdict, string>> = {
  UpToDate: '', Delivering: '…', HeldInRollout: '⏸', WaitingApproval: '?', Unhealthy: '✗', BuildFailed: 'B', RolloutFailed: 'R',
  AgentUnreachable: '!', Removed: '∅', Suspended: 'S', DependencyNotReady: 'D', NotRegistered: '-', NoRevision: '-', NotInRollout: '·', NotPlaced: '',
};

/** Rows of the "not up to date" list (the grid shows every cell). */
const BEHIND_LIST = 100;

/** Grid cell classes (one letter: 10,000 cells). */
const CELL_CLASS: Readonly<Record<Tone, string>> = { ok: 'k', progress: 'p', fail: 'f', idle: 'i', off: 'o' };

export function toneOfPhase(phase: string): Tone {
  if (/Succeeded|Healthy|AtTarget|Connected/.test(phase)) return 'ok';
  if (/Failed|RolledBack|RollingBack|Aborted|Disconnected|Unreachable/.test(phase)) return 'fail';
  if (/Superseded|Skipped|Pending/.test(phase)) return 'idle';
  return 'progress';
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function ago(ms: number, now: number): string {
  return `${formatDuration(Math.max(0, now - ms))} ago`;
}

function labels(l: Readonly<Record<string, string>>): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}=${v}`);
  return parts.length ? esc(parts.join(', ')) : '<span class="muted">-</span>';
}

/** What the newest revision of a deployment is, for its row. */
function latestOf(s: Placed): string {
  return s.kind === 'Kustomization' ? s.status.sourceRevision : `${s.status.chartName}@${s.status.lastAttemptedChartVersion || '?'}`;
}

const NOT_PLACED: Explanation = { verdict: 'NotPlaced', sentence: 'not placed on this cluster', evidence: [] };

export interface Cell {
  readonly cluster: string;
  readonly explanation: Explanation;
  readonly revision: string;
  readonly drifted: number;
}

export interface DeploymentRow {
  readonly status: Placed;
  readonly cells: readonly Cell[];
}

/** Every deployment × cluster, explained. */
export function fleetGrid(snap: FleetSnapshot, clusters: readonly ClusterStatus[], now: number): DeploymentRow[] {
  const facts = clusterFacts(clusters);
  return snap.declarations.filter(isPlaced).filter((s) => !(s.declaration.kind === 'Kustomization' && s.declaration.spec.placement.hub)).map((s) => {
    const subject = explainSubjects(s, snap.rollouts.get(s.status.id), facts);
    const ks = new Map(s.kind === 'Kustomization' ? s.status.clusters.map((c) => [c.cluster, { revision: c.revision, drifted: c.counts.drifted ?? 0 }]) : []);
    const hr = new Map(s.kind === 'HelmRelease' ? s.status.clusters.map((c) => [c.cluster, { revision: c.chartVersion, drifted: 0 }]) : []);
    const placed = new Set(s.status.placed);
    const cells = clusters.map((c) => {
      // explain()'s first verdict for a registered cluster the placement leaves out; the grid
      // shows such cells blank, so their sentence is not worked out (a fifth of a big grid).
      const explanation = placed.has(c.name) ? explain(subject(c.name), c.name, c, now, false) : NOT_PLACED;
      const at = ks.get(c.name) ?? hr.get(c.name);
      return { cluster: c.name, explanation, revision: at?.revision ?? '', drifted: at?.drifted ?? 0 };
    });
    return { status: s, cells };
  });
}

/**
 * A row's cells. Up-to-date and not-placed cells are most of a big grid and need no
 * explanation (the row and the cluster table say what they mean): neighbours of the same
 * kind become one cell spanning their columns, so a 200 × 50 grid stays a few thousand
 * elements. Every other cell stands alone with its verdict and explain()'s sentence.
 */
function gridCells(cells: readonly Cell[]): string {
  const out: string[] = [];
  let run: { cls: string; n: number } | undefined;
  const flush = (): void => {
    if (run) out.push(run.n === 1 ? `<td class="${run.cls}"></td>` : `<td class="${run.cls}" colspan="${run.n}"></td>`);
    run = undefined;
  };
  for (const c of cells) {
    const tone = VERDICT_TONE[c.explanation.verdict];
    if ((tone === 'ok' || tone === 'off') && !c.drifted) {
      const cls = CELL_CLASS[tone];
      if (run?.cls === cls) run.n += 1;
      else { flush(); run = { cls, n: 1 }; }
      continue;
    }
    flush();
    const drift = c.drifted ? '↺' : '';
    if (tone === 'ok') out.push(`<td class="k" title="${esc(`${c.cluster}: up to date at ${shortRevision(c.revision)}; drift corrected on ${c.drifted} object(s)`)}">${drift}</td>`);
    else out.push(`<td class="${CELL_CLASS[tone]}" data-verdict="${c.explanation.verdict}" title="${esc(`${c.cluster}: ${c.explanation.sentence}`)}">${VERDICT_MARK[c.explanation.verdict]}${drift}</td>`);
  }
  flush();
  return out.join('');
}

export interface OverviewFilter {
  /** Substrings of cluster names / deployment ids to show (empty: all). */
  readonly cluster: string;
  readonly deployment: string;
}

/** The fleet page's live region (what its script re-fetches). */
export function overviewLive(snap: FleetSnapshot, filter: OverviewFilter, now: number): string {
  const clusters = snap.clusters.filter((c) => c.name.includes(filter.cluster));
  const rows = fleetGrid(snap, clusters, now).filter((r) => r.status.status.id.includes(filter.deployment));
  const readyOn = new Map<string, { ready: number; placed: number }>();
  for (const r of rows) {
    for (const cell of r.cells) {
      if (cell.explanation.verdict === 'NotPlaced') continue;
      const n = readyOn.get(cell.cluster) ?? { ready: 0, placed: 0 };
      readyOn.set(cell.cluster, { ready: n.ready + (cell.explanation.verdict === 'UpToDate' ? 1 : 0), placed: n.placed + 1 });
    }
  }
  const connected = clusters.filter((c) => c.connection === 'Connected').length;
  const behind = rows.flatMap((r) => r.cells.filter((c) => !['UpToDate', 'NotPlaced'].includes(c.explanation.verdict)).map((c) => ({ row: r, cell: c })));
  const gridHeader = `<tr><th class="d">deployment</th><th>latest</th><th>ready</th>${clusters.map((c) => `<th class="c" title="${esc(c.name)}">${esc(c.name)}</th>`).join('')}</tr>`;
  const gridRows = rows.map((r) => {
    const id = r.status.status.id;
    const placedCells = r.cells.filter((c) => c.explanation.verdict !== 'NotPlaced');
    const ok = placedCells.filter((c) => c.explanation.verdict === 'UpToDate').length;
    const rollout = r.status.status.rollout?.phase === 'Progressing' ? ` <a href="${rolloutPath(id)}" class="badge progress">rolling out</a>` : '';
    const cells = gridCells(r.cells);
    return `<tr data-id="${esc(id)}"><th class="d"><a href="${historyPath(id)}">${esc(id)}</a>${rollout}</th><td class="rev">${esc(shortRevision(latestOf(r.status)))}</td><td>${ok}/${placedCells.length}</td>${cells}</tr>`;
  }).join('\n');
  const behindRows = behind.slice(0, BEHIND_LIST).map(({ row, cell }) => [
    `<a href="${historyPath(row.status.status.id)}">${esc(row.status.status.id)}</a>`, `<a href="${historyPath(`cluster/${cell.cluster}`)}">${esc(cell.cluster)}</a>`,
    badge(cell.explanation.verdict, VERDICT_TONE[cell.explanation.verdict]), esc(cell.explanation.sentence),
  ]);
  return `<p>${plural(clusters.length, 'cluster')} (${connected} connected), ${plural(rows.length, 'deployment')}; ${plural(behind.length, 'deployment × cluster pair')} not up to date. <span class="muted">Read ${ago(snap.takenAt, now)} in ${snap.tookMs} ms.</span></p>
<h2>Clusters</h2>
${table(['cluster', 'connection', 'since', 'labels', 'agent', 'kubernetes', 'up to date'], clusters.map((c) => {
    const n = readyOn.get(c.name) ?? { ready: 0, placed: 0 };
    return [
      `<a href="${historyPath(`cluster/${c.name}`)}">${esc(c.name)}</a>`,
      badge(c.connection, toneOfPhase(c.connection)) + (c.held ? ` <span class="badge fail" title="${esc(c.held.reason)}">HeldState</span>` : ''),
      esc(ago(c.connectionSince, now)),
      labels(c.labels), esc(c.agentVersion || '-'), esc(c.kubernetesVersion || '-'), `${n.ready}/${n.placed}`,
    ];
  }), 'class="clusters"')}
<h2>Deployments × clusters</h2>
<p class="legend"><span><i class="k"></i>up to date</span><span><i class="p"></i>delivering / held in a rollout (? waits for approval)</span><span><i class="f"></i>failing (✗ unhealthy, B build, R rolled back, ! agent unreachable)</span><span><i class="i"></i>suspended (S), dependency (D), not in rollout (·)</span><span>↺ drift corrected</span> <span class="muted">Hover a cell for the explanation.</span></p>
<div class="grid-wrap"><table class="grid" style="width:${388 + 18 * clusters.length}px"><colgroup><col class="d"><col class="r"><col class="n">${'<col class="c">'.repeat(clusters.length)}</colgroup><thead>${gridHeader}</thead><tbody>
${gridRows}
</tbody></table></div>
<h2>Not up to date, and why</h2>
${table(['deployment', 'cluster', 'verdict', 'explanation'], behindRows, 'class="behind"')}
${behind.length > BEHIND_LIST ? `<p class="muted">… and ${behind.length - BEHIND_LIST} more: narrow the filter, or hover the grid's cells.</p>` : ''}`;
}

export function overviewBody(filter: OverviewFilter, live: string): string {
  return `<h1>Fleet</h1>
<form class="filters" method="get" action="/ui/">clusters <input name="cluster" value="${esc(filter.cluster)}" placeholder="name contains"> deployments <input name="deployment" value="${esc(filter.deployment)}" placeholder="id contains"> <button type="submit">filter</button></form>
<div id="live">${live}</div>`;
}

/** The rollouts page's live region: the latest rollout of each deployment, running ones first. */
export function rolloutsLive(snap: FleetSnapshot, now: number): string {
  const rows = [...snap.rollouts.values()].sort((a, b) => Number(b.finishedAt === undefined) - Number(a.finishedAt === undefined) || b.startedAt - a.startedAt);
  return table(['deployment', 'revision', 'phase', 'wave', 'started', 'message'], rows.map((r) => [
    `<a href="${rolloutPath(r.owner)}">${esc(r.owner)}</a>`, `<span class="mono">${esc(shortRevision(r.revision))}</span>`,
    badge(r.phase, toneOfPhase(r.phase)), esc(`${r.waves[r.currentWave]?.name ?? '-'} (${r.currentWave + 1}/${r.waves.length})`),
    esc(ago(r.startedAt, now)), esc(shortRevision(r.message)),
  ]), 'class="rollouts"');
}

const ACTIONS_BY_PHASE: Readonly<Record<string, readonly string[]>> = {
  WaitingApproval: ['approve', 'pause', 'abort'], Progressing: ['pause', 'abort'], Baking: ['pause', 'abort'],
  Paused: ['resume', 'retry', 'abort'], RollingBack: [],
};

function bake(w: RolloutStatus['waves'][number], now: number): string {
  if (w.bakeSeconds === 0) return '<span class="muted">no bake</span>';
  if (w.phase === 'Baking' && w.bakeUntil !== undefined) return `bake ${countdown(w.bakeUntil, now)} left of ${esc(formatDuration(w.bakeSeconds * 1000))}`;
  if (w.phase === 'Succeeded') return `baked ${esc(formatDuration(w.bakeSeconds * 1000))}`;
  return `bake ${esc(formatDuration(w.bakeSeconds * 1000))}`;
}

/** The live part of a rollout's page: summary, controls, waves, clusters, events. */
export function rolloutLive(r: RolloutStatus, opts: { readonly canAct: boolean; readonly notice?: { readonly text: string; readonly error: boolean } }, now: number): string {
  const running = r.finishedAt === undefined;
  const actions = running ? (ACTIONS_BY_PHASE[r.paused ? 'Paused' : r.phase] ?? []) : r.phase === 'RolledBack' || r.phase === 'Failed' ? ['retry'] : [];
  const controls = actions.length === 0 ? '' : opts.canAct
    ? `<form class="actions" method="post" action="${rolloutPath(r.owner)}">
reason <input type="text" name="reason" placeholder="why (recorded in the history)">
${actions.map((a) => `<button type="submit" name="action" value="${a}" data-action="${a}">${a}</button>`).join(' ')}
</form>`
    : `<p class="actions"><a href="/ui/login?next=${encodeURIComponent(rolloutPath(r.owner))}">Sign in</a> to ${actions.join(', ')} this rollout.</p>`;
  const waves = r.waves.map((w, i) => `<div class="wave${i === r.currentWave && running ? ' current' : ''}" data-wave="${esc(w.name)}">
<strong>${esc(w.name)}</strong> ${badge(w.phase, toneOfPhase(w.phase))}<br>
<span class="muted">${w.clusters.length} cluster${w.clusters.length === 1 ? '' : 's'}:</span> ${esc(w.clusters.join(', ') || '(none)')}<br>
${bake(w, now)}<br>
${w.approval ? (w.approvedBy !== undefined ? `approved by ${esc(w.approvedBy)}` : w.phase === 'WaitingApproval' ? '<strong class="progress">waiting for approval</strong>' : 'approval gate') : '<span class="muted">no gate</span>'}
· failures ${w.failures}/${w.maxFailures}${w.analysis ? ` · analysis ${w.analysis.checks - w.analysis.failures}/${w.analysis.checks} ok` : ''}
${w.message ? `<br><span class="muted">${esc(shortRevision(w.message))}</span>` : ''}</div>`).join('\n');
  const rollback = r.clusters.filter((c) => /RollingBack|RolledBack|RollbackFailed/.test(c.phase));
  return `${opts.notice ? `<p class="notice${opts.notice.error ? ' error' : ''}">${esc(opts.notice.text)}</p>` : ''}
<p>${badge(r.phase, toneOfPhase(r.phase))}${r.paused && r.phase !== 'Paused' ? ` ${badge('paused', 'progress')}` : ''} <span class="mono">${esc(r.revision)}</span></p>
<p>${esc(shortRevision(r.message))}</p>
<p class="muted">started ${esc(ago(r.startedAt, now))}${r.finishedAt !== undefined ? `, finished ${esc(ago(r.finishedAt, now))}` : ''}; on failure: ${esc(r.onFailure)}</p>
${controls}
<h2>Waves</h2><div class="waves">${waves}</div>
${rollback.length > 0 ? `<h2>Rollback</h2><p>${rollback.filter((c) => c.phase === 'RolledBack').length}/${rollback.length} cluster(s) rolled back: ${rollback.map((c) => `${esc(c.cluster)} ${badge(c.phase, toneOfPhase(c.phase))}`).join(' ')}</p>` : ''}
<h2>Clusters</h2>
${table(['cluster', 'wave', 'phase', 'revision', 'previous', 'updated', 'message'], r.clusters.map((c) => [
    esc(c.cluster), esc(c.wave), badge(c.phase, toneOfPhase(c.phase)), `<span class="mono">${esc(shortRevision(c.revision) || '-')}</span>`,
    `<span class="mono">${esc(shortRevision(c.previousRevision) || '-')}</span>`, esc(ago(c.updatedAt, now)), esc(shortRevision(c.message)),
  ]), 'class="rollout-clusters"')}
${r.unselected.length > 0 ? `<p class="muted">Not selected by any wave (left as they are): ${esc(r.unselected.join(', '))}</p>` : ''}
<h2>Events</h2>
${table(['time', 'event', 'wave', 'message'], [...r.events].reverse().slice(0, 30).map((e) => [
    esc(new Date(e.at).toISOString().slice(11, 19)), badge(e.type, toneOfPhase(e.type)), esc(e.wave ?? '-'), esc(`${e.message}${e.by !== undefined ? ` (by ${e.by})` : ''}`),
  ]), 'class="rollout-events"')}`;
}

export function rolloutBody(r: RolloutStatus, live: string): string {
  return `<h1>Rollout of <a href="${historyPath(r.owner)}">${esc(r.owner)}</a></h1>
<p class="muted">Updates live while it runs. History: <a href="${historyPath(r.owner)}">${esc(r.owner)}</a></p>
<div id="live">${live}</div>`;
}

export interface HistoryView {
  readonly timeline: Timeline;
  readonly entries: readonly HistoryEntry[];
  readonly temporalUi?: string;
  readonly namespace: string;
  readonly cluster: string;
  readonly since: string;
  /** Show at most this many entries, newest first (the page links to all). */
  readonly limit: number;
}

export function historyLive(v: HistoryView): string {
  const t = v.timeline;
  const runLink = (workflowId: string, runId: string, label: string): string => v.temporalUi
    ? `<a href="${esc(temporalRunUrl(v.temporalUi, v.namespace, workflowId, runId))}" target="_blank" rel="noopener">${esc(label)}</a>`
    : `<span class="mono" title="temporal workflow show --workflow-id ${esc(workflowId)} --run-id ${esc(runId)}">${esc(label)}</span>`;
  const shown = [...v.entries].reverse().slice(0, v.limit);
  const rows = shown.map((e) => [
    esc(new Date(e.at).toISOString().replace('T', ' ').slice(0, 19)), e.cluster ? esc(e.cluster) : '<span class="muted">-</span>',
    isFailureEntry(e.type) ? `<span class="fail">${esc(e.type)}</span>` : esc(e.type),
    `<span class="mono">${esc(e.revision ? shortRevision(e.revision) : '-')}</span>`, esc(entryMessage(e)),
    runLink(e.workflowId, e.runId, `${e.workflowId.startsWith('rollout/') ? 'rollout ' : ''}#${e.eventId}`),
  ]);
  const more = v.entries.length > shown.length
    ? ` Showing the newest ${shown.length}: <a href="?${new URLSearchParams({ ...(v.cluster ? { cluster: v.cluster } : {}), ...(v.since ? { since: v.since } : {}), limit: String(v.entries.length) }).toString()}">show all</a> or narrow with since/cluster.`
    : '';
  return `<p>${v.entries.length} events from ${t.runs.length} workflow run${t.runs.length === 1 ? '' : 's'}, newest first.${more}</p>
${table(['time', 'cluster', 'event', 'revision', 'message', 'run'], rows, 'class="timeline"')}
<h2>Workflow runs</h2>
${table(['workflow', 'run', 'started', 'status', 'events'], t.runs.map((r) => [
    esc(r.workflowId), runLink(r.workflowId, r.runId, r.runId), esc(new Date(r.startedAt).toISOString().replace('T', ' ').slice(0, 19)),
    badge(r.status, r.status === 'Running' ? 'progress' : r.status === 'Completed' || r.status === 'ContinuedAsNew' ? 'ok' : 'fail'), String(r.events),
  ]), 'class="runs"')}
${v.temporalUi ? '' : '<p class="muted">Start the hub with --temporal-ui &lt;url&gt; to link each run to the Temporal Web UI.</p>'}`;
}

export function historyBody(v: HistoryView, live: string): string {
  const id = v.timeline.id;
  const isCluster = id.startsWith('cluster/');
  return `<h1>History of ${esc(id)}</h1>
<form class="filters" method="get">${isCluster ? '' : `cluster <input name="cluster" value="${esc(v.cluster)}" placeholder="all"> `}since <input name="since" value="${esc(v.since)}" placeholder="e.g. 1h, 2d"> <button type="submit">filter</button>
${isCluster ? '' : ` · <a href="${rolloutPath(id)}">latest rollout</a>`}</form>
<div id="live">${live}</div>`;
}

export function loginBody(next: string, error?: string): string {
  return `<h1>Sign in</h1>
${error ? `<p class="notice error">${esc(error)}</p>` : ''}
<p>Actions (approve, pause, abort) always need the hub's API token; reading needs it when the hub is not on loopback.
The token is in the hub's <code>&lt;data-dir&gt;/api-token</code>.</p>
<form method="post" action="/ui/login">
<input type="hidden" name="next" value="${esc(next)}">
<p><label>your name (shown in the history as who acted) <input name="user" required maxlength="64" autocomplete="username"></label></p>
<p><label>token <input name="token" type="password" required autocomplete="current-password"></label></p>
<p><button type="submit">sign in</button></p>
</form>`;
}

