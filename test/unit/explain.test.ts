// explain(): one verdict per cause, checked in the order causes block delivery.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { explain, type ExplainCluster, type ExplainSubject } from '../../core/explain.js';

const NOW = 1_800_000_000_000;
const REV = 'main@sha1:1111111111111111111111111111111111111111';
const OLD = 'main@sha1:0000000000000000000000000000000000000000';
const connected: ExplainCluster = { name: 'prod', labels: { env: 'prod' }, connection: 'Connected', connectionSince: NOW - 60_000 };
const base: ExplainSubject = {
  id: 'kustomization/apps/web', kind: 'Kustomization', placement: { clusters: [], hub: false }, suspended: false, suspendedBySpec: false,
  ready: { status: 'True', reason: 'ReconciliationSucceeded', message: 'ok' }, latest: REV, latestAttempted: true, placed: ['prod'],
  cluster: { revision: REV, ready: 'True', reason: 'ReconciliationSucceeded', message: 'applied', updatedAt: NOW },
};
const behind: ExplainSubject = { ...base, cluster: { revision: OLD, ready: 'True', reason: 'ReconciliationSucceeded', message: 'applied', updatedAt: NOW } };
const rollout = { phase: 'Progressing', revision: REV, failed: false, message: '', waves: 3, unselected: false };

describe('explain', () => {
  const cases: [string, ExplainSubject, ExplainCluster | undefined, string, RegExp][] = [
    ['up to date', base, connected, 'UpToDate', /prod runs the latest revision main@sha1:11111111 and it is healthy/],
    ['unknown cluster', base, undefined, 'NotRegistered', /not a registered cluster/],
    ['not placed', { ...base, placed: [], placement: { clusters: ['dev'], clusterSelector: { matchLabels: { env: 'dev' }, matchExpressions: [] }, hub: false } }, connected,
      'NotPlaced', /placement selects clusters dev or clusters matching env=dev, and prod has env=prod/],
    ['suspended by the CLI', { ...behind, suspended: true }, connected, 'Suspended', /flotilla resume kustomization\/apps\/web/],
    ['dependsOn', { ...behind, ready: { status: 'False', reason: 'DependencyNotReady', message: 'dependency kustomization/apps/db is not ready' } }, connected,
      'DependencyNotReady', /waits on kustomization\/apps\/web's dependsOn: dependency kustomization\/apps\/db is not ready/],
    ['build failed', { ...behind, latestAttempted: false, ready: { status: 'False', reason: 'BuildFailed', message: 'kustomize build failed' } }, connected, 'BuildFailed', /its build failed \(BuildFailed\)/],
    ['unhealthy at latest', { ...base, cluster: { revision: REV, ready: 'False', reason: 'HealthCheckFailed', message: 'Deployment/web: ErrImagePull', updatedAt: NOW } }, connected,
      'Unhealthy', /not healthy \(HealthCheckFailed\): Deployment\/web: ErrImagePull/],
    ['held in a later wave', { ...behind, rollout: { ...rollout, clusterPhase: 'Pending', wave: 'prod', waveIndex: 2, currentWave: { name: 'canary', phase: 'Baking' } } }, connected,
      'HeldInRollout', /held in rollout wave prod \(3 of 3\); wave canary is Baking/],
    ['approval gate', { ...behind, rollout: { ...rollout, phase: 'WaitingApproval', clusterPhase: 'Pending', wave: 'prod', waveIndex: 2, currentWave: { name: 'prod', phase: 'WaitingApproval' } } }, connected,
      'WaitingApproval', /flotilla rollout approve kustomization\/apps\/web/],
    ['rolled back', { ...behind, rollout: { ...rollout, phase: 'RolledBack', failed: true } }, connected, 'RolloutFailed', /stays at main@sha1:00000000 until `flotilla rollout retry kustomization\/apps\/web`/],
    ['no wave selects it', { ...behind, rollout: { ...rollout, unselected: true } }, connected, 'NotInRollout', /no wave .* selects prod/],
    ['agent gone', behind, { ...connected, connection: 'Unreachable', connectionSince: NOW - 300_000 }, 'AgentUnreachable', /Unreachable since 5m ago: the hub will deliver/],
    ['on its way', behind, connected, 'Delivering', /on its way to prod/],
  ];
  for (const [name, subject, cluster, verdict, sentence] of cases) {
    it(name, () => {
      const e = explain(subject, 'prod', cluster, NOW);
      assert.equal(e.verdict, verdict, e.sentence);
      assert.match(e.sentence, sentence);
      assert.ok(e.evidence.length > 0);
    });
  }
});
