// The rollout workflow (`rollout/<owner id>`): one new target of a Kustomization or
// HelmRelease moving through its placed clusters in waves (issue "progressive rollouts").
//
// For each wave, in order: wait for approval when the wave has a gate; change its clusters
// batch by batch (maxConcurrency), each batch a step the owner carries out and answers per
// cluster; fail the wave when more than maxFailures clusters fail; then bake: the wave's
// clusters must stay healthy (and the analysis check pass, at most failureLimit failures)
// for bakeTime before the next wave starts. A failed wave rolls back every cluster this
// rollout changed, batch by batch in reverse order, to what it ran before (onFailure:
// rollback), or pauses for an operator (onFailure: pause). Clusters of later waves are never
// touched. Timers are Temporal timers: a restart of the hub, worker or server resumes the
// rollout where it was, bake time included.
//
// Operators act through updates (approve, pause, resume, abort, retry) whose validators
// refuse actions that make no sense in the current phase. A newer target (supersede) ends the
// rollout at the next wave boundary: the wave in progress finishes, bake included.
import { CancellationScope, condition, proxyActivities, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import {
  rolloutAbortUpdate, rolloutApproveUpdate, rolloutFinishedSignal, rolloutHealthSignal, rolloutPauseUpdate,
  rolloutResumeUpdate, rolloutRetryUpdate, rolloutStatusQuery, rolloutStepResultSignal, rolloutStepSignal,
  rolloutStopSignal, rolloutSupersedeSignal, type RolloutActionRequest, type RolloutActivities, type RolloutClusterStatus,
  type RolloutEvent, type RolloutEventRecord, type RolloutHealth, type RolloutInput, type RolloutPhase, type RolloutStatus,
  type RolloutStepResult, type RolloutWaveStatus,
} from '../api/rollout.js';
import { planRollout } from '../core/rollout-plan.js';
import {
  acceptedByResumeMessage, afterFailurePause, afterWaveFailure, analysisCheckDue, analysisFailedMessage, analysisVerdict, bakeHealthVerdict,
  bakeVerdict, failuresVerdict, needsBake, waveHasNothingToDo, type BakeState, type FailedCluster,
} from '../core/rollout-verdict.js';
import { quick } from './activity-profiles.js';
import { workflowNow } from './clock.js';
import { Outbox } from './outbox.js';

const { runAnalysisCheck } = proxyActivities<RolloutActivities>({
  // The check's own timeout bounds the request; one retry covers a worker restart mid-check.
  startToCloseTimeout: '2 minutes', retry: { maximumAttempts: 2 },
});
const { recordRolloutEvents } = proxyActivities<RolloutActivities>(quick);

/** Time a step may take beyond its health timeout before the rollout counts it failed (the owner answers well before). */
const STEP_GRACE_SECONDS = 120;
/** Events kept in the status (all of them go to the hub's event journal). */
const STATUS_EVENTS = 200;
const FINISHED: ReadonlySet<RolloutPhase> = new Set(['Succeeded', 'RolledBack', 'Failed', 'Aborted', 'Superseded']);

type WaveOutcome = { readonly kind: 'ok' } | { readonly kind: 'failed'; readonly reason: string } | { readonly kind: 'interrupted' };

export async function rolloutWorkflow(input: RolloutInput): Promise<RolloutStatus> {
  const id = workflowInfo().workflowId;
  const now = workflowNow;
  const { strategy } = input;
  const plan = planRollout(strategy.waves.map((w) => ({
    name: w.name, ...(w.clusters ? { clusters: w.clusters } : {}), ...(w.clusterSelector ? { clusterSelector: w.clusterSelector } : {}),
    ...(w.size ? { size: w.size } : {}), ...(w.maxConcurrency ? { maxConcurrency: w.maxConcurrency } : {}),
  })), input.clusters);
  const atTarget = new Set(input.atTarget);

  let phase: RolloutPhase = 'Progressing';
  let message = `rolling out ${input.revision}`;
  let currentWave = 0;
  let finishedAt: number | undefined;
  // Set by handlers while the main loop waits: kept in one object so that the compiler does
  // not narrow them to their initial values across awaits.
  const ops: {
    paused: boolean; pausedForFailure: boolean; resumedAfterFailure: boolean;
    supersededBy?: string; stopped?: string; abortRequest?: RolloutActionRequest; retryRequest?: RolloutActionRequest;
  } = { paused: false, pausedForFailure: false, resumedAfterFailure: false };
  const approvals = new Map<number, string>();
  const waves: RolloutWaveStatus[] = plan.waves.map((w, i) => {
    const s = strategy.waves[i];
    return {
      name: w.name, clusters: w.clusters, batches: w.batches, phase: 'Pending', approval: s?.approval ?? false,
      bakeSeconds: s?.bakeSeconds ?? 0, maxFailures: s?.maxFailures ?? 0, failures: 0, message: w.clusters.length === 0 ? 'no cluster left for this wave' : '',
    };
  });
  const clusters = new Map<string, RolloutClusterStatus>();
  plan.waves.forEach((w) => {
    for (const c of w.clusters) {
      const previousRevision = input.previous[c] ?? '';
      clusters.set(c, {
        cluster: c, wave: w.name, phase: atTarget.has(c) ? 'AtTarget' : 'Pending', revision: atTarget.has(c) ? input.revision : previousRevision,
        previousRevision, message: atTarget.has(c) ? 'already at the target' : '', updatedAt: now(),
      });
    }
  });
  /** Batches this rollout changed, in order (rollback walks them backwards). */
  const changedBatches: string[][] = [];
  const results = new Map<number, Map<string, RolloutStepResult>>();
  const healthProblems: RolloutHealth[] = [];
  const events: RolloutEvent[] = [];
  const journal: RolloutEventRecord[] = [];
  let seq = 0;

  const outbox = new Outbox((target) => { if (target === input.owner) ops.stopped = `the owner ${input.owner} no longer exists`; });
  void outbox.run();
  let journalling = false;
  void (async () => {
    for (;;) {
      await condition(() => journal.length > 0);
      journalling = true;
      await recordRolloutEvents(journal.splice(0));
      journalling = false;
    }
  })();

  const snapshot = (): RolloutStatus => ({
    id, owner: input.owner, ownerKind: input.ownerKind, revision: input.revision, target: input.target, phase, message, paused: ops.paused,
    currentWave, waves: [...waves], clusters: [...clusters.values()], unselected: plan.unselected, onFailure: strategy.onFailure,
    events: [...events], startedAt: workflowInfo().startTime.getTime(),
    ...(finishedAt !== undefined ? { finishedAt } : {}), ...(ops.supersededBy !== undefined ? { supersededBy: ops.supersededBy } : {}),
  });
  const event = (type: RolloutEvent['type'], text: string, extra: { wave?: string; by?: string } = {}): void => {
    const e: RolloutEvent = { at: now(), type, message: text, ...extra };
    events.push(e);
    if (events.length > STATUS_EVENTS) events.splice(0, events.length - STATUS_EVENTS);
    journal.push({ ...e, rollout: id, owner: input.owner, revision: input.revision });
  };
  const setWave = (i: number, patch: Partial<RolloutWaveStatus>): void => {
    const w = waves[i];
    if (w) waves[i] = { ...w, ...patch };
  };
  const setCluster = (c: string, patch: Partial<RolloutClusterStatus>): void => {
    const s = clusters.get(c);
    if (s) clusters.set(c, { ...s, ...patch, updatedAt: now() });
  };
  const who = (r: RolloutActionRequest): { by?: string } => (r.by !== undefined ? { by: r.by } : {});
  const why = (r: RolloutActionRequest): string => (r.reason !== undefined ? `: ${r.reason}` : '');
  const finished = (): boolean => FINISHED.has(phase);
  // Read through functions: handlers change these while the main loop awaits.
  const superseded = (): string | undefined => ops.supersededBy;
  const isPaused = (): boolean => ops.paused;
  const interrupted = (): boolean => ops.abortRequest !== undefined || ops.stopped !== undefined;

  setHandler(rolloutStatusQuery, snapshot);
  setHandler(rolloutStepResultSignal, (r) => { results.get(r.seq)?.set(r.cluster, r); });
  setHandler(rolloutHealthSignal, (h) => { healthProblems.push(h); });
  setHandler(rolloutSupersedeSignal, ({ revision }) => {
    if (finished() || ops.supersededBy === revision) return;
    ops.supersededBy = revision;
    event('SupersedeRequested', `${revision} supersedes ${input.revision}: the wave in progress finishes, then this rollout ends`);
  });
  setHandler(rolloutStopSignal, ({ reason }) => { ops.stopped = reason; });
  setHandler(rolloutApproveUpdate, (r) => {
    approvals.set(currentWave, r.by ?? 'unknown');
    setWave(currentWave, { approvedBy: r.by ?? 'unknown' });
    event('Approved', `wave ${waves[currentWave]?.name ?? ''} approved${why(r)}`, { wave: waves[currentWave]?.name ?? '', ...who(r) });
    return snapshot();
  }, {
    validator: (_r: RolloutActionRequest) => {
      if (phase !== 'WaitingApproval' || approvals.has(currentWave)) {
        throw new Error(`no approval gate is waiting: rollout ${id} is ${phase}${ops.paused ? ' (paused)' : ''} in wave ${waves[currentWave]?.name ?? '-'}`);
      }
    },
  });
  setHandler(rolloutPauseUpdate, (r) => {
    ops.paused = true;
    event('Paused', `paused before the next step${why(r)}`, who(r));
    return snapshot();
  }, {
    validator: (_r: RolloutActionRequest) => {
      if (finished()) throw new Error(`rollout ${id} has finished (${phase}): nothing to pause`);
      if (ops.paused) throw new Error(`rollout ${id} is already paused`);
      if (phase === 'RollingBack') throw new Error(`rollout ${id} is rolling back: a rollback is not paused`);
    },
  });
  setHandler(rolloutResumeUpdate, (r) => {
    ops.paused = false;
    if (ops.pausedForFailure) ops.resumedAfterFailure = true;
    event('Resumed', `resumed${ops.pausedForFailure ? ', accepting the failed wave' : ''}${why(r)}`, who(r));
    return snapshot();
  }, { validator: (_r: RolloutActionRequest) => { if (!ops.paused) throw new Error(`rollout ${id} is not paused (it is ${phase})`); } });
  setHandler(rolloutAbortUpdate, (r) => {
    ops.abortRequest = r;
    event('AbortRequested', `abort requested${why(r)}: the clusters this rollout changed go back`, who(r));
    return snapshot();
  }, {
    validator: (_r: RolloutActionRequest) => {
      if (finished()) throw new Error(`rollout ${id} has finished (${phase}): nothing to abort`);
      if (phase === 'RollingBack' || ops.abortRequest !== undefined) throw new Error(`rollout ${id} is already rolling back`);
    },
  });
  setHandler(rolloutRetryUpdate, (r) => {
    ops.retryRequest = r;
    ops.paused = false;
    event('Retried', `retrying wave ${waves[currentWave]?.name ?? ''}${why(r)}`, { wave: waves[currentWave]?.name ?? '', ...who(r) });
    return { message: `retrying wave ${waves[currentWave]?.name ?? ''}` };
  }, {
    validator: (_r: RolloutActionRequest) => {
      if (!ops.pausedForFailure) throw new Error(`rollout ${id} is not paused by a failure (it is ${phase}${ops.paused ? ', paused by an operator: use resume' : ''}); retry applies to a failed wave`);
    },
  });

  event('RolloutStarted', `rolling out ${input.revision} in ${plan.waves.length} wave${plan.waves.length === 1 ? '' : 's'}: ${plan.waves.map((w) => `${w.name} [${w.clusters.join(', ')}]`).join(' → ')}`
    + (plan.unselected.length > 0 ? `; not selected by any wave: ${plan.unselected.join(', ')}` : ''));

  for (let i = 0; i < plan.waves.length; i++) {
    currentWave = i;
    const wave = waves[i];
    const spec = strategy.waves[i];
    if (!wave || !spec) break;
    if (interrupted()) return interruption();
    if (superseded() !== undefined) return finish('Superseded', `superseded by ${superseded()} before wave ${wave.name}`);

    // A wave whose clusters all run the target already (a rollout restarted after being
    // superseded) has nothing to change: no gate, no bake.
    const nothingToDo = waveHasNothingToDo(wave.clusters, atTarget);
    if (spec.approval && !approvals.has(i) && !nothingToDo) {
      phase = 'WaitingApproval';
      message = `wave ${wave.name} waits for approval (flotilla rollout approve ${input.owner})`;
      setWave(i, { phase: 'WaitingApproval' });
      event('GateWaiting', message, { wave: wave.name });
      await condition(() => approvals.has(i) || interrupted() || superseded() !== undefined);
      if (interrupted()) return interruption();
      if (superseded() !== undefined) return finish('Superseded', `superseded by ${superseded()} while wave ${wave.name} waited for approval`);
    }
    if (!await whilePaused()) {
      if (interrupted()) return interruption();
      return finish('Superseded', `superseded by ${superseded() ?? ''} while paused before wave ${wave.name}`);
    }

    phase = 'Progressing';
    message = `wave ${wave.name} in progress`;
    setWave(i, { phase: 'Progressing', startedAt: now() });
    event('WaveStarted', `wave ${wave.name} started: ${wave.clusters.length === 0 ? 'no clusters' : wave.clusters.join(', ')}`, { wave: wave.name });
    const outcome = await runWave(i);
    if (outcome.kind === 'interrupted') return interruption();
    if (outcome.kind === 'failed') {
      setWave(i, { phase: 'Failed', finishedAt: now(), message: outcome.reason });
      event('WaveFailed', `wave ${wave.name} failed: ${outcome.reason}`, { wave: wave.name });
      if (afterWaveFailure(strategy.onFailure) === 'rollback') return rollback('RolledBack', `wave ${wave.name} failed: ${outcome.reason}`);
      // onFailure: pause — an operator decides: retry the wave, resume (accept it), or abort.
      phase = 'Paused';
      ops.paused = true;
      ops.pausedForFailure = true;
      message = `wave ${wave.name} failed: ${outcome.reason}; paused (flotilla rollout retry|resume|abort ${input.owner})`;
      event('Paused', message, { wave: wave.name });
      await condition(() => ops.retryRequest !== undefined || !isPaused() || interrupted() || superseded() !== undefined);
      ops.pausedForFailure = false;
      const next = afterFailurePause({ interrupted: interrupted(), retryRequested: ops.retryRequest !== undefined, resumed: ops.resumedAfterFailure });
      if (next === 'interrupted') return interruption();
      if (next === 'retry') {
        ops.retryRequest = undefined;
        ops.paused = false;
        setWave(i, { failures: 0, message: '' });
        i -= 1; // the same wave again: its healthy clusters are at the target already
        continue;
      }
      if (next === 'resume') {
        ops.resumedAfterFailure = false;
        setWave(i, { phase: 'Succeeded', message: acceptedByResumeMessage(outcome.reason) });
        continue;
      }
      return finish('Superseded', `superseded by ${superseded() ?? ''} while paused after wave ${wave.name} failed`);
    }
    setWave(i, { phase: 'Succeeded', finishedAt: now(), message: wave.clusters.length === 0 ? 'no cluster left for this wave' : 'healthy' });
    event('WaveSucceeded', `wave ${wave.name} succeeded`, { wave: wave.name });
  }
  return finish('Succeeded', `${input.revision} rolled out to ${[...clusters.keys()].length} cluster${clusters.size === 1 ? '' : 's'} in ${plan.waves.length} wave${plan.waves.length === 1 ? '' : 's'}`);

  /** Waits while paused by an operator; false when superseded or interrupted meanwhile. */
  async function whilePaused(): Promise<boolean> {
    if (!isPaused()) return true;
    const before = phase;
    phase = 'Paused';
    await condition(() => !isPaused() || interrupted() || superseded() !== undefined);
    phase = before;
    return !isPaused() && !interrupted();
  }

  async function runWave(i: number): Promise<WaveOutcome> {
    const wave = waves[i];
    const spec = strategy.waves[i];
    if (!wave || !spec) return { kind: 'ok' };
    const healthTimeout = spec.healthTimeoutSeconds ?? input.defaultHealthTimeoutSeconds;
    const failed = new Set<string>();
    for (const batch of wave.batches) {
      if (!await whilePaused()) return interrupted() ? { kind: 'interrupted' } : { kind: 'ok' };
      const todo = batch.filter((c) => !atTarget.has(c));
      if (todo.length === 0) continue;
      for (const c of todo) setCluster(c, { phase: 'Updating', message: `updating to ${input.revision}` });
      changedBatches.push([...todo]);
      for (const r of await step('advance', todo, healthTimeout)) {
        if (r.ok) {
          atTarget.add(r.cluster);
          setCluster(r.cluster, { phase: 'Healthy', revision: r.revision || input.revision, message: r.message });
        } else {
          failed.add(r.cluster);
          setCluster(r.cluster, { phase: 'Failed', revision: r.revision || input.revision, message: r.message });
        }
      }
      setWave(i, { failures: failed.size });
      const verdict = failuresVerdict(failedClusters(failed), spec.maxFailures);
      if (verdict.kind === 'failed') return verdict;
      if (interrupted()) return { kind: 'interrupted' };
    }
    return bake(i, failed);
  }

  /**
   * The wave's clusters stay healthy and the analysis passes for bakeTime (one check at
   * least). Time is kept by Temporal timers alone (the bake timer, one timer per analysis
   * interval), never by comparing clock readings: what the loop does next depends only on
   * which timers fired and which signals arrived, so a replay decides the same way.
   */
  async function bake(i: number, failed: Set<string>): Promise<WaveOutcome> {
    const wave = waves[i];
    const spec = strategy.waves[i];
    if (!wave || !spec) return { kind: 'ok' };
    const analysis = strategy.analysis;
    const changedHere = wave.clusters.filter((c) => clusters.get(c)?.phase === 'Healthy' || failed.has(c));
    // Nothing changed in this wave (all at the target already): nothing to bake.
    if (!needsBake(changedHere.length, spec.bakeSeconds, analysis !== undefined)) return { kind: 'ok' };
    phase = 'Baking';
    message = `wave ${wave.name} baking for ${spec.bakeSeconds}s`;
    setWave(i, { phase: 'Baking', bakeUntil: now() + spec.bakeSeconds * 1000 });
    return CancellationScope.cancellable(async () => {
      const timers = { bakeOver: spec.bakeSeconds === 0, checkDue: false };
      const after = (seconds: number, then: () => void): void => {
        sleep(seconds * 1000).then(then, () => undefined); // cancelled with the scope when the bake ends early
      };
      if (!timers.bakeOver) after(spec.bakeSeconds, () => { timers.bakeOver = true; });
      if (analysis) after(analysis.intervalSeconds, () => { timers.checkDue = true; });
      let checks = 0;
      let analysisFailures = 0;
      const state = (): BakeState => ({ hasAnalysis: analysis !== undefined, bakeOver: timers.bakeOver, checkDue: timers.checkDue, checks });
      try {
        for (;;) {
          await condition(() => timers.bakeOver || timers.checkDue || healthProblems.length > 0 || interrupted());
          if (interrupted()) return { kind: 'interrupted' };
          for (const h of healthProblems.splice(0)) {
            const health = bakeHealthVerdict({ ...h, clusterWave: clusters.get(h.cluster)?.wave, atTarget: atTarget.has(h.cluster) }, wave.name);
            if (health.kind === 'ignore') continue;
            setCluster(h.cluster, { phase: 'Failed', message: h.message });
            if (health.kind === 'failed') return health;
            failed.add(h.cluster);
            setWave(i, { failures: failed.size });
            const verdict = failuresVerdict(failedClusters(failed), spec.maxFailures, 'bake');
            if (verdict.kind === 'failed') return verdict;
          }
          if (analysis && analysisCheckDue(state())) {
            timers.checkDue = false;
            const result = await runAnalysisCheck(analysis);
            checks += 1;
            if (!result.ok) analysisFailures += 1;
            setWave(i, { analysis: { checks, failures: analysisFailures, lastResult: result.message, lastCheckedAt: now() } });
            const check = { ok: result.ok, message: result.message, checks, failures: analysisFailures, failureLimit: analysis.failureLimit };
            if (!result.ok) event('AnalysisFailed', analysisFailedMessage(check, wave.name), { wave: wave.name });
            const verdict = analysisVerdict(check);
            if (verdict.kind === 'failed') return verdict;
            if (!timers.bakeOver) after(analysis.intervalSeconds, () => { timers.checkDue = true; });
          }
          if (bakeVerdict(state()).kind === 'ok') return { kind: 'ok' };
        }
      } finally {
        CancellationScope.current().cancel(); // timers still pending
      }
    });
  }

  /** The wave's failed clusters, in the order they failed, with what their status says. */
  function failedClusters(failed: ReadonlySet<string>): FailedCluster[] {
    return [...failed].map((c) => ({ cluster: c, message: clusters.get(c)?.message ?? '' }));
  }

  /** One step the owner carries out; a cluster that gets no answer in time counts as failed. */
  async function step(action: 'advance' | 'revert', targets: readonly string[], healthTimeoutSeconds: number): Promise<RolloutStepResult[]> {
    seq += 1;
    const s = seq;
    const answers = new Map<string, RolloutStepResult>();
    results.set(s, answers);
    outbox.signal(input.owner, rolloutStepSignal, { rollout: id, seq: s, action, clusters: targets, healthTimeoutSeconds, attempt: `${workflowInfo().runId}/${s}` });
    const limitSeconds = healthTimeoutSeconds + STEP_GRACE_SECONDS;
    await condition(() => targets.every((c) => answers.has(c)) || ops.stopped !== undefined, limitSeconds * 1000);
    results.delete(s);
    return targets.map((c) => answers.get(c) ?? {
      seq: s, cluster: c, ok: false, revision: '', message: ops.stopped ?? `no answer from ${input.owner} within ${limitSeconds}s`,
    });
  }

  async function interruption(): Promise<RolloutStatus> {
    if (ops.stopped !== undefined) return finish('Aborted', `stopped: ${ops.stopped}`, false);
    const r = ops.abortRequest ?? {};
    return rollback('Aborted', `aborted${r.by !== undefined ? ` by ${r.by}` : ''}${why(r)}`);
  }

  /** Every cluster this rollout changed goes back to what it ran before, last changed first. */
  async function rollback(final: 'RolledBack' | 'Aborted', reason: string): Promise<RolloutStatus> {
    phase = 'RollingBack';
    ops.paused = false;
    message = `${reason}; rolling back`;
    const total = changedBatches.reduce((n, b) => n + b.length, 0);
    event('RollbackStarted', `${reason}; rolling back ${total} cluster${total === 1 ? '' : 's'}${total > 0 ? ` (${[...changedBatches].reverse().map((b) => [...b].reverse().join(', ')).join(' → ')})` : ''}`);
    const failures: string[] = [];
    for (const batch of [...changedBatches].reverse()) {
      const targets = [...batch].reverse();
      for (const c of targets) setCluster(c, { phase: 'RollingBack', message: `rolling back to ${clusters.get(c)?.previousRevision || 'nothing (first deployment)'}` });
      for (const r of await step('revert', targets, input.defaultHealthTimeoutSeconds)) {
        const previous = clusters.get(r.cluster)?.previousRevision ?? '';
        if (r.ok) {
          atTarget.delete(r.cluster);
          setCluster(r.cluster, { phase: 'RolledBack', revision: previous, message: r.message || `back at ${previous || 'nothing'}` });
        } else {
          failures.push(`${r.cluster}: ${r.message}`);
          setCluster(r.cluster, { phase: 'RollbackFailed', message: r.message });
        }
      }
    }
    event('RollbackFinished', failures.length === 0 ? `rolled back ${total} cluster${total === 1 ? '' : 's'}` : `rollback failed on ${failures.join('; ')}`);
    if (failures.length > 0) return finish('Failed', `${reason}; rollback failed on ${failures.join('; ')}`);
    return finish(final, `${reason}; rolled back ${total} cluster${total === 1 ? '' : 's'}`);
  }

  async function finish(final: RolloutPhase, text: string, tellOwner = true): Promise<RolloutStatus> {
    phase = final;
    message = text;
    ops.paused = false;
    finishedAt = now();
    for (let i = currentWave + 1; i < waves.length; i++) if (waves[i]?.phase === 'Pending') setWave(i, { phase: 'Skipped' });
    event('RolloutFinished', `${final}: ${text}`);
    if (tellOwner) outbox.signal(input.owner, rolloutFinishedSignal, { rollout: id, phase: final, message: text });
    await condition(() => outbox.idle() && journal.length === 0 && !journalling);
    return snapshot();
  }
}
