// When a deploying actor (Kustomization, HelmRelease) reconciles next after a reconcile ended,
// as Flux's controllers requeue. Pure.
//
// kustomize-controller internal/controller/kustomization_controller.go Reconcile():
//   - the source object does not exist ("Source '<ref>' not found"): after spec.retryInterval;
//   - the source has no artifact ("Source artifact not found, retrying in 30s") or a dependency
//     is not ready ("Dependencies do not meet ready condition, retrying in 30s"): after the
//     controller's --requeue-dependency interval, 30 s by default;
//   - any other failure: after spec.retryInterval; success: after spec.interval (jittered).
// helm-controller internal/controller/helmrelease_controller.go: the same dependency interval
// for a dependency not ready or a chart without an artifact (errWaitForDependency,
// errWaitForChart).
//
// Flotilla actors are also woken by the news they wait for (a source's artifact, a dependency's
// readiness); the 30 s requeue is what makes a wait heal when that news is lost on the way: on
// it the actor asks again (re-subscribes, and the source or dependency answers a new subscriber
// with its current state). Differences from Flux, on purpose: no jitter (a workflow timer is
// exact); a stalled failure (Flux: no requeue until the spec changes) is retried at the retry
// interval, as Flotilla always has; a wait never outlasts a retry interval shorter than 30 s.
// Cases: test/unit/requeue.test.ts.
import { failureKind } from './failure-kind.js';

/** kustomize-controller and helm-controller --requeue-dependency default (main.go: 30*time.Second). */
export const DEPENDENCY_REQUEUE_SECONDS = 30;

export interface ReconcileEnd {
  /** Ready=True at the end of the reconcile. */
  readonly ready: boolean;
  /** The Ready condition's reason when not ready. */
  readonly reason: string;
  /** The source object does not exist (not merely without an artifact). */
  readonly sourceMissing: boolean;
}

export interface Requeue {
  readonly seconds: number;
  /** Ask the source and the dependencies again (re-subscribe) when the timer fires. */
  readonly askAgain: boolean;
}

export function requeueAfter(end: ReconcileEnd, spec: { readonly intervalSeconds: number; readonly retryIntervalSeconds: number }): Requeue {
  if (end.ready) return { seconds: spec.intervalSeconds, askAgain: false };
  if (!end.sourceMissing && failureKind(end.reason) === 'waiting') {
    return { seconds: Math.min(DEPENDENCY_REQUEUE_SECONDS, spec.retryIntervalSeconds), askAgain: true };
  }
  return { seconds: spec.retryIntervalSeconds, askAgain: false };
}
