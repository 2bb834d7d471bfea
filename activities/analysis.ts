// A rollout's analysis check: one HTTP request, judged by core/analysis.ts. A check that
// cannot reach its endpoint is a failed check (the rollout counts it against failureLimit),
// not an activity failure: the verdict is what the workflow records.
import { judgeResponse, type AnalysisVerdict } from '../core/analysis.js';
import type { AnalysisCheck } from '../core/declarations/types.js';
import { scrub, scrubUrl } from '../core/scrub.js';

const MAX_BODY_BYTES = 1 << 20;

export async function runAnalysisCheck(check: AnalysisCheck): Promise<AnalysisVerdict> {
  let response: Response;
  try {
    response = await fetch(check.url, { headers: { accept: 'application/json', ...check.headers }, signal: AbortSignal.timeout(check.timeoutSeconds * 1000) });
  } catch (err) {
    const cause = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
    return { ok: false, message: scrub(`cannot reach ${scrubUrl(check.url)}: ${cause}`, Object.values(check.headers)) };
  }
  const text = await response.text();
  return judgeResponse(check, response.status, text.length > MAX_BODY_BYTES ? text.slice(0, MAX_BODY_BYTES) : text);
}
