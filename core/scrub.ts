// The one credential scrubber. Every sink that may carry text derived from a URL, from git,
// helm or registry output, or from an HTTP exchange (errors that become conditions, events,
// notifications, workflow histories and gRPC statuses; log lines) passes it through here.
//
// Three rules, applied in this order:
//   1. the known secret values of the current session (a Secret's password, token, SSH key
//      lines, the base64 of user:password in a Basic header) are replaced, longest first,
//      with their percent-encoded and base64 spellings;
//   2. user information in any URL (`scheme://user:password@host`) becomes `***@`;
//   3. an `Authorization:` header value (or `Basic <token>` / `Bearer <token>` on its own)
//      keeps only its scheme.
// Pure and synchronous: usable in core, activities, the hub and the agent.

export const MASK = '***';

/** Secrets shorter than this are not scrubbed by value (a 1-letter password would mask every "a"). */
export const MIN_SECRET_CHARS = 4;

/** `scheme://userinfo@` (userinfo: anything but "/", "@" and white space), in free text. */
const URL_USERINFO = /\b([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)[^\s/@"'<>]+@/g;
/** Authorization header values, wherever they appear (git's trace, an echoed request). */
const AUTH_HEADER = /\b(authorization\s*[:=]\s*"?)(basic|bearer|token)\s+[^\s"',;]+/gi;
const AUTH_VALUE = /\b(Basic|Bearer)\s+[A-Za-z0-9+/._~-]{8,}={0,2}/g;

export type Scrubber = (text: string) => string;

/** The spellings of a secret an error may carry: as is, percent-encoded, percent-decoded, base64. */
function spellings(secret: string): string[] {
  const out = new Set<string>([secret, encodeURIComponent(secret), base64(secret)]);
  try {
    out.add(decodeURIComponent(secret));
  } catch {
    // not percent-encoded text
  }
  return [...out];
}

/** base64 of the UTF-8 bytes (no Buffer: this module also runs where only web APIs exist). */
function base64(text: string): string {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** A scrubber for one session: `secrets` are its known secret values (empty strings ignored). */
export function scrubber(secrets: Iterable<string> = []): Scrubber {
  const values = new Set<string>();
  for (const s of secrets) {
    if (s.length < MIN_SECRET_CHARS) continue;
    for (const spelled of spellings(s)) if (spelled.length >= MIN_SECRET_CHARS) values.add(spelled);
    // A multi-line secret (an SSH key): each substantial line on its own.
    for (const line of s.split('\n')) if (line.trim().length > 8 && !line.startsWith('-----')) values.add(line.trim());
  }
  const ordered = [...values].sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const v of ordered) out = out.split(v).join(MASK);
    return out.replace(URL_USERINFO, `$1${MASK}@`).replace(AUTH_HEADER, `$1$2 ${MASK}`).replace(AUTH_VALUE, `$1 ${MASK}`);
  };
}

/** Scrubs `text` of URL user information, Authorization values and the given secrets. */
export function scrub(text: string, secrets: Iterable<string> = []): string {
  return scrubber(secrets)(text);
}

/** A URL for messages: user information replaced (the rest as given). Works on text that is not a URL too. */
export function scrubUrl(url: string | URL): string {
  const text = typeof url === 'string' ? url : url.href;
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    return scrub(text);
  }
  if (parsed.username === '' && parsed.password === '') return scrub(text);
  parsed.username = MASK;
  parsed.password = '';
  return parsed.href;
}

/** The secret values of a URL: its password (and username when there is a password), for a session's scrubber. */
export function urlSecrets(url: string): string[] {
  try {
    const parsed = new URL(url);
    return [parsed.password, ...(parsed.password !== '' ? [parsed.username] : [])].filter((s) => s !== '');
  } catch {
    const m = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/([^/@\s]*)@/.exec(url);
    return m?.[1] ? m[1].split(':').filter((s) => s !== '') : [];
  }
}
