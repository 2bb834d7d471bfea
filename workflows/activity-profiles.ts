// Named activity option profiles: every activity call picks one, so timeouts and retries
// are decided in one place (STYLE.md rule 4).
import type { ActivityOptions } from '@temporalio/workflow';
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

/**
 * Retries of one notification: bounded in attempts and in time, so that a receiver that is
 * down for long costs at most NOTIFICATION_RETRY.attempts requests and gives up within
 * NOTIFICATION_RETRY.totalSeconds. A refused request or a misconfigured Provider is not retried.
 */
export const NOTIFICATION_RETRY = { attempts: 10, totalSeconds: 15 * 60, initialSeconds: 2, maximumIntervalSeconds: 60 } as const;

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
