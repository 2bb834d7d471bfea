// The rollout's wave verdicts (issue #28: "what next" decisions pure in core, like
// nextReleaseAction). The rollout workflow (workflows/rollout.ts) owns the timers, signals
// and steps; which way a wave goes given what happened is decided here, from plain counters
// and flags, so that the rules have table tests and a replay decides the same way. The
// reason texts end up in the rollout's status and events (and recorded histories): they are
// produced here exactly as the workflow wrote them before.
//
// The rules, in the order a wave meets them:
// - a wave whose clusters all run the target already has nothing to do: no gate, no bake;
// - after each batch, and for each cluster of the wave that turns unhealthy during the bake:
//   the wave fails when more than maxFailures of its clusters failed;
// - during the bake, a cluster of another wave turning unhealthy fails this wave at once;
// - an analysis check runs when its interval is up, and once at the end of a bake shorter
//   than the interval; more than failureLimit failed checks fail the wave;
// - the bake ends well when its timer is over and (no analysis, or one check at least ran);
// - after a failed wave: onFailure rollback rolls back; pause waits for an operator, who
//   retries the wave, resumes (accepting it), aborts, or a newer target supersedes it.

/** A wave's verdict at a decision point: go on, done well, or failed (the reason goes to the status). */
export type WaveVerdict =
  | { readonly kind: 'continue' }
  | { readonly kind: 'ok' }
  | { readonly kind: 'failed'; readonly reason: string };

const CONTINUE: WaveVerdict = { kind: 'continue' };

/** A failed cluster of the wave and what its owner or health report said. */
export interface FailedCluster {
  readonly cluster: string;
  readonly message: string;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** True when every cluster of the wave runs the target already: no gate, no batch, no bake. */
export function waveHasNothingToDo(clusters: readonly string[], atTarget: ReadonlySet<string>): boolean {
  return clusters.every((c) => atTarget.has(c));
}

/**
 * After a batch (or a cluster of the wave failing during the bake): the wave fails when more
 * clusters failed than maxFailures tolerates. `failed` is in the order the clusters failed.
 */
export function failuresVerdict(failed: readonly FailedCluster[], maxFailures: number, when: 'batch' | 'bake' = 'batch'): WaveVerdict {
  if (failed.length <= maxFailures) return CONTINUE;
  const detail = failed.map((f) => `${f.cluster}: ${f.message}`).join('; ');
  const reason = `${plural(failed.length, 'cluster')} failed (maxFailures ${maxFailures}): ${detail}`;
  return { kind: 'failed', reason: when === 'bake' ? `during bake: ${reason}` : reason };
}

/** A health report received during a bake, with what the rollout knows of its cluster. */
export interface BakeHealthReport {
  readonly cluster: string;
  readonly ok: boolean;
  readonly message: string;
  /** The wave the cluster belongs to; undefined for a cluster this rollout does not place. */
  readonly clusterWave: string | undefined;
  /** Whether the cluster runs the target (a cluster not at the target is not this rollout's to judge). */
  readonly atTarget: boolean;
}

export type BakeHealthVerdict =
  /** Not a problem of this rollout: a healthy report, an unknown cluster, or one not at the target. */
  | { readonly kind: 'ignore' }
  /** A cluster of the baking wave: it counts toward maxFailures (see failuresVerdict). */
  | { readonly kind: 'counts' }
  /** A cluster of another wave, already rolled out: the wave fails at once. */
  | { readonly kind: 'failed'; readonly reason: string };

/** What a health report during the bake of `wave` means for that wave. */
export function bakeHealthVerdict(report: BakeHealthReport, wave: string): BakeHealthVerdict {
  if (report.clusterWave === undefined || !report.atTarget || report.ok) return { kind: 'ignore' };
  if (report.clusterWave !== wave) {
    return { kind: 'failed', reason: `${report.cluster} (wave ${report.clusterWave}) turned unhealthy during the bake of wave ${wave}: ${report.message}` };
  }
  return { kind: 'counts' };
}

/** Whether the wave bakes at all: it changed some cluster, and there is a bake time or an analysis. */
export function needsBake(changedClusters: number, bakeSeconds: number, hasAnalysis: boolean): boolean {
  return changedClusters > 0 && (bakeSeconds > 0 || hasAnalysis);
}

/** Where a bake stands: which timers fired and how many checks ran. */
export interface BakeState {
  readonly hasAnalysis: boolean;
  /** The bake timer is over (or the bake has no time). */
  readonly bakeOver: boolean;
  /** The analysis interval timer fired since the last check. */
  readonly checkDue: boolean;
  readonly checks: number;
}

/** An analysis check runs when its interval is up, and once at the end of a bake shorter than the interval. */
export function analysisCheckDue(s: BakeState): boolean {
  return s.hasAnalysis && (s.checkDue || (s.bakeOver && s.checks === 0));
}

/** The result of one analysis check, counted. */
export interface AnalysisCheck {
  readonly ok: boolean;
  readonly message: string;
  /** Checks run so far, this one included. */
  readonly checks: number;
  /** Failed checks so far, this one included. */
  readonly failures: number;
  readonly failureLimit: number;
}

/** After an analysis check: the wave fails when more checks failed than failureLimit tolerates. */
export function analysisVerdict(c: AnalysisCheck): WaveVerdict {
  if (c.ok || c.failures <= c.failureLimit) return CONTINUE;
  return { kind: 'failed', reason: `analysis failed ${plural(c.failures, 'time')} (failureLimit ${c.failureLimit}): ${c.message}` };
}

/** The event text of a failed analysis check (failed or tolerated). */
export function analysisFailedMessage(c: AnalysisCheck, wave: string): string {
  return `analysis check ${c.checks} of wave ${wave} failed (${c.failures}/${c.failureLimit} tolerated): ${c.message}`;
}

/** The bake ends well when its timer is over and (no analysis, or one check at least ran). */
export function bakeVerdict(s: BakeState): WaveVerdict {
  return s.bakeOver && (!s.hasAnalysis || s.checks > 0) ? { kind: 'ok' } : CONTINUE;
}

/** What a failed wave leads to, by spec.onFailure: roll back now, or pause for an operator. */
export function afterWaveFailure(onFailure: 'rollback' | 'pause'): 'rollback' | 'pause' {
  return onFailure === 'rollback' ? 'rollback' : 'pause';
}

/** What ended the pause after a failed wave. */
export interface FailurePauseEnd {
  /** Aborted by an operator, or stopped (the owner is gone). */
  readonly interrupted: boolean;
  readonly retryRequested: boolean;
  readonly resumed: boolean;
}

/**
 * After the pause that follows a failed wave: an interruption wins, then retry (the same wave
 * again), then resume (the wave accepted as Succeeded); otherwise a newer target superseded it.
 */
export function afterFailurePause(end: FailurePauseEnd): 'interrupted' | 'retry' | 'resume' | 'superseded' {
  if (end.interrupted) return 'interrupted';
  if (end.retryRequested) return 'retry';
  if (end.resumed) return 'resume';
  return 'superseded';
}

/** The wave's message when an operator resumed after it failed. */
export function acceptedByResumeMessage(reason: string): string {
  return `failed (${reason}); accepted by resume`;
}
