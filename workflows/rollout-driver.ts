// The owner's side of a rollout (see rollout.ts): a Kustomization or HelmRelease actor with a
// `spec.rollout` starts the rollout as a child workflow and then serves it: it carries out
// each step the rollout sends (advance clusters to the target, revert them), answers per
// cluster as each one settles, forwards health changes, and tells the rollout when a newer
// target supersedes it or the owner is deleted. The owner provides the per-cluster actions;
// this class holds the protocol, so both actors speak it the same way.
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import {
  ParentClosePolicy, condition, setHandler, sleep, startChild, type ChildWorkflowHandle,
} from '@temporalio/workflow';
import {
  rolloutFinishedSignal, rolloutHealthSignal, rolloutRetryUpdate, rolloutStepResultSignal, rolloutStepSignal,
  rolloutStopSignal, rolloutSupersedeSignal, rolloutWorkflowId, type RolloutActionRequest, type RolloutFinished,
  type RolloutInput, type RolloutStep, type RolloutTracking,
} from '../api/rollout.js';
import { workflowNow } from './clock.js';
import type { Outbox } from './outbox.js';
import { rolloutWorkflow } from './rollout.js';

export interface StepAnswer {
  readonly ok: boolean;
  /** What the cluster runs after the step, for people. */
  readonly revision: string;
  readonly message: string;
}

export interface RolloutOwner {
  /**
   * Puts the target on one cluster and waits until it is healthy or failed. `attempt` is new
   * for every step: pass it on (setClusterDeployment) so that a retried cluster is applied again.
   */
  advance(cluster: string, step: { readonly healthTimeoutSeconds: number; readonly attempt: string }): Promise<StepAnswer>;
  /** Puts back what the cluster ran before the rollout (or removes the deployment when it ran nothing). */
  revert(cluster: string): Promise<StepAnswer>;
  /** A target newer than the one rolling out, if one arrived (its revision, for people). */
  newer(): string | undefined;
  deleted(): boolean;
}

/** Starting a rollout whose id is taken by a stale run: stop it, then try again. */
const START_ATTEMPTS = 3;

export interface RolloutDriverOptions {
  /** What the owner remembered (its status, carried over continue-as-new). */
  readonly tracking?: RolloutTracking;
  /** Called with every change of the tracking: the owner puts it in its status. */
  readonly onTracking: (t: RolloutTracking) => void;
  /** Wakes the owner's loop (a retry was asked for). */
  readonly wake: () => void;
}

/** The owner's Ready condition after a rollout: `succeeded` is its message when the rollout succeeded. */
export function rolloutVerdict(finished: RolloutFinished, revision: string, succeeded: string): { ok: boolean; reason: string; message: string } {
  if (finished.phase === 'Succeeded') return { ok: true, reason: 'ReconciliationSucceeded', message: `${succeeded} (${finished.message})` };
  if (finished.phase === 'Superseded') return { ok: false, reason: 'Progressing', message: `rollout of ${revision} superseded: ${finished.message}` };
  return { ok: false, reason: 'RolloutFailed', message: `rollout of ${revision} ${finished.phase}: ${finished.message}` };
}

/** The Ready message of an owner whose rollout of the current target failed earlier. */
export function failedRolloutMessage(t: RolloutTracking, ownerId: string, orElse: string): string {
  return `the rollout of ${t.revision} ended ${t.phase}: ${t.message}; the clusters keep what they ran (flotilla rollout retry ${ownerId}, or ${orElse})`;
}

/** What the owner does with a new target: roll it out, nothing (the fleet has it), or report its failed rollout. */
export type RolloutDecision = 'rollout' | 'none' | 'failed';

export class RolloutDriver {
  private active: string | undefined;
  private readonly steps: RolloutStep[] = [];
  private finished: RolloutFinished | undefined;
  private tracked: RolloutTracking | undefined;
  private retryRequest: RolloutActionRequest | undefined;

  /** The driver of an owner that keeps what it tracks in its status (`rollout`, carried over continue-as-new). */
  static inStatus<S extends { readonly rollout?: RolloutTracking }>(
    owner: { readonly id: string; wake(): void }, outbox: Outbox, status: { get(): S; set(next: S): void },
  ): RolloutDriver {
    const tracking = status.get().rollout;
    return new RolloutDriver(owner.id, outbox, {
      ...(tracking ? { tracking } : {}),
      onTracking: (rollout) => { status.set({ ...status.get(), rollout }); },
      wake: () => { owner.wake(); },
    });
  }

  constructor(private readonly ownerId: string, private readonly outbox: Outbox, private readonly opts: RolloutDriverOptions) {
    this.tracked = opts.tracking;
    setHandler(rolloutStepSignal, (s) => { if (s.rollout === this.active) this.steps.push(s); });
    setHandler(rolloutFinishedSignal, (f) => { if (f.rollout === this.active) this.finished ??= f; });
    // `flotilla rollout retry` on an owner whose last rollout failed: its next reconcile starts it again.
    setHandler(rolloutRetryUpdate, (r) => {
      this.retryRequest = r;
      opts.wake();
      return { message: `a new rollout of ${this.tracked?.revision ?? ''} starts` };
    }, {
      validator: (_r: RolloutActionRequest) => {
        const t = this.tracked;
        if (this.running) throw new Error(`a rollout of ${ownerId} is in progress: retry acts on a rollout paused by a failure`);
        if (t?.failed === undefined) {
          throw new Error(`the last rollout of ${ownerId} did not fail${t ? ` (it ${t.phase === 'Succeeded' ? 'succeeded' : `ended ${t.phase}`})` : ' (there was none)'}: nothing to retry`);
        }
      },
    });
  }

  get tracking(): RolloutTracking | undefined {
    return this.tracked;
  }

  /**
   * For a target some selected clusters do not run yet (`behind`): a rollout, unless the fleet
   * took it already (new clusters get it directly), or its rollout failed and no retry was asked.
   */
  decide(target: string, behind: number): RolloutDecision {
    if (behind === 0 || this.tracked?.rolledOut === target) return 'none';
    if (this.tracked?.failed === target && this.retryRequest === undefined) return 'failed';
    return 'rollout';
  }

  private outcome(): RolloutFinished | undefined {
    return this.finished;
  }

  get running(): boolean {
    return this.active !== undefined;
  }

  /** Tells the running rollout that a cluster it changed turned unhealthy (or healthy again). */
  health(cluster: string, ok: boolean, message: string): void {
    if (this.active !== undefined) this.outbox.signal(this.active, rolloutHealthSignal, { cluster, ok, message });
  }

  /** Starts the rollout and serves it until it finishes; returns how it ended. */
  async run(input: Omit<RolloutInput, 'owner'>, owner: RolloutOwner): Promise<RolloutFinished> {
    const id = rolloutWorkflowId(this.ownerId);
    this.finished = undefined;
    this.retryRequest = undefined;
    this.steps.splice(0);
    this.active = id;
    this.track(id, input, 'Progressing', `rolling out ${input.revision}`);
    try {
      const finished = await this.serveRollout(id, input, owner);
      // Succeeded: the fleet has the target. Superseded (or stopped for a deletion): nothing
      // to remember. Otherwise the target failed, until a retry or a newer target.
      const stoppedForDeletion = finished.phase === 'Aborted' && owner.deleted();
      this.track(id, input, finished.phase, finished.message, finished.phase === 'Succeeded' ? { rolledOut: input.target }
        : finished.phase === 'Superseded' || stoppedForDeletion ? {} : { failed: input.target });
      return finished;
    } finally {
      this.active = undefined;
    }
  }

  private track(id: string, input: Omit<RolloutInput, 'owner'>, phase: string, message: string, extra: { rolledOut?: string; failed?: string } = {}): void {
    const { rolledOut, failed } = this.tracked ?? {};
    this.tracked = {
      id, revision: input.revision, target: input.target, phase, message, updatedAt: workflowNow(),
      ...(rolledOut !== undefined ? { rolledOut } : {}), ...(failed !== undefined && failed !== input.target ? { failed } : {}), ...extra,
    };
    this.opts.onTracking(this.tracked);
  }

  private async serveRollout(id: string, input: Omit<RolloutInput, 'owner'>, owner: RolloutOwner): Promise<RolloutFinished> {
    const handle = await this.start(id, { ...input, owner: this.ownerId });
    void handle.result().then(
      (s) => { this.finished ??= { rollout: id, phase: s.phase, message: s.message }; },
      (err: unknown) => { this.finished ??= { rollout: id, phase: 'Failed', message: `the rollout workflow failed: ${err instanceof Error ? err.message : String(err)}` }; },
    );
    let superseded: string | undefined;
    let stopped = false;
    for (;;) {
      await condition(() => this.steps.length > 0 || this.finished !== undefined
        || (!stopped && owner.deleted()) || (!stopped && superseded === undefined && owner.newer() !== undefined));
      if (!stopped && owner.deleted()) {
        stopped = true;
        this.outbox.signal(id, rolloutStopSignal, { reason: `${this.ownerId} is being deleted` });
      }
      const newer = owner.newer();
      if (!stopped && superseded === undefined && newer !== undefined) {
        superseded = newer;
        this.outbox.signal(id, rolloutSupersedeSignal, { revision: newer });
      }
      for (const step of this.steps.splice(0)) await this.serve(id, step, owner);
      const finished = this.outcome();
      if (finished) return finished;
    }
  }

  private async start(id: string, input: RolloutInput): Promise<ChildWorkflowHandle<typeof rolloutWorkflow>> {
    for (let attempt = 1; ; attempt++) {
      try {
        // Abandoned on the owner's continue-as-new or deletion: the rollout ends on its own terms.
        return await startChild(rolloutWorkflow, { workflowId: id, args: [input], parentClosePolicy: ParentClosePolicy.ABANDON });
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError) || attempt >= START_ATTEMPTS) throw err;
        // A rollout from an earlier life of this owner (reset or re-created) still runs: stop it.
        this.outbox.signal(id, rolloutStopSignal, { reason: `${this.ownerId} started a new rollout` });
        await sleep('5 seconds');
      }
    }
  }

  private async serve(id: string, step: RolloutStep, owner: RolloutOwner): Promise<void> {
    await Promise.all(step.clusters.map(async (cluster) => {
      const answer = step.action === 'advance' ? await owner.advance(cluster, step) : await owner.revert(cluster);
      this.outbox.signal(id, rolloutStepResultSignal, { seq: step.seq, cluster, ...answer });
    }));
  }
}
