// Fetching GitRepositories with the real git CLI: repositories made in a temp dir and served
// over file:// (and over HTTP by git-http-backend for the credential tests), packed into
// the artifact store; plus the tarball packer's determinism and the extractor's refusals.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';
import type { GitRef, GitRepositorySpec } from '../../core/declarations/types.js';
import { FileArtifactStore } from '../../hub/artifact-store.js';
import {
  fetchGitRepository,
  gitCredentialsFromSecret,
  GitSourceError,
  type FetchGitInput,
  type GitArtifact,
  type GitCredentials,
} from '../../activities/git-source.js';
import { extractTarball, packDirectory, packTree } from '../../activities/tarball.js';
import { DEV_SOURCE_POLICY } from '../../deploy/dev/source-policy.js';
import { gitHttpBackend, HTTP_BACKEND } from '../harness/git-http.js';
import type { SourcePolicy } from '../../core/source-policy.js';

const exec = promisify(execFile);
const GIT_ENV = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: tmpdir(),
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.com',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.com',
};

let root = '';
let counter = 0;

async function git(cwd: string, ...args: string[]): Promise<string> {
  return (await exec('git', args, { cwd, env: GIT_ENV })).stdout.trim();
}

/** A fresh repository on branch main with `files` committed; returns its path. */
async function makeRepo(files: Record<string, string>): Promise<string> {
  const dir = join(root, `repo-${++counter}`);
  await mkdir(dir, { recursive: true });
  await git(dir, 'init', '-q', '-b', 'main');
  await commit(dir, files, 'initial');
  return dir;
}

/** Writes `files` (a null value deletes), commits, returns the new commit. */
async function commit(dir: string, files: Record<string, string | null>, message: string): Promise<string> {
  for (const [path, content] of Object.entries(files)) {
    const abs = join(dir, path);
    if (content === null) {
      await rm(abs, { force: true });
      continue;
    }
    await mkdir(dirname(abs), { recursive: true });
    await writeFile(abs, content);
  }
  await git(dir, 'add', '-A');
  await git(dir, 'commit', '-q', '--allow-empty', '-m', message);
  return git(dir, 'rev-parse', 'HEAD');
}

function spec(url: string, ref: GitRef, extra: Partial<GitRepositorySpec> = {}): GitRepositorySpec {
  return { url, intervalSeconds: 60, timeoutSeconds: 30, ref, include: [], suspend: false, ...extra };
}

interface Env {
  readonly workDir: string;
  readonly policy: SourcePolicy;
  readonly artifacts: FileArtifactStore;
  heartbeats: number;
  heartbeat(): void;
}

async function newEnv(): Promise<Env> {
  const dir = join(root, `env-${++counter}`);
  const env: Env = {
    workDir: join(dir, 'work'),
    policy: DEV_SOURCE_POLICY, // file:// and http://127.0.0.1 repositories, allowed explicitly
    artifacts: new FileArtifactStore(join(dir, 'artifacts')),
    heartbeats: 0,
    heartbeat() {
      env.heartbeats++;
    },
  };
  await mkdir(env.workDir, { recursive: true });
  return env;
}

async function fetch(env: Env, input: Partial<FetchGitInput> & Pick<FetchGitInput, 'spec'>): Promise<GitArtifact> {
  return fetchGitRepository({ id: 'gitrepository/default/app', ...input }, env);
}

/** The artifact's files (relative path → content; symlinks as "-> target"). */
async function artifactFiles(env: Env, digest: string): Promise<Record<string, string>> {
  const data = await env.artifacts.get(digest);
  assert.ok(data, `artifact ${digest} is stored`);
  const dir = await mkdtemp(join(root, 'unpacked-'));
  await extractTarball(data, dir);
  return listFiles(dir);
}

async function listFiles(dir: string, rel = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(join(dir, rel), { withFileTypes: true })) {
    const path = rel === '' ? entry.name : `${rel}/${entry.name}`;
    if (entry.isDirectory()) Object.assign(out, await listFiles(dir, path));
    else if (entry.isSymbolicLink()) out[path] = `-> ${await readlink(join(dir, path))}`;
    else out[path] = await readFile(join(dir, path), 'utf8');
  }
  return out;
}

async function rejectsWith(promise: Promise<unknown>, reason: GitSourceError['reason'], message: RegExp): Promise<GitSourceError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof GitSourceError, `expected a GitSourceError, got ${String(err)}`);
    assert.equal(err.reason, reason, err.message);
    assert.match(err.message, message);
    return err;
  }
  assert.fail(`expected a GitSourceError with reason ${reason}`);
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'flotilla-git-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('fetchGitRepository over file://', () => {
  it('fetches a branch, then sees a new commit, then nothing new (same digest)', async () => {
    const repo = await makeRepo({ 'deploy/app.yaml': 'kind: ConfigMap\n' });
    const env = await newEnv();
    const s = spec(`file://${repo}`, { branch: 'main' });

    const first = await fetch(env, { spec: s });
    const head1 = await git(repo, 'rev-parse', 'HEAD');
    assert.match(first.revision, /^main@sha1:[0-9a-f]{40}$/);
    assert.equal(first.revision, `main@sha1:${head1}`);
    assert.equal(first.commit, head1);
    assert.equal(first.changed, true);
    assert.equal(first.fileCount, 1);
    assert.ok(first.bytes > 0);
    assert.ok(env.heartbeats > 0, 'heartbeats between git steps');
    assert.deepEqual(await artifactFiles(env, first.artifactDigest), { 'deploy/app.yaml': 'kind: ConfigMap\n' });

    const head2 = await commit(repo, { 'deploy/app.yaml': 'kind: Secret\n', 'deploy/more.yaml': 'x: 1\n' }, 'second');
    const second = await fetch(env, { spec: s, lastRevision: first.revision, lastArtifactDigest: first.artifactDigest });
    assert.equal(second.revision, `main@sha1:${head2}`);
    assert.equal(second.changed, true);
    assert.notEqual(second.artifactDigest, first.artifactDigest);
    assert.deepEqual(await artifactFiles(env, second.artifactDigest), { 'deploy/app.yaml': 'kind: Secret\n', 'deploy/more.yaml': 'x: 1\n' });

    const third = await fetch(env, { spec: s, lastRevision: second.revision, lastArtifactDigest: second.artifactDigest });
    assert.equal(third.revision, second.revision);
    assert.equal(third.changed, false);
    assert.equal(third.artifactDigest, second.artifactDigest);
    assert.equal(third.fileCount, 2);

    // Determinism: a fresh checkout (new mtimes, new work dir) packs the very same bytes.
    const fresh = await newEnv();
    const again = await fetch(fresh, { spec: s });
    assert.equal(again.artifactDigest, second.artifactDigest);
    const noHint = await fetch(fresh, { spec: s, lastRevision: again.revision, lastArtifactDigest: again.artifactDigest });
    assert.equal(noHint.changed, false);
  });

  it('re-initialises the checkout when the URL changes', async () => {
    const a = await makeRepo({ 'a.yaml': 'a\n' });
    const b = await makeRepo({ 'b.yaml': 'b\n' });
    const env = await newEnv();
    await fetch(env, { spec: spec(`file://${a}`, { branch: 'main' }) });
    const fromB = await fetch(env, { spec: spec(`file://${b}`, { branch: 'main' }) });
    assert.deepEqual(await artifactFiles(env, fromB.artifactDigest), { 'b.yaml': 'b\n' });
  });

  it('resolves semver ranges, tags, ref names and commits', async () => {
    const repo = await makeRepo({ 'v.txt': '1.0.0' });
    const c100 = await git(repo, 'rev-parse', 'HEAD');
    await git(repo, 'tag', 'v1.0.0');
    const c120 = await commit(repo, { 'v.txt': '1.2.0' }, '1.2.0');
    await git(repo, 'tag', '-a', '-m', 'release 1.2.0', 'v1.2.0'); // annotated: peeled to its commit
    await commit(repo, { 'v.txt': '2.0.0' }, '2.0.0');
    await git(repo, 'tag', 'v2.0.0');
    await git(repo, 'tag', 'not-a-version');
    const tip = await commit(repo, { 'v.txt': 'tip' }, 'tip');
    const url = `file://${repo}`;
    const env = await newEnv();

    const semver = await fetch(env, { spec: spec(url, { semver: '>=1.0.0 <2.0.0' }) });
    assert.equal(semver.revision, `v1.2.0@sha1:${c120}`);
    assert.deepEqual(await artifactFiles(env, semver.artifactDigest), { 'v.txt': '1.2.0' });

    const tag = await fetch(env, { spec: spec(url, { tag: 'v1.0.0' }) });
    assert.equal(tag.revision, `v1.0.0@sha1:${c100}`);
    assert.deepEqual(await artifactFiles(env, tag.artifactDigest), { 'v.txt': '1.0.0' });

    const name = await fetch(env, { spec: spec(url, { name: 'refs/tags/v2.0.0' }) });
    assert.match(name.revision, /^refs\/tags\/v2\.0\.0@sha1:[0-9a-f]{40}$/);

    const byCommit = await fetch(env, { spec: spec(url, { commit: c120 }) });
    assert.equal(byCommit.revision, `sha1:${c120}`);
    assert.deepEqual(await artifactFiles(env, byCommit.artifactDigest), { 'v.txt': '1.2.0' });

    const inBranch = await fetch(env, { spec: spec(url, { branch: 'main', commit: c100.slice(0, 12) }) });
    assert.equal(inBranch.revision, `main@sha1:${c100}`);
    assert.deepEqual(await artifactFiles(env, inBranch.artifactDigest), { 'v.txt': '1.0.0' });

    const branchTip = await fetch(env, { spec: spec(url, { branch: 'main', commit: tip }) });
    assert.equal(branchTip.revision, `main@sha1:${tip}`);

    await rejectsWith(fetch(env, { spec: spec(url, { semver: '>=5.0.0' }) }), 'RefNotFound', /no tag of file:\/\/.* matches semver range ">=5\.0\.0"/);
    await rejectsWith(fetch(env, { spec: spec(url, { semver: 'not a range' }) }), 'InvalidRef', /invalid semver range "not a range"/);
    await rejectsWith(fetch(env, { spec: spec(url, { commit: 'f'.repeat(40) }) }), 'RefNotFound', /commit "f{40}" not found from file:\/\//);
    await rejectsWith(fetch(env, { spec: spec(url, { commit: 'abc123' }) }), 'InvalidRef', /full 40/);
    await rejectsWith(fetch(env, { spec: spec(url, { branch: 'bad..name' }) }), 'InvalidRef', /branch "bad\.\.name"/);
  });

  it('reports a missing branch as RefNotFound, naming the branch and the URL', async () => {
    const repo = await makeRepo({ 'a.yaml': 'a\n' });
    const env = await newEnv();
    await rejectsWith(
      fetch(env, { spec: spec(`file://${repo}`, { branch: 'nope' }) }),
      'RefNotFound',
      new RegExp(`cannot fetch branch "nope" from file://${repo}: .*couldn't find remote ref`),
    );
  });

  it('reports an unreachable repository as GitOperationFailed, naming the URL', async () => {
    const env = await newEnv();
    const url = `file://${root}/does-not-exist.git`;
    await rejectsWith(fetch(env, { spec: spec(url, { branch: 'main' }) }), 'GitOperationFailed', new RegExp(`cannot fetch branch "main" from ${url}: `));
    await rejectsWith(fetch(env, { spec: spec('ftp://example.com/x', { branch: 'main' }) }), 'GitOperationFailed', /unsupported git URL scheme/);
  });

  it("filters with Flux's default exclusions, .sourceignore files and spec.ignore", async () => {
    const repo = await makeRepo({
      'deploy/app.yaml': 'app\n',
      'deploy/logo.png': 'png',
      'deploy/.sops.yaml': 'sops\n',
      '.github/workflows/ci.yaml': 'ci\n',
      '.gitignore': 'tmp/\n',
      '.travis.yml': 'travis\n',
      'archive.tar.gz': 'tgz',
      'docs/readme.md': 'docs\n',
      'docs/keep.md': 'keep\n',
      'sub/notes.txt': 'notes\n',
      'sub/app.yaml': 'sub\n',
      'sub/.sourceignore': '*.txt\n',
      '.sourceignore': '# comment\ndocs/\n!docs/\ndocs/readme.md\n!*.png\n',
    });
    const env = await newEnv();
    const defaults = await fetch(env, { spec: spec(`file://${repo}`, { branch: 'main' }) });
    // As in Flux: the .sourceignore files hold patterns, so the default exclusions do not apply
    // (fluxcd/pkg artifact/storage/archive.go SourceIgnoreFilter uses NewDefaultMatcher only
    // when no pattern was read); the VCS patterns still do.
    assert.deepEqual(Object.keys(await artifactFiles(env, defaults.artifactDigest)).sort(), [
      '.github/workflows/ci.yaml',
      '.sourceignore',
      '.travis.yml',
      'archive.tar.gz',
      'deploy/.sops.yaml',
      'deploy/app.yaml',
      'deploy/logo.png',
      'docs/keep.md', // docs/ excluded, !docs/ keeps it again, then docs/readme.md
      'sub/.sourceignore',
      'sub/app.yaml',
    ]);
    // spec.ignore drops the defaults too (VCS files stay excluded) and comes after .sourceignore.
    const custom = await fetch(env, { spec: spec(`file://${repo}`, { branch: 'main' }, { ignore: '/*\n!/deploy/\n!/sub/\n/deploy/*.png\n' }) });
    assert.deepEqual(Object.keys(await artifactFiles(env, custom.artifactDigest)).sort(), [
      'deploy/.sops.yaml',
      'deploy/app.yaml',
      'sub/.sourceignore',
      'sub/app.yaml',
      // As in Flux: "!/sub/" matches everything under sub (fluxcd/pkg sourceignore/gitignore
      // pattern.go globMatch) and comes after sub/.sourceignore's *.txt. git would exclude it.
      'sub/notes.txt',
    ]);
    assert.equal(custom.changed, true);

    // Without .sourceignore files (and without spec.ignore) the defaults apply.
    await commit(repo, { '.sourceignore': null, 'sub/.sourceignore': null }, 'no .sourceignore');
    const plain = await fetch(env, { spec: spec(`file://${repo}`, { branch: 'main' }) });
    assert.deepEqual(Object.keys(await artifactFiles(env, plain.artifactDigest)).sort(), [
      'deploy/app.yaml',
      'docs/keep.md',
      'docs/readme.md',
      'sub/app.yaml',
      'sub/notes.txt',
    ]);
  });

  it('keeps symlinks inside the repository and refuses one that leaves it (IllegalPath)', async () => {
    const repo = await makeRepo({ 'base/app.yaml': 'app\n' });
    await mkdir(join(repo, 'overlay'));
    await symlink('../base', join(repo, 'overlay/base'));
    await commit(repo, {}, 'inner symlink');
    const env = await newEnv();
    const url = `file://${repo}`;
    const ok = await fetch(env, { spec: spec(url, { branch: 'main' }) });
    assert.deepEqual(await artifactFiles(env, ok.artifactDigest), { 'base/app.yaml': 'app\n', 'overlay/base': '-> ../base' });

    await symlink('../../../etc/passwd', join(repo, 'base/passwd'));
    await commit(repo, {}, 'escaping symlink');
    await rejectsWith(fetch(env, { spec: spec(url, { branch: 'main' }) }), 'IllegalPath', /symlink "base\/passwd" points outside the root/);

    await rm(join(repo, 'base/passwd'));
    await symlink('/etc', join(repo, 'abs'));
    await commit(repo, {}, 'absolute symlink');
    await rejectsWith(fetch(env, { spec: spec(url, { branch: 'main' }) }), 'IllegalPath', /symlink "abs" points to an absolute path/);

    // Each link looks harmless on its own; followed like the OS does, "up" is the parent of the repository.
    await rm(join(repo, 'abs'));
    await symlink('.', join(repo, 'here'));
    await symlink('here/..', join(repo, 'up'));
    await commit(repo, {}, 'symlink chain');
    await rejectsWith(fetch(env, { spec: spec(url, { branch: 'main' }) }), 'IllegalPath', /symlink "up" points outside the root/);
  });

  it('copies includes into the tree and refuses a toPath that leaves it', async () => {
    const lib = await makeRepo({ 'manifests/base/lib.yaml': 'lib\n', 'other.yaml': 'other\n' });
    const app = await makeRepo({ 'app.yaml': 'app\n', 'vendor/lib/stale.yaml': 'stale\n' });
    const env = await newEnv();
    const libArtifact = await fetchGitRepository({ id: 'gitrepository/default/lib', spec: spec(`file://${lib}`, { branch: 'main' }) }, env);
    const include = { artifactDigest: libArtifact.artifactDigest, fromPath: 'manifests', toPath: 'vendor/lib' };
    const withInclude = await fetch(env, { spec: spec(`file://${app}`, { branch: 'main' }), includes: [include] });
    assert.deepEqual(await artifactFiles(env, withInclude.artifactDigest), {
      'app.yaml': 'app\n',
      'vendor/lib/base/lib.yaml': 'lib\n',
      'vendor/lib/stale.yaml': 'stale\n',
    });
    // The same revision with the include removed must not reuse the artifact that had it.
    const without = await fetch(env, {
      spec: spec(`file://${app}`, { branch: 'main' }),
      lastRevision: withInclude.revision,
      lastArtifactDigest: withInclude.artifactDigest,
    });
    assert.equal(without.changed, true);
    assert.deepEqual(Object.keys(await artifactFiles(env, without.artifactDigest)).sort(), ['app.yaml', 'vendor/lib/stale.yaml']);

    await rejectsWith(
      fetch(env, { spec: spec(`file://${app}`, { branch: 'main' }), includes: [{ ...include, toPath: '../outside' }] }),
      'IllegalPath',
      /toPath "\.\.\/outside"/,
    );
    await rejectsWith(
      fetch(env, { spec: spec(`file://${app}`, { branch: 'main' }), includes: [{ ...include, toPath: '.git/hooks' }] }),
      'IllegalPath',
      /toPath "\.git\/hooks"/,
    );
  });
});

describe('gitCredentialsFromSecret', () => {
  it("reads Flux's keys and names missing or conflicting ones", () => {
    assert.deepEqual(gitCredentialsFromSecret('s', { username: 'u', password: 'p' }), { kind: 'basic', username: 'u', password: 'p' });
    assert.deepEqual(gitCredentialsFromSecret('s', { bearerToken: 't' }), { kind: 'bearer', token: 't' });
    assert.deepEqual(gitCredentialsFromSecret('s', { identity: 'k', known_hosts: 'h' }), { kind: 'ssh', identity: 'k', knownHosts: 'h' });
    assert.deepEqual(gitCredentialsFromSecret('s', { identity: 'k' }), { kind: 'ssh', identity: 'k' });
    assert.throws(() => gitCredentialsFromSecret('s', { username: 'u' }), /secret "s" has no "password"/);
    assert.throws(() => gitCredentialsFromSecret('s', { password: 'p' }), /secret "s" has no "username"/);
    assert.throws(() => gitCredentialsFromSecret('s', { bearerToken: 't', password: 'p' }), /"bearerToken" and "password"/);
    assert.throws(() => gitCredentialsFromSecret('s', {}), /secret "s" holds no git credentials/);
  });
});

describe('fetchGitRepository over HTTP with credentials', () => {
  const password = 's3cr3t-Pa55word';
  const token = 'tok-0123456789abcdef';
  let server: Server | undefined;
  let base = '';
  let projectRoot = '';

  before(async () => {
    projectRoot = join(root, 'http');
    await mkdir(projectRoot, { recursive: true });
    const repo = await makeRepo({ 'app.yaml': 'over http\n' });
    await git(projectRoot, 'clone', '-q', '--bare', repo, join(projectRoot, 'app.git'));
    const basic = `Basic ${Buffer.from(`flux:${password}`).toString('base64')}`;
    server = createServer((req, res) => {
      if ((req.url ?? '').startsWith('/hang/')) return; // never answers: for the timeout test
      const auth = req.headers.authorization;
      if (auth !== basic && auth !== `Bearer ${token}`) {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"' }).end('unauthorized');
        return;
      }
      gitHttpBackend(projectRoot, req, res, { ...GIT_ENV, REMOTE_USER: 'flux' });
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => server?.close(() => { resolve(); }));
  });

  const haveBackend = existsSync(HTTP_BACKEND);

  it('fetches with the right basic credentials or bearer token', { skip: !haveBackend && 'git-http-backend not installed' }, async () => {
    const env = await newEnv();
    const basic: GitCredentials = { kind: 'basic', username: 'flux', password };
    const viaBasic = await fetch(env, { spec: spec(`${base}/app.git`, { branch: 'main' }), credentials: basic });
    assert.match(viaBasic.revision, /^main@sha1:[0-9a-f]{40}$/);
    assert.deepEqual(await artifactFiles(env, viaBasic.artifactDigest), { 'app.yaml': 'over http\n' });
    const viaToken = await fetch(env, { id: 'gitrepository/default/token', spec: spec(`${base}/app.git`, { branch: 'main' }), credentials: { kind: 'bearer', token } });
    assert.equal(viaToken.artifactDigest, viaBasic.artifactDigest);
    const persisted = await allText(env.workDir);
    assert.ok(!persisted.includes(password) && !persisted.includes(token), 'no secret persisted in the checkouts');
    assert.ok(!persisted.includes(Buffer.from(`flux:${password}`).toString('base64')));
  });

  it('reports wrong or missing credentials as AuthenticationFailed without revealing them', { skip: !haveBackend && 'git-http-backend not installed' }, async () => {
    const env = await newEnv();
    const wrong = 'wrong-Pa55word-xyz';
    for (const credentials of [{ kind: 'basic', username: 'flux', password: wrong } as const, undefined]) {
      const err = await rejectsWith(
        fetch(env, { spec: spec(`${base}/app.git`, { branch: 'main' }), credentials }),
        'AuthenticationFailed',
        new RegExp(`cannot fetch branch "main" from ${base}/app\\.git: `),
      );
      assert.ok(!err.message.includes(wrong), err.message);
      assert.ok(!err.message.includes(Buffer.from(`flux:${wrong}`).toString('base64')), err.message);
    }
    const semverErr = await rejectsWith(
      fetch(env, { spec: spec(`${base}/app.git`, { semver: '*' }), credentials: { kind: 'bearer', token: 'bad-token-123' } }),
      'AuthenticationFailed',
      /cannot list the tags of http:/,
    );
    assert.ok(!semverErr.message.includes('bad-token-123'));
  });

  it('gives up after spec.timeoutSeconds', async () => {
    const env = await newEnv();
    const started = Date.now();
    await rejectsWith(
      fetch(env, { spec: spec(`${base}/hang/app.git`, { branch: 'main' }, { timeoutSeconds: 1 }) }),
      'GitOperationFailed',
      /timed out after 1s/,
    );
    assert.ok(Date.now() - started < 10_000);
  });
});

describe('tarballs', () => {
  it('packs deterministically and round-trips files, modes and inner symlinks, never .git', async () => {
    const src = join(root, 'pack-src');
    await mkdir(join(src, 'dir/nested'), { recursive: true });
    await mkdir(join(src, '.git'), { recursive: true });
    await writeFile(join(src, '.git/config'), 'secret');
    await writeFile(join(src, 'dir/nested/file.yaml'), 'a: 1\n');
    await writeFile(join(src, 'run.sh'), '#!/bin/sh\n');
    await chmod(join(src, 'run.sh'), 0o700);
    await writeFile(join(src, 'plain.txt'), 'plain');
    await chmod(join(src, 'plain.txt'), 0o600);
    const long = `${'d'.repeat(120)}/${'f'.repeat(120)}.yaml`;
    await mkdir(join(src, dirname(long)));
    await writeFile(join(src, long), 'long\n');
    await symlink('dir/nested', join(src, 'shortcut'));

    const one = await packTree(src);
    const two = await packDirectory(src);
    assert.ok(one.data.equals(two), 'same tree, same bytes');
    assert.equal(one.files, 4);
    assert.equal(one.symlinks, 1);

    const out = join(root, 'pack-out');
    await extractTarball(one.data, out);
    assert.deepEqual(await listFiles(out), {
      'dir/nested/file.yaml': 'a: 1\n',
      'plain.txt': 'plain',
      'run.sh': '#!/bin/sh\n',
      [long]: 'long\n',
      shortcut: '-> dir/nested',
    });
    assert.equal((await stat(join(out, 'run.sh'))).mode & 0o777, 0o755);
    assert.equal((await stat(join(out, 'plain.txt'))).mode & 0o777, 0o644);

    const filtered = await packTree(src, { filter: (p, isDir) => !(isDir && p === 'dir') });
    assert.equal(filtered.files, 3);

    await symlink('../outside', join(src, 'escape'));
    await assert.rejects(packDirectory(src), /symlink "escape" points outside the root/);
  });

  it('refuses crafted tarballs without writing anything', async () => {
    const cases: [string, CraftedEntry[], RegExp][] = [
      ['dot-dot', [{ path: 'ok.txt' }, { path: '../evil', body: 'x' }], /"\.\.\/evil" contains "\.\."/],
      ['nested dot-dot', [{ path: 'a/../../evil' }], /"a\/\.\.\/\.\.\/evil" contains "\.\."/],
      ['absolute', [{ path: '/tmp/evil' }], /"\/tmp\/evil" is absolute/],
      ['escaping symlink', [{ path: 'link', type: 'SymbolicLink', linkpath: '../../etc' }], /symlink "link" points outside the root/],
      ['absolute symlink', [{ path: 'link', type: 'SymbolicLink', linkpath: '/etc' }], /symlink "link" points to an absolute path/],
      [
        'symlink chain',
        [
          { path: 'here', type: 'SymbolicLink', linkpath: '.' },
          { path: 'up', type: 'SymbolicLink', linkpath: 'here/..' },
        ],
        /symlink "up" points outside the root/,
      ],
      ['write through symlink', [{ path: 'd', type: 'SymbolicLink', linkpath: 'real' }, { path: 'd/x' }], /"d\/x" goes through the symlink "d"/],
      ['escaping hardlink', [{ path: 'h', type: 'Link', linkpath: '../etc/passwd' }], /hardlink target of "h" "\.\.\/etc\/passwd" contains "\.\."/],
      ['fifo', [{ path: 'pipe', type: 'FIFO' }], /"pipe" has unsupported type FIFO/],
      ['device', [{ path: 'dev', type: 'CharacterDevice' }], /"dev" has unsupported type CharacterDevice/],
    ];
    for (const [name, entries, message] of cases) {
      const dir = join(root, `crafted-${++counter}`);
      await assert.rejects(extractTarball(craft(entries), dir), message, name);
      assert.ok(!existsSync(dir) || (await readdir(dir)).length === 0, `${name}: nothing written`);
    }
    assert.ok(!existsSync(join(root, 'evil')));
  });

  it('caps total size and entry count', async () => {
    const big = craft([{ path: 'a', body: 'x'.repeat(600) }, { path: 'b', body: 'y'.repeat(600) }]);
    await assert.rejects(extractTarball(big, join(root, 'cap-1'), { maxBytes: 1000 }), /exceeded the archive size limit of 1000 bytes \(limits\.untar\.maxBytes\)/);
    const many = craft([{ path: 'a' }, { path: 'b' }, { path: 'c' }]);
    await assert.rejects(extractTarball(many, join(root, 'cap-2'), { maxEntries: 2 }), /exceeded the archive entry limit of 2 \(limits\.untar\.maxEntries\): it has more than 2 entries/);
    await extractTarball(many, join(root, 'cap-3'), { maxEntries: 3 });
  });

  it('round-trips an empty tree and refuses bytes that are no tarball', async () => {
    const empty = join(root, 'empty-src');
    await mkdir(empty);
    await extractTarball(await packDirectory(empty), join(root, 'empty-out'));
    assert.deepEqual(await readdir(join(root, 'empty-out')), []);
    await assert.rejects(extractTarball(Buffer.from('not a tarball at all'), join(root, 'garbage')), /cannot read the tarball/);
  });
});

interface CraftedEntry {
  readonly path: string;
  readonly type?: 'File' | 'SymbolicLink' | 'Link' | 'FIFO' | 'CharacterDevice';
  readonly linkpath?: string;
  readonly body?: string;
}

/** A gzipped tarball written header by header, so nothing sanitises the evil parts. */
function craft(entries: readonly CraftedEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? '');
    const header = Buffer.alloc(512);
    new Header({ path: e.path, type: e.type ?? 'File', mode: 0o644, size: body.length, linkpath: e.linkpath ?? '', mtime: new Date(0) }).encode(header, 0);
    blocks.push(header, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

/** Every file's text under `dir`, for "no secret persisted" checks. */
async function allText(dir: string): Promise<string> {
  let text = '';
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) text += await readFile(join(entry.parentPath, entry.name), 'latin1');
  }
  return text;
}
