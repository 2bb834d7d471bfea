// What an activity failure means to an actor's status: the ApplicationFailure's type as the
// condition reason, its own message (not "Activity task failed"), and its kind (stalled,
// waiting, transient: core/failure-kind.ts), which the actors switch on.
import { ApplicationFailure } from '@temporalio/workflow';
import { failureKind, type FailureKind } from '../core/failure-kind.js';

export interface ActivityFailure {
  readonly reason: string;
  readonly message: string;
  readonly kind: FailureKind;
}

export function activityFailure(err: unknown, fallbackReason: string): ActivityFailure {
  const cause = (err as { cause?: unknown }).cause;
  const reason = cause instanceof ApplicationFailure ? cause.type ?? fallbackReason : fallbackReason;
  const message = cause instanceof Error ? cause.message : err instanceof Error ? err.message : String(err);
  return { reason, message, kind: failureKind(reason) };
}
