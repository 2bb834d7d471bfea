// The dashboard in a real browser (Debian's Chromium through playwright-core) against a real
// fleet: Temporal, two real clusters, the hub and agents as processes. The overview shows the
// clusters and the deployments × clusters grid; the rollout page follows a rollout live (no
// reload) through its bake into the approval gate; an operator signs in and approves from
// the page; a broken version rolls back, and the history page shows the rollback and who
// approved. Screenshots of each view go to test-results/dashboard/.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { stringify } from 'yaml';
import type { RolloutStatus } from '../../api/rollout.js';
import { repoRoot } from '../../deploy/dev/binaries.js';
import { waitFor } from '../../deploy/dev/processes.js';
import { appObjects, devProdRollout, fleetSource } from '../harness/apps.js';
import { launchChromium } from '../harness/browser.js';
import { useFleet } from '../harness/fleet.js';
import { GitRepo } from '../harness/git.js';

const { fleet, dir } = useFleet({ dev: { env: 'dev' }, prod: { env: 'prod' } }, 'flotilla-dashboard-');
const ID = 'kustomization/flux-system/web';
const SHOTS = join(repoRoot, 'test-results', 'dashboard');
const state: { repo?: GitRepo; browser?: Browser; page?: Page } = {};

function repo(): GitRepo {
  state.repo ??= new GitRepo(join(dir(), 'fleet'));
  return state.repo;
}

function tab(): Page {
  if (!state.page) throw new Error('the browser did not start');
  return state.page;
}

function writeWeb(version: string, broken = false): string {
  repo().writeObjects('web/web.yaml', appObjects('web', version, broken));
  return repo().commit(`web ${version}${broken ? ' (broken)' : ''}`);
}

async function rollout(commit: string, done: (s: RolloutStatus) => boolean, what: string): Promise<RolloutStatus> {
  return waitFor(`rollout of ${commit.slice(0, 7)}: ${what}`, async () => {
    const s = await fleet().declarations.rolloutStatus(ID).catch(() => undefined);
    return s && s.revision.endsWith(commit) && done(s) ? s : undefined;
  }, { timeoutMs: 150_000, intervalMs: 300 });
}

async function shot(name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await tab().screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** Waits until the page (without reloading) shows `pattern` in its live region. */
async function liveShows(pattern: RegExp, what: string): Promise<void> {
  await waitFor(what, async () => (pattern.test(await tab().locator('#live').innerText()) ? true : undefined), { timeoutMs: 150_000, intervalMs: 250 });
}

describe('the dashboard in a browser', () => {
  const commits: string[] = [];

  before(async () => {
    state.browser = await launchChromium();
    state.page = await (await state.browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
  });
  after(async () => { await state.browser?.close(); });

  it('applies a fleet: web rolled out dev (bake 6s) → prod (approval gate)', async () => {
    commits.push(writeWeb('1.0.0'));
    const objects = [
      fleetSource(repo().url),
      devProdRollout('web', '6s'),
    ];
    const file = join(dir(), 'fleet.yaml');
    writeFileSync(file, objects.map((x) => stringify(x)).join('---\n'));
    const r = await fleet().cli('apply', '-f', file);
    assert.equal(r.code, 0, r.stderr);
    await rollout(commits[0] ?? '', (s) => s.phase !== 'WaitingApproval' && s.finishedAt === undefined, 'started, not yet at the gate');
  });

  it('the rollout page follows the rollout live, through the bake into the approval gate', async () => {
    await tab().goto(`${fleet().hubUrl}/ui/rollout/${ID}`);
    await tab().evaluate('window.flotillaNoReload = true');
    assert.match(await tab().locator('h1').innerText(), /Rollout of kustomization\/flux-system\/web/);
    await liveShows(/Baking/, 'the dev wave baking');
    assert.match(await tab().locator('.wave[data-wave="dev"] .countdown').innerText(), /^\d+s$/, 'a bake countdown');
    await shot('rollout-baking');
    await liveShows(/waiting for approval/, 'the prod gate waiting');
    assert.equal(await tab().evaluate('window.flotillaNoReload'), true, 'the page updated without reloading');
    assert.match(await tab().locator('#live').innerText(), /Sign in to approve, pause, abort this rollout/);
    await shot('rollout-waiting-approval');
  });

  it('the overview shows both clusters and why prod is behind', async () => {
    await tab().goto(`${fleet().hubUrl}/ui/`);
    const clusters = await tab().locator('table.clusters tbody tr').allInnerTexts();
    assert.deepEqual(clusters.map((r) => r.split('\t').slice(0, 2).join(' ')), ['dev Connected', 'prod Connected']);
    const row = tab().locator(`tr[data-id="${ID}"]`);
    assert.equal(await row.locator('td.k').count(), 1, 'dev is up to date');
    const prod = row.locator('td[data-verdict="WaitingApproval"]');
    assert.match(await prod.getAttribute('title') ?? '', /^prod: prod is in wave prod; the rollout waits for approval of wave prod/);
    assert.match(await tab().locator('table.behind').innerText(), /prod\s+WaitingApproval\s+prod is in wave prod/);
    await shot('overview-waiting-approval');
  });

  it('an operator signs in and approves the gate from the page; the rollout finishes', async () => {
    await tab().locator('a', { hasText: 'sign in' }).first().click();
    await tab().fill('input[name="user"]', 'tester');
    await tab().fill('input[name="token"]', readFileSync(join(fleet().hubData, 'api-token'), 'utf8').trim());
    await tab().click('button[type="submit"]');
    assert.match(await tab().locator('header').innerText(), /signed in as tester/);
    await tab().goto(`${fleet().hubUrl}/ui/rollout/${ID}`);
    await tab().fill('input[name="reason"]', 'dev looks good');
    await tab().click('button[data-action="approve"]');
    assert.match(await tab().locator('.notice').innerText(), /approve accepted/);
    await liveShows(/Succeeded/, 'the rollout succeeded');
    assert.match(await tab().locator('.wave[data-wave="prod"]').innerText(), /approved by tester \(dashboard\)/);
    await shot('rollout-approved');
    const done = await rollout(commits[0] ?? '', (s) => s.phase === 'Succeeded', 'succeeded');
    assert.equal(done.waves[1]?.approvedBy, 'tester (dashboard)');
  });

  it('a broken version fails in dev and rolls back; the history page shows it, and who approved', async () => {
    commits.push(writeWeb('1.0.1', true));
    const r = await fleet().cli('reconcile', 'source', 'git', 'fleet', '-n', 'flux-system');
    assert.equal(r.code, 0, r.stderr);
    await rollout(commits[1] ?? '', (s) => s.phase === 'RolledBack', 'rolled back');
    await tab().goto(`${fleet().hubUrl}/ui/history/${ID}`);
    const timeline = await tab().locator('table.timeline').innerText();
    assert.match(timeline, /RollbackStarted/);
    assert.match(timeline, /dev\s+ClusterRolledBack/);
    assert.match(timeline, /Approved[\s\S]*by tester \(dashboard\)/);
    // The test environment runs Temporal without its Web UI, so each run names the command that
    // shows it (the links to the UI are checked in test/unit/dashboard.test.ts).
    assert.equal(fleet().env.temporalServer().uiUrl, undefined);
    assert.match(await tab().locator('table.runs td span[title]').first().getAttribute('title') ?? '', /^temporal workflow show --workflow-id kustomization\/flux-system\/web --run-id [\w-]+$/);
    assert.match(await tab().locator('#live').innerText(), /Start the hub with --temporal-ui <url>/);
    await shot('history-rolled-back');
    await tab().goto(`${fleet().hubUrl}/ui/`);
    assert.match(await tab().locator(`tr[data-id="${ID}"] td[data-verdict]`).first().getAttribute('title') ?? '', /rolled back/);
    await shot('overview-rolled-back');
    await tab().goto(`${fleet().hubUrl}/ui/history/cluster/dev`);
    assert.match(await tab().locator('h1').innerText(), /History of cluster\/dev/);
    await shot('history-cluster-dev');
  });
});
