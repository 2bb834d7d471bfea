// Sends one notification: resolves the Provider's Secret, formats the request
// (core/notifications/providers.ts) and POSTs it. The workflow decides what to send and when
// (matching, deduplication, rate limits); this activity only delivers, and says whether a
// failure is worth retrying:
// - 2xx: delivered; the Slack Web API's 200 {"ok": false} is a failure like Flux treats it;
// - 408, 429, 5xx, network errors and timeouts: retryable (ApplicationFailure, type
//   NotificationDeliveryFailed);
// - any other status, a missing Secret or key, a bad address: non-retryable (types
//   NotificationRejected, ProviderMisconfigured), since retrying cannot succeed.
// - an address the source policy refuses (169.254.169.254, a private or loopback address, a
//   name that resolves to one, http:// without sources.allowSchemes): non-retryable
//   (SourcePolicyRefused), and nothing is sent; the Alert's other Providers are not affected.
// Messages never carry secret values: addresses appear as scheme://host only, and every value
// of the Provider's Secret is masked wherever it might have been echoed (e.g. a response body).
import { ApplicationFailure } from '@temporalio/common';
import type { NotificationActivities } from '../api/notifications.js';
import { scrubber, scrubUrl } from '../core/scrub.js';
import { addressOrigin, formatRequest, ProviderConfigError, type NotificationRequest, type SecretData } from '../core/notifications/providers.js';
import type { SourcePolicy } from '../core/source-policy.js';
import { DestinationUnresolved, policyFetch, SourcePolicyError } from './source-guard.js';

export interface NotificationActivityContext {
  /** A Secret declared to the hub: its decoded data, or undefined when there is none. */
  readonly secrets: (namespace: string, name: string) => Promise<SecretData | undefined>;
  /** Where the hub may send requests (settings sources.*): a Provider address is a tenant's URL like a source's. */
  readonly policy: SourcePolicy;
}

/** Response bodies quoted in errors are cut to this many characters. */
const MAX_QUOTED_BODY = 200;

export function createNotificationActivities(ctx: NotificationActivityContext): NotificationActivities {
  return {
    async deliverNotification({ provider, event }) {
      const name = `Provider ${provider.namespace}/${provider.name}`;
      if (provider.spec.suspend) return { skipped: `${name} is suspended` };
      let secret: SecretData | undefined;
      const ref = provider.spec.secretRef;
      if (ref !== undefined) {
        secret = await ctx.secrets(provider.namespace, ref.name);
        if (secret === undefined) {
          throw ApplicationFailure.nonRetryable(
            `${name}: Secret ${provider.namespace}/${ref.name} not found (apply it to the hub: flotilla apply -f secret.yaml)`, 'ProviderMisconfigured');
        }
      }
      const mask = masker(secret);
      let request: NotificationRequest;
      try {
        const formatted = formatRequest(provider, secret, event);
        if ('skipped' in formatted) return formatted;
        request = formatted;
      } catch (err) {
        if (err instanceof ProviderConfigError) throw ApplicationFailure.nonRetryable(mask(err.message), 'ProviderMisconfigured');
        throw err;
      }
      const where = addressOrigin(request.url);
      const maskAll = masker(secret, request.url);
      const fromSecret = secret?.address !== undefined && secret.address !== '' && ref !== undefined;
      const field = fromSecret ? `the address key of Secret ${provider.namespace}/${ref.name}` : 'spec.address';
      let response: Response;
      try {
        // The source policy's check, then a connection to the checked address (activities/source-guard.ts).
        response = await policyFetch(request.url, {
          policy: ctx.policy, use: 'http', what: `${name} ${field}`,
          method: request.method, headers: request.headers, body: request.body,
          signal: AbortSignal.timeout(provider.spec.timeoutSeconds * 1000),
          maxRedirects: 0, // a 3xx is reported, not followed: credentials stay with the address given
        });
      } catch (err) {
        if (err instanceof SourcePolicyError) {
          // scheme://host only, as every message here: a webhook's path is its token.
          const message = err.message.split(scrubUrl(request.url)).join(where);
          throw ApplicationFailure.nonRetryable(maskAll(`${message}; nothing was sent`), 'SourcePolicyRefused', { setting: err.setting });
        }
        if (err instanceof DestinationUnresolved) throw ApplicationFailure.retryable(maskAll(err.message), 'NotificationDeliveryFailed');
        throw ApplicationFailure.retryable(maskAll(`${name}: cannot reach ${where}: ${networkCause(err, provider.spec.timeoutSeconds)}`), 'NotificationDeliveryFailed');
      }
      const text = await readBody(response);
      const status = response.status;
      if (status >= 200 && status < 300) {
        if (request.check === 'slack-api') checkSlackResponse(name, where, text, maskAll);
        return { status };
      }
      const message = maskAll(`${name}: ${where} answered ${status}${quote(text)}`);
      if (status === 408 || status === 429 || status >= 500) throw ApplicationFailure.retryable(message, 'NotificationDeliveryFailed', { status });
      throw ApplicationFailure.nonRetryable(message, 'NotificationRejected', { status });
    },
  };
}

/** Slack's chat.postMessage answers 200 with {"ok": false, "error": "..."} when it refuses a message. */
function checkSlackResponse(name: string, where: string, text: string, mask: (s: string) => string): void {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw ApplicationFailure.retryable(mask(`${name}: ${where} answered 200 without a JSON body${quote(text)}`), 'NotificationDeliveryFailed');
  }
  const ok = typeof body === 'object' && body !== null && 'ok' in body && body.ok === true;
  if (ok) return;
  const error = typeof body === 'object' && body !== null && 'error' in body && typeof body.error === 'string' ? body.error : 'unknown error';
  const message = mask(`${name}: Slack refused the message: ${error}`);
  if (error === 'ratelimited' || error === 'internal_error' || error === 'service_unavailable') throw ApplicationFailure.retryable(message, 'NotificationDeliveryFailed');
  throw ApplicationFailure.nonRetryable(message, 'NotificationRejected', { status: 200 });
}

/**
 * Replaces with "***" every value of the Secret (the address, tokens, header values) and the
 * secret-bearing parts of URLs among them and of `url` (path, query, user info), which a
 * response may echo on their own.
 */
function masker(secret: SecretData | undefined, url?: string): (text: string) => string {
  const values = new Set<string>();
  for (const value of [...Object.values(secret ?? {}), ...(url === undefined ? [] : [url])]) {
    values.add(value);
    let u: URL;
    try {
      u = new URL(value);
    } catch {
      continue;
    }
    for (const part of [`${u.pathname}${u.search}`, u.pathname, u.search, u.username, u.password]) values.add(part);
    for (const part of [u.pathname, u.search]) {
      try {
        values.add(decodeURIComponent(part));
      } catch { /* not percent-encoded text */ }
    }
  }
  // The URL parts are secrets here (a webhook's path is its token); core/scrub.ts adds userinfo and Authorization values.
  return scrubber([...values].filter((v) => v !== '/' && v !== ''));
}

async function readBody(response: Response): Promise<string> {
  try {
    return await response.text();
  } catch {
    return '';
  }
}

function quote(text: string): string {
  const trimmed = text.trim().replace(/\s+/g, ' ');
  if (trimmed === '') return '';
  return `: ${trimmed.length > MAX_QUOTED_BODY ? `${trimmed.slice(0, MAX_QUOTED_BODY)}...` : trimmed}`;
}

/** fetch wraps the reason in err.cause; a timeout is an AbortSignal.timeout TimeoutError. */
function networkCause(err: unknown, timeoutSeconds: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return `no answer within ${timeoutSeconds}s (spec.timeout)`;
  if (err instanceof Error && err.cause instanceof Error) {
    const code = (err.cause as NodeJS.ErrnoException).code;
    return code ?? err.cause.message;
  }
  return err instanceof Error ? err.message : String(err);
}
