// When a Kustomization or HelmRelease reconciles next (core/requeue.ts), as Flux's controllers
// requeue: kustomize-controller internal/controller/kustomization_controller.go Reconcile() and
// helm-controller internal/controller/helmrelease_controller.go (--requeue-dependency, 30 s).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEPENDENCY_REQUEUE_SECONDS, requeueAfter, type ReconcileEnd, type Requeue } from '../../core/requeue.js';

const spec = { intervalSeconds: 600, retryIntervalSeconds: 120 };

describe('requeueAfter (Flux Reconcile\'s RequeueAfter)', () => {
  const table: [string, ReconcileEnd, typeof spec, Requeue][] = [
    ['Ready: after spec.interval', { ready: true, reason: 'ReconciliationSucceeded', sourceMissing: false }, spec, { seconds: 600, askAgain: false }],
    ['source has no artifact yet: after the dependency interval, asking again',
      { ready: false, reason: 'ArtifactFailed', sourceMissing: false }, spec, { seconds: DEPENDENCY_REQUEUE_SECONDS, askAgain: true }],
    ['a dependency is not ready: after the dependency interval, asking again',
      { ready: false, reason: 'DependencyNotReady', sourceMissing: false }, spec, { seconds: 30, askAgain: true }],
    ['the source object does not exist: after spec.retryInterval ("Source \'…\' not found")',
      { ready: false, reason: 'ArtifactFailed', sourceMissing: true }, spec, { seconds: 120, askAgain: false }],
    ['any other failure: after spec.retryInterval', { ready: false, reason: 'ReconciliationFailed', sourceMissing: false }, spec, { seconds: 120, askAgain: false }],
    ['a stalled failure: after spec.retryInterval (Flux does not requeue; Flotilla always has)',
      { ready: false, reason: 'BuildFailed', sourceMissing: false }, spec, { seconds: 120, askAgain: false }],
    ['a retry interval shorter than 30 s is not waited past (Flotilla: never later than the user asked)',
      { ready: false, reason: 'DependencyNotReady', sourceMissing: false }, { intervalSeconds: 600, retryIntervalSeconds: 5 }, { seconds: 5, askAgain: true }],
    ['a reason with more text is not a wait', { ready: false, reason: 'ArtifactFailedTwice', sourceMissing: false }, spec, { seconds: 120, askAgain: false }],
  ];
  for (const [name, end, s, expected] of table) {
    it(name, () => {
      assert.deepEqual(requeueAfter(end, s), expected);
    });
  }
});
