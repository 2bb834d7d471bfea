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
//
// Which way a wave goes (maxFailures, health during the bake, analysis checks, the end of the
// bake, what follows a failed wave) is decided by the pure functions of core/rollout-verdict.ts;
// this file keeps the timers, signals and steps, in RolloutActor (runWaveAndDecide per wave).
import { CancellationScope, condition, proxyActivities, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import {
  rolloutAbortUpdate, rolloutApproveUpdate, rolloutFinishedSignal, rolloutHealthSignal, rolloutPauseUpdate,
  rolloutResumeUpdate, rolloutRetryUpdate, rolloutStatusQuery, rolloutStepResultSignal, rolloutStepSignal,
  rolloutStopSignal, rolloutSupersedeSignal, type RolloutActionRequest, type RolloutActivities, type RolloutClusterStatus,
  type RolloutEvent, type RolloutEventRecord, type RolloutHealth, type RolloutInput, type RolloutPhase, type RolloutStatus,
  type RolloutStepResult, type RolloutWaveStatus,
} from '../api/rollout.js';
import { planRollout, type RolloutPlan } from '../core/rollout-plan.js';
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
/** What the wave loop does after a wave: the next wave, the same wave again (retry), stop at a missing wave, or the rollout ended. */
type WaveNext = { readonly kind: 'next' | 'again' | 'stop' } | { readonly kind: 'done'; readonly status: RolloutStatus };

export async function rolloutWorkflow(input: RolloutInput): Promise<RolloutStatus> {
  return new RolloutActor(input).run();
}

/**
 * One rollout: its plan, the status it reports, and the operators' requests. run() walks the
 * waves (runWaveAndDecide for each); which way a wave goes is decided by core/rollout-verdict.ts.
 */
class RolloutActor {
  private readonly id = workflowInfo().workflowId;
  private readonly now = workflowNow;
  private readonly strategy: RolloutInput['strategy'];
  private readonly plan: RolloutPlan;
  private readonly atTarget: Set<string>;
  private phase: RolloutPhase = 'Progressing';
  private message: string;
  private currentWave = 0;
  private finishedAt: number | undefined;
  // Set by handlers while the main loop waits: kept in one object so that the compiler does
  // not narrow them to their initial values across awaits.
  private readonly ops: {
    paused: boolean; pausedForFailure: boolean; resumedAfterFailure: boolean;
    supersededBy?: string; stopped?: string; abortRequest?: RolloutActionRequest; retryRequest?: RolloutActionRequest;
  } = { paused: false, pausedForFailure: false, resumedAfterFailure: false };
  private readonly approvals = new Map<number, string>();
  private readonly waves: RolloutWaveStatus[];
  private readonly clusters = new Map<string, RolloutClusterStatus>();
  /** Batches this rollout changed, in order (rollback walks them backwards). */
  private readonly changedBatches: string[][] = [];
  private readonly results = new Map<number, Map<string, RolloutStepResult>>();
  private readonly healthProblems: RolloutHealth[] = [];
  private readonly events: RolloutEvent[] = [];
  private readonly journal: RolloutEventRecord[] = [];
  private seq = 0;
  private journalling = false;
  private readonly outbox: Outbox;

  constructor(private readonly input: RolloutInput) {
    const { strategy } = input;
    this.strategy = strategy;
    this.message = `rolling out ${input.revision}`;
    const plan = planRollout(strategy.waves.map((w) => ({
      name: w.name, ...(w.clusters ? { clusters: w.clusters } : {}), ...(w.clusterSelector ? { clusterSelector: w.clusterSelector } : {}),
      ...(w.size ? { size: w.size } : {}), ...(w.maxConcurrency ? { maxConcurrency: w.maxConcurrency } : {}),
    })), input.clusters);
    this.plan = plan;
    const atTarget = new Set(input.atTarget);
    this.atTarget = atTarget;
    this.waves = plan.waves.map((w, i) => {
      const s = strategy.waves[i];
      return {
        name: w.name, clusters: w.clusters, batches: w.batches, phase: 'Pending', approval: s?.approval ?? false,
        bakeSeconds: s?.bakeSeconds ?? 0, maxFailures: s?.maxFailures ?? 0, failures: 0, message: w.clusters.length === 0 ? 'no cluster left for this wave' : '',
      };
    });
    plan.waves.forEach((w) => {
      for (const c of w.clusters) {
        const previousRevision = input.previous[c] ?? '';
        this.clusters.set(c, {
          cluster: c, wave: w.name, phase: atTarget.has(c) ? 'AtTarget' : 'Pending', revision: atTarget.has(c) ? input.revision : previousRevision,
          previousRevision, message: atTarget.has(c) ? 'already at the target' : '', updatedAt: this.now(),
        });
      }
    });
    this.outbox = new Outbox((target) => { if (target === input.owner) this.ops.stopped = `the owner ${input.owner} no longer exists`; });
  }

  async run(): Promise<RolloutStatus> {
    const { input, plan } = this;
    void this.outbox.run();
    void (async () => {
      for (;;) {
        await condition(() => this.journal.length > 0);
        this.journalling = true;
        await recordRolloutEvents(this.journal.splice(0));
        this.journalling = false;
      }
    })();
    this.setHandlers();

    this.event('RolloutStarted', `rolling out ${input.revision} in ${plan.waves.length} wave${plan.waves.length === 1 ? '' : 's'}: ${plan.waves.map((w) => `${w.name} [${w.clusters.join(', ')}]`).join(' → ')}`
      + (plan.unselected.length > 0 ? `; not selected by any wave: ${plan.unselected.join(', ')}` : ''));

    for (let i = 0; i < plan.waves.length; i++) {
      this.currentWave = i;
      const next = await this.runWaveAndDecide(i);
      if (next.kind === 'done') return next.status;
      if (next.kind === 'stop') break;
      if (next.kind === 'again') i -= 1; // the same wave again: its healthy clusters are at the target already
    }
    return this.finish('Succeeded', `${input.revision} rolled out to ${[...this.clusters.keys()].length} cluster${this.clusters.size === 1 ? '' : 's'} in ${plan.waves.length} wave${plan.waves.length === 1 ? '' : 's'}`);
  }

  private setHandlers(): void {
    const { id, input, ops } = this;
    const who = (r: RolloutActionRequest): { by?: string } => (r.by !== undefined ? { by: r.by } : {});
    const waveName = (): string => this.waves[this.currentWave]?.name ?? '';
    setHandler(rolloutStatusQuery, () => this.snapshot());
    setHandler(rolloutStepResultSignal, (r) => { this.results.get(r.seq)?.set(r.cluster, r); });
    setHandler(rolloutHealthSignal, (h) => { this.healthProblems.push(h); });
    setHandler(rolloutSupersedeSignal, ({ revision }) => {
      if (this.finished() || ops.supersededBy === revision) return;
      ops.supersededBy = revision;
      this.event('SupersedeRequested', `${revision} supersedes ${input.revision}: the wave in progress finishes, then this rollout ends`);
    });
    setHandler(rolloutStopSignal, ({ reason }) => { ops.stopped = reason; });
    setHandler(rolloutApproveUpdate, (r) => {
      this.approvals.set(this.currentWave, r.by ?? 'unknown');
      this.setWave(this.currentWave, { approvedBy: r.by ?? 'unknown' });
      this.event('Approved', `wave ${waveName()} approved${why(r)}`, { wave: waveName(), ...who(r) });
      return this.snapshot();
    }, {
      validator: (_r: RolloutActionRequest) => {
        if (this.phase !== 'WaitingApproval' || this.approvals.has(this.currentWave)) {
          throw new Error(`no approval gate is waiting: rollout ${id} is ${this.phase}${ops.paused ? ' (paused)' : ''} in wave ${this.waves[this.currentWave]?.name ?? '-'}`);
        }
      },
    });
    setHandler(rolloutPauseUpdate, (r) => {
      ops.paused = true;
      this.event('Paused', `paused before the next step${why(r)}`, who(r));
      return this.snapshot();
    }, {
      validator: (_r: RolloutActionRequest) => {
        if (this.finished()) throw new Error(`rollout ${id} has finished (${this.phase}): nothing to pause`);
        if (ops.paused) throw new Error(`rollout ${id} is already paused`);
        if (this.phase === 'RollingBack') throw new Error(`rollout ${id} is rolling back: a rollback is not paused`);
      },
    });
    setHandler(rolloutResumeUpdate, (r) => {
      ops.paused = false;
      if (ops.pausedForFailure) ops.resumedAfterFailure = true;
      this.event('Resumed', `resumed${ops.pausedForFailure ? ', accepting the failed wave' : ''}${why(r)}`, who(r));
      return this.snapshot();
    }, { validator: (_r: RolloutActionRequest) => { if (!ops.paused) throw new Error(`rollout ${id} is not paused (it is ${this.phase})`); } });
    setHandler(rolloutAbortUpdate, (r) => {
      ops.abortRequest = r;
      this.event('AbortRequested', `abort requested${why(r)}: the clusters this rollout changed go back`, who(r));
      return this.snapshot();
    }, {
      validator: (_r: RolloutActionRequest) => {
        if (this.finished()) throw new Error(`rollout ${id} has finished (${this.phase}): nothing to abort`);
        if (this.phase === 'RollingBack' || ops.abortRequest !== undefined) throw new Error(`rollout ${id} is already rolling back`);
      },
    });
    setHandler(rolloutRetryUpdate, (r) => {
      ops.retryRequest = r;
      ops.paused = false;
      this.event('Retried', `retrying wave ${waveName()}${why(r)}`, { wave: waveName(), ...who(r) });
      return { message: `retrying wave ${waveName()}` };
    }, {
      validator: (_r: RolloutActionRequest) => {
        if (!ops.pausedForFailure) throw new Error(`rollout ${id} is not paused by a failure (it is ${this.phase}${ops.paused ? ', paused by an operator: use resume' : ''}); retry applies to a failed wave`);
      },
    });
  }

  private snapshot(): RolloutStatus {
    const { input, ops } = this;
    return {
      id: this.id, owner: input.owner, ownerKind: input.ownerKind, revision: input.revision, target: input.target, phase: this.phase, message: this.message,
      paused: ops.paused, currentWave: this.currentWave, waves: [...this.waves], clusters: [...this.clusters.values()], unselected: this.plan.unselected,
      onFailure: this.strategy.onFailure, events: [...this.events], startedAt: workflowInfo().startTime.getTime(),
      ...(this.finishedAt !== undefined ? { finishedAt: this.finishedAt } : {}), ...(ops.supersededBy !== undefined ? { supersededBy: ops.supersededBy } : {}),
    };
  }

  private event(type: RolloutEvent['type'], text: string, extra: { wave?: string; by?: string } = {}): void {
    const e: RolloutEvent = { at: this.now(), type, message: text, ...extra };
    this.events.push(e);
    if (this.events.length > STATUS_EVENTS) this.events.splice(0, this.events.length - STATUS_EVENTS);
    this.journal.push({ ...e, rollout: this.id, owner: this.input.owner, revision: this.input.revision });
  }

  private setWave(i: number, patch: Partial<RolloutWaveStatus>): void {
    const w = this.waves[i];
    if (w) this.waves[i] = { ...w, ...patch };
  }

  private setCluster(c: string, patch: Partial<RolloutClusterStatus>): void {
    const s = this.clusters.get(c);
    if (s) this.clusters.set(c, { ...s, ...patch, updatedAt: this.now() });
  }

  private finished(): boolean { return FINISHED.has(this.phase); }
  // Read through functions: handlers change these while the main loop awaits.
  private superseded(): string | undefined { return this.ops.supersededBy; }
  private isPaused(): boolean { return this.ops.paused; }
  private interrupted(): boolean { return this.ops.abortRequest !== undefined || this.ops.stopped !== undefined; }

  /**
   * One wave: the gate (approval, an operator's pause), the wave's batches and bake, and what
   * follows: the next wave, or after a failure rollback / pause then retry, resume, abort.
   */
  private async runWaveAndDecide(i: number): Promise<WaveNext> {
    const { input } = this;
    const wave = this.waves[i];
    const spec = this.strategy.waves[i];
    if (!wave || !spec) return { kind: 'stop' };
    const done = (status: Promise<RolloutStatus>): Promise<WaveNext> => status.then((s) => ({ kind: 'done', status: s }));
    if (this.interrupted()) return done(this.interruption());
    if (this.superseded() !== undefined) return done(this.finish('Superseded', `superseded by ${this.superseded()} before wave ${wave.name}`));

    // A wave whose clusters all run the target already (a rollout restarted after being
    // superseded) has nothing to change: no gate, no bake.
    const nothingToDo = waveHasNothingToDo(wave.clusters, this.atTarget);
    if (spec.approval && !this.approvals.has(i) && !nothingToDo) {
      this.phase = 'WaitingApproval';
      this.message = `wave ${wave.name} waits for approval (flotilla rollout approve ${input.owner})`;
      this.setWave(i, { phase: 'WaitingApproval' });
      this.event('GateWaiting', this.message, { wave: wave.name });
      await condition(() => this.approvals.has(i) || this.interrupted() || this.superseded() !== undefined);
      if (this.interrupted()) return done(this.interruption());
      if (this.superseded() !== undefined) return done(this.finish('Superseded', `superseded by ${this.superseded()} while wave ${wave.name} waited for approval`));
    }
    if (!await this.whilePaused()) {
      if (this.interrupted()) return done(this.interruption());
      return done(this.finish('Superseded', `superseded by ${this.superseded() ?? ''} while paused before wave ${wave.name}`));
    }

    this.phase = 'Progressing';
    this.message = `wave ${wave.name} in progress`;
    this.setWave(i, { phase: 'Progressing', startedAt: this.now() });
    this.event('WaveStarted', `wave ${wave.name} started: ${wave.clusters.length === 0 ? 'no clusters' : wave.clusters.join(', ')}`, { wave: wave.name });
    const outcome = await this.runWave(i);
    if (outcome.kind === 'interrupted') return done(this.interruption());
    if (outcome.kind === 'failed') return this.afterFailure(i, wave.name, outcome.reason);
    this.setWave(i, { phase: 'Succeeded', finishedAt: this.now(), message: wave.clusters.length === 0 ? 'no cluster left for this wave' : 'healthy' });
    this.event('WaveSucceeded', `wave ${wave.name} succeeded`, { wave: wave.name });
    return { kind: 'next' };
  }

  /** A failed wave: roll back (onFailure: rollback), or pause until an operator retries, resumes or aborts. */
  private async afterFailure(i: number, waveName: string, reason: string): Promise<WaveNext> {
    const { ops } = this;
    this.setWave(i, { phase: 'Failed', finishedAt: this.now(), message: reason });
    this.event('WaveFailed', `wave ${waveName} failed: ${reason}`, { wave: waveName });
    if (afterWaveFailure(this.strategy.onFailure) === 'rollback') return { kind: 'done', status: await this.rollback('RolledBack', `wave ${waveName} failed: ${reason}`) };
    // onFailure: pause — an operator decides: retry the wave, resume (accept it), or abort.
    this.phase = 'Paused';
    ops.paused = true;
    ops.pausedForFailure = true;
    this.message = `wave ${waveName} failed: ${reason}; paused (flotilla rollout retry|resume|abort ${this.input.owner})`;
    this.event('Paused', this.message, { wave: waveName });
    await condition(() => ops.retryRequest !== undefined || !this.isPaused() || this.interrupted() || this.superseded() !== undefined);
    ops.pausedForFailure = false;
    const next = afterFailurePause({ interrupted: this.interrupted(), retryRequested: ops.retryRequest !== undefined, resumed: ops.resumedAfterFailure });
    if (next === 'interrupted') return { kind: 'done', status: await this.interruption() };
    if (next === 'retry') {
      ops.retryRequest = undefined;
      ops.paused = false;
      this.setWave(i, { failures: 0, message: '' });
      return { kind: 'again' };
    }
    if (next === 'resume') {
      ops.resumedAfterFailure = false;
      this.setWave(i, { phase: 'Succeeded', message: acceptedByResumeMessage(reason) });
      return { kind: 'next' };
    }
    return { kind: 'done', status: await this.finish('Superseded', `superseded by ${this.superseded() ?? ''} while paused after wave ${waveName} failed`) };
  }

  /** Waits while paused by an operator; false when superseded or interrupted meanwhile. */
  private async whilePaused(): Promise<boolean> {
    if (!this.isPaused()) return true;
    const before = this.phase;
    this.phase = 'Paused';
    await condition(() => !this.isPaused() || this.interrupted() || this.superseded() !== undefined);
    this.phase = before;
    return !this.isPaused() && !this.interrupted();
  }

  private async runWave(i: number): Promise<WaveOutcome> {
    const { input } = this;
    const wave = this.waves[i];
    const spec = this.strategy.waves[i];
    if (!wave || !spec) return { kind: 'ok' };
    const healthTimeout = spec.healthTimeoutSeconds ?? input.defaultHealthTimeoutSeconds;
    const failed = new Set<string>();
    for (const batch of wave.batches) {
      if (!await this.whilePaused()) return this.interrupted() ? { kind: 'interrupted' } : { kind: 'ok' };
      const todo = batch.filter((c) => !this.atTarget.has(c));
      if (todo.length === 0) continue;
      for (const c of todo) this.setCluster(c, { phase: 'Updating', message: `updating to ${input.revision}` });
      this.changedBatches.push([...todo]);
      for (const r of await this.step('advance', todo, healthTimeout)) {
        if (r.ok) {
          this.atTarget.add(r.cluster);
          this.setCluster(r.cluster, { phase: 'Healthy', revision: r.revision || input.revision, message: r.message });
        } else {
          failed.add(r.cluster);
          this.setCluster(r.cluster, { phase: 'Failed', revision: r.revision || input.revision, message: r.message });
        }
      }
      this.setWave(i, { failures: failed.size });
      const verdict = failuresVerdict(this.failedClusters(failed), spec.maxFailures);
      if (verdict.kind === 'failed') return verdict;
      if (this.interrupted()) return { kind: 'interrupted' };
    }
    return this.bake(i, failed);
  }

  /**
   * The wave's clusters stay healthy and the analysis passes for bakeTime (one check at
   * least). Time is kept by Temporal timers alone (the bake timer, one timer per analysis
   * interval), never by comparing clock readings: what the loop does next depends only on
   * which timers fired and which signals arrived, so a replay decides the same way.
   */
  private async bake(i: number, failed: Set<string>): Promise<WaveOutcome> {
    const wave = this.waves[i];
    const spec = this.strategy.waves[i];
    if (!wave || !spec) return { kind: 'ok' };
    const analysis = this.strategy.analysis;
    const changedHere = wave.clusters.filter((c) => this.clusters.get(c)?.phase === 'Healthy' || failed.has(c));
    // Nothing changed in this wave (all at the target already): nothing to bake.
    if (!needsBake(changedHere.length, spec.bakeSeconds, analysis !== undefined)) return { kind: 'ok' };
    this.phase = 'Baking';
    this.message = `wave ${wave.name} baking for ${spec.bakeSeconds}s`;
    this.setWave(i, { phase: 'Baking', bakeUntil: this.now() + spec.bakeSeconds * 1000 });
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
          await condition(() => timers.bakeOver || timers.checkDue || this.healthProblems.length > 0 || this.interrupted());
          if (this.interrupted()) return { kind: 'interrupted' };
          for (const h of this.healthProblems.splice(0)) {
            const health = bakeHealthVerdict({ ...h, clusterWave: this.clusters.get(h.cluster)?.wave, atTarget: this.atTarget.has(h.cluster) }, wave.name);
            if (health.kind === 'ignore') continue;
            this.setCluster(h.cluster, { phase: 'Failed', message: h.message });
            if (health.kind === 'failed') return health;
            failed.add(h.cluster);
            this.setWave(i, { failures: failed.size });
            const verdict = failuresVerdict(this.failedClusters(failed), spec.maxFailures, 'bake');
            if (verdict.kind === 'failed') return verdict;
          }
          if (analysis && analysisCheckDue(state())) {
            timers.checkDue = false;
            const result = await runAnalysisCheck(analysis);
            checks += 1;
            if (!result.ok) analysisFailures += 1;
            this.setWave(i, { analysis: { checks, failures: analysisFailures, lastResult: result.message, lastCheckedAt: this.now() } });
            const check = { ok: result.ok, message: result.message, checks, failures: analysisFailures, failureLimit: analysis.failureLimit };
            if (!result.ok) this.event('AnalysisFailed', analysisFailedMessage(check, wave.name), { wave: wave.name });
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
  private failedClusters(failed: ReadonlySet<string>): FailedCluster[] {
    return [...failed].map((c) => ({ cluster: c, message: this.clusters.get(c)?.message ?? '' }));
  }

  /** One step the owner carries out; a cluster that gets no answer in time counts as failed. */
  private async step(action: 'advance' | 'revert', targets: readonly string[], healthTimeoutSeconds: number): Promise<RolloutStepResult[]> {
    this.seq += 1;
    const s = this.seq;
    const answers = new Map<string, RolloutStepResult>();
    this.results.set(s, answers);
    this.outbox.signal(this.input.owner, rolloutStepSignal, { rollout: this.id, seq: s, action, clusters: targets, healthTimeoutSeconds, attempt: `${workflowInfo().runId}/${s}` });
    const limitSeconds = healthTimeoutSeconds + STEP_GRACE_SECONDS;
    await condition(() => targets.every((c) => answers.has(c)) || this.ops.stopped !== undefined, limitSeconds * 1000);
    this.results.delete(s);
    return targets.map((c) => answers.get(c) ?? {
      seq: s, cluster: c, ok: false, revision: '', message: this.ops.stopped ?? `no answer from ${this.input.owner} within ${limitSeconds}s`,
    });
  }

  private async interruption(): Promise<RolloutStatus> {
    if (this.ops.stopped !== undefined) return this.finish('Aborted', `stopped: ${this.ops.stopped}`, false);
    const r = this.ops.abortRequest ?? {};
    return this.rollback('Aborted', `aborted${r.by !== undefined ? ` by ${r.by}` : ''}${why(r)}`);
  }

  /** Every cluster this rollout changed goes back to what it ran before, last changed first. */
  private async rollback(final: 'RolledBack' | 'Aborted', reason: string): Promise<RolloutStatus> {
    this.phase = 'RollingBack';
    this.ops.paused = false;
    this.message = `${reason}; rolling back`;
    const total = this.changedBatches.reduce((n, b) => n + b.length, 0);
    this.event('RollbackStarted', `${reason}; rolling back ${total} cluster${total === 1 ? '' : 's'}${total > 0 ? ` (${[...this.changedBatches].reverse().map((b) => [...b].reverse().join(', ')).join(' → ')})` : ''}`);
    const failures: string[] = [];
    for (const batch of [...this.changedBatches].reverse()) {
      const targets = [...batch].reverse();
      for (const c of targets) this.setCluster(c, { phase: 'RollingBack', message: `rolling back to ${this.clusters.get(c)?.previousRevision || 'nothing (first deployment)'}` });
      for (const r of await this.step('revert', targets, this.input.defaultHealthTimeoutSeconds)) {
        const previous = this.clusters.get(r.cluster)?.previousRevision ?? '';
        if (r.ok) {
          this.atTarget.delete(r.cluster);
          this.setCluster(r.cluster, { phase: 'RolledBack', revision: previous, message: r.message || `back at ${previous || 'nothing'}` });
        } else {
          failures.push(`${r.cluster}: ${r.message}`);
          this.setCluster(r.cluster, { phase: 'RollbackFailed', message: r.message });
        }
      }
    }
    this.event('RollbackFinished', failures.length === 0 ? `rolled back ${total} cluster${total === 1 ? '' : 's'}` : `rollback failed on ${failures.join('; ')}`);
    if (failures.length > 0) return this.finish('Failed', `${reason}; rollback failed on ${failures.join('; ')}`);
    return this.finish(final, `${reason}; rolled back ${total} cluster${total === 1 ? '' : 's'}`);
  }

  private async finish(final: RolloutPhase, text: string, tellOwner = true): Promise<RolloutStatus> {
    this.phase = final;
    this.message = text;
    this.ops.paused = false;
    this.finishedAt = this.now();
    for (let i = this.currentWave + 1; i < this.waves.length; i++) if (this.waves[i]?.phase === 'Pending') this.setWave(i, { phase: 'Skipped' });
    this.event('RolloutFinished', `${final}: ${text}`);
    if (tellOwner) this.outbox.signal(this.input.owner, rolloutFinishedSignal, { rollout: this.id, phase: final, message: text });
    await condition(() => this.outbox.idle() && this.journal.length === 0 && !this.journalling);
    return this.snapshot();
  }
}

const why = (r: RolloutActionRequest): string => (r.reason !== undefined ? `: ${r.reason}` : '');
