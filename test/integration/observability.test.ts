// Metrics, logs and health of a real fleet (hub and agents as processes, a real Temporal and
// two real clusters): the hub's and an agent's /metrics after a Kustomization was applied from
// git, the hub's and agents' health endpoints as agents and the hub go away, and the JSON
// log lines the processes write.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { waitFor } from '../../deploy/dev/processes.js';
import { useFleet } from '../harness/fleet.js';
import { GitRepo } from '../harness/git.js';

const { fleet, dir } = useFleet({ dev: { env: 'dev' }, prod: { env: 'prod' } }, 'flotilla-observability-');
const ID = 'kustomization/flux-system/app';

async function get(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, text: await res.text() };
}

/** The value of one sample in exposition text (labels exactly as written), or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

function agentUrl(cluster: string): string {
  const url = fleet().agentHttpUrl(cluster);
  assert.ok(url, `${cluster}'s agent logged its HTTP address`);
  return url;
}

describe('metrics, logs and health', () => {
  it('applies a Kustomization from git to both clusters', async () => {
    const repo = new GitRepo(join(dir(), 'fleet'));
    repo.writeObjects('app/app.yaml', [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'app' } },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'app-config', namespace: 'app' }, data: { version: '1' } },
    ]);
    const commit = repo.commit('app 1');
    const objects = [
      { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'fleet', namespace: 'flux-system' }, spec: { url: repo.url, interval: '10m', ref: { branch: 'main' } } },
      {
        apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name: 'app', namespace: 'flux-system' },
        // wait: the agents watch the objects for health, so watches are counted too.
        spec: { interval: '10m', prune: true, wait: true, timeout: '30s', sourceRef: { kind: 'GitRepository', name: 'fleet' }, path: './app' },
      },
    ];
    const file = join(dir(), 'fleet.yaml');
    writeFileSync(file, objects.map((x) => stringify(x)).join('---\n'));
    const r = await fleet().cli('apply', '-f', file);
    assert.equal(r.code, 0, r.stderr);
    await fleet().waitForReadyAt(ID, `main@sha1:${commit}`);
  });

  it('the hub\'s /metrics: agents connected, reconcile and activity durations, apply counts, gateway messages, worker health', async () => {
    // Reports reach the gateway before the actor turns Ready; scrape until both clusters' counts are in.
    const text = await waitFor('apply counts of both clusters on the hub', async () => {
      const m = await get(`${fleet().hubUrl}/metrics`);
      assert.equal(m.status, 200);
      return ['dev', 'prod'].every((c) => (sample(m.text, `flotilla_agent_apply_objects_total{cluster="${c}",action="created"}`) ?? 0) >= 2) ? m.text : undefined;
    }, { timeoutMs: 30_000, intervalMs: 500 });
    for (const c of ['dev', 'prod']) {
      assert.equal(sample(text, `flotilla_agent_connected{cluster="${c}"}`), 1, c);
      assert.ok((sample(text, `flotilla_gateway_messages_total{cluster="${c}",type="hello"}`) ?? 0) >= 1, `${c} said hello`);
      assert.ok((sample(text, `flotilla_gateway_messages_total{cluster="${c}",type="report"}`) ?? 0) >= 1, `${c} reported`);
    }
    assert.ok((sample(text, 'flotilla_reconcile_duration_seconds_count{kind="Kustomization",result="success"}') ?? 0) > 0, 'a Kustomization build was timed');
    assert.ok((sample(text, 'flotilla_reconcile_duration_seconds_count{kind="GitRepository",result="success"}') ?? 0) > 0, 'a git fetch was timed');
    assert.ok((sample(text, 'flotilla_activity_duration_seconds_count{activity="pushDesiredState",result="success"}') ?? 0) > 0, 'deliveries were timed');
    assert.equal(sample(text, 'flotilla_temporal_worker_up'), 1);
    assert.ok((sample(text, 'flotilla_temporal_pollers{type="workflow"}') ?? 0) > 0);
    assert.ok((sample(text, 'flotilla_temporal_pollers{type="activity"}') ?? 0) > 0);
    assert.match(text, /^# TYPE process_cpu_user_seconds_total counter$/m, 'process metrics');
  });

  it('an agent\'s /metrics: hub stream up, applies, and its requests to the API server, watches included', async () => {
    const m = await get(`${agentUrl('dev')}/metrics`);
    assert.equal(m.status, 200);
    assert.equal(sample(m.text, 'flotilla_agent_hub_connected{cluster="dev"}'), 1);
    assert.ok((sample(m.text, 'flotilla_apply_objects_total{cluster="dev",action="created"}') ?? 0) >= 2, 'namespace and config map created');
    assert.ok((sample(m.text, 'flotilla_apply_duration_seconds_count{cluster="dev",result="success"}') ?? 0) > 0);
    assert.ok((sample(m.text, 'flotilla_kube_api_requests_total{cluster="dev",verb="PATCH",code="200"}') ?? 0) > 0, 'server-side applies');
    assert.ok((sample(m.text, 'flotilla_kube_api_requests_total{cluster="dev",verb="GET",code="200"}') ?? 0) > 0, 'reads and discovery');
    assert.ok((sample(m.text, 'flotilla_kube_api_requests_total{cluster="dev",verb="WATCH",code="200"}') ?? 0) > 0, 'health watches');
    const healthz = await get(`${agentUrl('dev')}/healthz`);
    assert.equal(healthz.status, 200);
    const readyz = await get(`${agentUrl('dev')}/readyz`);
    assert.equal(readyz.status, 200, readyz.text);
  });

  it('the hub is ready with its worker polling; a stopped agent shows as disconnected', async () => {
    const ready = await get(`${fleet().hubUrl}/readyz`);
    assert.equal(ready.status, 200, ready.text);
    assert.deepEqual(JSON.parse(ready.text), { status: 'ok', problems: [] });
    await fleet().agents.get('prod')?.stop();
    await waitFor('prod disconnected in the hub\'s metrics', async () =>
      sample((await get(`${fleet().hubUrl}/metrics`)).text, 'flotilla_agent_connected{cluster="prod"}') === 0 ? true : undefined, { timeoutMs: 30_000, intervalMs: 500 });
    const still = await get(`${fleet().hubUrl}/metrics`);
    assert.equal(sample(still.text, 'flotilla_agent_connected{cluster="dev"}'), 1);
    assert.equal((await get(`${fleet().hubUrl}/healthz`)).status, 200, 'an agent going away is no problem of the hub');
  });

  it('an agent without its hub is alive but not ready, and ready again once the hub is back', async () => {
    await fleet().killHub();
    const unready = await waitFor('dev unready', async () => {
      const r = await get(`${agentUrl('dev')}/readyz`);
      return r.status === 503 ? r : undefined;
    }, { timeoutMs: 30_000, intervalMs: 250 });
    const body = JSON.parse(unready.text) as { status: string; problems: string[] };
    assert.equal(body.status, 'unready');
    assert.match(body.problems[0] ?? '', /^The agent has no stream to the hub at 127\.0\.0\.1:\d+/);
    assert.equal((await get(`${agentUrl('dev')}/healthz`)).status, 200);
    assert.equal(sample((await get(`${agentUrl('dev')}/metrics`)).text, 'flotilla_agent_hub_connected{cluster="dev"}'), 0);
    await fleet().startHub();
    await waitFor('dev ready again', async () => ((await get(`${agentUrl('dev')}/readyz`)).status === 200 ? true : undefined), { timeoutMs: 90_000, intervalMs: 500 });
  });

  it('the hub and agents log JSON lines with ts, level, msg and component, and no secret', () => {
    const hubLines = readFileSync(join(fleet().dir, 'hub-1.log'), 'utf8').split('\n').filter((l) => l.startsWith('{'));
    const entries = hubLines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const ready = entries.find((e) => e.msg === 'hub ready');
    assert.ok(ready, 'the hub said it is ready');
    assert.match(String(ready.ts), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(ready.level, 'info');
    assert.equal(ready.component, 'hub');
    assert.ok(entries.some((e) => e.msg === 'agent connected' && e.cluster === 'dev'));
    assert.ok(entries.every((e) => typeof e.ts === 'string' && typeof e.level === 'string' && typeof e.msg === 'string' && !('pid' in e) && !('hostname' in e)));
    const agent = readFileSync(join(fleet().dir, 'agent-dev.log'), 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const applied = agent.find((e) => e.msg === 'deployment applied');
    assert.ok(applied, 'the agent logged its apply');
    assert.deepEqual([applied.component, applied.cluster, applied.kind, applied.namespace, applied.name], ['agent', 'dev', 'Kustomization', 'flux-system', 'app']);
    const token = readFileSync(join(fleet().hubData, 'api-token'), 'utf8').trim();
    assert.ok(![...hubLines, ...agent.map((e) => JSON.stringify(e))].some((l) => l.includes(token)), 'the API token is in no log');
  });
});
