// Named activity option profiles: every activity call picks one, so timeouts and retries
// are decided in one place (STYLE.md rule 4).
import type { ActivityOptions } from '@temporalio/workflow';

/** Short calls to an API server or the hub's own stores. */
export const quick: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5 },
};
