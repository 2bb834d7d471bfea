// Bounded load on an API server: a token bucket (requests per second with a burst) and a
// cap on requests in flight. The Node Kubernetes client has neither.
import { setTimeout as sleep } from 'node:timers/promises';

export interface Limits {
  /** Sustained requests per second. */
  readonly qps: number;
  /** Requests allowed at once above the sustained rate. */
  readonly burst: number;
  /** Requests in flight at most. */
  readonly concurrency: number;
}

export const DEFAULT_LIMITS: Limits = { qps: 200, burst: 400, concurrency: 16 };

export class TokenBucket {
  private tokens: number;
  private last = performance.now();

  constructor(private readonly qps: number, private readonly burst: number) {
    this.tokens = burst;
  }

  async take(): Promise<void> {
    for (;;) {
      const now = performance.now();
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.qps);
      this.last = now;
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      await sleep(Math.ceil(((1 - this.tokens) / this.qps) * 1000));
    }
  }
}

export { mapLimited, Semaphore } from '../../core/concurrency.js';
