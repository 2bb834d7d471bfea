// The dashboard's pages and routes on the hub's real HTTP server, fed a made-up fleet
// (test/harness/synthetic-fleet.ts) and a recording stand-in for the rollout actions: what
// each page shows, that every cell carries `flotilla explain`'s sentence, escaping, and who
// may read and act. The browser test (test/integration/dashboard.test.ts) drives a real fleet.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RolloutActionRequest } from '../../api/rollout.js';
import { explain } from '../../core/explain.js';
import { RolloutActionRefused, type RolloutAction } from '../../hub/declarations.js';
import { dashboardRoutes } from '../../hub/dashboard/routes.js';
import { historyLive, overviewLive, rolloutLive } from '../../hub/dashboard/pages.js';
import { explainSubject, isPlaced } from '../../hub/fleet-view.js';
import { startHubApi, type HubApi } from '../../hub/http-api.js';
import { FileArtifactStore } from '../../hub/artifact-store.js';
import { syntheticFleet } from '../harness/synthetic-fleet.js';

const NOW = Date.parse('2026-11-22T12:00:00Z');

describe('dashboard pages', () => {
  const snap = syntheticFleet(20, 10, NOW);

  it('the grid has one cell per deployment × cluster, each with explain()\'s verdict and sentence', () => {
    const html = overviewLive(snap, { cluster: '', deployment: '' }, NOW);
    const cells = [...html.matchAll(/<td class="[kpfio]"( colspan="(\d+)")?( data-verdict="(\w+)")?( title="([^"]*)")?>/g)];
    assert.equal(cells.reduce((n, m) => n + Number(m[2] ?? 1), 0), 20 * 10, 'every deployment × cluster, merged or not');
    assert.ok(cells.length < 20 * 10 / 2, 'runs of up-to-date and not-placed cells are merged');
    const placed = snap.declarations.filter(isPlaced);
    const failing = placed.find((s) => s.status.id.endsWith('app-03'));
    assert.ok(failing);
    const bad = failing.status.clusters.find((c) => c.ready === 'False');
    assert.ok(bad, 'the synthetic fleet has a failing cell');
    const cluster = snap.clusters.find((c) => c.name === bad.cluster);
    const e = explain(explainSubject(failing, bad.cluster, undefined, cluster), bad.cluster, cluster, NOW);
    assert.equal(e.verdict, 'Unhealthy');
    const row = html.split('\n').find((l) => l.includes(`data-id="${failing.status.id}"`)) ?? '';
    assert.ok(row.includes(`data-verdict="Unhealthy" title="${bad.cluster}: ${e.sentence.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/'/g, '&#39;').replace(/</g, '&lt;').replace(/>/g, '&gt;')}"`), row);
    // staging-only deployments leave prod clusters empty
    const stagingOnly = html.split('\n').find((l) => l.includes('data-id="kustomization/flux-system/app-04"')) ?? '';
    assert.equal([...stagingOnly.matchAll(/class="o"( colspan="(\d+)")?/g)].reduce((n, m) => n + Number(m[2] ?? 1), 0), 18);
    // the rollout held at its gate: canary clusters up to date, the rest waiting for approval
    const rolling = html.split('\n').find((l) => l.includes('data-id="kustomization/flux-system/app-00"')) ?? '';
    assert.match(rolling, /rolling out/);
    assert.match(rolling, /<td class="k" colspan="5"><\/td>/, 'the canary wave, up to date');
    assert.equal([...rolling.matchAll(/data-verdict="WaitingApproval"/g)].length, 15);
    assert.match(html, /Not up to date, and why/);
    assert.match(html, /waits for approval of wave rest/);
  });

  it('filters clusters and deployments, and escapes what users wrote', () => {
    const evil = { ...snap, clusters: snap.clusters.map((c, i) => (i === 0 ? { ...c, labels: { team: '<script>alert(1)</script>' } } : c)) };
    const html = overviewLive(evil, { cluster: 'cluster-00', deployment: 'app-0' }, NOW);
    assert.ok(!html.includes('<script>alert(1)'));
    assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
    assert.equal([...html.matchAll(/<th class="c"/g)].length, 10, 'cluster-000 … cluster-009');
    assert.equal([...html.matchAll(/<tr data-id=/g)].length, 10, 'app-00 … app-09');
  });

  it('the rollout view offers the actions that make sense now, to signed-in operators only', () => {
    const r = snap.rollouts.get('kustomization/flux-system/app-00');
    assert.ok(r);
    const anon = rolloutLive(r, { canAct: false }, NOW);
    assert.match(anon, /Sign in<\/a> to approve, pause, abort this rollout/);
    assert.ok(!anon.includes('<button'));
    const op = rolloutLive(r, { canAct: true }, NOW);
    assert.deepEqual([...op.matchAll(/data-action="(\w+)"/g)].map((m) => m[1]), ['approve', 'pause', 'abort']);
    assert.match(op, /waiting for approval/);
    const baking = { ...r, phase: 'Baking' as const, waves: r.waves.map((w, i) => (i === 0 ? { ...w, phase: 'Baking' as const, bakeUntil: NOW + 90_000 } : w)) };
    assert.match(rolloutLive(baking, { canAct: true }, NOW), /data-until="\d+" data-now="\d+">90s<\/span> left of 5m/);
  });
});

describe('dashboard history', () => {
  it('links every run and entry to the Temporal Web UI when the hub knows its URL', () => {
    const id = 'kustomization/flux-system/web';
    const timeline = {
      id, runs: [{ workflowId: id, runId: 'run-1', workflowType: 'kustomizationWorkflow', startedAt: NOW, status: 'Running' as const, events: 3 }],
      entries: [{ at: NOW, type: 'ClusterRolledBack', message: 'rolled back', cluster: 'dev', workflowId: id, runId: 'run-1', eventId: 7 }],
    };
    const html = historyLive({ timeline, entries: timeline.entries, namespace: 'default', cluster: '', since: '', limit: 300, temporalUi: 'http://127.0.0.1:8233/' });
    const links = [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(links, [
      'http://127.0.0.1:8233/namespaces/default/workflows/kustomization%2Fflux-system%2Fweb/run-1/history',
      'http://127.0.0.1:8233/namespaces/default/workflows/kustomization%2Fflux-system%2Fweb/run-1/history',
    ]);
    assert.match(html, /<span class="fail">ClusterRolledBack<\/span>/);
    assert.ok(!html.includes('--temporal-ui'), 'no hint to configure what is configured');
  });
});

describe('dashboard routes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-dashboard-'));
  const actions: { owner: string; action: RolloutAction; request: RolloutActionRequest }[] = [];
  const snap = syntheticFleet(6, 3, NOW);
  let api: HubApi | undefined;
  let token = '';

  const asked: string[] = [];
  const start = async (tokenForReads: boolean): Promise<HubApi> => {
    const tokenFile = join(dir, 'api-token');
    const { apiToken } = await import('../../hub/http-api.js');
    token = apiToken(tokenFile);
    return startHubApi('127.0.0.1:0', {
      info: { version: 'test', temporal: { address: 'x', namespace: 'default', taskQueue: 'q' }, grpc: 'x' },
      artifacts: new FileArtifactStore(join(dir, 'artifacts')), problems: () => [], tokenFile, tokenForReads,
      routes: dashboardRoutes({
        snapshot: () => Promise.resolve(snap), token, version: 'test', namespace: 'default', temporalUi: 'http://ui.example',
        declarations: {
          rolloutStatus: (owner) => { asked.push(owner); return Promise.resolve(snap.rollouts.get(owner)); },
          rolloutAction: (owner, action, request) => {
            actions.push({ owner, action, request });
            if (action === 'resume') return Promise.reject(new RolloutActionRefused('the rollout is not paused'));
            return Promise.resolve(`${action} accepted`);
          },
          timeline: () => Promise.reject(new Error('not used')),
        },
      }),
    });
  };
  const get = (path: string, headers: Record<string, string> = {}): Promise<Response> => fetch(`${api?.url ?? ''}${path}`, { headers, redirect: 'manual' });
  const post = (path: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> =>
    fetch(`${api?.url ?? ''}${path}`, { method: 'POST', body: new URLSearchParams(form), headers: { origin: api?.url ?? '', ...headers }, redirect: 'manual' });

  before(async () => { api = await start(false); });
  after(async () => { await api?.close(); rmSync(dir, { recursive: true, force: true }); });

  it('serves the overview, the rollouts and a rollout on loopback without a token', async () => {
    const overview = await get('/ui/');
    assert.equal(overview.status, 200);
    assert.match(await overview.text(), /6 clusters \(6 connected\), 3 deployments/);
    const fragment = await (await get('/ui/?fragment=1')).text();
    assert.ok(!fragment.includes('<html'), 'the live fragment is not a whole page');
    assert.match(fragment, /Deployments × clusters/);
    assert.match(await (await get('/ui/rollouts')).text(), /kustomization\/flux-system\/app-00/);
    const r = await get('/ui/rollout/kustomization/flux-system/app-00');
    assert.equal(r.status, 200);
    assert.match(await r.text(), /Sign in<\/a> to approve/);
    assert.equal((await get('/ui/rollout/kustomization/flux-system/nothing')).status, 404);
    // A scoped owner (flotilla bootstrap --cluster), as uiPath encodes it.
    assert.equal((await get('/ui/rollout/kustomization/flux-system%40staging/nothing')).status, 404);
    assert.equal(asked.at(-1), 'kustomization/flux-system@staging/nothing');
    assert.equal((await get('/')).headers.get('location'), '/ui/');
    assert.equal((await get('/ui/assets/dashboard.js')).status, 200);
  });

  it('acting needs the token even on loopback; sign-in sets it; the action names who acted', async () => {
    const path = '/ui/rollout/kustomization/flux-system/app-00';
    const anon = await post(path, { action: 'approve' });
    assert.equal(anon.status, 303);
    assert.match(anon.headers.get('location') ?? '', /^\/ui\/login\?next=/);
    assert.equal(actions.length, 0);
    const wrong = await post('/ui/login', { user: 'ana', token: 'nope', next: path });
    assert.equal(wrong.status, 401);
    const login = await post('/ui/login', { user: 'ana', token, next: path });
    assert.equal(login.status, 303);
    assert.equal(login.headers.get('location'), path);
    const cookies = login.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    assert.match(cookies, /flotilla-token=.+; flotilla-user=ana/);
    const page = await (await get(path, { cookie: cookies })).text();
    assert.match(page, /signed in as ana/);
    assert.match(page, /data-action="approve"/);
    const foreign = await post(path, { action: 'approve' }, { cookie: cookies, origin: 'http://evil.example' });
    assert.equal(foreign.status, 403);
    assert.equal(actions.length, 0);
    const ok = await post(path, { action: 'approve', reason: 'canary is fine' }, { cookie: cookies });
    assert.equal(ok.status, 303);
    assert.deepEqual(actions, [{ owner: 'kustomization/flux-system/app-00', action: 'approve', request: { by: 'ana (dashboard)', reason: 'canary is fine' } }]);
    assert.match(decodeURIComponent(ok.headers.get('location') ?? ''), /notice=approve accepted/);
    const refused = await post(path, { action: 'resume' }, { cookie: cookies });
    assert.match(decodeURIComponent(refused.headers.get('location') ?? ''), /resume refused: the rollout is not paused&error=1/);
    const bogus = await post(path, { action: 'delete' }, { cookie: cookies });
    assert.equal(bogus.status, 400);
    const bearer = await post(path, { action: 'pause' }, { authorization: `Bearer ${token}` });
    assert.equal(bearer.status, 303);
    assert.equal(actions.at(-1)?.action, 'pause');
  });

  it('reads need the token when the hub requires it (not on loopback)', async () => {
    await api?.close();
    api = await start(true);
    const anon = await get('/ui/');
    assert.equal(anon.status, 303);
    assert.equal(anon.headers.get('location'), '/ui/login?next=%2Fui%2F');
    assert.equal((await get('/api/v1/info')).status, 401);
    assert.equal((await get('/ui/', { authorization: `Bearer ${token}` })).status, 200);
    assert.equal((await get('/ui/login')).status, 200, 'the sign-in page itself is public');
    assert.equal((await get('/healthz')).status, 200);
  });
});
