// The history decoder on recorded histories (test/fixtures/histories, recorded from the
// end-to-end tests against a real Temporal): golden timelines, so a change in what
// `flotilla history` says is a visible diff (test/harness/golden.ts).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import proto from '@temporalio/proto';
import { renderTimeline } from '../../cli/inspect.js';
import { decodeRun, decodeTimeline, filterEntries } from '../../hub/history.js';
import { golden } from '../harness/golden.js';

const { temporal } = proto;
const fixtures = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));
const history = (name: string): proto.temporal.api.history.v1.IHistory =>
  temporal.api.history.v1.History.decode(readFileSync(join(fixtures, 'histories', `${name}.binpb`)));


describe('flotilla history decoding', () => {
  const ks = 'kustomization/flux-system/web';
  const timeline = decodeTimeline(ks, [{ runId: 'run-1', history: history('kustomization_flux-system_web') }],
    [{ workflowId: `rollout/${ks}`, runId: 'rollout-run-1', history: history('rollout_kustomization_flux-system_web') }]);

  it('renders a Kustomization with its rollout as the golden timeline', () => {
    golden('history-kustomization-web.txt', `${renderTimeline(timeline, timeline.entries, 'http://127.0.0.1:8233')}\n`);
  });

  it('decodes builds, deliveries and apply counts per cluster with their revision', () => {
    const applied = timeline.entries.filter((e) => e.type === 'Applied' && e.cluster === 'prod-eu');
    assert.ok(applied.length >= 3);
    assert.match(applied[0]?.message ?? '', /generation 1: 3 created, 0 configured, 0 unchanged, 0 pruned; healthy/);
    assert.match(applied[0]?.revision ?? '', /^main@sha1:222adbf7/);
    const failed = timeline.entries.find((e) => e.type === 'BuildFailed');
    assert.match(failed?.message ?? '', /missing\.yaml/);
    assert.ok(timeline.entries.some((e) => e.type === 'Suspended' && e.by), 'operator signals say who sent them');
    // The rollout's waves and per-cluster results are part of the owner's timeline, in time order.
    const rollout = timeline.entries.filter((e) => e.workflowId.startsWith('rollout/')).map((e) => e.type);
    assert.deepEqual(rollout.filter((t) => t === 'WaveStarted' || t === 'WaveSucceeded' || t === 'RolloutStarted' || t === 'RolloutFinished'),
      ['RolloutStarted', 'WaveStarted', 'WaveSucceeded', 'WaveStarted', 'WaveSucceeded', 'WaveStarted', 'WaveSucceeded', 'RolloutFinished']);
    const times = timeline.entries.map((e) => e.at);
    assert.deepEqual(times, [...times].sort((a, b) => a - b));
  });

  it('filters by cluster (keeping fleet-wide entries) and by revision prefix', () => {
    const onUs = filterEntries(timeline.entries, { cluster: 'prod-us' }, undefined);
    assert.ok(onUs.every((e) => e.cluster === undefined || e.cluster === 'prod-us'));
    assert.ok(onUs.some((e) => e.type === 'Built'));
    const rev = filterEntries(timeline.entries, { revision: 'da64514e' }, undefined);
    assert.ok(rev.length > 0 && rev.every((e) => e.revision?.includes('da64514e')));
  });

  it('renders a HelmRelease: chart versions, remediation and an operator rollback', () => {
    const hr = decodeTimeline('helmrelease/flux-system/web', [{ runId: 'run-1', history: history('helmrelease_flux-system_web') }]);
    golden('history-helmrelease-web.txt', `${renderTimeline(hr, hr.entries)}\n`);
    assert.ok(hr.entries.some((e) => e.type === 'RollbackRequested' && e.cluster === 'east' && e.by));
    assert.ok(hr.entries.some((e) => e.type === 'ChartPulled' && e.revision === '1.1.0'));
  });

  it('decodes a cluster actor: agent connections and desired state changes', () => {
    const c = decodeRun('cluster/prod-eu', 'run-1', history('cluster_prod-eu'));
    assert.ok(c.entries.some((e) => e.type === 'AgentConnected'));
    assert.ok(c.entries.some((e) => e.type === 'DesiredStateChanged'));
    assert.equal(c.run.workflowType, 'clusterWorkflow');
  });
});
