// Image update automation against real git: bare repositories on disk served over file://,
// updated through a persistent checkout, pushed without force; concurrent pushes staged by a
// pre-receive hook that commits to the branch while our push is in flight.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { updateImagesInGit, type ImageUpdateGitInput, type ImageUpdateGitResult } from '../../activities/image-update.js';
import { GitSourceError } from '../../activities/git-session.js';
import { renderCommitMessage } from '../../core/image/message-template.js';
import { BareRepo } from '../harness/git.js';
import { DEV_SOURCE_POLICY } from '../../deploy/dev/source-policy.js';

const APP = `# The app, managed by image automation.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  namespace: apps
spec:
  replicas: 1
  template:
    spec:
      containers:
        - name: app
          image: ghcr.io/org/app:1.0.0 # {"$imagepolicy": "flux-system:app"}
        - name: sidecar
          image: ghcr.io/org/sidecar:2.0.0   # not managed
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: app
  namespace: apps
spec:
  values:
    image:
      repository: ghcr.io/org/app # {"$imagepolicy": "flux-system:app:name"}
      tag: "1.0.0" # {"$imagepolicy": "flux-system:app:tag"}
`;
const OTHER = `apiVersion: v1
kind: ConfigMap
metadata:
  name: other   # no markers here
data:
  image: ghcr.io/org/app:1.0.0
`;
const TEMPLATE = 'Automated image update\n\nby flotilla';

/** APP with the two marked values of version 1.0.0 moved to `version`, every other byte kept. */
function appAt(version: string, base = APP): string {
  return base
    .replace('image: ghcr.io/org/app:1.0.0 #', `image: ghcr.io/org/app:${version} #`)
    .replace('tag: "1.0.0" #', `tag: "${version}" #`);
}

/** The automation's checkout, named apart from GitRepository checkouts. */
function checkoutDir(workDir: string): string {
  const found = readdirSync(workDir).filter((d) => d.startsWith('imageupdate_imageupdateautomation_flux-system_apps-'));
  assert.equal(found.length, 1);
  return found[0] ?? '';
}

let root = '';
let counter = 0;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'flotilla-image-update-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

interface Fixture {
  readonly bare: BareRepo;
  readonly workDir: string;
  readonly seed: string;
  readonly beats: { count: number };
  update(overrides?: Partial<ImageUpdateGitInput>, heartbeat?: () => void): Promise<ImageUpdateGitResult>;
}

function fixture(files: Readonly<Record<string, string>> = { 'apps/app.yaml': APP, 'apps/other.yaml': OTHER, 'README.md': 'fleet\n' }): Fixture {
  const n = ++counter;
  const bare = new BareRepo(join(root, `fleet-${n}.git`));
  const seed = bare.commitFiles(files, 'initial');
  const workDir = join(root, `work-${n}`);
  const beats = { count: 0 };
  const input: ImageUpdateGitInput = {
    id: 'imageupdateautomation/flux-system/apps',
    url: bare.url,
    timeoutSeconds: 30,
    checkoutBranch: 'main',
    pushBranch: 'main',
    path: '.',
    author: { name: 'Flux Bot', email: 'fluxbot@example.com' },
    messageTemplate: TEMPLATE,
    messageValues: { cluster: 'prod' },
    automation: { namespace: 'flux-system', name: 'apps' },
    images: { 'flux-system:app': 'ghcr.io/org/app:1.2.0' },
  };
  return {
    bare,
    workDir,
    seed,
    beats,
    update: (overrides = {}, heartbeat) =>
      updateImagesInGit({ ...input, ...overrides }, {
        workDir,
        policy: DEV_SOURCE_POLICY,
        heartbeat: () => {
          beats.count++;
          heartbeat?.();
        },
      }),
  };
}

describe('updateImagesInGit', () => {
  it('commits only the marked lines, as the given author, then finds nothing to do', async () => {
    const f = fixture();
    const result = await f.update();

    assert.equal(result.outcome, 'pushed');
    assert.equal(result.branch, 'main');
    assert.equal(result.attempts, 1);
    assert.equal(result.baseCommit, f.seed);
    assert.equal(result.commit, f.bare.head('main'));
    assert.equal(f.bare.show('main', 'apps/app.yaml'), appAt('1.2.0'), 'only the marked scalars change');
    assert.equal(f.bare.show('main', 'apps/other.yaml'), OTHER);
    assert.equal(f.bare.show('main', 'README.md'), 'fleet\n');

    const info = f.bare.commitInfo('main');
    assert.deepEqual(info.parents, [f.seed]);
    assert.deepEqual(
      [info.authorName, info.authorEmail, info.committerName, info.committerEmail],
      ['Flux Bot', 'fluxbot@example.com', 'Flux Bot', 'fluxbot@example.com'],
    );
    assert.equal(result.message, TEMPLATE);
    assert.equal(info.message, `${TEMPLATE}\n`);
    // Whatever the template engine does, the message is the rendering of these changes.
    assert.equal(
      result.message,
      renderCommitMessage(TEMPLATE, { automation: { namespace: 'flux-system', name: 'apps' }, changes: result.changes, values: { cluster: 'prod' } }),
    );

    assert.deepEqual(
      result.changes.map((c) => [c.file, c.object.kind, c.setter, c.policy.namespace, c.policy.name, c.oldValue, c.newValue, c.image]),
      [
        ['apps/app.yaml', 'Deployment', 'flux-system:app', 'flux-system', 'app', 'ghcr.io/org/app:1.0.0', 'ghcr.io/org/app:1.2.0', 'ghcr.io/org/app:1.2.0'],
        ['apps/app.yaml', 'HelmRelease', 'flux-system:app:tag', 'flux-system', 'app', '1.0.0', '1.2.0', 'ghcr.io/org/app:1.2.0'],
      ],
    );
    assert.ok(f.beats.count >= 5, `heartbeats after the git steps (${f.beats.count})`);

    const again = await f.update();
    assert.equal(again.outcome, 'unchanged');
    assert.equal(again.commit, undefined);
    assert.equal(again.baseCommit, result.commit);
    assert.equal(again.attempts, 1);
    assert.equal(f.bare.head('main'), result.commit, 'no new commit');
    assert.equal(f.bare.log('main').length, 2);
  });

  it('re-applies on top of a commit that landed during the push, without forcing', async () => {
    const f = fixture();
    const race = f.bare.raceNextPush('apps/app.yaml', APP.replace('replicas: 1', 'replicas: 3'), 'scale up');
    const result = await f.update();

    const theirs = race.commit();
    assert.ok(theirs !== undefined, 'the concurrent commit was made during the push');
    assert.equal(result.outcome, 'pushed');
    assert.equal(result.attempts, 2);
    assert.equal(result.baseCommit, theirs);
    const log = f.bare.log('main');
    assert.deepEqual(
      log.map((c) => c.commit),
      [result.commit, theirs, f.seed],
      'their commit, then ours on top',
    );
    assert.ok(f.bare.isAncestor(theirs, f.bare.head('main')), 'their commit survived: no force push');
    assert.equal(f.bare.commitInfo(theirs).authorName, 'Concurrent Pusher');
    assert.equal(f.bare.show('main', 'apps/app.yaml'), appAt('1.2.0', APP.replace('replicas: 1', 'replicas: 3')), 'both edits are kept');
  });

  it('re-applies when the branch moved between its fetch and its push (rejected: fetch first)', async () => {
    const f = fixture();
    let theirs: string | undefined;
    // The first heartbeat after our commit exists (its message file is written just before):
    // another writer pushes, so our push is refused client-side, before any ref update.
    const result = await f.update({}, () => {
      if (theirs !== undefined || !existsSync(join(f.workDir, checkoutDir(f.workDir), '.git', 'flotilla-commit-message'))) return;
      theirs = f.bare.commitFiles({ 'README.md': 'edited meanwhile\n' }, 'docs');
    });
    assert.ok(theirs !== undefined);
    assert.equal(result.outcome, 'pushed');
    assert.equal(result.attempts, 2);
    assert.equal(result.baseCommit, theirs);
    assert.deepEqual(f.bare.commitInfo('main').parents, [theirs]);
    assert.equal(f.bare.show('main', 'README.md'), 'edited meanwhile\n');
    assert.equal(f.bare.show('main', 'apps/app.yaml'), appAt('1.2.0'));
  });

  it('is unchanged when the concurrent commit already made the same update', async () => {
    const f = fixture();
    const race = f.bare.raceNextPush('apps/app.yaml', appAt('1.2.0'), 'someone bumped the app by hand');
    const result = await f.update();

    const theirs = race.commit();
    assert.ok(theirs !== undefined);
    assert.equal(result.outcome, 'unchanged');
    assert.equal(result.attempts, 2);
    assert.equal(result.baseCommit, theirs);
    assert.equal(f.bare.head('main'), theirs, 'nothing of ours was pushed');
    assert.equal(f.bare.log('main').length, 2);
  });

  it('gives up after maxAttempts push races', async () => {
    const f = fixture();
    f.bare.raceNextPush('README.md', 'raced\n', 'race');
    await assert.rejects(f.update({ maxAttempts: 1 }), (err: unknown) => {
      assert.ok(err instanceof GitSourceError);
      assert.match(err.message, /kept moving: gave up after 1 push attempt \(maxAttempts\); the last cannot push/);
      assert.match(err.message, /failed to update ref|cannot lock ref/);
      return true;
    });
    assert.equal(f.bare.show('main', 'apps/app.yaml'), APP);
  });

  it('creates a separate push branch from the checkout branch, then builds on it', async () => {
    const f = fixture();
    const first = await f.update({ pushBranch: 'image-updates' });
    assert.equal(first.outcome, 'pushed');
    assert.equal(first.branch, 'image-updates');
    assert.equal(first.baseCommit, f.seed, 'a new push branch starts at the checkout branch');
    assert.equal(f.bare.head('image-updates'), first.commit);
    assert.equal(f.bare.head('main'), f.seed, 'the checkout branch is untouched');

    // main moves on; Flux (without force push) computes the next update on the push branch.
    const mainMoved = f.bare.commitFiles({ 'README.md': 'fleet, later\n' }, 'docs');
    const second = await f.update({ pushBranch: 'image-updates', images: { 'flux-system:app': 'ghcr.io/org/app:1.3.0' } });
    assert.equal(second.outcome, 'pushed');
    assert.equal(second.baseCommit, first.commit);
    assert.deepEqual(f.bare.commitInfo('image-updates').parents, [first.commit]);
    assert.equal(f.bare.show('image-updates', 'apps/app.yaml'), appAt('1.3.0'));
    assert.equal(f.bare.show('image-updates', 'README.md'), 'fleet\n');
    assert.equal(f.bare.head('main'), mainMoved);
    assert.deepEqual(second.changes.map((c) => c.oldValue), ['ghcr.io/org/app:1.2.0', '1.2.0']);

    const third = await f.update({ pushBranch: 'image-updates', images: { 'flux-system:app': 'ghcr.io/org/app:1.3.0' } });
    assert.equal(third.outcome, 'unchanged');
    assert.equal(third.baseCommit, second.commit);
  });

  it('touches only the files under path, and refuses paths out of the repository', async () => {
    const f = fixture({ 'apps/app.yaml': APP, 'infra/app.yaml': APP, 'apps/nested/app.yml': APP, 'apps/app.txt': APP });
    const result = await f.update({ path: './apps/' });
    assert.equal(result.outcome, 'pushed');
    assert.deepEqual([...new Set(result.changes.map((c) => c.file))], ['apps/app.yaml', 'apps/nested/app.yml']);
    assert.equal(f.bare.show('main', 'apps/app.yaml'), appAt('1.2.0'));
    assert.equal(f.bare.show('main', 'apps/nested/app.yml'), appAt('1.2.0'));
    assert.equal(f.bare.show('main', 'apps/app.txt'), APP, 'not YAML');
    assert.equal(f.bare.show('main', 'infra/app.yaml'), APP, 'outside path');

    for (const path of ['../fleet', 'apps/../../x', '/etc', '.git']) {
      await assert.rejects(f.update({ path }), (err: unknown) => {
        assert.ok(err instanceof GitSourceError, String(err));
        assert.equal(err.reason, 'IllegalPath');
        assert.match(err.message, /imageupdateautomation\/flux-system\/apps: update path/);
        return true;
      });
    }
    await assert.rejects(f.update({ path: 'missing' }), /update path "missing" does not exist/);
    assert.equal(f.bare.head('main'), result.commit);
  });

  it('does not follow symlinks out of the repository', async () => {
    const f = fixture();
    const outside = join(root, `outside-${counter}`);
    await mkdir(outside);
    await writeFile(join(outside, 'app.yaml'), APP);
    const author = f.bare.clone(join(root, `author-${counter}`));
    await symlink(join(outside, 'app.yaml'), join(author.dir, 'apps', 'linked.yaml'));
    await symlink(outside, join(author.dir, 'outside'));
    author.commit('links out');
    author.push('main');

    await assert.rejects(f.update({ path: 'outside' }), (err: unknown) => err instanceof GitSourceError && err.reason === 'IllegalPath');
    const result = await f.update({ path: 'apps' });
    assert.deepEqual([...new Set(result.changes.map((c) => c.file))], ['apps/app.yaml']);
    assert.equal(await readFile(join(outside, 'app.yaml'), 'utf8'), APP, 'the file behind the symlink is untouched');
  });

  it('surfaces a push refused by a hook, without credentials in the message', async () => {
    const f = fixture();
    f.bare.rejectPushes('pushes to main need a review');
    await assert.rejects(f.update({ credentials: { kind: 'basic', username: 'bot', password: 's3cr3t-token' } }), (err: unknown) => {
      assert.ok(err instanceof GitSourceError);
      assert.equal(err.reason, 'GitOperationFailed');
      assert.match(err.message, /imageupdateautomation\/flux-system\/apps: cannot push [0-9a-f]{40} to branch "main"/);
      assert.match(err.message, /pushes to main need a review/);
      assert.match(err.message, /pre-receive hook declined/);
      assert.doesNotMatch(err.message, /s3cr3t/);
      return true;
    });
    assert.equal(f.bare.head('main'), f.seed);
    f.bare.clearHooks();
    assert.equal((await f.update()).outcome, 'pushed');
  });

  it('reports a missing checkout branch as RefNotFound', async () => {
    const f = fixture();
    await assert.rejects(f.update({ checkoutBranch: 'nope', pushBranch: 'nope' }), (err: unknown) => {
      assert.ok(err instanceof GitSourceError);
      assert.equal(err.reason, 'RefNotFound');
      assert.match(err.message, /cannot fetch branch "nope"/);
      return true;
    });
  });
});
