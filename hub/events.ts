// The hub's event recorder: what the hub observes (rollout steps, agents' reports and
// connections, failed fetches and builds) goes to the notifications workflow as Flux events,
// the way Flux's controllers post theirs to the notification-controller. record() never
// throws and never waits: events are batched for ~200 ms and signalled with signalWithStart
// (the workflow exists as soon as the first event does). While Temporal is unreachable the
// batch is kept and retried with backoff; past `maxBuffered` events, new ones are dropped,
// counted and logged (a notification is worth less than the hub's memory).
import type { Client } from '@temporalio/client';
import {
  notificationEventsSignal, NOTIFICATIONS_WORKFLOW_ID, NOTIFICATIONS_WORKFLOW_TYPE, type NotificationsWorkflow,
} from '../api/notifications.js';
import type { FlotillaEvent } from '../core/notifications/event.js';
import type { LogFn } from '../core/log.js';

/** Where the hub's components put events (EventRecorder; tests pass a list). */
export interface EventSink {
  record(event: FlotillaEvent): void;
}

/** Sends one batch; the default signals the notifications workflow. */
export type BatchSender = (events: readonly FlotillaEvent[]) => Promise<void>;

export interface EventRecorderOptions {
  readonly log?: LogFn;
  /** How long events gather before a batch is sent (default 200 ms). */
  readonly batchMs?: number;
  /** Events held at most, waiting or being retried (default 10,000). */
  readonly maxBuffered?: number;
  /** First retry delay after a failed send, doubled up to 30 s (default 1 s). */
  readonly retryMs?: number;
}

/** Events per signal, and their JSON size at most: a signal's payload must stay well under Temporal's 2 MB. */
const MAX_BATCH_EVENTS = 100;
const MAX_BATCH_BYTES = 512 * 1024;
const MAX_RETRY_MS = 30_000;

export class EventRecorder implements EventSink {
  private readonly buffer: FlotillaEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> | undefined;
  private failures = 0;
  private droppedCount = 0;
  private closed = false;
  private readonly batchMs: number;
  private readonly maxBuffered: number;
  private readonly retryMs: number;

  constructor(private readonly send: BatchSender, private readonly opts: EventRecorderOptions = {}) {
    this.batchMs = opts.batchMs ?? 200;
    this.maxBuffered = opts.maxBuffered ?? 10_000;
    this.retryMs = opts.retryMs ?? 1_000;
  }

  /** A recorder signalling the notifications workflow on `taskQueue` (started with empty state when absent). */
  static forTemporal(client: Client, taskQueue: string, opts: EventRecorderOptions = {}): EventRecorder {
    return new EventRecorder(async (events) => {
      await client.workflow.signalWithStart<NotificationsWorkflow, [readonly FlotillaEvent[]]>(NOTIFICATIONS_WORKFLOW_TYPE, {
        workflowId: NOTIFICATIONS_WORKFLOW_ID, taskQueue, args: [{}], signal: notificationEventsSignal, signalArgs: [events],
      });
    }, opts);
  }

  record(event: FlotillaEvent): void {
    if (this.closed) return;
    if (this.buffer.length >= this.maxBuffered) {
      this.droppedCount += 1;
      // The first drop, then every thousandth: a long outage should not flood the log either.
      if (this.droppedCount % 1000 === 1) {
        this.opts.log?.('event dropped: the notification buffer is full', {
          dropped: this.droppedCount, buffered: this.buffer.length, kind: event.involvedObject.kind,
          namespace: event.involvedObject.namespace, name: event.involvedObject.name, reason: event.reason,
        }, 'warn');
      }
      return;
    }
    this.buffer.push(event);
    this.schedule(this.batchMs);
  }

  /** Events dropped because the buffer was full. */
  get dropped(): number {
    return this.droppedCount;
  }

  /** Events waiting to be sent. */
  get buffered(): number {
    return this.buffer.length;
  }

  /** Sends what is buffered now (one attempt per batch); resolves when done. */
  async flush(): Promise<void> {
    // One sender at a time: wait for the one in progress, then send the rest now.
    while (this.sending) await this.sending;
    this.cancelTimer();
    if (this.buffer.length === 0) return;
    await this.startDrain();
  }

  /** Stops recording and sends what is left, one attempt (the hub is stopping). */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    this.cancelTimer();
  }

  private cancelTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(ms: number): void {
    if (this.timer || this.sending) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.startDrain();
    }, ms);
    this.timer.unref();
  }

  private startDrain(): Promise<void> {
    const sending = this.drain().finally(() => {
      this.sending = undefined;
      if (this.buffer.length > 0 && !this.closed) this.schedule(this.failures === 0 ? 0 : this.backoff());
    });
    this.sending = sending;
    return sending;
  }

  private backoff(): number {
    return Math.min(this.retryMs * 2 ** Math.max(0, this.failures - 1), MAX_RETRY_MS);
  }

  private async drain(): Promise<void> {
    while (this.buffer.length > 0) {
      if (!await this.sendOne()) return;
    }
  }

  /** Sends the oldest batch; on failure it stays at the front of the buffer. Never throws. */
  private async sendOne(): Promise<boolean> {
    const batch = this.nextBatch();
    try {
      await this.send(batch);
      this.buffer.splice(0, batch.length);
      if (this.failures > 0) this.opts.log?.('events sent again after a failure', { events: batch.length, failures: this.failures });
      this.failures = 0;
      return true;
    } catch (err) {
      this.failures += 1;
      if (this.failures === 1 || this.failures % 10 === 0) {
        this.opts.log?.('cannot send events to the notifications workflow; retrying', {
          error: err instanceof Error ? err.message : String(err), buffered: this.buffer.length, failures: this.failures,
        }, 'warn');
      }
      return false;
    }
  }

  private nextBatch(): FlotillaEvent[] {
    const batch: FlotillaEvent[] = [];
    let bytes = 0;
    for (const e of this.buffer) {
      const size = JSON.stringify(e).length;
      if (batch.length > 0 && (batch.length >= MAX_BATCH_EVENTS || bytes + size > MAX_BATCH_BYTES)) break;
      batch.push(e);
      bytes += size;
    }
    return batch;
  }
}

/** A sink that keeps nothing (components built without a recorder). */
export const NO_EVENTS: EventSink = { record: () => undefined };
