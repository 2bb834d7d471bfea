// explain(): one verdict per cause, checked in the order causes block delivery; and what runs
// on a cluster comes only from current evidence (its desired state, the agent's last report,
// the release's history), never from the owner's summary, which outlives a removal.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { explain, healthLine, type ExplainCluster, type ExplainReport, type ExplainSubject } from '../../core/explain.js';

const NOW = 1_800_000_000_000;
const REV = 'main@sha1:1111111111111111111111111111111111111111';
const OLD = 'main@sha1:0000000000000000000000000000000000000000';
const connected: ExplainCluster = { name: 'prod', labels: { env: 'prod' }, connection: 'Connected', connectionSince: NOW - 60_000 };
const ready: ExplainReport = { generation: 3, phase: 'READY', message: 'applied: 0 created, 1 configured, 2 unchanged, 0 pruned', finishedAt: NOW - 60_000 };
const base: ExplainSubject = {
  id: 'kustomization/apps/web', kind: 'Kustomization', placement: { clusters: [], hub: false }, suspended: false, suspendedBySpec: false,
  ready: { status: 'True', reason: 'ReconciliationSucceeded', message: 'ok' }, latest: REV, latestAttempted: true, placed: ['prod'],
  cluster: { revision: REV, ready: 'True', reason: 'ReconciliationSucceeded', message: 'applied', updatedAt: NOW },
  desired: { generation: 3, healthChecks: true }, report: ready,
};
const behind: ExplainSubject = { ...base, cluster: { revision: OLD, ready: 'True', reason: 'ReconciliationSucceeded', message: 'applied', updatedAt: NOW } };
const rollout = { phase: 'Progressing', revision: REV, failed: false, message: '', waves: 3, unselected: false };
const unavailable: ExplainReport = { generation: 3, phase: 'UNHEALTHY', message: 'Deployment/apps/web: InProgress Available: 0/1', finishedAt: NOW - 30_000 };
/** A HelmRelease the owning Kustomization pruned: its actor's last summary still says Ready at the latest chart. */
const helm: ExplainSubject = {
  ...base, id: 'helmrelease/apps/podinfo', kind: 'HelmRelease', latest: '6.5.0',
  cluster: { revision: '6.5.0', ready: 'True', reason: 'InstallSucceeded', message: 'revision 1: podinfo@6.5.0', updatedAt: NOW - 600_000 },
  release: { revision: 1, chartVersion: '6.5.0', status: 'deployed', description: 'Install complete', at: NOW - 600_000 },
};
const { desired: _desired, ...helmWithoutDesired } = helm;
const uninstalled: ExplainSubject = {
  ...helmWithoutDesired,
  release: { revision: 1, chartVersion: '6.5.0', status: 'uninstalled', description: 'Uninstallation complete (HelmRelease deleted)', at: NOW - 120_000 },
};
const { desired: _d, ...withoutDesired } = base;
const { report: _r, ...withoutReport } = withoutDesired;

describe('explain', () => {
  const cases: [string, ExplainSubject, ExplainCluster | undefined, string, RegExp][] = [
    ['up to date', base, connected, 'UpToDate', /prod runs the latest revision main@sha1:11111111 and it was healthy at the agent's last report \(generation 3, READY, .*health checks on\)/],
    ['up to date without health checks: applied, health not known', { ...base, desired: { generation: 3, healthChecks: false } }, connected,
      'UpToDate', /runs the latest revision main@sha1:11111111 and the agent applied it \(generation 3, READY.*without health checks \(no wait\), so whether its workloads are available is not known/],
    ['unknown cluster', base, undefined, 'NotRegistered', /not a registered cluster/],
    ['not placed', { ...base, placed: [], placement: { clusters: ['dev'], clusterSelector: { matchLabels: { env: 'dev' }, matchExpressions: [] }, hub: false } }, connected,
      'NotPlaced', /placement selects clusters dev or clusters matching env=dev, and prod has env=prod/],
    ['suspended by the CLI', { ...behind, suspended: true }, connected, 'Suspended', /flotilla resume kustomization\/apps\/web/],
    ['dependsOn', { ...behind, ready: { status: 'False', reason: 'DependencyNotReady', message: 'dependency kustomization/apps/db is not ready' } }, connected,
      'DependencyNotReady', /waits on kustomization\/apps\/web's dependsOn: dependency kustomization\/apps\/db is not ready/],
    ['build failed', { ...behind, latestAttempted: false, ready: { status: 'False', reason: 'BuildFailed', message: 'kustomize build failed' } }, connected, 'BuildFailed', /its build failed \(BuildFailed\)/],
    ['not available at latest', { ...base, report: unavailable }, connected,
      'Unhealthy', /was given the latest revision main@sha1:11111111, but it is not available: Deployment\/apps\/web: InProgress Available: 0\/1 \(the agent's last report, generation 3, UNHEALTHY/],
    ['failed to apply at latest', { ...base, report: { ...unavailable, phase: 'INVALID', message: 'ConfigMap/apps/x: field is immutable' } }, connected,
      'Unhealthy', /it failed to apply \(INVALID\): ConfigMap\/apps\/x: field is immutable/],
    ['the owner says Ready, but the report is for an older generation', { ...base, desired: { generation: 4, healthChecks: true } }, connected,
      'Delivering', /prod was given main@sha1:11111111, but the agent has not reported generation 4 yet \(its last report: generation 3, READY/],
    ['the agent is applying the current generation', { ...base, report: { ...ready, phase: 'APPLYING' } }, connected, 'Delivering', /the agent reports generation 3 APPLYING/],
    ['a READY report, but the agent is disconnected', base, { ...connected, connection: 'Disconnected', connectionSince: NOW - 300_000 },
      'AgentUnreachable', /its agent is Disconnected since 5m ago, so what runs there now is unknown \(the agent last reported it READY/],
    ['held in a later wave', { ...behind, rollout: { ...rollout, clusterPhase: 'Pending', wave: 'prod', waveIndex: 2, currentWave: { name: 'canary', phase: 'Baking' } } }, connected,
      'HeldInRollout', /held in rollout wave prod \(3 of 3\); wave canary is Baking/],
    ['approval gate', { ...behind, rollout: { ...rollout, phase: 'WaitingApproval', clusterPhase: 'Pending', wave: 'prod', waveIndex: 2, currentWave: { name: 'prod', phase: 'WaitingApproval' } } }, connected,
      'WaitingApproval', /flotilla rollout approve kustomization\/apps\/web/],
    ['rolled back', { ...behind, rollout: { ...rollout, phase: 'RolledBack', failed: true } }, connected, 'RolloutFailed', /stays at main@sha1:00000000 until `flotilla rollout retry kustomization\/apps\/web`/],
    ['no wave selects it', { ...behind, rollout: { ...rollout, unselected: true } }, connected, 'NotInRollout', /no wave .* selects prod/],
    ['agent gone', behind, { ...connected, connection: 'Unreachable', connectionSince: NOW - 300_000 }, 'AgentUnreachable', /Unreachable since 5m ago: the hub will deliver/],
    ['on its way', behind, connected, 'Delivering', /on its way to prod/],
    // Tracker #30: a pruned HelmRelease was "the latest revision … and it is healthy".
    ['a pruned HelmRelease: uninstalled, whatever its last summary says', uninstalled, connected,
      'Removed', /^helmrelease\/apps\/podinfo was uninstalled from prod at \S+Z \(2m ago\) \(Uninstallation complete \(HelmRelease deleted\)\); nothing runs there\.$/],
    ['a HelmRelease installed and ready', helm, connected, 'UpToDate', /runs the latest revision 6\.5\.0 and it was healthy/],
    ['a HelmRelease whose latest release failed', { ...helm, release: { revision: 2, chartVersion: '6.5.0', status: 'failed', description: 'upgrade failed: timed out', at: NOW - 60_000 } }, connected,
      'Unhealthy', /release revision 2 \(6\.5\.0\) failed: upgrade failed: timed out/],
    ['removed from the cluster\'s desired state', withoutDesired, connected,
      'Removed', /kustomization\/apps\/web is no longer in prod's desired state: the hub removed it \(the agent's last report, generation 3, READY, .*is about what ran before\); nothing of it is managed there/],
    ['the agent reported it deleted', { ...withoutDesired, report: { generation: 0, phase: 'DELETED', message: '', finishedAt: NOW - 10_000 } }, connected,
      'Removed', /was removed from prod at .* \(the agent reported it deleted\)/],
    ['removed, behind: gone before on its way', { ...withoutDesired, cluster: behind.cluster }, connected, 'Removed', /no longer in prod's desired state/],
    ['never given to the cluster', { ...withoutReport, cluster: { revision: '', ready: 'Unknown', reason: 'ClusterUnreachable', message: 'no report', updatedAt: 0 } }, connected,
      'Delivering', /on its way to prod/],
  ];
  for (const [name, subject, cluster, verdict, sentence] of cases) {
    it(name, () => {
      const e = explain(subject, 'prod', cluster, NOW);
      assert.equal(e.verdict, verdict, e.sentence);
      assert.match(e.sentence, sentence);
      assert.ok(e.evidence.length > 0);
    });
  }

  it('the evidence lists the cluster\'s desired generation, the agent\'s last report and the release', () => {
    const e = explain(uninstalled, 'prod', connected, NOW);
    assert.ok(e.evidence.includes('desired on prod: none (the cluster\'s desired state has no helmrelease/apps/podinfo)'), e.evidence.join('\n'));
    assert.ok(e.evidence.some((l) => /^agent's last report: generation 3, READY, .*: applied/.test(l)), e.evidence.join('\n'));
    assert.ok(e.evidence.some((l) => /^release on prod: revision 1, chart 6\.5\.0, uninstalled \(Uninstallation complete/.test(l)), e.evidence.join('\n'));
    assert.ok(explain(base, 'prod', connected, NOW).evidence.includes('desired on prod: generation 3, health checks on'));
  });
});

describe('trace health line', () => {
  const object = 'Deployment/apps/web';
  it('names the object when the report says it is not available', () => {
    assert.match(healthLine({ ...base, report: { ...unavailable, message: `ConfigMap/apps/c: NotFound gone; ${unavailable.message}` } }, 'prod', connected, NOW, object),
      /^not available: Deployment\/apps\/web: InProgress Available: 0\/1 \(the deployment's last report, generation 3, UNHEALTHY/);
  });
  it('an UNHEALTHY report about other objects says nothing of this one', () => {
    assert.match(healthLine({ ...base, report: { ...unavailable, message: 'Deployment/apps/db: InProgress 0/1' } }, 'prod', connected, NOW, object),
      /^unknown: the deployment's last report is UNHEALTHY about other objects .* it does not name Deployment\/apps\/web/);
  });
  it('healthy only from a READY report at the current generation with health checks', () => {
    assert.match(healthLine(base, 'prod', connected, NOW, object), /^Deployment\/apps\/web: healthy at the deployment's last report \(generation 3, READY/);
    assert.match(healthLine({ ...base, desired: { generation: 3, healthChecks: false } }, 'prod', connected, NOW, object), /^Deployment\/apps\/web: unknown: .*without health checks/);
    assert.match(healthLine({ ...base, desired: { generation: 4, healthChecks: true } }, 'prod', connected, NOW, object), /^unknown: no current report: the agent has not reported generation 4 yet/);
    assert.match(healthLine(uninstalled, 'prod', connected, NOW, object), /^gone: helmrelease\/apps\/podinfo was uninstalled from prod/);
  });
});

/**
 * Every combination of small sets of facts: whatever the verdict, the sentence rests on the
 * evidence printed with it, and "healthy" is only said of a READY report at the generation
 * the cluster is to run, with health checks, on a placed cluster whose release is installed.
 */
describe('explain: every combination of facts', () => {
  const PHASES = ['READY', 'UNHEALTHY', 'INVALID', 'FAILED', 'DELETED', 'APPLYING', undefined] as const;
  const GENERATIONS = { older: 2, equal: 3, newer: 4 } as const;
  const RELEASES = [undefined, 'deployed', 'uninstalled', 'failed', 'pending-upgrade'] as const;
  const ENTRIES = ['latest', 'behind', 'none'] as const;
  const CONNECTIONS = ['Connected', 'Disconnected'] as const;
  const HEALTHY = /\bhealthy\b/i;
  let combinations = 0;
  const seen = new Set<string>();

  it('no verdict claims more than its evidence', () => {
    for (const kind of ['Kustomization', 'HelmRelease'] as const) {
      for (const placed of [true, false]) {
        for (const desiredState of ['present', 'absent'] as const) {
          for (const healthChecks of [true, false]) {
            for (const phase of PHASES) {
              for (const [relation, generation] of Object.entries(GENERATIONS)) {
                for (const available of [0, 1]) {
                  // The agent reports READY with a workload at 0 available only without health checks.
                  if (phase === 'READY' && available === 0 && healthChecks) continue;
                  for (const releaseStatus of kind === 'HelmRelease' ? RELEASES : [undefined]) {
                    for (const entry of ENTRIES) {
                      for (const connection of CONNECTIONS) {
                        for (const rolling of [false, true]) {
                          combinations++;
                          const report: ExplainReport | undefined = phase === undefined ? undefined : {
                            generation: phase === 'DELETED' ? 0 : generation, phase,
                            // UNHEALTHY with web available: another object was not Current.
                            message: phase === 'UNHEALTHY' ? `Deployment/apps/${available === 0 ? 'web' : 'db'}: InProgress Available: 0/1`
                              : available === 0 ? `${phase.toLowerCase()} report; Deployment/apps/web has 0/1 available` : `${phase.toLowerCase()} report`,
                            finishedAt: NOW - 45_000,
                          };
                          const subject: ExplainSubject = {
                            id: `${kind.toLowerCase()}/apps/web`, kind, placement: { clusters: ['prod'], hub: false }, suspended: false, suspendedBySpec: false,
                            ready: { status: 'True', reason: 'ReconciliationSucceeded', message: 'ok' }, latest: REV, latestAttempted: true,
                            placed: placed ? ['prod'] : [],
                            ...(entry === 'none' ? {} : { cluster: { revision: entry === 'latest' ? REV : OLD, ready: 'True', reason: 'ReconciliationSucceeded', message: 'applied', updatedAt: NOW } }),
                            ...(desiredState === 'present' ? { desired: { generation: 3, healthChecks } } : {}),
                            ...(report ? { report } : {}),
                            ...(releaseStatus ? { release: { revision: 2, chartVersion: REV, status: releaseStatus, description: `${releaseStatus} at revision 2`, at: NOW - 90_000 } } : {}),
                            ...(rolling ? { rollout: { ...rollout, clusterPhase: 'Pending', wave: 'prod', waveIndex: 1, currentWave: { name: 'canary', phase: 'Baking' } } } : {}),
                          };
                          const cluster: ExplainCluster = { ...connected, connection, connectionSince: NOW - 200_000 };
                          const e = explain(subject, 'prod', cluster, NOW);
                          const facts = JSON.stringify({ kind, placed, desiredState, healthChecks, phase, relation, available, releaseStatus, entry, connection, rolling });
                          const why = `${facts}\n${e.verdict}: ${e.sentence}\n${e.evidence.join('\n')}`;
                          seen.add(e.verdict);
                          const currentReady = desiredState === 'present' && phase === 'READY' && relation === 'equal';
                          const installed = kind === 'Kustomization' || releaseStatus === 'deployed';

                          if (e.verdict === 'UpToDate') {
                            assert.ok(placed && currentReady && installed && connection === 'Connected' && entry === 'latest', why);
                            assert.ok(HEALTHY.test(e.sentence) === healthChecks, why);
                            if (!healthChecks) assert.match(e.sentence, /not known/, why);
                          }
                          if (HEALTHY.test(e.sentence)) {
                            assert.equal(e.verdict, 'UpToDate', why);
                            assert.ok(healthChecks && available === 1, why);
                          }
                          if (e.verdict === 'Removed') {
                            assert.ok(releaseStatus === 'uninstalled' || (desiredState === 'absent' && (report !== undefined || entry !== 'none' || releaseStatus !== undefined)), why);
                            assert.match(e.sentence, /nothing (runs there|of it is managed there)/, why);
                          }
                          // A gone release is never reported as running, whatever its owner's summary says.
                          if (placed && entry === 'latest' && (releaseStatus === 'uninstalled' || (desiredState === 'absent' && phase === 'DELETED'))) {
                            assert.equal(e.verdict, 'Removed', why);
                            if (releaseStatus === 'uninstalled') assert.match(e.sentence, /was uninstalled from prod at \S+Z \(1m30s ago\)/, why);
                          }
                          if (placed && entry === 'latest' && desiredState === 'present' && relation === 'equal' && phase === 'UNHEALTHY' && releaseStatus !== 'uninstalled' && connection === 'Connected') {
                            assert.equal(e.verdict, 'Unhealthy', why);
                            assert.match(e.sentence, new RegExp(`not available: Deployment/apps/${available === 0 ? 'web' : 'db'}: InProgress Available: 0/1`), why);
                          }
                          if (!placed) assert.equal(e.verdict, 'NotPlaced', why);
                          // The evidence printed names what the verdict rests on.
                          if (placed) {
                            assert.ok(e.evidence.includes(desiredState === 'present' ? `desired on prod: generation 3, health checks ${healthChecks ? 'on' : 'off'}` : 'desired on prod: none (the cluster\'s desired state has no ' + subject.id + ')'), why);
                            assert.ok(e.evidence.some((l) => l.startsWith(report ? `agent's last report: generation ${report.generation}, ${report.phase}, ` : 'agent\'s last report: none')), why);
                            if (releaseStatus) assert.ok(e.evidence.some((l) => l.startsWith('release on prod: revision 2, chart ') && l.includes(releaseStatus)), why);
                            assert.ok(e.evidence.some((l) => l.startsWith(`cluster prod: agent ${connection}`)), why);
                          }

                          // trace's health line: the same rule.
                          const h = healthLine(subject, 'prod', cluster, NOW, 'Deployment/apps/web');
                          if (HEALTHY.test(h)) assert.ok(currentReady && healthChecks && releaseStatus !== 'uninstalled' && (releaseStatus === undefined || releaseStatus === 'deployed'), `${why}\ntrace: ${h}`);
                          if (releaseStatus === 'uninstalled') assert.match(h, /^gone: /, `${why}\ntrace: ${h}`);
                          if (phase === 'UNHEALTHY' && desiredState === 'present' && relation === 'equal' && (releaseStatus === undefined || releaseStatus === 'deployed')) {
                            assert.match(h, available === 0 ? /^not available: Deployment\/apps\/web: InProgress Available: 0\/1 \(the deployment's last report, generation 3, UNHEALTHY/
                              : /^unknown: the deployment's last report is UNHEALTHY about other objects/, `${why}\ntrace: ${h}`);
                          }
                          if (desiredState === 'present' && relation !== 'equal' && releaseStatus !== 'uninstalled' && releaseStatus !== 'failed') assert.match(h, /^unknown: /, `${why}\ntrace: ${h}`);
                        }
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
    assert.ok(combinations > 5000, `${combinations} combinations`);
    for (const v of ['UpToDate', 'Unhealthy', 'Removed', 'Delivering', 'AgentUnreachable', 'NotPlaced', 'HeldInRollout']) assert.ok(seen.has(v), `some combination gives ${v}`);
  });
});
