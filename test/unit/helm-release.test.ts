// A Helm release's history and Flux's remediation decisions (core/helm-release.ts): install
// and upgrade outcomes, rollback revisions, retries and their exhaustion, the uninstall
// strategy, remediateLastFailure, history pruning and the out-of-sync check.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  beginRevision, beginRollback, current, emptyHistory, finishRevision, lastDeployed, markUninstalled, needsUpgrade, nextReleaseAction, prune,
  releaseExists, remediation, resetFailures, retriesExhausted,
  type ReleaseDecision, type ReleaseHistory, type ReleaseHold, type ReleaseRevision, type RemediationSpec, type RevisionStart,
} from '../../core/helm-release.js';

const T0 = 1_700_000_000_000;

function chart(version: string, action: 'install' | 'upgrade' = 'upgrade'): RevisionStart {
  return { action, chartName: 'podinfo', chartVersion: version, valuesDigest: `values-${version}`, artifactDigest: `manifests-${version}` };
}

/** Runs an install or upgrade to its end. */
function run(h: ReleaseHistory, start: RevisionStart, ok: boolean, at = T0): ReleaseHistory {
  const begun = beginRevision(h, start, at);
  return finishRevision(begun.history, begun.revision, { ok, description: ok ? `${start.action} complete` : `${start.action} failed: timed out` }, at + 1000);
}

function rollback(h: ReleaseHistory, to: number, ok = true): ReleaseHistory {
  const begun = beginRollback(h, to, T0);
  return finishRevision(begun.history, begun.revision, { ok, description: `Rollback to ${to}` }, T0 + 1000);
}

const statuses = (h: ReleaseHistory): string[] => h.revisions.map((r) => `${r.revision}:${r.status}`);

const spec = (over: { install?: Partial<RemediationSpec['install']>; upgrade?: Partial<RemediationSpec['upgrade']> } = {}): RemediationSpec => ({
  install: { retries: 0, remediateLastFailure: false, ...over.install },
  upgrade: { retries: 0, remediateLastFailure: false, strategy: 'rollback', ...over.upgrade },
});

const installed = (): ReleaseHistory => run(emptyHistory('podinfo', 'apps'), chart('1.0.0', 'install'), true);

describe('release history', () => {
  it('install: pending-install, then deployed as revision 1', () => {
    const begun = beginRevision(emptyHistory('podinfo', 'apps'), chart('1.0.0', 'install'), T0);
    assert.equal(begun.revision, 1);
    assert.equal(current(begun.history)?.status, 'pending-install');
    assert.equal(current(begun.history)?.description, 'Initial install underway');
    assert.equal(lastDeployed(begun.history), undefined);
    const h = finishRevision(begun.history, 1, { ok: true, description: 'Install complete' }, T0 + 5);
    assert.deepEqual(current(h), {
      revision: 1, action: 'install', status: 'deployed', chartName: 'podinfo', chartVersion: '1.0.0',
      valuesDigest: 'values-1.0.0', artifactDigest: 'manifests-1.0.0', description: 'Install complete', startedAt: T0, finishedAt: T0 + 5,
    });
    assert.equal(lastDeployed(h)?.revision, 1);
    assert.ok(releaseExists(h));
  });

  it('upgrade: the new revision is deployed and the previous one superseded', () => {
    const h = run(installed(), chart('1.1.0'), true);
    assert.deepEqual(statuses(h), ['1:superseded', '2:deployed']);
    assert.equal(lastDeployed(h)?.chartVersion, '1.1.0');
    assert.deepEqual(h.failures, { install: 0, upgrade: 0 });
  });

  it('a failed upgrade leaves the previous revision deployed and counts the failure', () => {
    const h = run(installed(), chart('2.0.0'), false);
    assert.deepEqual(statuses(h), ['1:deployed', '2:failed']);
    assert.equal(lastDeployed(h)?.revision, 1);
    assert.deepEqual(h.failures, { install: 0, upgrade: 1 });
  });

  it('a rollback is a new revision with the target artifact; the failed one stays failed', () => {
    let h = run(installed(), chart('2.0.0'), false);
    h = rollback(h, 1);
    assert.deepEqual(statuses(h), ['1:superseded', '2:failed', '3:deployed']);
    const r = current(h);
    assert.ok(r);
    assert.equal(r.action, 'rollback');
    assert.equal(r.rolledBackTo, 1);
    assert.equal(r.chartVersion, '1.0.0');
    assert.equal(r.artifactDigest, 'manifests-1.0.0');
    assert.equal(r.description, 'Rollback to 1');
    assert.deepEqual(h.failures, { install: 0, upgrade: 1 }, 'a rollback is a remediation: the failure still counts');
  });

  it('refuses to begin while a revision is pending, to finish one that is not, and to roll back to nothing', () => {
    const begun = beginRevision(installed(), chart('1.1.0'), T0);
    assert.throws(() => beginRevision(begun.history, chart('1.2.0'), T0), /revision 2 is still pending-upgrade/);
    assert.throws(() => finishRevision(installed(), 1, { ok: true, description: '' }, T0), /revision 1 is not pending \(deployed\)/);
    assert.throws(() => beginRollback(installed(), 7, T0), /no revision 7/);
  });

  it('uninstall: kept and marked uninstalled, or deleted as Helm does without keepHistory; numbering follows', () => {
    const kept = markUninstalled(installed(), T0 + 9, 'Uninstallation complete');
    assert.deepEqual(statuses(kept), ['1:uninstalled']);
    assert.ok(!releaseExists(kept));
    assert.equal(beginRevision(kept, chart('1.0.0', 'install'), T0).revision, 2);
    const purged = markUninstalled(installed(), T0, 'Uninstallation complete', { keepHistory: false });
    assert.deepEqual(purged.revisions, []);
    assert.equal(beginRevision(purged, chart('1.0.0', 'install'), T0).revision, 1);
  });
});

describe('remediation', () => {
  it('nothing to do when the latest revision deployed fine', () => {
    assert.deepEqual(remediation(installed(), spec(), 'upgrade'), { kind: 'none' });
  });

  it('failed upgrade with retries: rollback, then retry, counting until exhausted', () => {
    const s = spec({ upgrade: { retries: 2, remediateLastFailure: false } });
    let h = run(installed(), chart('2.0.0'), false);
    assert.deepEqual(remediation(h, s, 'upgrade'), { kind: 'rollback', toRevision: 1 });
    h = rollback(h, 1);
    assert.deepEqual(remediation(h, s, 'upgrade'), { kind: 'retry', action: 'upgrade', attempt: 1 });
    h = run(h, chart('2.0.0'), false);
    assert.deepEqual(h.failures.upgrade, 2);
    assert.deepEqual(remediation(h, s, 'upgrade'), { kind: 'rollback', toRevision: 3 });
    h = rollback(h, 3);
    assert.deepEqual(remediation(h, s, 'upgrade'), { kind: 'retry', action: 'upgrade', attempt: 2 });
    h = run(h, chart('2.0.0'), false);
    // Third failure with retries 2: exhausted, and remediateLastFailure is false → left failed.
    assert.deepEqual(remediation(h, s, 'upgrade'), { kind: 'stalled', reason: 'RetriesExceeded: failed to upgrade after 3 attempt(s)' });
    assert.equal(current(h)?.status, 'failed');
  });

  it('remediates the last failure when remediateLastFailure, then stalls', () => {
    const s = spec({ upgrade: { retries: 1, remediateLastFailure: true } });
    let h = run(installed(), chart('2.0.0'), false);
    h = rollback(h, 1);
    h = run(h, chart('2.0.0'), false);
    assert.deepEqual(remediation(h, s, 'upgrade'), { kind: 'rollback', toRevision: 3 });
    h = rollback(h, 3);
    assert.deepEqual(remediation(h, s, 'upgrade'), { kind: 'stalled', reason: 'RetriesExceeded: failed to upgrade after 2 attempt(s)' });
    assert.equal(current(h)?.status, 'deployed');
  });

  it('with remediateLastFailure false and no retries (Flux defaults), a failed upgrade stays failed', () => {
    const h = run(installed(), chart('2.0.0'), false);
    assert.deepEqual(remediation(h, spec(), 'upgrade'), { kind: 'stalled', reason: 'RetriesExceeded: failed to upgrade after 1 attempt(s)' });
  });

  it('uninstall strategy: uninstall, then reinstall as the retry', () => {
    const s = spec({ upgrade: { retries: 1, strategy: 'uninstall', remediateLastFailure: true } });
    let h = run(installed(), chart('2.0.0'), false);
    assert.deepEqual(remediation(h, s, 'upgrade'), { kind: 'uninstall' });
    h = markUninstalled(h, T0, 'Uninstallation complete', { keepHistory: false });
    assert.deepEqual(remediation(h, s, 'upgrade'), { kind: 'retry', action: 'install', attempt: 1 });
    h = run(h, chart('2.0.0', 'install'), true);
    assert.deepEqual(h.failures, { install: 0, upgrade: 0 }, 'success resets the counters');
    assert.deepEqual(remediation(h, s, 'upgrade'), { kind: 'none' });
  });

  it('install retries: uninstall between attempts, then stalled when exhausted', () => {
    const s = spec({ install: { retries: 1 } });
    let h = run(emptyHistory('podinfo', 'apps'), chart('1.0.0', 'install'), false);
    assert.deepEqual(h.failures, { install: 1, upgrade: 0 });
    assert.deepEqual(remediation(h, s, 'install'), { kind: 'uninstall' });
    h = markUninstalled(h, T0, 'Uninstallation complete', { keepHistory: false });
    assert.deepEqual(remediation(h, s, 'install'), { kind: 'retry', action: 'install', attempt: 1 });
    h = run(h, chart('1.0.0', 'install'), false);
    assert.deepEqual(remediation(h, s, 'install'), { kind: 'stalled', reason: 'RetriesExceeded: failed to install after 2 attempt(s)' });
    // With remediateLastFailure the last failed install is uninstalled first, then stalled.
    const last = spec({ install: { retries: 1, remediateLastFailure: true } });
    assert.deepEqual(remediation(h, last, 'install'), { kind: 'uninstall' });
    assert.deepEqual(remediation(markUninstalled(h, T0, 'gone'), last, 'install').kind, 'stalled');
  });

  it('negative retries never run out', () => {
    assert.ok(!retriesExhausted(1000, -1));
    assert.ok(retriesExhausted(1, 0));
    assert.ok(!retriesExhausted(3, 3));
    let h = installed();
    for (let i = 0; i < 5; i++) h = rollback(run(h, chart('2.0.0'), false), lastDeployed(h)?.revision ?? 0);
    assert.deepEqual(remediation(h, spec({ upgrade: { retries: -1 } }), 'upgrade'), { kind: 'retry', action: 'upgrade', attempt: 5 });
  });

  it('after a change of desired state (counters reset), tries again instead of remediating', () => {
    const h = resetFailures(run(installed(), chart('2.0.0'), false));
    assert.deepEqual(remediation(h, spec(), 'upgrade'), { kind: 'upgrade' });
    assert.deepEqual(remediation(emptyHistory('p', 'a'), spec(), 'install'), { kind: 'install' });
  });

  it('stalls when a failed upgrade has no deployed revision to roll back to', () => {
    let h = run(emptyHistory('podinfo', 'apps'), chart('1.0.0', 'install'), false);
    h = run(h, chart('1.0.1'), false);
    const next = remediation(h, spec({ upgrade: { retries: 3 } }), 'upgrade');
    assert.ok(next.kind === 'stalled');
    assert.match(next.reason, /^MissingRollbackTarget/);
  });
});

describe('prune', () => {
  it('keeps the last N revisions, and always the deployed one', () => {
    let h = installed();
    for (let i = 0; i < 5; i++) h = run(h, chart(`2.0.${i}`), false);
    assert.deepEqual(statuses(h), ['1:deployed', '2:failed', '3:failed', '4:failed', '5:failed', '6:failed']);
    assert.deepEqual(statuses(prune(h, 3)), ['1:deployed', '5:failed', '6:failed']);
    assert.deepEqual(statuses(prune(h, 0)), statuses(h), '0 = unlimited');
    let ok = installed();
    for (let i = 0; i < 4; i++) ok = run(ok, chart(`1.${i + 1}.0`), true);
    assert.deepEqual(statuses(prune(ok, 2)), ['4:superseded', '5:deployed']);
  });
});

describe('needsUpgrade', () => {
  const desired = { chartVersion: '1.0.0', valuesDigest: 'values-1.0.0', artifactDigest: 'manifests-1.0.0' };
  it('is false in sync and without a release, true on any difference or a failed latest revision', () => {
    const h = installed();
    assert.equal(needsUpgrade(h, desired), false);
    assert.equal(needsUpgrade(emptyHistory('p', 'a'), desired), false);
    assert.equal(needsUpgrade(h, { ...desired, chartVersion: '1.0.1' }), true);
    assert.equal(needsUpgrade(h, { ...desired, valuesDigest: 'other' }), true);
    assert.equal(needsUpgrade(h, { ...desired, artifactDigest: 'other' }), true);
    assert.equal(needsUpgrade(h, { ...desired, chartName: 'other' }), true);
    assert.equal(needsUpgrade(run(h, chart('2.0.0'), false), desired), true);
    assert.equal(needsUpgrade(rollback(run(h, chart('2.0.0'), false), 1), { chartVersion: '2.0.0', valuesDigest: 'values-2.0.0', artifactDigest: 'manifests-2.0.0' }), true);
  });
});

// Flux's helm-controller (fluxcd/helm-controller 0f61a86): DetermineReleaseState in
// internal/reconcile/state.go reads the release's state, actionForState in
// internal/reconcile/atomic_release.go maps it to the next action. One row per state.
describe('nextReleaseAction (Flux DetermineReleaseState + actionForState)', () => {
  const want = (version: string): { chartName: string; chartVersion: string; valuesDigest: string; artifactDigest: string } =>
    ({ chartName: 'podinfo', chartVersion: version, valuesDigest: `values-${version}`, artifactDigest: `manifests-${version}` });
  const none = { install: 0, upgrade: 0 };
  const failedUpgrade = (): ReleaseHistory => run(installed(), chart('2.0.0'), false);
  const failedInstall = (): ReleaseHistory => run(emptyHistory('podinfo', 'apps'), chart('1.0.0', 'install'), false);
  const rev = (h: ReleaseHistory, revision: number): ReleaseRevision => {
    const r = h.revisions.find((x) => x.revision === revision);
    if (!r) throw new Error(`no revision ${revision}`);
    return r;
  };
  const hold = (h: ReleaseHistory, version: string): ReleaseHold => ({ ...want(version), revision: current(h)?.revision ?? 0 });
  const rows: readonly {
    readonly flux: string; readonly history: () => ReleaseHistory; readonly desired: string;
    readonly retries?: { install: number; upgrade: number }; readonly hold?: (h: ReleaseHistory) => ReleaseHold;
    readonly expect: (h: ReleaseHistory) => ReleaseDecision;
  }[] = [
    { flux: 'Absent (no release in storage) → NewInstall', history: () => emptyHistory('podinfo', 'apps'), desired: '1.0.0',
      expect: () => ({ kind: 'install', desiredChanged: true }) },
    { flux: 'Absent (found uninstalled release) → NewInstall', history: () => markUninstalled(installed(), T0, 'gone'), desired: '1.0.0',
      expect: () => ({ kind: 'install', desiredChanged: false }) },
    { flux: 'InSync (deployed, chart and values verified) → no action', history: installed, desired: '1.0.0',
      expect: () => ({ kind: 'in-sync', revision: 1 }) },
    { flux: 'OutOfSync (ErrChartChanged / ErrConfigDigest) → NewUpgrade', history: installed, desired: '1.1.0',
      expect: () => ({ kind: 'upgrade', desiredChanged: true }) },
    { flux: 'Failed, failures within retries → NewUpgrade (the next attempt)', history: failedUpgrade, desired: '2.0.0', retries: { install: 0, upgrade: 1 },
      expect: () => ({ kind: 'upgrade', desiredChanged: false }) },
    { flux: 'Failed, RetriesExhausted → ErrExceededMaxRetries: cannot upgrade release', history: failedUpgrade, desired: '2.0.0',
      expect: (h) => ({ kind: 'retries-exhausted', action: 'upgrade', attempt: rev(h, 2) }) },
    { flux: 'remediated (rolled back), RetriesExhausted → ErrExceededMaxRetries; the rollback keeps running', desired: '2.0.0', retries: { install: 0, upgrade: 1 },
      history: () => rollback(run(rollback(failedUpgrade(), 1), chart('2.0.0'), false), 3),
      expect: (h) => ({ kind: 'retries-exhausted', action: 'upgrade', attempt: rev(h, 4), running: rev(h, 5) }) },
    { flux: 'Failed, conditions changed since the failure (GetFailureCount reset) → NewUpgrade', history: failedUpgrade, desired: '2.0.1',
      expect: () => ({ kind: 'upgrade', desiredChanged: true }) },
    { flux: 'Absent after a failed install, RetriesExhausted → ErrExceededMaxRetries: cannot install release', history: failedInstall, desired: '1.0.0',
      expect: (h) => ({ kind: 'retries-exhausted', action: 'install', attempt: rev(h, 1) }) },
    { flux: 'Absent after a failed install, retries left → NewInstall', history: failedInstall, desired: '1.0.0', retries: { install: 2, upgrade: 0 },
      expect: () => ({ kind: 'install', desiredChanged: false }) },
    { flux: 'rolled back by remediation, out of sync with the failed upgrade → NewUpgrade (retry)', history: () => rollback(failedUpgrade(), 1), desired: '2.0.0', retries: { install: 0, upgrade: 1 },
      expect: () => ({ kind: 'upgrade', desiredChanged: false }) },
    { flux: '(Flotilla) held by flotilla helm rollback for this desired state → left as it is', history: () => rollback(installed(), 1), desired: '1.1.0', hold: (h) => hold(h, '1.1.0'),
      expect: () => ({ kind: 'held', revision: 2, deployed: true }) },
    { flux: '(Flotilla) a hold for another desired state does not hold', history: installed, desired: '1.1.0', hold: (h) => hold(h, '1.0.5'),
      expect: () => ({ kind: 'upgrade', desiredChanged: true }) },
  ];
  for (const row of rows) {
    it(row.flux, () => {
      const h = row.history();
      assert.deepEqual(nextReleaseAction(h, want(row.desired), row.retries ?? none, row.hold?.(h)), row.expect(h));
    });
  }
});
