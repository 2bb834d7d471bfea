// The source policy at fetch time (core/source-policy.ts decides; this file does the IO):
//   - checkDestination: the scheme, then the host name, then every address DNS gives for it;
//     returns the address to connect to, so that the connection goes to the address that was
//     checked (a second resolution could answer differently: DNS rebinding);
//   - policyFetch: an HTTP(S) request over node:http(s) whose connection is pinned to the
//     checked address, following redirects by hand, checking the policy again on every hop,
//     and sending credentials (Authorization, Cookie) only to the original origin: one rule
//     for every HTTP fetch of a source (Helm index and charts, OCI registries).
import { lookup } from 'node:dns/promises';
import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupAddress } from 'node:dns';
import { Readable } from 'node:stream';
import { scrubUrl } from '../core/scrub.js';
import {
  hostRefusal,
  parseIp,
  refusalMessage,
  resolvedRefusal,
  schemeRefusal,
  sourceTarget,
  type Refusal,
  type SourcePolicy,
  type SourceUse,
} from '../core/source-policy.js';

/** The source policy refused a URL; the message names the object and field, the URL (scrubbed), the rule and the setting. */
export class SourcePolicyError extends Error {
  override readonly name = 'SourcePolicyError';
  constructor(message: string, readonly setting: string) {
    super(message);
  }
}

function refused(what: string, url: string, refusal: Refusal): SourcePolicyError {
  return new SourcePolicyError(refusalMessage(what, scrubUrl(url), refusal), refusal.setting);
}

export interface Destination {
  readonly scheme: string;
  /** As written (lower case, no brackets). */
  readonly host: string;
  /** undefined for file:// URLs. */
  readonly address?: string;
  readonly family?: 4 | 6;
}

/**
 * Checks `url` for `use` under `policy` and resolves its host: every address must pass (a
 * name that resolves to one public and one private address is refused). `what` names the
 * object and field for the error, e.g. `GitRepository/flux-system/app spec.url`.
 */
export async function checkDestination(what: string, url: string, use: SourceUse, policy: SourcePolicy): Promise<Destination> {
  const target = sourceTarget(url);
  if (target === undefined) throw new SourcePolicyError(`${what}: ${scrubUrl(url)} is not a valid URL`, 'spec.url');
  const scheme = schemeRefusal(use, target.scheme, policy);
  if (scheme !== undefined) throw refused(what, url, scheme);
  if (target.scheme === 'file') return { scheme: 'file', host: '' };
  const byName = hostRefusal(target.host, policy);
  if (byName !== undefined) throw refused(what, url, byName);
  let addresses: LookupAddress[];
  if (parseIp(target.host) !== undefined) {
    addresses = [{ address: target.host, family: target.host.includes(':') ? 6 : 4 }];
  } else {
    try {
      addresses = await lookup(target.host, { all: true, verbatim: true });
    } catch (err) {
      const code = err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : 'lookup failed';
      throw new DestinationUnresolved(`${what}: cannot resolve the host of ${scrubUrl(url)} (${code})`);
    }
  }
  for (const a of addresses) {
    const refusal = resolvedRefusal(target.host, a.address, policy);
    if (refusal !== undefined) throw refused(what, url, refusal);
  }
  const first = addresses[0];
  if (first === undefined) throw new DestinationUnresolved(`${what}: the host of ${scrubUrl(url)} resolves to no address`);
  return { scheme: target.scheme, host: target.host, address: first.address, family: first.family === 6 ? 6 : 4 };
}

/** DNS gave no answer: a network failure (retryable), not a policy refusal. */
export class DestinationUnresolved extends Error {
  override readonly name = 'DestinationUnresolved';
}

/** The origin credentials belong to: scheme, host and port (default ports made explicit). */
export function sameOrigin(a: URL, b: URL): boolean {
  return a.protocol === b.protocol && a.hostname === b.hostname && effectivePort(a) === effectivePort(b);
}

function effectivePort(u: URL): string {
  return u.port !== '' ? u.port : u.protocol === 'https:' ? '443' : u.protocol === 'http:' ? '80' : '';
}

export interface PolicyFetchOptions {
  readonly policy: SourcePolicy;
  readonly use: SourceUse;
  /** Object and field, for refusals: `HelmRepository/flux-system/podinfo spec.url`. */
  readonly what: string;
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly signal?: AbortSignal;
  /** Redirects followed (each one checked); default 10, 0 reports a 3xx as the answer. */
  readonly maxRedirects?: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const CREDENTIAL_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);

/**
 * GETs (or POSTs) `url` like fetch() with redirect 'manual' done right: each hop's URL is
 * checked against the policy and resolved, the connection goes to the checked address, and
 * the credentials headers go only to the first URL's origin. Network failures reject as fetch
 * does (a TypeError whose cause is the system error); policy refusals reject with
 * SourcePolicyError. The Response's `url` is the last hop's.
 */
export async function policyFetch(url: string | URL, opts: PolicyFetchOptions): Promise<Response> {
  const first = new URL(url);
  let current = first;
  let method = opts.method ?? 'GET';
  let body = opts.body;
  const headers: Record<string, string> = { ...opts.headers };
  const max = opts.maxRedirects ?? 10;
  for (let hop = 0; ; hop++) {
    const what = hop === 0 ? opts.what : `${opts.what} (redirected to ${scrubUrl(current)})`;
    const dest = await checkDestination(what, current.href, opts.use, opts.policy);
    const sent: Record<string, string> = {};
    for (const [k, v] of Object.entries(headers)) {
      if (CREDENTIAL_HEADERS.has(k.toLowerCase()) && !sameOrigin(first, current)) continue;
      sent[k] = v;
    }
    const res = await send(current, dest, method, sent, body, opts.signal);
    const location = res.headers.location;
    if (!REDIRECTS.has(res.statusCode ?? 0) || location === undefined || hop >= max) return toResponse(res, current);
    res.resume();
    const next = new URL(location, current);
    if (next.protocol !== 'http:' && next.protocol !== 'https:') {
      throw new SourcePolicyError(`${opts.what}: ${scrubUrl(current)} redirected to ${scrubUrl(next)}, which is not http(s); refused by the source policy (sources.allowSchemes)`, 'sources.allowSchemes');
    }
    if (res.statusCode === 303 || ((res.statusCode === 301 || res.statusCode === 302) && method === 'POST')) {
      method = 'GET';
      body = undefined;
    }
    current = next;
  }
}

function send(
  url: URL,
  dest: Destination,
  method: string,
  headers: OutgoingHttpHeaders,
  body: string | undefined,
  signal: AbortSignal | undefined,
): Promise<IncomingMessage> {
  const address = dest.address ?? url.hostname;
  const family = dest.family ?? 4;
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method, headers, ...(signal ? { signal } : {}),
      // The connection goes to the address checked above, whatever DNS answers now.
      lookup: (_host, options, callback) => {
        if (options.all) callback(null, [{ address, family }]);
        else callback(null, address, family);
      },
    }, resolve);
    req.on('error', (err) => {
      // As fetch(): an abort rejects with the signal's reason, anything else is "fetch failed" with the cause.
      if (signal?.aborted) reject(signal.reason instanceof Error ? signal.reason : new Error('aborted', { cause: err }));
      else reject(new TypeError('fetch failed', { cause: err }));
    });
    // A body goes with its length, as fetch() sends it (some webhook endpoints refuse chunked requests).
    if (body !== undefined && req.getHeader('content-length') === undefined) req.setHeader('content-length', Buffer.byteLength(body));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const NULL_BODY = new Set([101, 204, 205, 304]);

function toResponse(res: IncomingMessage, url: URL): Response {
  const headers = new Headers();
  for (const [k, v] of Object.entries(res.headers)) {
    if (v === undefined) continue;
    for (const value of Array.isArray(v) ? v : [v]) headers.append(k, value);
  }
  const status = res.statusCode ?? 500;
  const stream = NULL_BODY.has(status) ? null : Readable.toWeb(res);
  if (stream === null) res.resume();
  const response = new Response(stream, { status, statusText: res.statusMessage ?? '', headers });
  Object.defineProperty(response, 'url', { value: url.href });
  return response;
}
