// What kind of failure ended a reconcile, as one type the actors switch on instead of matching
// failure-type strings by hand. Flux's kinds (fluxcd/pkg runtime/reconcile/result.go and
// kustomize-controller internal/controller/kustomization_controller.go reconcile()):
// - stalled: no retry fixes it until the spec or the source changes (Flux's MarkStalled and
//   reconcile.TerminalError: a build error, a refused cross-namespace reference, a chart
//   version nothing matches, a render or values error, spent remediation retries; for a
//   notification, a receiver that refused it or a misconfigured Provider);
// - waiting: something else must happen first (the source has no artifact, a dependency is
//   not Ready); the actor is woken by that news, as Flux requeues after its dependency interval;
// - transient: anything else; retried at the retry interval.
// Pure: workflows and the hub use it alike.
import { HelmReleaseReason } from './helm-release.js';
import { KustomizationReason } from './kustomization.js';
import { ACCESS_DENIED_REASON } from './tenancy.js';

export type FailureKind = 'stalled' | 'waiting' | 'transient';

/** A notification's delivery failures no retry fixes (activities/notification-delivery.ts throws them non-retryable). */
export const FINAL_NOTIFICATION_FAILURES = ['NotificationRejected', 'ProviderMisconfigured'] as const;

/** Reasons (ApplicationFailure types or the actors' own) that no retry fixes. */
const STALLED: ReadonlySet<string> = new Set([
  ACCESS_DENIED_REASON, ...FINAL_NOTIFICATION_FAILURES,
  KustomizationReason.BuildFailed,
  HelmReleaseReason.ChartNotFound, HelmReleaseReason.NoMatchingVersion, HelmReleaseReason.InvalidRange,
  HelmReleaseReason.RenderFailed, HelmReleaseReason.ValuesError, HelmReleaseReason.RetriesExceeded,
]);

/** Reasons that wait for news from another actor. */
const WAITING: ReadonlySet<string> = new Set([KustomizationReason.ArtifactFailed, KustomizationReason.DependencyNotReady]);

/** The kind of a failure by its reason (exact match: a reason with more text is not one of these). */
export function failureKind(reason: string): FailureKind {
  if (STALLED.has(reason)) return 'stalled';
  return WAITING.has(reason) ? 'waiting' : 'transient';
}

/** Whether a failure with this reason stalls the actor (Stalled=True until the spec or source changes). */
export function isStalled(reason: string): boolean {
  return failureKind(reason) === 'stalled';
}
