// How every declaration actor ends a reconcile (Flux's finalizeStatus: core/conditions.ts
// finishReconcile has the rule and its sources), and the report-waiting constants the
// deploying actors share. Workflow code: the time is the workflow's clock.
import { finishReconcile as finishedConditions, type Condition, type ReconcileOutcome } from '../core/conditions.js';
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
