// `flotilla rollout status|approve|pause|resume|abort|retry`: progressive rollouts of a
// Kustomization or HelmRelease, read through the rollout workflow's query and acted on
// through its updates (which refuse actions that make no sense in the current phase).
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import type { RolloutStatus } from '../api/rollout.js';
import { formatDuration } from '../core/declarations/duration.js';
import { RolloutActionRefused, type RolloutAction } from '../hub/declarations.js';
import { CommandFailed, withClient, type ActorTarget, type GlobalOptions } from './gitops.js';
import { formatTable } from './output.js';

const VERBS: readonly string[] = ['status', 'approve', 'pause', 'resume', 'abort', 'retry'];

export function isRolloutVerb(verb: string): verb is 'status' | RolloutAction {
  return VERBS.includes(verb);
}

export async function rolloutStatusCommand(target: ActorTarget, watch: boolean, g: GlobalOptions): Promise<void> {
  await withClient(g, async (client) => {
    let shown = '';
    for (;;) {
      const s = await client.rolloutStatus(target.id);
      if (!s) throw new CommandFailed(`${target.id} has had no rollout (does it have spec.rollout, and has a revision arrived?)`);
      const text = g.output === 'json' ? JSON.stringify(s, null, 2) : g.output === 'yaml' ? stringify(s, { lineWidth: 0 }) : render(s, Date.now());
      if (!watch) {
        console.log(text);
        return;
      }
      if (text !== shown) {
        if (process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
        console.log(text);
        shown = text;
      }
      if (s.finishedAt !== undefined) {
        if (s.phase !== 'Succeeded') throw new CommandFailed(`rollout ${s.phase}: ${s.message}`);
        return;
      }
      await sleep(1000);
    }
  });
}

export async function rolloutActionCommand(target: ActorTarget, action: RolloutAction, reason: string | undefined, g: GlobalOptions): Promise<void> {
  const by = process.env.USER ?? process.env.LOGNAME ?? 'flotilla';
  await withClient(g, async (client) => {
    try {
      console.log(await client.rolloutAction(target.id, action, { by, ...(reason !== undefined ? { reason } : {}) }));
    } catch (err) {
      if (err instanceof RolloutActionRefused) throw new CommandFailed(`${action} refused: ${err.message}`);
      throw err;
    }
  });
}

/** The rollout as a person reads it: the summary, the waves, the clusters, the latest events. */
export function render(s: RolloutStatus, now: number): string {
  const lines: string[] = [];
  const out = (l = ''): void => { lines.push(l); };
  const ago = (ms: number): string => `${formatDuration(now - ms)} ago`;
  out(`${s.id}  ${s.revision}  ${s.phase}${s.paused && s.phase !== 'Paused' ? ' (paused)' : ''}`);
  out(`started ${new Date(s.startedAt).toISOString()} (${ago(s.startedAt)})${s.finishedAt !== undefined ? `, finished ${new Date(s.finishedAt).toISOString()}` : ''}; onFailure: ${s.onFailure}`);
  out(s.message);
  out();
  const table = (header: readonly string[], rows: readonly (readonly string[])[]): void => { lines.push(...formatTable(header, rows)); };
  table(['WAVE', 'PHASE', 'CLUSTERS', 'BAKE', 'GATE', 'FAILURES', 'ANALYSIS'], s.waves.map((w) => [
    w.name, w.phase, w.clusters.length === 0 ? '(none)' : w.clusters.join(','), bake(w, now),
    w.approval ? (w.approvedBy !== undefined ? `approved by ${w.approvedBy}` : 'approval') : '-',
    `${w.failures}/${w.maxFailures}`,
    w.analysis ? `${w.analysis.checks - w.analysis.failures}/${w.analysis.checks} ok: ${w.analysis.lastResult}` : '-',
  ]));
  out();
  table(['CLUSTER', 'WAVE', 'PHASE', 'REVISION', 'PREVIOUS', 'MESSAGE'], s.clusters.map((c) => [
    c.cluster, c.wave, c.phase, c.revision || '-', c.previousRevision || '-', c.message,
  ]));
  if (s.unselected.length > 0) out(`not selected by any wave (left as they are): ${s.unselected.join(', ')}`);
  out();
  out('recent events:');
  for (const e of s.events.slice(-8)) out(`  ${new Date(e.at).toISOString().slice(11, 19)}  ${e.type.padEnd(18)} ${e.message}${e.by !== undefined ? ` (by ${e.by})` : ''}`);
  return lines.join('\n');
}

function bake(w: RolloutStatus['waves'][number], now: number): string {
  if (w.bakeSeconds === 0) return '-';
  if (w.phase === 'Baking' && w.bakeUntil !== undefined) return `${formatDuration(Math.max(0, Math.ceil((w.bakeUntil - now) / 1000)) * 1000)} left of ${formatDuration(w.bakeSeconds * 1000)}`;
  if (w.phase === 'Succeeded') return `${formatDuration(w.bakeSeconds * 1000)} done`;
  return formatDuration(w.bakeSeconds * 1000);
}
