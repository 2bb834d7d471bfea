// Rollout planning: waves by name, selector and count/percentage of what remains, batches.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseCountOrPercent, planRollout, resolveAmount, type PlanCluster } from '../../core/rollout-plan.js';

const fleet: PlanCluster[] = [
  { name: 'canary-1', labels: { tier: 'canary' } },
  ...Array.from({ length: 4 }, (_, i) => ({ name: `staging-${i + 1}`, labels: { env: 'staging' } })),
  ...Array.from({ length: 8 }, (_, i) => ({ name: `prod-${String(i + 1).padStart(2, '0')}`, labels: { env: 'prod' } })),
];

describe('rollout planning', () => {
  it('canary → staging → 25 % of prod → the rest, each cluster exactly once', () => {
    const plan = planRollout([
      { name: 'canary', clusters: ['canary-1'] },
      { name: 'staging', clusterSelector: { matchLabels: { env: 'staging' }, matchExpressions: [] }, maxConcurrency: { count: 2 } },
      { name: 'prod-first', size: { percent: 25 } },
      { name: 'rest' },
    ], fleet);
    assert.deepEqual(plan.waves.map((w) => w.name), ['canary', 'staging', 'prod-first', 'rest']);
    assert.deepEqual(plan.waves[0]?.clusters, ['canary-1']);
    assert.deepEqual(plan.waves[1]?.batches, [['staging-1', 'staging-2'], ['staging-3', 'staging-4']]);
    assert.deepEqual(plan.waves[2]?.clusters, ['prod-01', 'prod-02']);
    assert.equal(plan.waves[3]?.clusters.length, 6);
    const all = plan.waves.flatMap((w) => w.clusters);
    assert.equal(new Set(all).size, fleet.length);
    assert.deepEqual(plan.unselected, []);
  });

  it('is deterministic whatever the input order, and keeps unselected clusters out', () => {
    const waves = [{ name: 'staging', clusterSelector: { matchLabels: { env: 'staging' }, matchExpressions: [] } }];
    const a = planRollout(waves, fleet);
    const b = planRollout(waves, [...fleet].reverse());
    assert.deepEqual(a, b);
    assert.equal(a.unselected.length, 9);
  });

  it('keeps a wave that selects nothing, empty', () => {
    const plan = planRollout([{ name: 'eu', clusterSelector: { matchLabels: { region: 'eu' }, matchExpressions: [] } }, { name: 'rest' }], fleet);
    const [eu, rest] = plan.waves;
    assert.ok(eu && rest);
    assert.deepEqual(eu.clusters, []);
    assert.deepEqual(eu.batches, []);
    assert.equal(rest.clusters.length, fleet.length);
  });

  it('resolves counts and percentages: percentages round up, at least one, never more than there are', () => {
    assert.equal(resolveAmount({ percent: 25 }, 8), 2);
    assert.equal(resolveAmount({ percent: 10 }, 3), 1);
    assert.equal(resolveAmount({ count: 5 }, 3), 3);
    assert.equal(resolveAmount({ percent: 50 }, 0), 0);
    assert.deepEqual(parseCountOrPercent('25%', 'maxConcurrency'), { percent: 25 });
    assert.deepEqual(parseCountOrPercent(3, 'maxConcurrency'), { count: 3 });
    assert.throws(() => parseCountOrPercent('0%', 'spec.waves[1].size'), /spec\.waves\[1\]\.size: a percentage must be in \(0, 100\]/);
    assert.throws(() => parseCountOrPercent('many', 'maxConcurrency'), /want a whole number >= 1 or a percentage/);
  });
});
