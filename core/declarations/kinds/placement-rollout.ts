// Flotilla's additions to Kustomizations and HelmReleases: spec.placement (which registered
// clusters receive the build) and spec.rollout (a progressive rollout across them, wave by
// wave, with an optional HTTP analysis during each wave's bake time), with the label selectors
// both use. Schemas and builders; what they mean is in core/declarations/types.ts (Placement,
// RolloutStrategy, AnalysisCheck) and core/rollout-plan.ts.
//
// Defaults:
// - placement: none = every registered cluster (no names, no selector, not the hub).
// - rollout: none = every placed cluster at once; onFailure rollback; per wave maxFailures 0,
//   bakeTime 0, approval false; analysis interval 10s, timeout 5s, failureLimit 0,
//   successCodes 200..299, no headers.
//
// parseCountOrPercent is core/rollout-plan.ts's reading of "3" / "25%" (a pure function of the
// value): the schema refuses what the planner could not read, with the planner's message.
// Pure (no Node built-ins): workflow code may import it.
import { z } from 'zod';
import { parseCountOrPercent } from '../../rollout-plan.js';
import { parseGoDuration } from '../duration.js';
import type { AnalysisCheck, CountOrPercent, LabelSelector, Placement, RolloutStrategy, RolloutWave } from '../types.js';
import { checkedString, describeValue, dnsLabel, duration, labelKeyProblem, labelMap } from './shared.js';

// ---------------------------------------------------------------------------------------
// Label selectors and placement

const SelectorRequirement = z.strictObject({
  key: checkedString(labelKeyProblem),
  operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
  values: z.array(z.string()).optional(),
}).superRefine((req, ctx) => {
  const values = req.values ?? [];
  if ((req.operator === 'In' || req.operator === 'NotIn') && values.length === 0) {
    ctx.addIssue({ code: 'custom', path: ['values'], message: `operator ${req.operator} needs at least one value` });
  }
  if ((req.operator === 'Exists' || req.operator === 'DoesNotExist') && values.length > 0) {
    ctx.addIssue({ code: 'custom', path: ['values'], message: `operator ${req.operator} takes no values` });
  }
});

export const LabelSelectorSchema = z.strictObject({
  matchLabels: labelMap.optional(),
  matchExpressions: z.array(SelectorRequirement).optional(),
});

/** Flotilla's addition: which registered clusters receive the build (see types.ts Placement). */
export const PlacementSchema = z.strictObject({
  clusters: z.array(dnsLabel).optional(),
  clusterSelector: LabelSelectorSchema.optional(),
  hub: z.boolean().optional(),
}).superRefine((p, ctx) => {
  if (p.hub === true && ((p.clusters ?? []).length > 0 || p.clusterSelector !== undefined)) {
    ctx.addIssue({ code: 'custom', path: ['hub'], message: 'hub: true places the build on the hub; it cannot be combined with clusters or clusterSelector' });
  }
});

/** No placement = every registered cluster (no names, no selector, not the hub). */
export function buildPlacement(p: z.infer<typeof PlacementSchema> | undefined): Placement {
  const selector = p?.clusterSelector === undefined ? undefined : buildLabelSelector(p.clusterSelector);
  return { clusters: p?.clusters ?? [], clusterSelector: selector, hub: p?.hub ?? false };
}

export function buildLabelSelector(s: z.infer<typeof LabelSelectorSchema>): LabelSelector {
  return {
    matchLabels: s.matchLabels ?? {},
    matchExpressions: (s.matchExpressions ?? []).map((e) => ({ key: e.key, operator: e.operator, values: e.values ?? [] })),
  };
}

// ---------------------------------------------------------------------------------------
// Rollout (Flotilla's spec.rollout, on Kustomizations and HelmReleases)

/**
 * A Go duration as whole seconds (rounded up), at least `minimum` seconds as written:
 * with 0, "0s" is allowed (unlike `duration`); with 1, "500ms" is refused rather than rounded up.
 */
function durationAtLeast(minimum: number) {
  return z.string().transform((text, ctx) => {
    let ms: number;
    try {
      ms = parseGoDuration(text);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
      return z.NEVER;
    }
    if (ms < minimum * 1000) {
      ctx.addIssue({
        code: 'custom',
        message: minimum === 0 ? `duration ${JSON.stringify(text)} must not be negative` : `duration ${JSON.stringify(text)} must be at least ${minimum}s`,
      });
      return z.NEVER;
    }
    return Math.ceil(ms / 1000);
  });
}

/** A count of clusters (3 or "3") or a percentage ("25%"), as core/rollout-plan.ts reads them. */
const countOrPercent = z.unknown().transform((value, ctx): CountOrPercent => {
  if (typeof value !== 'number' && typeof value !== 'string') {
    ctx.addIssue({ code: 'custom', message: `want a whole number >= 1 or a percentage such as "25%", got ${describeValue(value)}` });
    return z.NEVER;
  }
  try {
    return parseCountOrPercent(value, 'value');
  } catch (err) {
    // parseCountOrPercent prefixes its messages with the field name; the error names the field already.
    const message = err instanceof Error ? err.message : String(err);
    ctx.addIssue({ code: 'custom', message: message.startsWith('value: ') ? message.slice('value: '.length) : message });
    return z.NEVER;
  }
});

function analysisUrlProblem(url: string): string | undefined {
  return /^https?:\/\/[^\s/?#]+([/?#]\S*)?$/.test(url) ? undefined
    : `unsupported URL ${JSON.stringify(url)}: want an http:// or https:// URL (spaces percent-encoded), e.g. http://prometheus:9090/api/v1/query?query=...`;
}

function jsonPathProblem(path: string): string | undefined {
  return /^[^.\s]+(\.[^.\s]+)*$/.test(path) ? undefined
    : `invalid jsonPath ${JSON.stringify(path)}: want a dotted path into the JSON body such as data.result.0.value.1`;
}

/** HTTP header names are tokens (RFC 9110); values cannot hold line breaks. */
const headerMap = z.record(z.string(), z.string()).superRefine((headers, ctx) => {
  for (const [name, value] of Object.entries(headers)) {
    if (!/^[-!#$%&'*+.^_`|~0-9A-Za-z]+$/.test(name)) {
      ctx.addIssue({ code: 'custom', path: [name], message: `invalid header name ${JSON.stringify(name)}: letters, digits and !#$%&'*+-.^_\`|~` });
    } else if (/[\r\n\0]/.test(value)) {
      ctx.addIssue({ code: 'custom', path: [name], message: 'a header value cannot contain line breaks' });
    }
  }
});

/** Flotilla's addition: an HTTP check run during each wave's bake time (see types.ts AnalysisCheck). */
const AnalysisSchema = z.strictObject({
  url: checkedString(analysisUrlProblem),
  interval: durationAtLeast(1).optional(),
  timeout: duration.optional(),
  failureLimit: z.number().int().min(0).optional(),
  successCodes: z.array(z.number().int().min(100).max(599)).min(1).optional(),
  jsonPath: checkedString(jsonPathProblem).optional(),
  min: z.number().optional(),
  max: z.number().optional(),
  headers: headerMap.optional(),
}).superRefine((a, ctx) => {
  if (a.jsonPath === undefined) {
    for (const bound of ['min', 'max'] as const) {
      if (a[bound] !== undefined) {
        ctx.addIssue({ code: 'custom', path: [bound], message: `${bound} needs jsonPath: it bounds the number found at jsonPath in the response` });
      }
    }
  } else if (a.min === undefined && a.max === undefined) {
    ctx.addIssue({ code: 'custom', path: ['jsonPath'], message: 'jsonPath needs min and/or max: the range the number found there must lie in' });
  }
  if (a.min !== undefined && a.max !== undefined && a.min > a.max) {
    ctx.addIssue({ code: 'custom', path: ['min'], message: `min (${a.min}) must not be greater than max (${a.max})` });
  }
});

const RolloutWaveSchema = z.strictObject({
  name: dnsLabel,
  clusters: z.array(dnsLabel).superRefine((names, ctx) => {
    if (names.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'an empty list selects no cluster: leave clusters out to take every cluster that remains' });
    }
  }).optional(),
  clusterSelector: LabelSelectorSchema.optional(),
  size: countOrPercent.optional(),
  maxConcurrency: countOrPercent.optional(),
  maxFailures: z.number().int().min(0).optional(),
  bakeTime: durationAtLeast(0).optional(),
  healthTimeout: durationAtLeast(1).optional(),
  approval: z.boolean().optional(),
});

const MAX_ROLLOUT_WAVES = 20;

/**
 * Flotilla's addition: a progressive rollout across the placed clusters, wave by wave (see
 * types.ts RolloutStrategy and core/rollout-plan.ts). The YAML:
 *
 *   spec:
 *     rollout:
 *       onFailure: rollback        # or pause; default rollback
 *       analysis:                  # optional
 *         url: http://127.0.0.1:9090/api/v1/query?query=...   # http or https URL, required
 *         interval: 10s            # default 10s, at least 1s
 *         timeout: 5s              # default 5s
 *         failureLimit: 0          # failed checks tolerated per wave; default 0
 *         successCodes: [200]      # default 200..299; each 100..599
 *         jsonPath: data.result.0.value.1   # optional dotted path into the JSON body
 *         min: 0                   # optional, only with jsonPath
 *         max: 0.05                # optional, only with jsonPath (jsonPath needs min and/or max)
 *         headers: {Authorization: "Bearer x"}   # optional
 *       waves:                     # required, 1..20 waves
 *         - name: canary           # required DNS label, unique within waves
 *           clusters: [dev]        # optional cluster names
 *           clusterSelector: {matchLabels: {tier: canary}}   # optional, as placement.clusterSelector
 *           size: 1                # optional: a count >= 1 or a percentage "25%"
 *           maxConcurrency: "50%"  # optional: same form as size
 *           maxFailures: 0         # optional, default 0
 *           bakeTime: 30s          # optional, default 0
 *           healthTimeout: 2m      # optional, at least 1s; default the deployment's timeout
 *           approval: true         # optional, default false: wait for approval before the wave starts
 *
 * A rollout waits for health itself, so it does not need `wait: true` on a Kustomization.
 */
export const RolloutSchema = z.strictObject({
  onFailure: z.enum(['rollback', 'pause']).optional(),
  analysis: AnalysisSchema.optional(),
  waves: z.array(RolloutWaveSchema).superRefine((waves, ctx) => {
    if (waves.length === 0) ctx.addIssue({ code: 'custom', message: 'a rollout needs at least one wave' });
    if (waves.length > MAX_ROLLOUT_WAVES) ctx.addIssue({ code: 'custom', message: `at most ${MAX_ROLLOUT_WAVES} waves (got ${waves.length})` });
    const seen = new Map<string, number>();
    waves.forEach((wave, i) => {
      const first = seen.get(wave.name);
      if (first === undefined) seen.set(wave.name, i);
      else ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate wave name ${JSON.stringify(wave.name)} (also waves[${first}]): wave names must be unique` });
    });
  }),
});

/** `placement.hub: true` builds hub declarations: there are no clusters for a rollout to go through. */
export function noRolloutOnHub(spec: { readonly placement?: { readonly hub?: boolean }; readonly rollout?: unknown }, ctx: z.core.$RefinementCtx): void {
  if (spec.rollout !== undefined && spec.placement?.hub === true) {
    ctx.addIssue({ code: 'custom', path: ['rollout'], message: 'a rollout needs clusters; hub: true places the build on the hub' });
  }
}

/** Defaults filled in; optional fields not given are left out (not set to undefined). */
export function buildRollout(r: z.infer<typeof RolloutSchema>): RolloutStrategy {
  return {
    waves: r.waves.map(buildRolloutWave),
    ...(r.analysis === undefined ? {} : { analysis: buildAnalysis(r.analysis) }),
    onFailure: r.onFailure ?? 'rollback',
  };
}

function buildRolloutWave(w: z.infer<typeof RolloutWaveSchema>): RolloutWave {
  const out: { -readonly [K in keyof RolloutWave]: RolloutWave[K] } = {
    name: w.name,
    maxFailures: w.maxFailures ?? 0,
    bakeSeconds: w.bakeTime ?? 0,
    approval: w.approval ?? false,
  };
  if (w.clusters !== undefined) out.clusters = w.clusters;
  if (w.clusterSelector !== undefined) out.clusterSelector = buildLabelSelector(w.clusterSelector);
  if (w.size !== undefined) out.size = w.size;
  if (w.maxConcurrency !== undefined) out.maxConcurrency = w.maxConcurrency;
  if (w.healthTimeout !== undefined) out.healthTimeoutSeconds = w.healthTimeout;
  return out;
}

/** HTTP 2xx, the default successCodes. */
const SUCCESS_2XX: readonly number[] = Array.from({ length: 100 }, (_, i) => 200 + i);

function buildAnalysis(a: z.infer<typeof AnalysisSchema>): AnalysisCheck {
  const out: { -readonly [K in keyof AnalysisCheck]: AnalysisCheck[K] } = {
    url: a.url,
    intervalSeconds: a.interval ?? 10,
    timeoutSeconds: a.timeout ?? 5,
    failureLimit: a.failureLimit ?? 0,
    successCodes: a.successCodes ?? [...SUCCESS_2XX],
    headers: a.headers ?? {},
  };
  if (a.jsonPath !== undefined) out.jsonPath = a.jsonPath;
  if (a.min !== undefined) out.min = a.min;
  if (a.max !== undefined) out.max = a.max;
  return out;
}
