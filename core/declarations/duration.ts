// Go duration syntax, as Flux and Kubernetes write intervals and timeouts ("1m0s", "10m",
// "1h30m", "500ms", "1.5h"). Kubernetes' metav1.Duration is parsed with Go's
// time.ParseDuration, so this follows that grammar exactly: an optional sign, then one or
// more <decimal number><unit> pairs, units ns, us (or µs), ms, s, m, h; "0" alone is zero.
// Pure: no Node built-ins, so workflow code may import it.

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3, // U+00B5 micro sign
  'μs': 1e-3, // U+03BC Greek mu
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Go's time.Duration is an int64 of nanoseconds: about 292 years. */
const MAX_MS = 9_223_372_036_854.775;

/** One <number><unit> pair; the number needs a digit before or after the point. */
const PAIR = /^(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;

function invalid(text: string): Error {
  return new Error(`invalid duration ${JSON.stringify(text)} (use Go duration syntax such as 30s, 5m, 1h30m)`);
}

/** Parses a Go duration into milliseconds (possibly fractional, possibly negative or zero); throws on bad syntax. */
export function parseGoDuration(text: string): number {
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest.startsWith('-')) sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') throw invalid(text);
  let total = 0;
  while (rest !== '') {
    const m = PAIR.exec(rest);
    const [whole, number, unit] = m ?? [];
    if (whole === undefined || number === undefined || unit === undefined) throw invalid(text);
    total += Number(number) * (UNIT_MS[unit] ?? Number.NaN);
    rest = rest.slice(whole.length);
  }
  if (!Number.isFinite(total) || total > MAX_MS) throw invalid(text);
  return sign * total;
}

/**
 * A positive Go duration as whole seconds, rounded up (500ms → 1, 1.2s → 2): Flotilla
 * schedules in seconds, and rounding up never makes an interval or timeout shorter than
 * asked. Throws on bad syntax and on zero or negative durations.
 */
export function parseGoDurationSeconds(text: string): number {
  const ms = parseGoDuration(text);
  if (ms <= 0) throw new Error(`duration ${JSON.stringify(text)} must be greater than zero`);
  return Math.ceil(ms / 1000);
}

/** A duration for people, the other way round: "45s", "1m30s", "2h5m", "3d4h" (ms rounded to seconds). */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const unit = (a: number, ua: string, b: number, ub: string): string => `${a}${ua}${b ? `${b}${ub}` : ''}`;
  if (s < 60) return `${s}s`;
  if (s < 3600) return unit(Math.floor(s / 60), 'm', s % 60, 's');
  if (s < 86400) return unit(Math.floor(s / 3600), 'h', Math.floor((s % 3600) / 60), 'm');
  return unit(Math.floor(s / 86400), 'd', Math.floor((s % 86400) / 3600), 'h');
}
