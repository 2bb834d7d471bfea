// The verdict of one analysis check (a rollout's HTTP gate): the status code must be one of
// the success codes and, when a JSON path is given, the number found there must lie within
// [min, max]. Pure, so the rules are unit-tested apart from the HTTP call.
import type { AnalysisCheck } from './declarations/types.js';

export interface AnalysisVerdict {
  readonly ok: boolean;
  /** One line for people: what was measured and against what. */
  readonly message: string;
  readonly value?: number;
}

/** Follows a dotted path ("data.result.0.value.1") through objects and arrays. */
export function lookupPath(body: unknown, path: string): unknown {
  let here: unknown = body;
  for (const part of path.split('.')) {
    if (Array.isArray(here)) {
      const i = Number(part);
      if (!Number.isInteger(i)) return undefined;
      here = here[i];
    } else if (typeof here === 'object' && here !== null) {
      here = Object.hasOwn(here, part) ? (here as Record<string, unknown>)[part] : undefined;
    } else {
      return undefined;
    }
  }
  return here;
}

export function judgeResponse(check: Pick<AnalysisCheck, 'successCodes' | 'jsonPath' | 'min' | 'max'>, statusCode: number, body: string): AnalysisVerdict {
  if (!check.successCodes.includes(statusCode)) {
    return { ok: false, message: `HTTP ${statusCode} (want ${describeCodes(check.successCodes)})` };
  }
  if (check.jsonPath === undefined) return { ok: true, message: `HTTP ${statusCode}` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { ok: false, message: `HTTP ${statusCode} but the body is not JSON, so ${check.jsonPath} cannot be read` };
  }
  const found = lookupPath(parsed, check.jsonPath);
  const value = typeof found === 'number' ? found : typeof found === 'string' && found.trim() !== '' ? Number(found) : Number.NaN;
  if (!Number.isFinite(value)) {
    return { ok: false, message: `${check.jsonPath} is ${found === undefined ? 'missing' : `not a number (${JSON.stringify(found)})`}` };
  }
  const bounds = [check.min !== undefined ? `>= ${check.min}` : '', check.max !== undefined ? `<= ${check.max}` : ''].filter(Boolean).join(' and ');
  const ok = (check.min === undefined || value >= check.min) && (check.max === undefined || value <= check.max);
  return { ok, value, message: `${check.jsonPath} = ${value} (want ${bounds})` };
}

function describeCodes(codes: readonly number[]): string {
  const sorted = [...codes].sort((a, b) => a - b);
  const first = sorted[0];
  const last = sorted[sorted.length - 1];
  if (first !== undefined && last !== undefined && sorted.length > 2 && last - first + 1 === sorted.length) return `${first}-${last}`;
  return sorted.join(', ');
}
