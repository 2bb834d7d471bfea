// Prometheus counters of notifications, on the hub's registry (HubMetrics.registry):
//   flotilla_receiver_requests_total{receiver, result}  webhook requests to Receivers;
//     result accepted | ping | bad_signature | rejected | not_found
//   flotilla_notifications_total{provider, result}      notifications, by outcome;
//     result sent | failed | skipped (counted once per notification, not per attempt)
// The delivery counter is fed by wrapping the deliverNotification activity: a success or a
// skip is final, and so is a failure that is not retryable or on the last allowed attempt.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { Counter, Registry } from 'prom-client';
import { NOTIFICATION_RETRY, type NotificationActivities } from '../api/notifications.js';
import { failureKind } from '../core/failure-kind.js';

export type ReceiverResult = 'accepted' | 'ping' | 'bad_signature' | 'rejected' | 'not_found';
export type DeliveryResult = 'sent' | 'failed' | 'skipped';

export class NotificationMetrics {
  private readonly receiverRequests: Counter<'receiver' | 'result'>;
  private readonly notifications: Counter<'provider' | 'result'>;

  /** Without a registry the counters live in one of their own (nothing scrapes it). */
  constructor(registry: Registry = new Registry()) {
    const registers = [registry];
    this.receiverRequests = existing(registry, 'flotilla_receiver_requests_total') ?? new Counter({
      name: 'flotilla_receiver_requests_total', help: 'Webhook requests to Receivers (/hook/<path>), by receiver (<namespace>/<name>) and result.',
      labelNames: ['receiver', 'result'], registers,
    });
    this.notifications = existing(registry, 'flotilla_notifications_total') ?? new Counter({
      name: 'flotilla_notifications_total', help: 'Notifications by provider (<namespace>/<name>) and final result (retries are not counted).',
      labelNames: ['provider', 'result'], registers,
    });
  }

  receiverRequest(receiver: string, result: ReceiverResult): void {
    this.receiverRequests.inc({ receiver, result });
  }

  delivery(provider: string, result: DeliveryResult): void {
    this.notifications.inc({ provider, result });
  }

  /** The activities, counting each notification's final outcome. */
  instrument(activities: NotificationActivities): NotificationActivities {
    return {
      deliverNotification: async (input) => {
        const provider = `${input.provider.namespace}/${input.provider.name}`;
        try {
          const result = await activities.deliverNotification(input);
          this.delivery(provider, 'skipped' in result ? 'skipped' : 'sent');
          return result;
        } catch (err) {
          const final = (err instanceof ApplicationFailure && (err.nonRetryable || failureKind(err.type ?? '') === 'stalled')) || attempt() >= NOTIFICATION_RETRY.attempts;
          if (final) this.delivery(provider, 'failed');
          throw err;
        }
      },
    };
  }
}

function attempt(): number {
  try {
    return Context.current().info.attempt;
  } catch {
    return NOTIFICATION_RETRY.attempts; // outside an activity (tests): every call is final
  }
}

/** The counter already on the registry (a second NotificationMetrics on the same registry shares it). */
function existing<T extends string>(registry: Registry, name: string): Counter<T> | undefined {
  return registry.getSingleMetric(name) as Counter<T> | undefined;
}
