// The rollout's contract (`rollout/<owner id>`): the workflow type and input, its status,
// the signals between a rollout and its owner (a Kustomization or HelmRelease), the
// operator's updates (`flotilla rollout approve|pause|resume|abort|retry`), what an owner
// remembers of its rollouts, and the activities it calls (activities/rollout-activities.ts).
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { AnalysisVerdict } from '../core/analysis.js';
import type { AnalysisCheck, RolloutStrategy } from '../core/declarations/types.js';

/** `rollout/<owner id>`: one at a time per Kustomization or HelmRelease. */
export function rolloutWorkflowId(owner: string): string {
  return `rollout/${owner}`;
}

/** The workflow's registered name (its function in workflows/index.ts): the hub starts it by this name. */
export const ROLLOUT_WORKFLOW_TYPE = 'rolloutWorkflow';
export type RolloutWorkflow = (input: RolloutInput) => Promise<RolloutStatus>;

// A rollout (`rollout/<owner id>`) moves one new target of a Kustomization or HelmRelease
// (its owner) through the placed clusters in waves. The rollout decides; the owner acts: the
// rollout sends it steps (advance these clusters to the target, or revert them to what they
// had before), the owner answers per cluster and forwards later health changes.

export type RolloutPhase =
  | 'Progressing' | 'WaitingApproval' | 'Baking' | 'Paused' | 'RollingBack'
  | 'Succeeded' | 'RolledBack' | 'Failed' | 'Aborted' | 'Superseded';
export type RolloutWavePhase = 'Pending' | 'WaitingApproval' | 'Progressing' | 'Baking' | 'Succeeded' | 'Failed' | 'Skipped';
export type RolloutClusterPhase = 'Pending' | 'AtTarget' | 'Updating' | 'Healthy' | 'Failed' | 'RollingBack' | 'RolledBack' | 'RollbackFailed';

export interface RolloutClusterStatus {
  readonly cluster: string;
  readonly wave: string;
  readonly phase: RolloutClusterPhase;
  /** What the cluster runs now, as far as the rollout knows. */
  readonly revision: string;
  /** What it ran before the rollout (the rollback target). */
  readonly previousRevision: string;
  readonly message: string;
  /** ms since epoch */
  readonly updatedAt: number;
}

export interface RolloutAnalysisStatus {
  readonly checks: number;
  readonly failures: number;
  readonly lastResult: string;
  readonly lastCheckedAt: number;
}

export interface RolloutWaveStatus {
  readonly name: string;
  readonly clusters: readonly string[];
  readonly batches: readonly (readonly string[])[];
  readonly phase: RolloutWavePhase;
  readonly approval: boolean;
  readonly approvedBy?: string;
  readonly bakeSeconds: number;
  readonly maxFailures: number;
  readonly failures: number;
  /** ms since epoch */
  readonly startedAt?: number;
  readonly bakeUntil?: number;
  readonly finishedAt?: number;
  readonly analysis?: RolloutAnalysisStatus;
  readonly message: string;
}

export type RolloutEventType =
  | 'RolloutStarted' | 'WaveStarted' | 'GateWaiting' | 'Approved' | 'WaveSucceeded' | 'WaveFailed' | 'AnalysisFailed'
  | 'Paused' | 'Resumed' | 'Retried' | 'AbortRequested' | 'SupersedeRequested' | 'RollbackStarted' | 'RollbackFinished' | 'RolloutFinished';

export interface RolloutEvent {
  /** ms since epoch */
  readonly at: number;
  readonly type: RolloutEventType;
  readonly wave?: string;
  readonly message: string;
  /** Who asked, for operator actions. */
  readonly by?: string;
}

export interface RolloutStatus {
  readonly id: string;
  readonly owner: string;
  readonly ownerKind: 'Kustomization' | 'HelmRelease';
  readonly revision: string;
  readonly target: string;
  readonly phase: RolloutPhase;
  readonly message: string;
  readonly paused: boolean;
  /** Index of the wave in progress (or last reached). */
  readonly currentWave: number;
  readonly waves: readonly RolloutWaveStatus[];
  readonly clusters: readonly RolloutClusterStatus[];
  /** Placed clusters no wave selected: this rollout never touches them. */
  readonly unselected: readonly string[];
  readonly onFailure: 'rollback' | 'pause';
  readonly events: readonly RolloutEvent[];
  readonly startedAt: number;
  readonly finishedAt?: number;
  readonly supersededBy?: string;
}

export interface RolloutCluster {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface RolloutInput {
  readonly owner: string;
  readonly ownerKind: 'Kustomization' | 'HelmRelease';
  /** What the owner rolls out, for people (a source revision, a chart version). */
  readonly revision: string;
  /** What identifies the target for machines (an artifact digest). */
  readonly target: string;
  readonly strategy: RolloutStrategy;
  readonly clusters: readonly RolloutCluster[];
  /** Clusters that already run the target: nothing to change there. */
  readonly atTarget: readonly string[];
  /** cluster → what it ran before ("" = nothing). */
  readonly previous: Readonly<Record<string, string>>;
  /** Used for waves without healthTimeout. */
  readonly defaultHealthTimeoutSeconds: number;
}

export interface RolloutStep {
  readonly rollout: string;
  readonly seq: number;
  readonly action: 'advance' | 'revert';
  readonly clusters: readonly string[];
  readonly healthTimeoutSeconds: number;
  /** Unique per step: an advance re-applies even a cluster already given the target (a retried wave). */
  readonly attempt: string;
}

export interface RolloutStepResult {
  readonly seq: number;
  readonly cluster: string;
  readonly ok: boolean;
  readonly revision: string;
  readonly message: string;
}

export interface RolloutHealth {
  readonly cluster: string;
  readonly ok: boolean;
  readonly message: string;
}

export interface RolloutFinished {
  readonly rollout: string;
  readonly phase: RolloutPhase;
  readonly message: string;
}

/** Who asks for an operator action, and why (both optional, shown in events). */
export interface RolloutActionRequest {
  readonly by?: string;
  readonly reason?: string;
}

/** rollout → owner */
export const rolloutStepSignal = defineSignal<[RolloutStep]>('rolloutStep');
export const rolloutFinishedSignal = defineSignal<[RolloutFinished]>('rolloutFinished');
/** owner → rollout */
export const rolloutStepResultSignal = defineSignal<[RolloutStepResult]>('rolloutStepResult');
export const rolloutHealthSignal = defineSignal<[RolloutHealth]>('rolloutHealth');
/** A newer target exists: finish the wave in progress, then end as Superseded. */
export const rolloutSupersedeSignal = defineSignal<[{ readonly revision: string }]>('rolloutSupersede');
/** The owner is being deleted: stop now, without rolling back (the owner cleans up). */
export const rolloutStopSignal = defineSignal<[{ readonly reason: string }]>('rolloutStop');

export const rolloutStatusQuery = defineQuery<RolloutStatus>('rolloutStatus');
export const rolloutApproveUpdate = defineUpdate<RolloutStatus, [RolloutActionRequest]>('rolloutApprove');
export const rolloutPauseUpdate = defineUpdate<RolloutStatus, [RolloutActionRequest]>('rolloutPause');
export const rolloutResumeUpdate = defineUpdate<RolloutStatus, [RolloutActionRequest]>('rolloutResume');
export const rolloutAbortUpdate = defineUpdate<RolloutStatus, [RolloutActionRequest]>('rolloutAbort');
/** On a rollout paused by a failure: run the failed wave again. On an owner: start its failed rollout again. */
export const rolloutRetryUpdate = defineUpdate<{ readonly message: string }, [RolloutActionRequest]>('rolloutRetry');

/** What an owner (Kustomization, HelmRelease) remembers of its rollouts. */
export interface RolloutTracking {
  /** The rollout workflow's id (`rollout/<owner id>`). */
  readonly id: string;
  readonly revision: string;
  readonly target: string;
  /** The last rollout's phase (Progressing while it runs). */
  readonly phase: string;
  readonly message: string;
  /** ms since epoch */
  readonly updatedAt: number;
  /** The target the fleet has taken: new clusters get it directly, without a rollout. */
  readonly rolledOut?: string;
  /** A target whose rollout failed: not tried again until `flotilla rollout retry` or a newer target. */
  readonly failed?: string;
}

// ---- Activities -----------------------------------------------------------------------------

export interface RolloutEventRecord extends RolloutEvent {
  /** The rollout's workflow id and the declaration it rolls out. */
  readonly rollout: string;
  readonly owner: string;
  readonly revision: string;
}

export interface RolloutActivities {
  runAnalysisCheck(check: AnalysisCheck): Promise<AnalysisVerdict>;
  recordRolloutEvents(events: readonly RolloutEventRecord[]): Promise<void>;
}
