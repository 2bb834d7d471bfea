// Flux's rule for the conditions a finished reconcile leaves (core/conditions.ts
// finishReconcile): kustomize-controller internal/controller/kustomization_controller.go
// finalizeStatus, fluxcd/pkg runtime/conditions/setter.go MarkStalled and
// runtime/reconcile/result.go Finalize; and the failure kinds the actors switch on
// (core/failure-kind.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { finishReconcile, setCondition, type Condition, type ReconcileOutcome } from '../../core/conditions.js';
import { failureKind, type FailureKind } from '../../core/failure-kind.js';

const T0 = 1_700_000_000_000;
const T1 = T0 + 1000;

function during(...extra: Omit<Condition, 'lastTransitionTime'>[]): Condition[] {
  let c = setCondition([], { type: 'Reconciling', status: 'True', reason: 'Progressing', message: 'reconciliation in progress' }, T0);
  c = setCondition(c, { type: 'Ready', status: 'Unknown', reason: 'Progressing', message: 'Reconciliation in progress' }, T0);
  for (const e of extra) c = setCondition(c, e, T0);
  return c;
}

const stalledBefore = { type: 'Stalled', status: 'True', reason: 'BuildFailed', message: 'missing.yaml' } as const;

describe('finishReconcile (Flux finalizeStatus)', () => {
  const table: [string, Condition[], ReconcileOutcome, Record<string, string | undefined>][] = [
    // name, conditions during the reconcile, outcome, type → status after ("absent" = removed)
    ['success: Ready True, Reconciling removed', during(), { ok: true, reason: 'ReconciliationSucceeded', message: 'Applied' },
      { Ready: 'True', Reconciling: undefined, Stalled: undefined }],
    ['success after a stall: Stalled removed', during(stalledBefore), { ok: true, reason: 'ReconciliationSucceeded', message: 'Applied' },
      { Ready: 'True', Reconciling: undefined, Stalled: undefined }],
    ['stalled failure: Stalled True, Reconciling removed (MarkStalled)', during(), { ok: false, reason: 'BuildFailed', message: 'x', stalled: true },
      { Ready: 'False', Reconciling: undefined, Stalled: 'True' }],
    ['retried failure: no Stalled (Finalize: not a stalled situation)', during(stalledBefore), { ok: false, reason: 'DependencyNotReady', message: 'x' },
      { Ready: 'False', Reconciling: undefined, Stalled: undefined }],
    ['stalled flag on a success is ignored', during(), { ok: true, reason: 'Succeeded', message: 'x', stalled: true },
      { Ready: 'True', Reconciling: undefined, Stalled: undefined }],
  ];
  for (const [name, before, outcome, expected] of table) {
    it(name, () => {
      const after = finishReconcile(before, outcome, T1);
      for (const [type, status] of Object.entries(expected)) {
        assert.equal(after.find((c) => c.type === type)?.status, status, type);
      }
      const ready = after.find((c) => c.type === 'Ready');
      assert.deepEqual([ready?.reason, ready?.message], [outcome.reason, outcome.message]);
      const stalled = after.find((c) => c.type === 'Stalled');
      if (stalled) assert.deepEqual([stalled.reason, stalled.message], [outcome.reason, outcome.message]);
    });
  }

  it('keeps the transition time of a condition whose status did not change', () => {
    const stalledAtT0 = finishReconcile(during(), { ok: false, reason: 'BuildFailed', message: 'a', stalled: true }, T0);
    const again = finishReconcile(stalledAtT0, { ok: false, reason: 'BuildFailed', message: 'b', stalled: true }, T1);
    assert.equal(again.find((c) => c.type === 'Stalled')?.lastTransitionTime, T0);
    assert.deepEqual(again.map((c) => c.type), ['Ready', 'Stalled']);
  });
});

describe('failureKind', () => {
  const table: [string, FailureKind][] = [
    ['BuildFailed', 'stalled'], ['AccessDenied', 'stalled'], ['NoMatchingVersion', 'stalled'], ['ChartNotFound', 'stalled'],
    ['InvalidRange', 'stalled'], ['RenderFailed', 'stalled'], ['ValuesError', 'stalled'], ['RetriesExceeded', 'stalled'],
    ['NotificationRejected', 'stalled'], ['ProviderMisconfigured', 'stalled'],
    ['ArtifactFailed', 'waiting'], ['DependencyNotReady', 'waiting'],
    ['ReconciliationFailed', 'transient'], ['ChartPullError', 'transient'], ['HealthCheckFailed', 'transient'], ['UpgradeFailed', 'transient'],
    // Exact reasons only: remediation's "RetriesExceeded: failed to upgrade after 2 attempt(s)" was never stalling.
    ['RetriesExceeded: failed to upgrade after 2 attempt(s)', 'transient'],
  ];
  for (const [reason, kind] of table) it(`${reason} → ${kind}`, () => { assert.equal(failureKind(reason), kind); });
});
