import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Context } from '@temporalio/activity';
import { AgentMetrics } from '../../agents/metrics.js';
import { HubMetrics, activityMetricsInterceptor, type ObjectInfoRow } from '../../hub/metrics.js';

type Values = { value: number; labels: Record<string, string | number>; metricName?: string }[];

async function values(registry: HubMetrics['registry'], name: string): Promise<Values> {
  const metric = registry.getSingleMetric(name);
  assert.ok(metric, `${name} is registered`);
  return (await metric.get()).values as Values;
}

function row(i: number, over: Partial<ObjectInfoRow> = {}): ObjectInfoRow {
  return { kind: 'Kustomization', name: `app-${i}`, namespace: 'flux-system', cluster: 'prod', ready: true, suspended: false, revision: 'main@sha1:0123456789abcdef', ...over };
}

describe('hub metrics', () => {
  it('every metric is flotilla_-prefixed in a registry of its own', async () => {
    const m = new HubMetrics();
    const text = await m.metrics();
    for (const name of ['flotilla_reconcile_duration_seconds', 'flotilla_activity_duration_seconds', 'flotilla_agent_connected', 'flotilla_gateway_messages_total',
      'flotilla_agent_apply_objects_total', 'flotilla_temporal_worker_up', 'flotilla_temporal_pollers', 'flotilla_object_info', 'flotilla_object_info_dropped',
      'flotilla_rollout_phase']) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
    }
    assert.match(text, /^process_cpu_user_seconds_total /m, 'process metrics');
  });

  it('object info: one series per row, revision cut to 12 characters, vanished objects gone', async () => {
    const m = new HubMetrics({ defaultMetrics: false });
    m.setObjectInfo([row(1), row(2, { ready: 'Unknown', suspended: true })]);
    const first = await values(m.registry, 'flotilla_object_info');
    assert.equal(first.length, 2);
    const [one, two] = first;
    assert.ok(one && two);
    assert.deepEqual(one.labels, { kind: 'Kustomization', name: 'app-1', namespace: 'flux-system', cluster: 'prod', ready: 'True', suspended: 'false', revision: 'main@sha1:01' });
    assert.equal(one.value, 1);
    assert.equal(two.labels.ready, 'Unknown');
    assert.equal(two.labels.suspended, 'true');
    m.setObjectInfo([row(2)]);
    const second = await values(m.registry, 'flotilla_object_info');
    assert.deepEqual(second.map((v) => v.labels.name), ['app-2'], 'app-1 vanished, app-2 changed in place');
    assert.equal(second[0]?.labels.ready, 'True');
  });

  it('object info keeps at most maxObjectSeries series and counts the rest as dropped', async () => {
    const m = new HubMetrics({ defaultMetrics: false, maxObjectSeries: 3 });
    m.setObjectInfo([row(1), row(2), row(2), row(3), row(4), row(5)]);
    assert.equal((await values(m.registry, 'flotilla_object_info')).length, 3);
    assert.equal((await values(m.registry, 'flotilla_object_info_dropped'))[0]?.value, 2, 'a duplicate row is no new series');
    m.setObjectInfo([row(1)]);
    assert.equal((await values(m.registry, 'flotilla_object_info_dropped'))[0]?.value, 0);
  });

  it('rollout phase: 1 for the current phase only', async () => {
    const m = new HubMetrics({ defaultMetrics: false });
    m.setRolloutPhases([{ kind: 'Kustomization', name: 'app', namespace: 'flux-system', phase: 'Progressing' }]);
    m.setRolloutPhases([{ kind: 'Kustomization', name: 'app', namespace: 'flux-system', phase: 'WaitingApproval' }]);
    const v = await values(m.registry, 'flotilla_rollout_phase');
    assert.deepEqual(v.map((x) => [x.labels.phase, x.value]), [['WaitingApproval', 1]]);
  });

  it('apply reports are counted once per report, re-sent copies are not', async () => {
    const m = new HubMetrics({ defaultMetrics: false });
    const counts = { created: 3, configured: 1, unchanged: 0, pruned: 2 };
    m.applyReported('prod', 'kustomization/flux-system/app', '1@1000', counts);
    m.applyReported('prod', 'kustomization/flux-system/app', '1@1000', counts); // after a reconnect
    m.applyReported('prod', 'kustomization/flux-system/app', '1@2000', { created: 0, configured: 0, unchanged: 4, pruned: 0 });
    const v = await values(m.registry, 'flotilla_agent_apply_objects_total');
    assert.deepEqual(Object.fromEntries(v.map((x) => [x.labels.action, x.value])), { created: 3, configured: 1, pruned: 2, unchanged: 4 });
  });

  it('agent connection and gateway message counts per cluster', async () => {
    const m = new HubMetrics({ defaultMetrics: false });
    m.agentConnected('dev', true);
    m.agentConnected('prod', true);
    m.agentConnected('prod', false);
    m.gatewayMessage('dev', 'heartbeat');
    m.gatewayMessage('dev', 'heartbeat');
    const text = await m.metrics();
    assert.match(text, /^flotilla_agent_connected\{cluster="dev"\} 1$/m);
    assert.match(text, /^flotilla_agent_connected\{cluster="prod"\} 0$/m);
    assert.match(text, /^flotilla_gateway_messages_total\{cluster="dev",type="heartbeat"\} 2$/m);
  });

  it('the worker gauges read the worker and task queue on each scrape', async () => {
    const m = new HubMetrics({ defaultMetrics: false });
    assert.match(await m.metrics(), /^flotilla_temporal_worker_up 0$/m, 'no worker yet');
    let state = 'RUNNING';
    let answer: { ok: true; workflow: number; activity: number } | { ok: false; error: string } = { ok: true, workflow: 2, activity: 1 };
    m.observeTemporal({ workerState: () => state, pollers: () => Promise.resolve(answer) });
    let text = await m.metrics();
    assert.match(text, /^flotilla_temporal_worker_up 1$/m);
    assert.match(text, /^flotilla_temporal_pollers\{type="workflow"\} 2$/m);
    assert.match(text, /^flotilla_temporal_pollers\{type="activity"\} 1$/m);
    state = 'STOPPING';
    answer = { ok: false, error: 'unreachable' };
    text = await m.metrics();
    assert.match(text, /^flotilla_temporal_worker_up 0$/m);
    assert.match(text, /^flotilla_temporal_pollers\{type="workflow"\} 0$/m);
  });

  it('the activity interceptor times every activity, and reconcile work by kind', async () => {
    const m = new HubMetrics({ defaultMetrics: false });
    const run = async (activityType: string, outcome: () => Promise<unknown>): Promise<unknown> => {
      const inbound = activityMetricsInterceptor(m)({ info: { activityType } } as unknown as Context).inbound;
      assert.ok(inbound?.execute);
      return inbound.execute({ args: [], headers: {} }, outcome);
    };
    assert.equal(await run('buildKustomization', () => Promise.resolve('built')), 'built');
    await assert.rejects(run('renderRelease', () => Promise.reject(new Error('helm failed'))), /helm failed/);
    await run('pushDesiredState', () => Promise.resolve(true));
    const text = await m.metrics();
    assert.match(text, /^flotilla_reconcile_duration_seconds_count\{kind="Kustomization",result="success"\} 1$/m);
    assert.match(text, /^flotilla_reconcile_duration_seconds_count\{kind="HelmRelease",result="failure"\} 1$/m);
    assert.match(text, /^flotilla_activity_duration_seconds_count\{activity="pushDesiredState",result="success"\} 1$/m);
    assert.ok(!/kind="pushDesiredState"|reconcile_duration_seconds_count\{kind="",/.test(text), 'delivery is not reconcile work');
  });
});

describe('agent metrics', () => {
  it('hub connection, applies and API requests, labelled with the cluster', async () => {
    const m = new AgentMetrics('dev', { defaultMetrics: false });
    assert.match(await m.metrics(), /^flotilla_agent_hub_connected\{cluster="dev"\} 0$/m);
    m.hubConnected(true);
    m.applied(0.2, true, { created: 2, configured: 0, unchanged: 1, skipped: 0, pruned: 1 });
    m.applied(0.1, false);
    m.kubeRequest('PATCH', '200');
    m.kubeRequest('PATCH', '200');
    m.kubeRequest('GET', '404');
    const text = await m.metrics();
    assert.match(text, /^flotilla_agent_hub_connected\{cluster="dev"\} 1$/m);
    assert.match(text, /^flotilla_apply_objects_total\{cluster="dev",action="created"\} 2$/m);
    assert.match(text, /^flotilla_apply_objects_total\{cluster="dev",action="pruned"\} 1$/m);
    assert.ok(!/action="skipped"/.test(text), 'zero counts make no series');
    assert.match(text, /^flotilla_apply_duration_seconds_count\{cluster="dev",result="success"\} 1$/m);
    assert.match(text, /^flotilla_apply_duration_seconds_count\{cluster="dev",result="failure"\} 1$/m);
    assert.match(text, /^flotilla_kube_api_requests_total\{cluster="dev",verb="PATCH",code="200"\} 2$/m);
    assert.match(text, /^flotilla_kube_api_requests_total\{cluster="dev",verb="GET",code="404"\} 1$/m);
  });
});
