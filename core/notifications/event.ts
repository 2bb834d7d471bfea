// The events Flotilla's hub emits about the objects it reconciles, in Flux's shape
// (fluxcd/pkg/apis/event Event): what Alerts filter and Providers send. An event crosses
// boundaries (workflow signals, the generic webhook body), so it has a validator.
// Pure (no Node built-ins): workflow code may import it.
import { z } from 'zod';

export type EventSeverity = 'info' | 'error';

export interface InvolvedObject {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly apiVersion?: string;
}

export interface FlotillaEvent {
  readonly involvedObject: InvolvedObject;
  readonly severity: EventSeverity;
  /** RFC 3339, e.g. 2024-05-01T10:00:00Z. */
  readonly timestamp: string;
  readonly message: string;
  /** CamelCase, e.g. ReconciliationSucceeded, HealthCheckFailed, Progressing. */
  readonly reason: string;
  /** Plain keys, e.g. revision ("main@sha1:<sha>"), cluster, summary. */
  readonly metadata: Readonly<Record<string, string>>;
  readonly reportingController: string;
  readonly reportingInstance?: string;
}

/** The reportingController of every event the hub emits. */
export const REPORTING_CONTROLLER = 'flotilla-hub';

/** Flux's limit on an event message (longer ones are cut, as the Kubernetes event recorder does). */
export const MAX_EVENT_MESSAGE = 39_000;

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

const EventSchema = z.strictObject({
  involvedObject: z.strictObject({
    kind: z.string().min(1),
    namespace: z.string().min(1),
    name: z.string().min(1),
    apiVersion: z.string().optional(),
  }),
  severity: z.enum(['info', 'error']),
  timestamp: z.string().regex(RFC3339, 'want an RFC 3339 timestamp such as 2024-05-01T10:00:00Z'),
  message: z.string().max(MAX_EVENT_MESSAGE),
  reason: z.string().min(1),
  // Flux leaves empty metadata out of the JSON.
  metadata: z.record(z.string(), z.string()).default({}),
  reportingController: z.string().min(1),
  reportingInstance: z.string().optional(),
});

export class InvalidEventError extends Error {}

/** Validates an event from outside (a signal, an HTTP body); throws InvalidEventError naming the field. */
export function parseFlotillaEvent(value: unknown): FlotillaEvent {
  const r = EventSchema.safeParse(value);
  if (r.success) {
    const { apiVersion, ...object } = r.data.involvedObject;
    const { reportingInstance, ...rest } = r.data;
    return {
      ...rest,
      involvedObject: apiVersion === undefined ? object : { ...object, apiVersion },
      ...(reportingInstance === undefined ? {} : { reportingInstance }),
    };
  }
  const problems = r.error.issues.map((issue) => `${issue.path.map(String).join('.') || 'event'}: ${issue.message}`);
  throw new InvalidEventError(`invalid event: ${problems.join('; ')}`);
}

export interface NewEvent {
  readonly object: InvolvedObject;
  readonly severity: EventSeverity;
  readonly reason: string;
  readonly message: string;
  readonly metadata?: Readonly<Record<string, string>>;
  /** Milliseconds since the epoch (workflow time in a workflow). */
  readonly nowMs: number;
  readonly reportingInstance?: string;
}

/** An event reported by the hub, its message cut to Flux's limit. */
export function newEvent(e: NewEvent): FlotillaEvent {
  const message = e.message.length > MAX_EVENT_MESSAGE ? `${e.message.slice(0, MAX_EVENT_MESSAGE - 3)}...` : e.message;
  return {
    involvedObject: e.object,
    severity: e.severity,
    // Whole seconds, as Flux's metav1.Time serialises.
    timestamp: new Date(Math.floor(e.nowMs / 1000) * 1000).toISOString().replace('.000Z', 'Z'),
    message,
    reason: e.reason,
    metadata: e.metadata ?? {},
    reportingController: REPORTING_CONTROLLER,
    ...(e.reportingInstance === undefined ? {} : { reportingInstance: e.reportingInstance }),
  };
}

/** The event's JSON as Flux posts it (field order of Go's struct; empty metadata left out). */
export function eventJson(event: FlotillaEvent): string {
  const { kind, namespace, name, apiVersion } = event.involvedObject;
  return JSON.stringify({
    involvedObject: { kind, namespace, name, ...(apiVersion === undefined ? {} : { apiVersion }) },
    severity: event.severity,
    timestamp: event.timestamp,
    message: event.message,
    reason: event.reason,
    ...(Object.keys(event.metadata).length === 0 ? {} : { metadata: event.metadata }),
    reportingController: event.reportingController,
    ...(event.reportingInstance === undefined ? {} : { reportingInstance: event.reportingInstance }),
  });
}
