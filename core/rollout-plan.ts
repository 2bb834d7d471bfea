// Rollout planning (issue "progressive rollouts"): which clusters go in which wave, in which
// batches. Pure and deterministic, so the rollout workflow can call it and a replay gets the
// same plan. Waves take clusters in order: each wave selects from the clusters that earlier
// waves did not take, by names, by label selector, or as a count / percentage of what
// remains (canary → 25 % → rest). Within a wave, clusters go in batches of maxConcurrency.
import { matchesSelector } from './placement.js';
import type { CountOrPercent, LabelSelector } from './declarations/types.js';

export type { CountOrPercent };

export interface WaveSpec {
  readonly name: string;
  /** Clusters by name (those still remaining). */
  readonly clusters?: readonly string[];
  /** Clusters by label (those still remaining). */
  readonly clusterSelector?: LabelSelector;
  /** A count or percentage of the clusters still remaining (after names/selector narrowing). */
  readonly size?: CountOrPercent;
  /** Clusters changed at once within the wave; default: all of the wave. */
  readonly maxConcurrency?: CountOrPercent;
}

export interface PlannedWave {
  readonly name: string;
  readonly clusters: readonly string[];
  /** The wave's clusters in the order they are changed, batch by batch. */
  readonly batches: readonly (readonly string[])[];
}

export interface RolloutPlan {
  readonly waves: readonly PlannedWave[];
  /** Placed clusters no wave selected: a rollout never touches them (the plan says so). */
  readonly unselected: readonly string[];
}

export interface PlanCluster {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** Resolves a count or percentage against `total`: percentages round up, at least 1 when total > 0. */
export function resolveAmount(amount: CountOrPercent, total: number): number {
  if (total === 0) return 0;
  const n = 'count' in amount ? amount.count : Math.ceil((amount.percent / 100) * total);
  return Math.max(1, Math.min(total, Math.floor(n)));
}

/** Parses "3" or "25%" (the YAML forms of CountOrPercent); throws naming the value. */
export function parseCountOrPercent(value: string | number, field: string): CountOrPercent {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 1) throw new Error(`${field}: want a whole number >= 1 or a percentage such as "25%", got ${value}`);
    return { count: value };
  }
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(value.trim());
  if (percent?.[1] !== undefined) {
    const p = Number(percent[1]);
    if (p <= 0 || p > 100) throw new Error(`${field}: a percentage must be in (0, 100], got "${value}"`);
    return { percent: p };
  }
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${field}: want a whole number >= 1 or a percentage such as "25%", got "${value}"`);
  return { count: n };
}

/**
 * Plans the waves over the placed clusters. Clusters are considered in name order, so the
 * same inputs give the same plan. A wave that selects nothing is kept (empty), so that the
 * status shows it and why it was empty (the rollout passes it without gate or bake).
 */
export function planRollout(waves: readonly WaveSpec[], placed: readonly PlanCluster[]): RolloutPlan {
  let remaining = [...placed].sort((a, b) => a.name.localeCompare(b.name));
  const planned: PlannedWave[] = [];
  for (const wave of waves) {
    let candidates = remaining;
    if (wave.clusters !== undefined || wave.clusterSelector !== undefined) {
      candidates = remaining.filter((c) => (wave.clusters?.includes(c.name) ?? false)
        || (wave.clusterSelector !== undefined && matchesSelector(c.labels, wave.clusterSelector)));
    }
    const chosen = wave.size !== undefined ? candidates.slice(0, resolveAmount(wave.size, candidates.length)) : candidates;
    const names = chosen.map((c) => c.name);
    const size = wave.maxConcurrency !== undefined ? resolveAmount(wave.maxConcurrency, names.length) : names.length;
    const batches: string[][] = [];
    for (let i = 0; i < names.length; i += Math.max(1, size)) batches.push(names.slice(i, i + Math.max(1, size)));
    planned.push({ name: wave.name, clusters: names, batches });
    remaining = remaining.filter((c) => !names.includes(c.name));
  }
  return { waves: planned, unselected: remaining.map((c) => c.name) };
}
