// Incoming webhooks (Flux's Receiver): the secret path a Receiver listens on, and whether a
// request to it is authentic and should trigger a reconciliation. Pure but for hashing
// (node:crypto): the hub's HTTP route uses it; workflows must not.
//
// Flux's rules (notification-controller internal/server/receiver_handlers.go):
// - the path is /hook/<hex sha256(token + name + namespace)>;
// - generic: any request to the path is accepted (the path is the secret);
// - generic-hmac: X-Signature "<sha1|sha256|sha512>=<hex HMAC of the body keyed with the token>";
// - github: X-Hub-Signature-256 "sha256=<hex>" (or the older X-Hub-Signature "sha1=<hex>"),
//   then X-GitHub-Event must be one of spec.events (case-insensitive) when that list is set.
// Flotilla's additions: GitHub's `ping` (sent when a webhook is created) is accepted without
// reconciling anything, whatever spec.events says; a suspended Receiver answers 404, as Flux
// ignores suspended Receivers when it looks up the path.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { ReceiverDeclaration } from '../declarations/types.js';

export type HeaderValues = Readonly<Record<string, string | readonly string[] | undefined>>;

export type ReceiverVerdict =
  /** Reconcile spec.resources; `event` is GitHub's event name when there is one. */
  | { readonly ok: true; readonly reconcile: true; readonly event?: string }
  /** Authentic, answer 200, reconcile nothing (GitHub's ping). */
  | { readonly ok: true; readonly reconcile: false; readonly event: string; readonly reason: string }
  | { readonly ok: false; readonly status: 400 | 401 | 404; readonly reason: string };

/** Flux's webhook path of a Receiver. */
export function webhookPath(receiver: Pick<ReceiverDeclaration, 'name' | 'namespace'>, token: string): string {
  return `/hook/${createHash('sha256').update(token + receiver.name + receiver.namespace).digest('hex')}`;
}

const HMAC_ALGORITHMS = ['sha1', 'sha256', 'sha512'] as const;
type HmacAlgorithm = (typeof HMAC_ALGORITHMS)[number];

/**
 * Checks one request to a Receiver's path. `token` is the `token` key of its Secret; `body`
 * the raw request body (signatures are over the exact bytes). Reasons never contain the token
 * or a computed signature.
 */
export function verifyReceiverRequest(receiver: ReceiverDeclaration, token: string, headers: HeaderValues, body: Uint8Array | string): ReceiverVerdict {
  if (receiver.spec.suspend) return { ok: false, status: 404, reason: 'the Receiver is suspended' };
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  switch (receiver.spec.type) {
    case 'generic':
      return { ok: true, reconcile: true };
    case 'generic-hmac': {
      const problem = signatureProblem(header(headers, 'x-signature'), 'X-Signature', HMAC_ALGORITHMS, token, bytes);
      return problem === undefined ? { ok: true, reconcile: true } : { ok: false, status: 401, reason: problem };
    }
    case 'github': {
      const sha256 = header(headers, 'x-hub-signature-256');
      const problem = sha256 !== undefined
        ? signatureProblem(sha256, 'X-Hub-Signature-256', ['sha256'], token, bytes)
        : signatureProblem(header(headers, 'x-hub-signature'), 'X-Hub-Signature-256 (or X-Hub-Signature)', ['sha1'], token, bytes);
      if (problem !== undefined) return { ok: false, status: 401, reason: problem };
      const event = header(headers, 'x-github-event');
      if (event === undefined || event === '') return { ok: false, status: 400, reason: 'missing X-GitHub-Event header' };
      if (event.toLowerCase() === 'ping') return { ok: true, reconcile: false, event, reason: 'GitHub ping: the webhook is set up' };
      const events = receiver.spec.events;
      if (events.length > 0 && !events.some((e) => e.toLowerCase() === event.toLowerCase())) {
        return { ok: false, status: 400, reason: `GitHub event ${JSON.stringify(event)} is not in spec.events (${events.join(', ')})` };
      }
      return { ok: true, reconcile: true, event };
    }
  }
}

/** A header's single value (node lower-cases names; lists from repeated headers take the first). */
function header(headers: HeaderValues, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== name) continue;
    return typeof value === 'string' ? value : value?.[0];
  }
  return undefined;
}

function signatureProblem(value: string | undefined, headerName: string, algorithms: readonly HmacAlgorithm[], token: string, body: Uint8Array): string | undefined {
  if (value === undefined || value === '') return `missing ${headerName} header`;
  const eq = value.indexOf('=');
  const algorithm = algorithms.find((a) => a === value.slice(0, eq).toLowerCase());
  if (eq < 0 || algorithm === undefined) return `${headerName} header must be <${algorithms.join('|')}>=<hex HMAC of the body>`;
  const given = value.slice(eq + 1).trim();
  const expected = createHmac(algorithm, token).update(body).digest();
  const givenBytes = /^[0-9a-fA-F]*$/.test(given) && given.length === expected.length * 2 ? Buffer.from(given, 'hex') : undefined;
  if (givenBytes === undefined || !timingSafeEqual(givenBytes, expected)) return `${headerName} does not match the body signed with the Receiver's token`;
  return undefined;
}
