/** Jittered exponential backoff: base doubling up to max, each delay ±20 %. */
export class Backoff {
  private attempt = 0;

  constructor(private readonly baseMs: number, private readonly maxMs: number) {}

  next(): number {
    const delay = Math.min(this.maxMs, this.baseMs * 2 ** this.attempt);
    this.attempt++;
    return Math.round(delay * (0.8 + Math.random() * 0.4));
  }

  reset(): void {
    this.attempt = 0;
  }
}
