// Deduplication and rate limiting of notifications, run inside the notifications workflow:
// deterministic (time is a parameter; no clock, no randomness), bounded, and serialisable to
// JSON so that continue-as-new carries it over.
//
// Flux drops an identical event seen within its --rate-limit-interval (5m by default); the
// identity is the involved object, the message and the revision (eventKeyFunc). Here the key
// is per Provider and also covers severity and reason, and each Provider gets at most
// `perProviderPerMinute` sends in any rolling minute, so that a flapping object cannot flood
// a chat channel or exhaust an API quota.
// Pure (no Node built-ins): workflow code may import it.
import type { FlotillaEvent } from './event.js';

export type Admission = 'send' | 'duplicate' | 'rate-limited';

export interface ThrottleOptions {
  /** Default 5 minutes (Flux's rate-limit-interval). */
  readonly dedupWindowMs?: number;
  /** Default 60. */
  readonly perProviderPerMinute?: number;
  /** Most remembered keys; the oldest are forgotten first. Default 10,000. */
  readonly maxEntries?: number;
}

/** What toJSON() returns and the constructor takes back. */
export interface NotificationThrottleState {
  readonly version: 1;
  readonly dedupWindowMs: number;
  readonly perProviderPerMinute: number;
  readonly maxEntries: number;
  /** [key, last send in ms], oldest first. */
  readonly sent: readonly (readonly [string, number])[];
  /** [provider id, send times in ms], each list oldest first. */
  readonly recent: readonly (readonly [string, readonly number[]])[];
}

const MINUTE_MS = 60_000;
const KEY_SEPARATOR = '#';

/**
 * The identity of a notification for deduplication: the provider, the involved object,
 * severity, reason, message and metadata.revision. The event part is hashed (a 64-bit
 * non-cryptographic hash: collisions within one window are negligible) to keep the state
 * small whatever the message length. admit() reads the provider back from the key.
 */
export function dedupKey(providerId: string, event: FlotillaEvent): string {
  const o = event.involvedObject;
  const identity = JSON.stringify([o.kind, o.namespace, o.name, event.severity, event.reason, event.message, event.metadata.revision ?? '']);
  return `${providerId}${KEY_SEPARATOR}${hash64(identity)}`;
}

export class NotificationThrottle {
  readonly dedupWindowMs: number;
  readonly perProviderPerMinute: number;
  readonly maxEntries: number;
  /** Insertion order is send order (a re-send moves a key to the end). */
  private readonly sent = new Map<string, number>();
  private readonly recent = new Map<string, number[]>();

  constructor(from: ThrottleOptions | NotificationThrottleState = {}) {
    this.dedupWindowMs = positive(from.dedupWindowMs, 5 * MINUTE_MS, 'dedupWindowMs');
    this.perProviderPerMinute = positive(from.perProviderPerMinute, 60, 'perProviderPerMinute');
    this.maxEntries = positive(from.maxEntries, 10_000, 'maxEntries');
    if ('version' in from) {
      for (const [key, at] of from.sent) this.sent.set(key, at);
      for (const [provider, times] of from.recent) this.recent.set(provider, [...times]);
    }
  }

  /**
   * Decides about one notification (key from dedupKey) at `nowMs`, and records a send.
   * A duplicate or rate-limited notification is not recorded: it was not sent.
   */
  admit(key: string, nowMs: number): Admission {
    this.prune(nowMs);
    const last = this.sent.get(key);
    if (last !== undefined && nowMs - last < this.dedupWindowMs) return 'duplicate';
    const provider = providerOf(key);
    const times = this.recent.get(provider) ?? [];
    if (times.length >= this.perProviderPerMinute) return 'rate-limited';
    times.push(nowMs);
    this.recent.set(provider, times);
    this.sent.delete(key);
    this.sent.set(key, nowMs);
    while (this.sent.size > this.maxEntries) {
      const oldest = this.sent.keys().next();
      if (oldest.done === true) break;
      this.sent.delete(oldest.value);
    }
    return 'send';
  }

  /** Remembered keys (for tests and metrics). */
  get size(): number {
    return this.sent.size;
  }

  toJSON(): NotificationThrottleState {
    return {
      version: 1,
      dedupWindowMs: this.dedupWindowMs,
      perProviderPerMinute: this.perProviderPerMinute,
      maxEntries: this.maxEntries,
      sent: [...this.sent.entries()],
      recent: [...this.recent.entries()],
    };
  }

  /** Forgets sends older than the window and the minute; entries are in time order. */
  private prune(nowMs: number): void {
    for (const [key, at] of this.sent) {
      if (nowMs - at < this.dedupWindowMs) break;
      this.sent.delete(key);
    }
    for (const [provider, times] of this.recent) {
      const keep = times.filter((at) => nowMs - at < MINUTE_MS);
      if (keep.length === 0) this.recent.delete(provider);
      else if (keep.length !== times.length) this.recent.set(provider, keep);
    }
  }
}

function providerOf(key: string): string {
  const at = key.lastIndexOf(KEY_SEPARATOR);
  return at < 0 ? key : key.slice(0, at);
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`NotificationThrottle: ${name} must be a positive number (got ${value})`);
  return value;
}

/** cyrb53-style 64-bit string hash, as 16 hex digits: fast, deterministic, not for security. */
function hash64(text: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (h2 >>> 0).toString(16).padStart(8, '0') + (h1 >>> 0).toString(16).padStart(8, '0');
}
