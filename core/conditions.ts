// Kubernetes-style conditions, as Flux sets them on its objects: Ready, Reconciling, Stalled.
// Pure, so workflow code uses it too.
/** Kubernetes-style condition, as Flux reports them. */
export interface Condition {
  readonly type: 'Ready' | 'Reconciling' | 'Stalled';
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
  /** ms since epoch */
  readonly lastTransitionTime: number;
}

/** Sets (or replaces) one condition; lastTransitionTime moves only when the status changes. */
export function setCondition(conditions: readonly Condition[], next: Omit<Condition, 'lastTransitionTime'>, now: number): Condition[] {
  const previous = conditions.find((c) => c.type === next.type);
  const lastTransitionTime = previous && previous.status === next.status ? previous.lastTransitionTime : now;
  return [...conditions.filter((c) => c.type !== next.type), { ...next, lastTransitionTime }]
    .sort((a, b) => ORDER.indexOf(a.type) - ORDER.indexOf(b.type));
}

/** How a reconcile ended: Ready's status and reason, and whether no retry can fix it (stalled). */
export interface ReconcileOutcome {
  readonly ok: boolean;
  readonly reason: string;
  readonly message: string;
  /** No retry fixes it until the spec or the source changes (Flux's MarkStalled). */
  readonly stalled?: boolean;
}

/**
 * The conditions of a finished reconcile, as Flux leaves them (every actor ends its reconciles
 * here, through workflows/reconcile.ts finishReconcile):
 * - Ready is set from the outcome;
 * - Stalled is True only when the failure is stalled (fluxcd/pkg runtime/conditions/setter.go
 *   MarkStalled), and removed otherwise: a success, or a failure a retry may fix
 *   (fluxcd/pkg runtime/reconcile/result.go Finalize: "it's not stalled situation, ensure Stalled
 *   condition is removed");
 * - Reconciling is removed (kustomize-controller internal/controller/kustomization_controller.go
 *   finalizeStatus on Ready=True; MarkStalled on a stalled failure). Flux keeps it on a failure to
 *   be retried, with reason ProgressingWithRetry, because the controller requeues at once with
 *   backoff; a Flotilla actor sleeps until its retry interval instead, so between reconciles it
 *   is not reconciling, and kstatus (core/kstatus.ts) and `flotilla` waits read a Reconciling
 *   condition as still in progress.
 */
export function finishReconcile(conditions: readonly Condition[], outcome: ReconcileOutcome, now: number): Condition[] {
  const { ok, reason, message } = outcome;
  const ready = removeCondition(setCondition(conditions, { type: 'Ready', status: ok ? 'True' : 'False', reason, message }, now), 'Reconciling');
  return !ok && outcome.stalled === true ? setCondition(ready, { type: 'Stalled', status: 'True', reason, message }, now) : removeCondition(ready, 'Stalled');
}

export function removeCondition(conditions: readonly Condition[], type: Condition['type']): Condition[] {
  return conditions.filter((c) => c.type !== type);
}

export function conditionOf(conditions: readonly Condition[], type: Condition['type']): Condition | undefined {
  return conditions.find((c) => c.type === type);
}

export function isReady(conditions: readonly Condition[]): boolean {
  return conditionOf(conditions, 'Ready')?.status === 'True';
}

const ORDER: readonly Condition['type'][] = ['Ready', 'Reconciling', 'Stalled'];
