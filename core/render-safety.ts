// Flotilla's guard against renders that would delete what runs: Argo CD's allowEmpty, and a
// cap on how much of a deployment one render may prune. Read from annotations on the
// Kustomization (Flux has no field for it, and annotations keep the object Flux-valid):
//
//   flotilla.dev/allow-empty: "true"   a render with no objects may replace a non-empty
//                                      inventory (default: refused, nothing pruned)
//   flotilla.dev/max-prune: "30%"      refuse a render that would prune more than 30% of the
//                                      objects applied on a cluster (default: no limit)
//
// The agent enforces both against each cluster's inventory (agents/apply/applier.ts
// suspiciousPrune), before anything is applied.

export const ALLOW_EMPTY_ANNOTATION = 'flotilla.dev/allow-empty';
export const MAX_PRUNE_ANNOTATION = 'flotilla.dev/max-prune';

export interface RenderSafety {
  readonly allowEmpty?: true;
  /** 1..100 */
  readonly maxPrunePercent?: number;
}

/** What is wrong with the annotations, one message per bad annotation (empty: fine). */
export function renderSafetyProblems(annotations: Readonly<Record<string, string>>): { key: string; message: string }[] {
  const problems: { key: string; message: string }[] = [];
  const allow = annotations[ALLOW_EMPTY_ANNOTATION];
  if (allow !== undefined && allow !== 'true' && allow !== 'false') {
    problems.push({ key: ALLOW_EMPTY_ANNOTATION, message: `must be "true" or "false", got "${allow}"` });
  }
  const max = annotations[MAX_PRUNE_ANNOTATION];
  if (max !== undefined) {
    const m = /^(\d{1,3})%$/.exec(max);
    const n = m ? Number(m[1]) : NaN;
    if (!(n >= 1 && n <= 100)) problems.push({ key: MAX_PRUNE_ANNOTATION, message: `must be a percentage from "1%" to "100%", got "${max}"` });
  }
  return problems;
}

/** The options of validated annotations (see renderSafetyProblems); only what is set. */
export function renderSafety(annotations: Readonly<Record<string, string>>): RenderSafety {
  const max = /^(\d{1,3})%$/.exec(annotations[MAX_PRUNE_ANNOTATION] ?? '');
  const percent = max ? Number(max[1]) : 0;
  return {
    ...(annotations[ALLOW_EMPTY_ANNOTATION] === 'true' ? { allowEmpty: true as const } : {}),
    ...(percent >= 1 && percent < 100 ? { maxPrunePercent: percent } : {}),
  };
}
