// How `flotilla rollout status` shows a rollout (cli/rollout.ts render): waves with bake timers
// and gates, clusters with revision now and before, unselected clusters, recent events.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RolloutStatus } from '../../api/rollout.js';
import { render } from '../../cli/rollout.js';

const T0 = Date.parse('2026-11-22T10:00:00Z');

const status: RolloutStatus = {
  id: 'rollout/kustomization/flux-system/web', owner: 'kustomization/flux-system/web', ownerKind: 'Kustomization',
  revision: 'main@sha1:abc', target: 'sha256:x', phase: 'Baking', message: 'wave staging baking for 30s', paused: false,
  currentWave: 1, onFailure: 'rollback', startedAt: T0, unselected: ['lab'],
  waves: [
    { name: 'canary', clusters: ['dev'], batches: [['dev']], phase: 'Succeeded', approval: false, bakeSeconds: 10, maxFailures: 0, failures: 0, startedAt: T0, bakeUntil: T0 + 12_000, finishedAt: T0 + 12_100, message: 'healthy',
      analysis: { checks: 2, failures: 1, lastResult: 'errorRate = 0.01 (want <= 0.05)', lastCheckedAt: T0 + 12_000 } },
    { name: 'staging', clusters: ['staging'], batches: [['staging']], phase: 'Baking', approval: true, approvedBy: 'alice', bakeSeconds: 30, maxFailures: 0, failures: 0, startedAt: T0 + 20_000, bakeUntil: T0 + 55_000, message: '' },
    { name: 'prod', clusters: ['prod-eu', 'prod-us'], batches: [['prod-eu'], ['prod-us']], phase: 'Pending', approval: false, bakeSeconds: 90, maxFailures: 1, failures: 0, message: '' },
  ],
  clusters: [
    { cluster: 'dev', wave: 'canary', phase: 'Healthy', revision: 'main@sha1:abc', previousRevision: 'main@sha1:old', message: 'ok', updatedAt: T0 },
    { cluster: 'prod-eu', wave: 'prod', phase: 'Pending', revision: 'main@sha1:old', previousRevision: 'main@sha1:old', message: '', updatedAt: T0 },
  ],
  events: [{ at: T0 + 20_000, type: 'Approved', wave: 'staging', message: 'wave staging approved: looks good', by: 'alice' }],
};

describe('flotilla rollout status', () => {
  it('shows phase, waves with bake time left and gates, clusters, unselected clusters and events', () => {
    const text = render(status, T0 + 40_000);
    const lines = text.split('\n');
    assert.equal(lines[0], 'rollout/kustomization/flux-system/web  main@sha1:abc  Baking');
    assert.match(text, /canary\s+Succeeded\s+dev\s+10s done\s+-\s+0\/0\s+1\/2 ok: errorRate = 0\.01 \(want <= 0\.05\)/);
    assert.match(text, /staging\s+Baking\s+staging\s+15s left of 30s\s+approved by alice\s+0\/0\s+-/);
    assert.match(text, /prod\s+Pending\s+prod-eu,prod-us\s+1m30s\s+-\s+0\/1/);
    assert.match(text, /dev\s+canary\s+Healthy\s+main@sha1:abc\s+main@sha1:old\s+ok/);
    assert.match(text, /not selected by any wave \(left as they are\): lab/);
    assert.match(text, /10:00:20\s+Approved\s+wave staging approved: looks good \(by alice\)/);
  });

  it('marks an operator pause next to the phase', () => {
    assert.match(render({ ...status, paused: true }, T0).split('\n')[0] ?? '', /Baking \(paused\)$/);
  });
});
