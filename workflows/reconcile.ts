// How every declaration actor ends a reconcile (Flux's finalizeStatus: core/conditions.ts
// finishReconcile has the rule and its sources), how the deploying actors begin one, and the
// report-waiting constants they share. Workflow code: the time is the workflow's clock.
import { patched } from '@temporalio/workflow';
import { finishReconcile as finishedConditions, setCondition, type Condition, type ReconcileOutcome } from '../core/conditions.js';
import { workflowNow as now } from './clock.js';

/** Report phases after which an agent's report of a deployment answers a wait. */
export const TERMINAL: ReadonlySet<string> = new Set(['READY', 'UNHEALTHY', 'INVALID', 'FAILED']);
/** Extra time, beyond the health timeout, for an agent to fetch, apply and report. */
export const REPORT_GRACE_SECONDS = 60;

/** Ends a reconcile with one reason for Ready (and Stalled when `stalled`). */
export type Done = (ok: boolean, reason: string, message: string, stalled?: boolean) => void;

/** What every actor's status has of a reconcile. */
interface ReconciledStatus {
  readonly conditions: readonly Condition[];
  readonly lastReconciledAt: number;
  readonly observedGeneration?: number;
}

/**
 * The status after a reconcile: Ready from the outcome, Reconciling removed, Stalled only when
 * stalled, the time, and (when given) the generation the reconcile worked on.
 */
export function finishReconcile<S extends ReconciledStatus>(status: S, outcome: ReconcileOutcome, observedGeneration?: number): S {
  return {
    ...status, conditions: finishedConditions(status.conditions, outcome, now()), lastReconciledAt: now(),
    ...(observedGeneration !== undefined ? { observedGeneration } : {}),
  };
}

/**
 * A deploying actor (Kustomization, HelmRelease) begins a reconcile: Reconciling True and, as
 * Flux (kustomize-controller kustomization_controller.go reconcile(), helm-controller atomic
 * release), Ready Unknown while the reconcile, its waits included, is in progress; True only
 * once all of it succeeded (older histories predate that: patched). Returns the Done that ends
 * it, recording the generation the reconcile began at.
 */
export function beginReconcile<S extends ReconciledStatus>(status: { get(): S; set(next: S): void }, generation: number): Done {
  const setCond = (c: Omit<Condition, 'lastTransitionTime'>): void => {
    const s = status.get();
    status.set({ ...s, conditions: setCondition(s.conditions, c, now()) });
  };
  setCond({ type: 'Reconciling', status: 'True', reason: PROGRESSING, message: 'reconciliation in progress' });
  if (patched('flux-dependency-rule')) setCond({ type: 'Ready', status: 'Unknown', reason: PROGRESSING, message: 'Reconciliation in progress' });
  return (ok, reason, message, stalled = false) => {
    status.set(finishReconcile(status.get(), { ok, reason, message, stalled }, generation));
  };
}

/** Flux's reason while a reconcile is in progress (KustomizationReason and HelmReleaseReason name it too). */
const PROGRESSING = 'Progressing';
