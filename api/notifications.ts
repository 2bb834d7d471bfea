// The notifications workflow's contract (id `notifications`, one per hub): it holds the
// Providers, Alerts and Receivers, takes the hub's events in batches and sends what the
// Alerts select (workflows/notifications.ts). Its id, workflow type and input, status,
// signals and query, the delivery activity it calls (activities/notification-delivery.ts)
// and that activity's retry budget, which the hub's metrics also read.
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type {
  AlertDeclaration, NotificationDeclaration, ProviderDeclaration, ReceiverDeclaration,
} from '../core/declarations/types.js';
import type { FlotillaEvent } from '../core/notifications/event.js';
import type { NotificationThrottleState, ThrottleOptions } from '../core/notifications/throttle.js';

export const NOTIFICATIONS_WORKFLOW_ID = 'notifications';

/** The workflow's registered name (its function in workflows/index.ts): the hub starts it by this name. */
export const NOTIFICATIONS_WORKFLOW_TYPE = 'notificationsWorkflow';
export type NotificationsWorkflow = (input: NotificationsInput) => Promise<void>;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
export type AlertCounts = Mutable<Omit<AlertNotificationStatus, 'id' | 'declaration' | 'provider'>>;
export type ProviderCounts = Mutable<Omit<ProviderNotificationStatus, 'id' | 'declaration' | 'pending'>>;

/** A notification admitted and not delivered yet. */
export interface PendingNotification {
  readonly seq: number;
  /** `alert/<ns>/<name>` and `provider/<ns>/<name>`. */
  readonly alert: string;
  readonly provider: string;
  /** The event as the Alert sends it (enriched). */
  readonly event: FlotillaEvent;
  /** ms since epoch of its admission: retries across continue-as-new stay within NOTIFICATION_RETRY.totalSeconds. */
  readonly since: number;
}

/** What the workflow starts with and carries over continue-as-new (all empty on first start). */
export interface NotificationsInput {
  readonly declarations?: readonly NotificationDeclaration[];
  readonly throttle?: NotificationThrottleState;
  /** Used when there is no throttle state yet (tests shorten the windows). */
  readonly throttleOptions?: ThrottleOptions;
  readonly alertCounts?: Readonly<Record<string, AlertCounts>>;
  readonly providerCounts?: Readonly<Record<string, ProviderCounts>>;
  readonly pending?: readonly PendingNotification[];
  readonly seq?: number;
  readonly eventsReceived?: number;
  readonly invalidEvents?: number;
  /** History length after which the workflow continues as new (default HISTORY_LIMIT; tests lower it). */
  readonly historyLimit?: number;
}

/** What happened to the events one Alert selected. */
export interface AlertNotificationStatus {
  /** `alert/<ns>/<name>` */
  readonly id: string;
  readonly declaration: AlertDeclaration;
  /** The Provider it sends with, `provider/<ns>/<name>`. */
  readonly provider: string;
  /** Events the Alert selected. */
  readonly matched: number;
  readonly sent: number;
  /** Identical to one sent within the dedup window. */
  readonly duplicates: number;
  /** Over the Provider's rate limit. */
  readonly rateLimited: number;
  /** Failed after the last retry (or refused, or the Provider is misconfigured). */
  readonly failed: number;
  /** Not sent: the Provider is missing or suspended, or it had nothing to send (a commit status without a commit). */
  readonly skipped: number;
  /** ms since epoch */
  readonly lastSentAt?: number;
  readonly lastError?: string;
  readonly lastFailedAt?: number;
  readonly lastSkipped?: string;
}

export interface ProviderNotificationStatus {
  /** `provider/<ns>/<name>` */
  readonly id: string;
  readonly declaration: ProviderDeclaration;
  readonly sent: number;
  readonly failed: number;
  readonly skipped: number;
  /** Deliveries started and not finished (retries included), and queued ones. */
  readonly pending: number;
  readonly lastSentAt?: number;
  readonly lastError?: string;
}

export interface ReceiverNotificationStatus {
  /** `receiver/<ns>/<name>` */
  readonly id: string;
  readonly declaration: ReceiverDeclaration;
}

export interface NotificationsStatus {
  readonly providers: readonly ProviderNotificationStatus[];
  readonly alerts: readonly AlertNotificationStatus[];
  readonly receivers: readonly ReceiverNotificationStatus[];
  /** Events received since the workflow first started (across continue-as-new). */
  readonly eventsReceived: number;
  /** Events refused by validation (a sender other than the hub's recorder). */
  readonly invalidEvents: number;
  /** Deliveries in progress (retries included) and waiting for a slot. */
  readonly inFlight: number;
  readonly queued: number;
}

/** Adds or replaces a Provider, Alert or Receiver (from `flotilla apply` or a bootstrap Kustomization). */
export const notificationDeclarationSignal = defineSignal<[NotificationDeclaration]>('notificationDeclaration');
/** Deletes one by id (`alert/<ns>/<name>`); an unknown id is ignored. */
export const notificationDeleteSignal = defineSignal<[string]>('notificationDelete');
/** A batch of events from the hub (hub/events.ts EventRecorder). */
export const notificationEventsSignal = defineSignal<[readonly FlotillaEvent[]]>('notificationEvents');
export const notificationsStatusQuery = defineQuery<NotificationsStatus>('notificationsStatus');

// ---- Activities -----------------------------------------------------------------------------

/**
 * Retries of one notification: bounded in attempts and in time, so that a receiver that is
 * down for long costs at most NOTIFICATION_RETRY.attempts requests and gives up within
 * NOTIFICATION_RETRY.totalSeconds. A refused request or a misconfigured Provider is not retried.
 */
export const NOTIFICATION_RETRY = { attempts: 10, totalSeconds: 15 * 60, initialSeconds: 2, maximumIntervalSeconds: 60 } as const;

export interface DeliverNotificationInput {
  readonly provider: ProviderDeclaration;
  readonly event: FlotillaEvent;
}

export type DeliverNotificationResult = { readonly status: number } | { readonly skipped: string };

export interface NotificationActivities {
  readonly deliverNotification: (input: DeliverNotificationInput) => Promise<DeliverNotificationResult>;
}
