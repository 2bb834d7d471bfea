// Named activity option profiles: every activity call picks one, so timeouts and retries
// are decided in one place (STYLE.md rule 4).
import type { ActivityOptions } from '@temporalio/workflow';
import { NOTIFICATION_RETRY } from '../api/notifications.js';
import { FINAL_NOTIFICATION_FAILURES } from '../core/failure-kind.js';

/** Short calls to an API server or the hub's own stores. */
export const quick: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5 },
};

/**
 * A push of desired state to the hub that holds the agent's stream, on that hub's own task
 * queue. One attempt, soon abandoned: a hub that does not pick it up within seconds is gone,
 * and its agents get the desired state when they say Hello to another hub.
 */
export const viaHub = (taskQueue: string): ActivityOptions => ({
  taskQueue, scheduleToStartTimeout: '10 seconds', startToCloseTimeout: '10 seconds', retry: { maximumAttempts: 1 },
});

/** A delivery's options: the Provider's own timeout bounds each attempt, plus a margin. */
export function notificationDelivery(providerTimeoutSeconds: number, totalSeconds: number = NOTIFICATION_RETRY.totalSeconds): ActivityOptions {
  return {
    startToCloseTimeout: `${providerTimeoutSeconds + 10} seconds`,
    scheduleToCloseTimeout: `${Math.max(totalSeconds, providerTimeoutSeconds + 10)} seconds`,
    retry: {
      initialInterval: `${NOTIFICATION_RETRY.initialSeconds} seconds`, backoffCoefficient: 2,
      maximumInterval: `${NOTIFICATION_RETRY.maximumIntervalSeconds} seconds`, maximumAttempts: NOTIFICATION_RETRY.attempts,
      nonRetryableErrorTypes: [...FINAL_NOTIFICATION_FAILURES],
    },
  };
}
