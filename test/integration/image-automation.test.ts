// Image automation end to end, with real parts only: Debian's docker-registry on loopback
// (htpasswd auth, read through a dockerconfigjson Secret), a bare git repository the hub
// pushes to (it refuses non-fast-forward updates, so any force push would fail), Temporal,
// two clusters with the hub and agents as processes. Tags pushed through the registry API
// are scanned, an ImagePolicy picks one, the ImageUpdateAutomation commits the marked lines
// only, and the Kustomization rolls the commit out dev → prod.
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import type { ImagePolicyStatus, ImageUpdateAutomationStatus } from '../../api/image.js';
import { bin } from '../../deploy/dev/binaries.js';
import { waitFor } from '../../deploy/dev/processes.js';
import type { HistoryEntry } from '../../hub/history.js';
import { useFleet } from '../harness/fleet.js';
import { BareRepo } from '../harness/git.js';
import { startRegistry, type TestRegistry } from '../harness/registry.js';
import { replayLive } from '../harness/replay.js';

const run = promisify(execFile);
const { env, fleet, dir } = useFleet({ dev: { env: 'dev' }, prod: { env: 'prod' } }, 'flotilla-images-');
const KS = 'kustomization/flux-system/app';
const AUTOMATION = 'imageupdateautomation/flux-system/app';
const USER = 'ci';
const PASSWORD = 'registry-password-not-in-logs';
const state: { registry?: TestRegistry; repo?: BareRepo; original?: string } = {};

function registry(): TestRegistry {
  if (!state.registry) throw new Error('registry not started');
  return state.registry;
}

function repo(): BareRepo {
  state.repo ??= new BareRepo(join(dir(), 'fleet.git'));
  return state.repo;
}

/** The app's Deployment as a person would write it: comments, mixed quoting, flow maps, two markers. */
function deploymentYaml(tag: string): string {
  return `# The app. Its image is kept up to date by image automation.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  namespace: app   # where it runs
  annotations:
    app-version: "${tag}" # {"$imagepolicy": "flux-system:app:tag"}
spec:
  replicas: 1
  selector: {matchLabels: {app: app}}
  template:
    metadata:
      labels:
        app: app
    spec:
      containers:
        - name: app
          image: ${registry().host}/app:${tag} # {"$imagepolicy": "flux-system:app"}
          args: ["--port", '8080']   # unchanged
`;
}

async function apply(name: string, objects: readonly unknown[]): Promise<void> {
  const file = join(dir(), `${name}.yaml`);
  writeFileSync(file, objects.map((o) => stringify(o)).join('---\n'));
  const r = await fleet().cli('apply', '-f', file);
  assert.equal(r.code, 0, r.stdout + r.stderr);
}

async function kubectl(cluster: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(bin('kubectl'), ['--kubeconfig', env().cluster(cluster).kubeconfigPath, ...args]);
  return stdout.trim();
}

async function images(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const c of ['dev', 'prod']) {
    out[c] = await kubectl(c, 'get', 'deployment', 'app', '-n', 'app', '-o', 'jsonpath={.spec.template.spec.containers[0].image}').catch(() => '-');
  }
  return out;
}

async function policy(name: string): Promise<ImagePolicyStatus> {
  const s = await fleet().status(`imagepolicy/flux-system/${name}`);
  if (s.kind !== 'ImagePolicy') throw new Error(`${name} is not an ImagePolicy`);
  return s.status;
}

async function automation(): Promise<ImageUpdateAutomationStatus> {
  const s = await fleet().status(AUTOMATION);
  if (s.kind !== 'ImageUpdateAutomation') throw new Error('not an ImageUpdateAutomation');
  return s.status;
}

async function waitForImage(name: string, image: string | undefined, what = `${name} picks ${image ?? 'nothing'}`): Promise<ImagePolicyStatus> {
  return waitFor(what, async () => {
    const s = await policy(name).catch(() => undefined);
    if (s === undefined) return undefined;
    if (image === undefined) return s.conditions.some((c) => c.type === 'Ready' && c.status === 'False' && c.reason === 'NoMatchingTag') ? s : undefined;
    return s.latestImage === image ? s : undefined;
  }, { timeoutMs: 60_000, intervalMs: 300 });
}

/** Waits for the automation to have pushed a commit other than `previous`. */
async function waitForPush(previous: string | undefined): Promise<ImageUpdateAutomationStatus> {
  return waitFor('a new commit from the automation', async () => {
    const s = await automation().catch(() => undefined);
    return s?.lastPushCommit !== undefined && s.lastPushCommit !== previous ? s : undefined;
  }, { timeoutMs: 90_000, intervalMs: 300 });
}

async function scanNow(): Promise<void> {
  const r = await fleet().cli('reconcile', 'image', 'repository', 'app', '-n', 'flux-system');
  assert.equal(r.code, 0, r.stdout + r.stderr);
}

const meta = (name: string): { name: string; namespace: string } => ({ name, namespace: 'flux-system' });
// Every version Flux served is read: v1beta2 here, v1 (Flux 2.7's GA) for the ImageRepository,
// v1beta1 for the first policy and the automation (converted to v1 by core/declarations/versions.ts).
const IMAGE = 'image.toolkit.fluxcd.io/v1beta2';
const imagePolicy = (name: string, repository: string, spec: Record<string, unknown>, apiVersion = IMAGE): unknown => ({
  apiVersion, kind: 'ImagePolicy', metadata: meta(name), spec: { imageRepositoryRef: { name: repository }, ...spec },
});
const imageRepository = (name: string): unknown => ({
  apiVersion: 'image.toolkit.fluxcd.io/v1', kind: 'ImageRepository', metadata: meta(name),
  spec: { image: `${registry().host}/${name}`, interval: '1h', insecure: true, secretRef: { name: 'regcred' } },
});

describe('image automation: registry tags → policy → git commit → fleet rollout', () => {
  before(async () => {
    state.registry = await startRegistry(join(dir(), 'registry'), { auth: 'htpasswd', users: { [USER]: PASSWORD } });
    for (const tag of ['1.0.0', '1.0.1', '1.1.0-rc.1']) await registry().pushImage('app', tag);
    state.original = deploymentYaml('1.0.1');
    repo().commitFiles({
      'app/namespace.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: app\n',
      'app/deployment.yaml': state.original,
      'README.md': '# fleet\n',
    }, 'the app at 1.0.1');
  });
  after(async () => { await state.registry?.stop(); });

  it('a >=1.0.0 policy picks 1.0.1 (not the release candidate); the file already has it, so nothing is committed', async () => {
    const dockerconfig = JSON.stringify({ auths: { [registry().host]: { username: USER, password: PASSWORD } } });
    await apply('images', [
      { apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/dockerconfigjson', metadata: meta('regcred'), stringData: { '.dockerconfigjson': dockerconfig } },
      { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: meta('fleet'), spec: { url: repo().url, interval: '1h', ref: { branch: 'main' } } },
      {
        apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: meta('app'),
        spec: {
          interval: '1h', prune: true, sourceRef: { kind: 'GitRepository', name: 'fleet' }, path: './app', timeout: '30s',
          rollout: { onFailure: 'rollback', waves: [
            { name: 'dev', clusterSelector: { matchLabels: { env: 'dev' } }, bakeTime: '1s', healthTimeout: '30s' },
            { name: 'prod', clusterSelector: { matchLabels: { env: 'prod' } }, bakeTime: '1s', healthTimeout: '30s' },
          ] },
        },
      },
      imageRepository('app'),
      imagePolicy('app', 'app', { policy: { semver: { range: '>=1.0.0' } } }, 'image.toolkit.fluxcd.io/v1beta1'),
      // The registry's webhook (Flux's pattern): a push event makes the ImageRepository scan at once.
      { apiVersion: 'v1', kind: 'Secret', metadata: meta('webhook-token'), stringData: { token: 'registry-webhook-token' } },
      {
        apiVersion: 'notification.toolkit.fluxcd.io/v1', kind: 'Receiver', metadata: meta('registry'),
        spec: { type: 'generic', secretRef: { name: 'webhook-token' }, resources: [{ kind: 'ImageRepository', name: 'app' }] },
      },
      {
        apiVersion: 'image.toolkit.fluxcd.io/v1beta1', kind: 'ImageUpdateAutomation', metadata: meta('app'),
        spec: {
          interval: '1h', sourceRef: { kind: 'GitRepository', name: 'fleet' }, update: { path: './app', strategy: 'Setters' },
          git: {
            checkout: { ref: { branch: 'main' } }, push: { branch: 'main' },
            commit: {
              author: { name: 'fluxbot', email: 'fluxbot@example.com' },
              messageTemplate: '{{ range .Changed.Changes }}{{ print .OldValue }} -> {{ println .NewValue }}{{ end }}automation: {{ .AutomationObject }}',
            },
          },
        },
      },
    ]);
    const initial = repo().head();
    await fleet().waitForReadyAt(KS, `main@sha1:${initial}`);
    const p = await waitForImage('app', `${registry().host}/app:1.0.1`);
    assert.equal(p.previousImage, undefined);
    const a = await waitFor('the automation up to date', async () => {
      const s = await automation().catch(() => undefined);
      return s?.conditions.some((c) => c.type === 'Ready' && c.status === 'True' && c.message === 'repository up-to-date') ? s : undefined;
    }, { timeoutMs: 60_000 });
    assert.deepEqual(a.observedPolicies, { 'flux-system/app': `${registry().host}/app:1.0.1` });
    assert.equal(a.lastPushCommit, undefined);
    assert.equal(repo().head(), initial, 'no commit when nothing changed');
    const repoStatus = await fleet().status('imagerepository/flux-system/app');
    assert.ok(repoStatus.kind === 'ImageRepository' && repoStatus.status.lastScan);
    assert.equal(repoStatus.status.lastScan.tagCount, 3);
    assert.deepEqual(repoStatus.status.lastScan.latestTags, ['1.1.0-rc.1', '1.0.1', '1.0.0']);
  });

  it('pushing 1.2.0 makes one commit changing the marked lines only, and the fleet rolls it out dev → prod', async () => {
    const before = repo().head();
    await registry().pushImage('app', '1.2.0');
    await scanNow();
    await waitForImage('app', `${registry().host}/app:1.2.0`);
    const a = await waitForPush(undefined);
    const commit = a.lastPushCommit ?? '';
    assert.equal(repo().head(), commit);
    const info = repo().commitInfo(commit);
    assert.deepEqual(info.parents, [before], 'exactly one commit, on top of the previous head');
    assert.equal(info.authorName, 'fluxbot');
    assert.equal(info.authorEmail, 'fluxbot@example.com');
    assert.equal(info.message.trim(), `1.0.1 -> 1.2.0\n${registry().host}/app:1.0.1 -> ${registry().host}/app:1.2.0\nautomation: flux-system/app`);
    // Every byte but the two marked values is what the person wrote.
    const expected = (state.original ?? '').replace('"1.0.1" #', '"1.2.0" #').replace('/app:1.0.1 #', '/app:1.2.0 #');
    assert.equal(repo().show(commit, 'app/deployment.yaml'), expected);
    assert.equal(repo().show(commit, 'README.md'), '# fleet\n');

    await fleet().waitForReadyAt(KS, `main@sha1:${commit}`, 120_000);
    assert.deepEqual(await images(), { dev: `${registry().host}/app:1.2.0`, prod: `${registry().host}/app:1.2.0` });
    const rollout = await fleet().declarations.rolloutStatus(KS);
    assert.equal(rollout?.revision, `main@sha1:${commit}`);
    assert.equal(rollout.phase, 'Succeeded');
    assert.equal((await policy('app')).previousImage, `${registry().host}/app:1.0.1`);
  });

  it('flotilla history on the automation shows scan → policy decision → commit → the rollout', async () => {
    const r = await fleet().cli('history', AUTOMATION, '-o', 'json');
    assert.equal(r.code, 0, r.stderr);
    const entries = (JSON.parse(r.stdout) as { entries: HistoryEntry[] }).entries;
    const commit = (await automation()).lastPushCommit ?? '';
    const at = (type: string, match: (e: HistoryEntry) => boolean = () => true): number => {
      const i = entries.findIndex((e) => e.type === type && match(e));
      assert.ok(i >= 0, `no ${type} entry in ${entries.map((e) => `${e.type}: ${e.message}`).join('\n')}`);
      return i;
    };
    const scanned = at('ImageScanned', (e) => e.message.includes('found 4 tags'));
    const selected = at('ImageSelected', (e) => e.message.includes('app:1.2.0'));
    const committed = at('Committed', (e) => e.revision === `main@sha1:${commit}`);
    const rolledOut = at('RolloutFinished', (e) => e.message.includes(`Succeeded: main@sha1:${commit}`));
    assert.ok(scanned < selected && selected < committed && committed < rolledOut, 'in that order');
    assert.match(entries[committed]?.message ?? '', /1\.0\.1 → .*1\.2\.0 in app\/deployment\.yaml/);
    assert.ok(!r.stdout.includes(PASSWORD), 'no registry password in the history');
  });

  it('numerical and alphabetical policies with filterTags extraction; a policy that matches nothing says so and commits nothing', async () => {
    for (const tag of ['main-abc1234-1700000001', 'main-def5678-1700000003', 'main-0aa9999-1700000002', 'feature-x-1700000009', 'latest']) {
      await registry().pushImage('builds', tag);
    }
    const head = repo().head();
    await apply('policies', [
      imageRepository('builds'),
      imagePolicy('newest-build', 'builds', { filterTags: { pattern: '^main-[a-f0-9]+-(?P<ts>[0-9]+)$', extract: '$ts' }, policy: { numerical: { order: 'asc' } } }),
      imagePolicy('last-sha', 'builds', { filterTags: { pattern: '^main-(?P<sha>[a-f0-9]+)-', extract: '${sha}' }, policy: { alphabetical: { order: 'asc' } } }),
      imagePolicy('first-sha', 'builds', { filterTags: { pattern: '^main-(?P<sha>[a-f0-9]+)-', extract: '$sha' }, policy: { alphabetical: { order: 'desc' } } }),
      imagePolicy('future', 'app', { policy: { semver: { range: '>=5.0.0' } } }),
    ]);
    await waitForImage('newest-build', `${registry().host}/builds:main-def5678-1700000003`);
    await waitForImage('last-sha', `${registry().host}/builds:main-def5678-1700000003`);
    await waitForImage('first-sha', `${registry().host}/builds:main-0aa9999-1700000002`);
    const none = await waitForImage('future', undefined);
    assert.equal(none.latestImage, undefined);
    assert.match(none.conditions.find((c) => c.type === 'Ready')?.message ?? '', /no tag matches the policy/);

    const get = await fleet().cli('get', 'images', 'policy', '-n', 'flux-system');
    assert.equal(get.code, 0, get.stderr);
    assert.match(get.stdout, /future\s.*False\s+no tag matches the policy/);
    assert.match(get.stdout, /newest-build\s+\S+builds:main-def5678-1700000003/);

    // The automation sees every policy of the namespace; none has a marker, so no commit.
    const r = await fleet().cli('reconcile', 'image', 'update', 'app', '-n', 'flux-system');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const a = await automation();
    assert.deepEqual(Object.keys(a.observedPolicies).sort(), ['flux-system/app', 'flux-system/first-sha', 'flux-system/last-sha', 'flux-system/newest-build']);
    assert.equal(repo().head(), head, 'nothing committed');
  });

  it('a commit pushed to the branch meanwhile is kept: the update is re-applied on top of it, never force-pushed', async () => {
    const before = (await automation()).lastPushCommit;
    const race = repo().raceNextPush('README.md', '# fleet\n\nEdited while the automation pushed.\n', 'docs: concurrent edit');
    await registry().pushImage('app', '1.3.0');
    // This time the registry's webhook asks for the scan, through the Receiver.
    const receivers = await fleet().cli('get', 'receivers', '-o', 'json');
    assert.equal(receivers.code, 0, receivers.stderr);
    const path = (JSON.parse(receivers.stdout) as { id?: string; path?: string }[]).find((r) => r.id === 'receiver/flux-system/registry')?.path;
    assert.ok(path, receivers.stdout);
    const hook = await fetch(`${fleet().hubUrl}${path}`, { method: 'POST', body: '{"events":[{"action":"push"}]}' });
    assert.equal(hook.status, 200, await hook.text());
    const a = await waitForPush(before);
    const theirs = race.commit();
    assert.ok(theirs, 'the concurrent commit happened');
    const ours = a.lastPushCommit ?? '';
    assert.deepEqual(repo().commitInfo(ours).parents, [theirs], 'ours on top of theirs');
    assert.ok(repo().isAncestor(before ?? '', theirs));
    assert.equal(repo().show(ours, 'README.md'), '# fleet\n\nEdited while the automation pushed.\n');
    assert.match(a.conditions.find((c) => c.type === 'Ready')?.message ?? '', /after 1 concurrent push/);
    await fleet().waitForReadyAt(KS, `main@sha1:${ours}`, 120_000);
    assert.deepEqual(await images(), { dev: `${registry().host}/app:1.3.0`, prod: `${registry().host}/app:1.3.0` });
  });

  it('the hub killed while its push is in flight: the commit lands once and the fleet still gets it', async () => {
    const before = repo().head();
    const marker = join(dir(), 'push-landed');
    repo().holdNextPush(marker, 10);
    await registry().pushImage('app', '1.4.0');
    await scanNow();
    // The branch has moved; the hub's push has not returned yet (its activity has not completed).
    await waitFor('the push to land', () => Promise.resolve(existsSync(marker) ? true : undefined), { timeoutMs: 60_000, intervalMs: 100 });
    await fleet().killHub();
    await fleet().startHub();
    const ours = repo().head();
    assert.deepEqual(repo().commitInfo(ours).parents, [before], 'one commit');
    // The retried push finds the images already there and commits nothing; the GitRepository
    // is still asked to fetch, so the fleet gets the commit without waiting for its 1h interval.
    await fleet().waitForReadyAt(KS, `main@sha1:${ours}`, 150_000);
    assert.equal(repo().head(), ours, 'still one commit');
    assert.deepEqual(await images(), { dev: `${registry().host}/app:1.4.0`, prod: `${registry().host}/app:1.4.0` });
  });

  it("the image actors' histories replay on the current workflow code", async () => {
    await replayLive(fleet().client, ['imagerepository/flux-system/app', 'imagepolicy/flux-system/app', AUTOMATION]);
  });

  it('keeps credentials out of the hub log', () => {
    const log = ['hub-1.log', 'hub-2.log'].map((f) => readFileSync(join(fleet().dir, f), 'utf8')).join('\n');
    assert.ok(!log.includes(PASSWORD));
    assert.ok(!log.includes(Buffer.from(`${USER}:${PASSWORD}`).toString('base64')));
  });
});
