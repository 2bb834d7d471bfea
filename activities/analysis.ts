// A rollout's analysis check: one HTTP request, judged by core/analysis.ts. A check that
// cannot reach its endpoint is a failed check (the rollout counts it against failureLimit),
// not an activity failure: the verdict is what the workflow records. The URL is a tenant's
// (spec.rollout.analysis.url), requested from inside the hub's network: it goes through the
// source policy like a source's (activities/source-guard.ts policyFetch: checked, connected to
// the checked address, every redirect checked again, headers such as Authorization only to the
// first origin); a refused URL is a failed check whose message names the policy setting.
import { judgeResponse, type AnalysisVerdict } from '../core/analysis.js';
import type { AnalysisCheck } from '../core/declarations/types.js';
import { scrub, scrubUrl } from '../core/scrub.js';
import type { SourcePolicy } from '../core/source-policy.js';
import { policyFetch, SourcePolicyError } from './source-guard.js';

const MAX_BODY_BYTES = 1 << 20;

export interface AnalysisRequestOptions {
  readonly policy: SourcePolicy;
  /** The object and field, for refusals: `Kustomization/flux-system/app spec.rollout.analysis.url`. */
  readonly what: string;
}

export async function runAnalysisCheck(check: AnalysisCheck, opts: AnalysisRequestOptions): Promise<AnalysisVerdict> {
  const secrets = Object.values(check.headers);
  let response: Response;
  try {
    response = await policyFetch(check.url, {
      policy: opts.policy, use: 'http', what: opts.what,
      headers: { accept: 'application/json', ...check.headers }, signal: AbortSignal.timeout(check.timeoutSeconds * 1000),
    });
  } catch (err) {
    if (err instanceof SourcePolicyError) return { ok: false, message: scrub(`${err.message}; the check was not sent`, secrets) };
    const cause = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
    return { ok: false, message: scrub(`cannot reach ${scrubUrl(check.url)}: ${cause}`, secrets) };
  }
  const text = await response.text();
  return judgeResponse(check, response.status, text.length > MAX_BODY_BYTES ? text.slice(0, MAX_BODY_BYTES) : text);
}
