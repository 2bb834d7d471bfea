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

/**
 * The conditions of a finished reconcile: Ready with its outcome, Reconciling False ("reconciled",
 * or waiting for the next interval after a failure).
 */
export function finishedConditions(conditions: readonly Condition[], ok: boolean, reason: string, message: string, now: number): Condition[] {
  const ready = setCondition(conditions, { type: 'Ready', status: ok ? 'True' : 'False', reason, message }, now);
  return setCondition(ready, { type: 'Reconciling', status: 'False', reason, message: ok ? 'reconciled' : 'waiting for the next interval' }, now);
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
