// Registration tokens and cluster credentials: the decisions, kept pure. Secrets are
// stored only as sha256 hashes; a presented secret is hashed and compared in constant
// time by the caller (hub/registration.ts), which also supplies `now`.

export interface TokenRecord {
  /** Short public id, safe to log and to show in listings. */
  readonly id: string;
  /** sha256 hex of the token; the token itself is never stored. */
  readonly hash: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly createdAt: number;
  readonly expiresAt: number;
  /** How many registrations it still allows (1 for the usual one-time token). */
  readonly usesLeft: number;
}

export type TokenVerdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'unknown' | 'expired' | 'used' };

export function checkToken(record: TokenRecord | undefined, now: number): TokenVerdict {
  if (!record) return { ok: false, reason: 'unknown' };
  if (now >= record.expiresAt) return { ok: false, reason: 'expired' };
  if (record.usesLeft <= 0) return { ok: false, reason: 'used' };
  return { ok: true };
}

export function tokenRefusal(reason: 'unknown' | 'expired' | 'used'): string {
  switch (reason) {
    case 'unknown': return 'registration token is not valid: create one with `flotilla cluster token create`';
    case 'expired': return 'registration token has expired: create a new one with `flotilla cluster token create --ttl <duration>`';
    case 'used': return 'registration token was already used: create a new one (or one with --uses N for several clusters)';
  }
}

/** Parses "90s", "15m", "1h", "7d" into milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(text.trim());
  if (!m?.[1] || !m[2]) throw new Error(`invalid duration "${text}" (use a number and s, m, h or d, e.g. 1h)`);
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
  const ms = Number(m[1]) * unit;
  if (ms <= 0) throw new Error(`duration "${text}" must be positive`);
  return ms;
}

/** Parses "env=prod,region=eu" into labels, validating Kubernetes label syntax. */
export function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  if (text.trim() === '') return labels;
  for (const pair of text.split(',')) {
    const [key, value, extra] = pair.split('=');
    if (key === undefined || value === undefined || extra !== undefined) throw new Error(`invalid label "${pair}" (want key=value)`);
    checkLabel(key, value);
    labels[key] = value;
  }
  return labels;
}

/** Throws unless key=value is a valid Kubernetes label. */
export function checkLabel(key: string, value: string): void {
  if (!/^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(key)) throw new Error(`invalid label key "${key}"`);
  if (!/^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/.test(value)) throw new Error(`invalid label value "${value}" for ${key}`);
}
