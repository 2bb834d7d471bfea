// What an activity failure means to an actor's status: the ApplicationFailure's type as the
// condition reason and its own message (not "Activity task failed").
import { ApplicationFailure } from '@temporalio/workflow';

export function activityFailure(err: unknown, fallbackReason: string): { reason: string; message: string } {
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof ApplicationFailure) return { reason: cause.type ?? fallbackReason, message: cause.message };
  if (cause instanceof Error) return { reason: fallbackReason, message: cause.message };
  return { reason: fallbackReason, message: err instanceof Error ? err.message : String(err) };
}
