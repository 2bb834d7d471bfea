// The notifications workflow (`notifications`, one per hub): Flux's notification-controller
// event server as an entity workflow. It holds the Providers, Alerts and Receivers (signals
// from DeclarationClient), and takes the hub's events in batches (signals from the hub's
// EventRecorder). For each event and each Alert that selects it (alertMatches), it finds the
// Alert's Provider (same namespace; a missing or suspended one is counted, not an error),
// admits the notification through the throttle (duplicates within 5 minutes and sends over
// the Provider's rate limit are dropped and counted) and starts its delivery.
//
// Deliveries are activities with bounded retries (activity-profiles.ts notificationDelivery)
// that run concurrently; the signal handler that accepts events never waits for one, so a
// receiver that is down delays nothing but its own notifications. At most MAX_IN_FLIGHT run
// at once; the rest wait in a bounded queue.
//
// Continue-as-new carries the declarations, the throttle, the counters and every delivery not
// finished. Those are started again in the new run, within what is left of their retry
// budget: delivery is at-least-once (a request that reached the receiver just before the
// old run ended is sent again).
import { condition, continueAsNew, log, patched, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import {
  NOTIFICATION_RETRY, notificationDeclarationSignal, notificationDeleteSignal, notificationEventsSignal,
  notificationsStatusQuery, type AlertCounts, type NotificationActivities, type NotificationsInput,
  type NotificationsStatus, type PendingNotification, type ProviderCounts,
} from '../api/notifications.js';
import {
  declarationId, type AlertDeclaration, type NotificationDeclaration, type ProviderDeclaration, type ReceiverDeclaration,
} from '../core/declarations/types.js';
import { alertMatches, enrich } from '../core/notifications/alerts.js';
import { parseFlotillaEvent, type FlotillaEvent } from '../core/notifications/event.js';
import { dedupKey, NotificationThrottle } from '../core/notifications/throttle.js';
import { HISTORY_LIMIT } from './actor.js';
import { notificationDelivery } from './activity-profiles.js';
import { workflowNow } from './clock.js';
import { activityFailure } from './failures.js';

/** Deliveries running at once; the rest wait. */
const MAX_IN_FLIGHT = 100;
/** Deliveries waiting for a slot; beyond that a notification is dropped and counted as failed. */
const MAX_QUEUED = 1_000;
/** How long a due continue-as-new waits for running deliveries to finish before carrying them over. */
const DRAIN_MS = 10_000;

const emptyAlertCounts = (): AlertCounts => ({ matched: 0, sent: 0, duplicates: 0, rateLimited: 0, failed: 0, skipped: 0 });
const emptyProviderCounts = (): ProviderCounts => ({ sent: 0, failed: 0, skipped: 0 });

export async function notificationsWorkflow(input: NotificationsInput): Promise<void> {
  const now = workflowNow;
  const historyLimit = input.historyLimit ?? HISTORY_LIMIT;
  const providers = new Map<string, ProviderDeclaration>();
  const alerts = new Map<string, AlertDeclaration>();
  const receivers = new Map<string, ReceiverDeclaration>();
  const alertCounts = new Map(Object.entries(input.alertCounts ?? {}).map(([k, v]) => [k, { ...v }]));
  const providerCounts = new Map(Object.entries(input.providerCounts ?? {}).map(([k, v]) => [k, { ...v }]));
  const throttle = new NotificationThrottle(input.throttle ?? input.throttleOptions ?? {});
  const queue: PendingNotification[] = [...(input.pending ?? [])].sort((a, b) => a.seq - b.seq);
  const running = new Map<number, PendingNotification>();
  const totals = { seq: input.seq ?? 0, eventsReceived: input.eventsReceived ?? 0, invalidEvents: input.invalidEvents ?? 0, draining: false };

  const put = (d: NotificationDeclaration): void => {
    const id = declarationId(d);
    switch (d.kind) {
      case 'Provider':
        providers.set(id, d);
        if (!providerCounts.has(id)) providerCounts.set(id, emptyProviderCounts());
        break;
      case 'Alert':
        alerts.set(id, d);
        if (!alertCounts.has(id)) alertCounts.set(id, emptyAlertCounts());
        break;
      case 'Receiver':
        receivers.set(id, d);
        break;
    }
  };
  for (const d of input.declarations ?? []) put(d);

  const providerOf = (alert: AlertDeclaration): string => `provider/${alert.namespace}/${alert.spec.providerRef.name}`;
  const skip = (alertId: string, providerId: string | undefined, why: string): void => {
    const a = alertCounts.get(alertId);
    if (a) { a.skipped += 1; a.lastSkipped = why; }
    const p = providerId === undefined ? undefined : providerCounts.get(providerId);
    if (p) p.skipped += 1;
  };
  const fail = (n: PendingNotification, why: string): void => {
    const a = alertCounts.get(n.alert);
    if (a) { a.failed += 1; a.lastError = why; a.lastFailedAt = now(); }
    const p = providerCounts.get(n.provider);
    if (p) { p.failed += 1; p.lastError = why; }
    log.warn('notification not delivered', { alert: n.alert, provider: n.provider, reason: n.event.reason, error: why });
  };
  const sent = (n: PendingNotification): void => {
    const a = alertCounts.get(n.alert);
    if (a) { a.sent += 1; a.lastSentAt = now(); }
    const p = providerCounts.get(n.provider);
    if (p) { p.sent += 1; p.lastSentAt = now(); }
  };

  /**
   * Which engine reads an Alert's inclusionList/exclusionList: Go's regexp (RE2, linear time)
   * since 'go-regex-re2'; histories recorded before it replay with the JavaScript RegExp they
   * were decided with. Asked only for Alerts with lists, so others' histories are unchanged.
   */
  const regexEngine = (alert: AlertDeclaration): 'go' | 'legacy-js' =>
    alert.spec.inclusionList.length === 0 && alert.spec.exclusionList.length === 0 ? 'go'
      : patched('go-regex-re2') ? 'go' : 'legacy-js';

  /** One event against every Alert. */
  const route = (event: FlotillaEvent): void => {
    for (const [alertId, alert] of alerts) {
      if (!alertMatches(alert, event, undefined, regexEngine(alert))) continue;
      const counts = alertCounts.get(alertId);
      if (counts) counts.matched += 1;
      const providerId = providerOf(alert);
      const provider = providers.get(providerId);
      if (provider === undefined) {
        skip(alertId, undefined, `Provider ${alert.namespace}/${alert.spec.providerRef.name} not found (apply it)`);
        continue;
      }
      if (provider.spec.suspend) {
        skip(alertId, providerId, `Provider ${alert.namespace}/${alert.spec.providerRef.name} is suspended`);
        continue;
      }
      const enriched = enrich(alert, event);
      const admission = throttle.admit(dedupKey(providerId, enriched), now());
      if (admission === 'duplicate') {
        if (counts) counts.duplicates += 1;
        continue;
      }
      if (admission === 'rate-limited') {
        if (counts) counts.rateLimited += 1;
        continue;
      }
      totals.seq += 1;
      const n: PendingNotification = { seq: totals.seq, alert: alertId, provider: providerId, event: enriched, since: now() };
      if (queue.length >= MAX_QUEUED) fail(n, `dropped: ${MAX_QUEUED} notifications are already waiting to be sent`);
      else queue.push(n);
    }
  };

  async function deliver(n: PendingNotification): Promise<void> {
    const provider = providers.get(n.provider);
    if (provider === undefined) {
      skip(n.alert, undefined, `Provider ${n.provider.split('/').slice(1).join('/')} was deleted before the notification was sent`);
      return;
    }
    if (provider.spec.suspend) {
      skip(n.alert, n.provider, `Provider ${provider.namespace}/${provider.name} is suspended`);
      return;
    }
    const left = NOTIFICATION_RETRY.totalSeconds - Math.floor((now() - n.since) / 1000);
    if (left <= 0) {
      fail(n, `gave up after ${NOTIFICATION_RETRY.totalSeconds}s of retries`);
      return;
    }
    const { deliverNotification } = proxyActivities<NotificationActivities>(notificationDelivery(provider.spec.timeoutSeconds, left));
    try {
      const result = await deliverNotification({ provider, event: n.event });
      if ('skipped' in result) skip(n.alert, n.provider, result.skipped);
      else sent(n);
    } catch (err) {
      // A timeout carries no message of its own.
      fail(n, activityFailure(err, 'NotificationDeliveryFailed').message || 'timed out: no answer within the Provider\'s timeout and the retry budget');
    }
  }

  const start = (n: PendingNotification): void => {
    running.set(n.seq, n);
    void deliver(n).finally(() => { running.delete(n.seq); });
  };

  const shouldContinueAsNew = (): boolean => {
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength > historyLimit;
  };

  const pendingOf = (providerId: string): number =>
    [...running.values(), ...queue].filter((n) => n.provider === providerId).length;

  setHandler(notificationsStatusQuery, (): NotificationsStatus => ({
    providers: [...providers.entries()].sort(byKey).map(([id, declaration]) => ({
      id, declaration, ...(providerCounts.get(id) ?? emptyProviderCounts()), pending: pendingOf(id),
    })),
    alerts: [...alerts.entries()].sort(byKey).map(([id, declaration]) => ({
      id, declaration, provider: providerOf(declaration), ...(alertCounts.get(id) ?? emptyAlertCounts()),
    })),
    receivers: [...receivers.entries()].sort(byKey).map(([id, declaration]) => ({ id, declaration })),
    eventsReceived: totals.eventsReceived, invalidEvents: totals.invalidEvents, inFlight: running.size, queued: queue.length,
  }));
  setHandler(notificationDeclarationSignal, put); // another kind (misrouted) matches no case of put: ignored
  setHandler(notificationDeleteSignal, (id) => {
    providers.delete(id);
    providerCounts.delete(id);
    alerts.delete(id);
    alertCounts.delete(id);
    receivers.delete(id);
  });
  setHandler(notificationEventsSignal, (batch) => {
    if (!Array.isArray(batch)) return;
    for (const raw of batch as readonly unknown[]) {
      let event: FlotillaEvent;
      try {
        event = parseFlotillaEvent(raw);
      } catch {
        totals.invalidEvents += 1;
        continue;
      }
      totals.eventsReceived += 1;
      route(event);
    }
  });

  for (;;) {
    await condition(() => (queue.length > 0 && running.size < MAX_IN_FLIGHT && !totals.draining) || shouldContinueAsNew());
    while (queue.length > 0 && running.size < MAX_IN_FLIGHT && !totals.draining) {
      const next = queue.shift();
      if (next) start(next);
    }
    if (shouldContinueAsNew()) {
      // New notifications wait in the queue; running ones get a moment to finish rather than be sent again.
      totals.draining = true;
      await condition(() => running.size === 0, DRAIN_MS);
      const declarations: NotificationDeclaration[] = [...providers.values(), ...alerts.values(), ...receivers.values()];
      await continueAsNew<typeof notificationsWorkflow>({
        declarations: declarations.sort((a, b) => declarationId(a).localeCompare(declarationId(b))),
        throttle: throttle.toJSON(),
        alertCounts: Object.fromEntries(alertCounts), providerCounts: Object.fromEntries(providerCounts),
        pending: [...running.values(), ...queue].sort((a, b) => a.seq - b.seq),
        seq: totals.seq, eventsReceived: totals.eventsReceived, invalidEvents: totals.invalidEvents,
        ...(input.historyLimit === undefined ? {} : { historyLimit: input.historyLimit }),
      });
    }
  }
}

function byKey<V>(a: readonly [string, V], b: readonly [string, V]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}
