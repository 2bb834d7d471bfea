// The git side of Flux's GitRepository: fetch the declared ref into a persistent checkout,
// copy in the included artifacts, and store the filtered tree as a deterministic tarball.
// Plain async functions; the hub wraps them as Temporal activities.
//
// Safety rules: the git session (git-session.ts) keeps credentials out of argv, .git/config
// and messages; a checkout holding a symlink that leaves the repository fails with
// IllegalPath.
import { createHash } from 'node:crypto';
import { chmod, copyFile, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { GitRepositorySpec } from '../core/declarations/types.js';
import { describeGitRef, formatRevision, gitRefKind, selectSemverTag, type GitRefKind } from '../core/git-ref.js';
import { objectField, type SourcePolicy } from '../core/source-policy.js';
import {
  checkedUrl,
  checkoutDirName,
  ensureCheckout,
  errorText,
  GitSourceError,
  isShallow,
  openSession,
  refNameProblem,
  run,
  withLock,
  type CheckedUrl,
  type GitCredentials,
  type GitDestination,
  type GitSourceReason,
  type Session,
} from './git-session.js';
import { RenderLimitError, type RenderLimits } from '../core/render-limits.js';
import { excludedBy, IGNORE_WORK_BUDGET, IgnoreLimitError, isExcluded, mayReinclude, type MatchBudget, parsePattern, readPatterns, type IgnorePattern, type IgnoreSource } from '../core/sourceignore.js';
import { checkDestination, DestinationUnresolved, SourcePolicyError } from './source-guard.js';
import { assertSymlinksConfined, extractLimits, extractTarball, packTree, UnsafePathError, type PackFilter } from './tarball.js';

// The session machinery moved to git-session.ts; these stay importable from here.
export { GitSourceError, type GitCredentials, type GitSourceReason } from './git-session.js';

export interface FetchGitInput {
  /** e.g. gitrepository/flux-system/podinfo (names the checkout directory, appears in messages). */
  readonly id: string;
  readonly spec: GitRepositorySpec;
  readonly credentials?: GitCredentials;
  readonly includes?: readonly { readonly artifactDigest: string; readonly fromPath: string; readonly toPath: string }[];
  /** With lastArtifactDigest: when the new revision equals it and the artifact is still stored, packing is skipped. */
  readonly lastRevision?: string;
  readonly lastArtifactDigest?: string;
}

export interface GitArtifact {
  readonly revision: string;
  readonly artifactDigest: string;
  readonly commit: string;
  /** Regular files in the artifact. */
  readonly fileCount: number;
  /** Size of the tarball. */
  readonly bytes: number;
  /** False when revision and artifact are those of lastRevision/lastArtifactDigest. */
  readonly changed: boolean;
}

/**
 * Where packed sources go and included artifacts come from: a content-addressed store (the
 * hub's ArtifactStore in hub/artifact-store.ts is one). put returns the data's digest.
 */
export interface SourceArtifacts {
  put(data: Uint8Array | string): Promise<string>;
  /** The bytes, verified against their digest; undefined when absent. */
  get(digest: string): Promise<Buffer | undefined>;
  has(digest: string): Promise<boolean>;
}

export interface GitSourceEnv {
  /** Persistent checkouts live here, one directory per id. */
  readonly workDir: string;
  readonly artifacts: SourceArtifacts;
  readonly heartbeat?: () => void;
  /** Caps on the packed tree (maxFiles, maxFileBytes) and on included artifacts (limits.untar.*). */
  readonly limits?: RenderLimits;
  /** The hub's source policy (hub setting sources.*): checked before git runs. */
  readonly policy: SourcePolicy;
}

/** Flux's secret keys: username+password, bearerToken, identity(+known_hosts). Throws naming the missing/conflicting key. */
export function gitCredentialsFromSecret(secretName: string, data: Readonly<Record<string, string>>): GitCredentials {
  const has = (key: string): boolean => (data[key] ?? '') !== '';
  const where = `secret "${secretName}"`;
  if (has('bearerToken')) {
    for (const other of ['username', 'password', 'identity']) {
      if (has(other)) throw new Error(`${where} has both "bearerToken" and "${other}"; keep only one kind of git credentials`);
    }
    return { kind: 'bearer', token: data.bearerToken ?? '' };
  }
  if (has('identity')) {
    if (has('password')) {
      throw new Error(`${where} has "identity" and "password": passphrase-protected SSH keys are not supported; use an unencrypted key`);
    }
    const knownHosts = data.known_hosts;
    return knownHosts ? { kind: 'ssh', identity: data.identity ?? '', knownHosts } : { kind: 'ssh', identity: data.identity ?? '' };
  }
  if (has('username') || has('password')) {
    const missing = has('username') ? 'password' : 'username';
    if (!has(missing)) throw new Error(`${where} has no "${missing}" (basic auth needs both "username" and "password")`);
    return { kind: 'basic', username: data.username ?? '', password: data.password ?? '' };
  }
  throw new Error(`${where} holds no git credentials: expected "username" and "password", "bearerToken", or "identity" (with "known_hosts")`);
}

/** Flux's default exclusions (fluxcd/pkg sourceignore/sourceignore.go); VCS files are excluded whatever the patterns. */
const VCS_PATTERNS = ['.git/', '.gitignore', '.gitmodules', '.gitattributes'];
const DEFAULT_PATTERNS = [
  ...['*.jpg', '*.jpeg', '*.gif', '*.png', '*.wmv', '*.flv', '*.tar.gz', '*.zip'],
  ...['.github/', '.circleci/', '.travis.yml', '.gitlab-ci.yml', 'appveyor.yml', '.drone.yml', 'cloudbuild.yaml'],
  ...['codeship-services.yml', 'codeship-steps.yml'],
  ...['**/.goreleaser.yml', '**/.sops.yaml', '**/.flux.yaml'],
];
const SOURCE_IGNORE_FILE = '.sourceignore';
/** The local ref every fetch writes to; the checkout then detaches at its commit. */
const FETCHED_REF = 'refs/flotilla/fetched';

/**
 * The archive filter of Flux's GitRepository, in Flux's order (the last pattern that matches
 * decides, as in one .gitignore): VCS files; Flux's default exclusions unless the repository's
 * .sourceignore files and `specIgnore` hold at least one pattern; every .sourceignore file in
 * the tree, scoped to its directory; then `specIgnore`. That is source-controller's
 * gitrepository_controller.go archiveArtifact (LoadIgnorePatterns, then spec.ignore read
 * with ReadPatterns) and fluxcd/pkg artifact/storage/archive.go SourceIgnoreFilter, which
 * uses NewDefaultMatcher only when that list is empty: a `.sourceignore` with one pattern
 * drops the defaults, a spec.ignore of only comments keeps them.
 * Patterns are matched by core/sourceignore.ts, a port of Flux's matcher that runs in time
 * linear in the path (the `ignore` package's backtracking RegExps could stall the hub on a
 * hostile pattern). Throws IgnoreLimitError past its caps, naming the file and line.
 * Returns true for the paths to keep; its `descend` says whether packTree must walk on into
 * a directory it leaves out, as Flux does, because a later `!` pattern may keep a path in it.
 */
export async function loadSourceIgnoreFilter(root: string, specIgnore?: string): Promise<PackFilter> {
  const sources: IgnoreSource[] = [];
  for (const file of await findSourceIgnoreFiles(root, '')) {
    sources.push({ name: file.dir === '' ? SOURCE_IGNORE_FILE : `${file.dir}/${SOURCE_IGNORE_FILE}`, dir: file.dir, text: file.text });
  }
  if (specIgnore !== undefined) sources.push({ name: 'spec.ignore', dir: '', text: specIgnore });
  // The caps count the repository's and the declaration's patterns, not the built-in ones.
  const read: IgnorePattern[] = [];
  for (const source of sources) read.push(...readPatterns(source, read.length));
  const builtIn = read.length === 0 ? [...VCS_PATTERNS, ...DEFAULT_PATTERNS] : VCS_PATTERNS;
  const patterns = [...builtIn.map((p) => parsePattern(p, [])), ...read];
  const budget: MatchBudget = { remaining: IGNORE_WORK_BUDGET };
  const keep = (relPath: string, isDir: boolean): boolean => !isExcluded(patterns, relPath.split('/'), isDir, budget);
  const descend = (relPath: string): boolean => {
    const dir = relPath.split('/');
    const by = excludedBy(patterns, dir, true, budget);
    return by === undefined || mayReinclude(patterns, dir, by);
  };
  return Object.assign(keep, { descend });
}

/** Fetches `spec.ref`, packs the tree (plus includes) and stores the tarball in env.artifacts. */
export async function fetchGitRepository(input: FetchGitInput, env: GitSourceEnv): Promise<GitArtifact> {
  const dir = join(env.workDir, checkoutDirName(input.id));
  return withLock(dir, () => fetchLocked(input, env, dir));
}

async function fetchLocked(input: FetchGitInput, env: GitSourceEnv, dir: string): Promise<GitArtifact> {
  const { spec } = input;
  const heartbeat = (): void => env.heartbeat?.();
  const url = checkedUrl(spec.url);
  const ref = checkedRef(spec, url);
  const fingerprint = createHash('sha256')
    .update(JSON.stringify({ ignore: spec.ignore ?? null, includes: input.includes ?? [] }))
    .digest('hex');
  const recordPath = join(dir, '.git', 'flotilla-artifact.json');

  const checked = await checkGitDestination(input.id, spec.url, env.policy);
  const session = await openSession(dir, url, input.credentials, spec.timeoutSeconds, checked);
  let commit: string;
  let revision: string;
  try {
    await ensureCheckout(session, dir);
    heartbeat();
    const fetched = await fetchRef(session, ref, spec, heartbeat);
    commit = fetched.commit;
    revision = formatRevision(spec.ref, fetched);
    heartbeat();
    const last = await reuseLastArtifact(input, env.artifacts, recordPath, revision, fingerprint);
    if (last) return { ...last, commit, changed: false };
    await checkoutCommit(session, commit, spec);
    heartbeat();
  } finally {
    await session.close();
  }
  for (const include of input.includes ?? []) {
    await copyInclude(include, dir, env);
    heartbeat();
  }

  let packed;
  try {
    await assertSymlinksConfined(dir);
    packed = await packTree(dir, {
      filter: await loadSourceIgnoreFilter(dir, spec.ignore),
      ...(env.limits ? { maxFiles: env.limits.maxFiles, maxFileBytes: env.limits.maxFileBytes } : {}),
    });
  } catch (err) {
    if (err instanceof UnsafePathError) {
      throw new GitSourceError(`${describeGitRef(spec.ref)} of ${url.display} (${revision}): ${err.message}`, 'IllegalPath');
    }
    if (err instanceof RenderLimitError || err instanceof IgnoreLimitError) {
      throw new GitSourceError(`${describeGitRef(spec.ref)} of ${url.display} (${revision}): ${err.message}`, 'SourceTooLarge');
    }
    throw err;
  }
  heartbeat();
  const artifactDigest = await env.artifacts.put(packed.data);
  const record: ArtifactRecord = { revision, fingerprint, artifactDigest, fileCount: packed.files, bytes: packed.data.length };
  await writeFile(recordPath, JSON.stringify(record));
  const changed = revision !== input.lastRevision || artifactDigest !== input.lastArtifactDigest;
  return { revision, artifactDigest, commit, fileCount: packed.files, bytes: packed.data.length, changed };
}

// ---------------------------------------------------------------------------------------
// Input checks

/**
 * The source policy's verdict on a git URL, as a GitSourceError naming the object, the field
 * and the setting (SourcePolicyRefused: final until the spec or the hub's settings change).
 */
export async function checkGitDestination(id: string, url: string, policy: SourcePolicy, field = 'spec.url'): Promise<GitDestination> {
  try {
    const destination = await checkDestination(objectField(id, field), url, 'git', policy);
    return { destination, allowProtocols: gitProtocols(policy) };
  } catch (err) {
    if (err instanceof SourcePolicyError) throw new GitSourceError(err.message, 'SourcePolicyRefused');
    if (err instanceof DestinationUnresolved) throw new GitSourceError(err.message, 'GitOperationFailed');
    throw err;
  }
}

/** The transports git may use (GIT_ALLOW_PROTOCOL): https and ssh, and what sources.allowSchemes adds. */
function gitProtocols(policy: SourcePolicy): string[] {
  return ['https', 'ssh', ...policy.allowSchemes.filter((s) => s === 'http' || s === 'git' || s === 'file')];
}

function checkedRef(spec: GitRepositorySpec, url: CheckedUrl): GitRefKind {
  let ref: GitRefKind;
  try {
    ref = gitRefKind(spec.ref);
  } catch (err) {
    throw new GitSourceError(`invalid ref for ${url.display}: ${errorText(err)}`, 'InvalidRef');
  }
  const invalid = (why: string): never => {
    throw new GitSourceError(`invalid ${describeGitRef(spec.ref)} for ${url.display}: ${why}`, 'InvalidRef');
  };
  switch (ref.kind) {
    case 'branch':
    case 'tag': {
      const why = refNameProblem(ref.kind === 'branch' ? ref.branch : ref.tag);
      if (why !== undefined) invalid(why);
      break;
    }
    case 'name': {
      const why = refNameProblem(ref.name);
      if (why !== undefined) invalid(why);
      if (!ref.name.startsWith('refs/') && ref.name !== 'HEAD') invalid('a ref name must start with "refs/" (e.g. refs/heads/main)');
      break;
    }
    case 'semver':
      try {
        selectSemverTag([], ref.range);
      } catch (err) {
        invalid(errorText(err));
      }
      break;
    case 'commit': {
      if (ref.branch !== undefined) {
        const why = refNameProblem(ref.branch);
        if (why !== undefined) invalid(why);
        if (!/^[0-9a-f]{7,64}$/i.test(ref.commit)) invalid('a commit is 7 to 64 hexadecimal digits');
      } else if (!/^([0-9a-f]{40}|[0-9a-f]{64})$/i.test(ref.commit)) {
        invalid('a commit without a branch must be the full 40 (or 64) hexadecimal digit hash');
      }
      break;
    }
  }
  return ref;
}

// ---------------------------------------------------------------------------------------
// Checkout steps

async function fetchInto(session: Session, source: string, opts: { shallow: boolean }, what: string, refMissing: GitSourceReason): Promise<void> {
  const args = ['fetch', '--quiet', '--no-tags', '--no-recurse-submodules', '--no-write-fetch-head'];
  if (opts.shallow) args.push('--depth=1');
  else if (await isShallow(session)) args.push('--unshallow');
  await run(session, [...args, session.url.url, `+${source}:${FETCHED_REF}`], what, refMissing);
}

async function fetchedCommit(session: Session): Promise<string> {
  return (await run(session, ['rev-parse', '--verify', `${FETCHED_REF}^{commit}`], 'cannot read the fetched commit')).trim();
}

async function fetchRef(
  session: Session,
  ref: GitRefKind,
  spec: GitRepositorySpec,
  heartbeat: () => void,
): Promise<{ readonly commit: string; readonly tag?: string }> {
  const from = `from ${session.url.display}`;
  switch (ref.kind) {
    case 'branch':
      await fetchInto(session, `refs/heads/${ref.branch}`, { shallow: true }, `cannot fetch branch "${ref.branch}" ${from}`, 'RefNotFound');
      return { commit: await fetchedCommit(session) };
    case 'tag':
      await fetchInto(session, `refs/tags/${ref.tag}`, { shallow: true }, `cannot fetch tag "${ref.tag}" ${from}`, 'RefNotFound');
      return { commit: await fetchedCommit(session) };
    case 'name':
      await fetchInto(session, ref.name, { shallow: true }, `cannot fetch ref "${ref.name}" ${from}`, 'RefNotFound');
      return { commit: await fetchedCommit(session) };
    case 'semver': {
      const listing = await run(session, ['ls-remote', '--tags', session.url.url], `cannot list the tags of ${session.url.display}`);
      const tags = listing
        .split('\n')
        .map((line) => line.split('\t')[1] ?? '')
        .filter((name) => name.startsWith('refs/tags/'))
        .map((name) => name.slice('refs/tags/'.length).replace(/\^\{\}$/, ''));
      const tag = selectSemverTag(tags, ref.range);
      if (tag === undefined) {
        throw new GitSourceError(`no tag of ${session.url.display} matches semver range "${ref.range}"`, 'RefNotFound');
      }
      heartbeat();
      await fetchInto(session, `refs/tags/${tag}`, { shallow: true }, `cannot fetch tag "${tag}" (semver range "${ref.range}") ${from}`, 'RefNotFound');
      return { commit: await fetchedCommit(session), tag };
    }
    case 'commit':
      return { commit: await fetchCommit(session, ref, spec, heartbeat) };
  }
}

/** A commit alone: fetched by hash (or with all branches and tags when the server refuses that); with a branch: from that branch's history. */
async function fetchCommit(
  session: Session,
  ref: { readonly commit: string; readonly branch?: string },
  spec: GitRepositorySpec,
  heartbeat: () => void,
): Promise<string> {
  const from = `from ${session.url.display}`;
  const notFound = (): GitSourceError => new GitSourceError(`${describeGitRef(spec.ref)} not found ${from}`, 'RefNotFound');
  if (ref.branch !== undefined) {
    const what = `cannot fetch branch "${ref.branch}" ${from}`;
    await fetchInto(session, `refs/heads/${ref.branch}`, { shallow: true }, what, 'RefNotFound');
    const tip = await fetchedCommit(session);
    if (tip.startsWith(ref.commit.toLowerCase())) return tip;
    heartbeat();
    await fetchInto(session, `refs/heads/${ref.branch}`, { shallow: false }, what, 'RefNotFound');
    const commit = await resolveLocalCommit(session, ref.commit);
    if (commit === undefined) throw notFound();
    try {
      await session.git.raw(['merge-base', '--is-ancestor', commit, FETCHED_REF]);
    } catch {
      throw notFound();
    }
    return commit;
  }
  const what = `cannot fetch commit "${ref.commit}" ${from}`;
  try {
    await fetchInto(session, ref.commit, { shallow: true }, what, 'RefNotFound');
  } catch (err) {
    if (!(err instanceof GitSourceError) || err.reason !== 'RefNotFound') throw err;
    heartbeat(); // this server does not serve commits by hash: fetch all branches and tags instead
    const args = ['fetch', '--quiet', '--no-recurse-submodules', '--no-write-fetch-head'];
    if (await isShallow(session)) args.push('--unshallow');
    await run(session, [...args, session.url.url, '+refs/heads/*:refs/flotilla/heads/*', '+refs/tags/*:refs/flotilla/tags/*'], what);
  }
  const commit = await resolveLocalCommit(session, ref.commit);
  if (commit === undefined) throw notFound();
  return commit;
}

async function resolveLocalCommit(session: Session, commit: string): Promise<string | undefined> {
  try {
    return (await session.git.raw(['rev-parse', '--verify', '--quiet', `${commit}^{commit}`])).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The working tree becomes exactly `commit`: local changes and untracked files (old includes) go. */
async function checkoutCommit(session: Session, commit: string, spec: GitRepositorySpec): Promise<void> {
  const what = `cannot check out ${describeGitRef(spec.ref)} (${commit}) of ${session.url.display}`;
  await run(session, ['clean', '-ffdxq'], what);
  await run(session, ['checkout', '--quiet', '--force', '--detach', commit], what);
  await run(session, ['clean', '-ffdxq'], what);
}

// ---------------------------------------------------------------------------------------
// Includes, reuse of the last artifact

async function copyInclude(
  include: { readonly artifactDigest: string; readonly fromPath: string; readonly toPath: string },
  root: string,
  env: GitSourceEnv,
): Promise<void> {
  const fromPath = includePath(include.fromPath, 'fromPath', include.artifactDigest);
  const toPath = includePath(include.toPath, 'toPath', include.artifactDigest);
  const data = await env.artifacts.get(include.artifactDigest);
  if (data === undefined) throw new Error(`included artifact ${include.artifactDigest} is not in the artifact store`);
  const staging = await mkdtemp(join(env.workDir, '.include-'));
  try {
    await extractTarball(data, staging, extractLimits(env.limits));
    const source = fromPath === '.' ? staging : join(staging, fromPath);
    try {
      await lstat(source);
    } catch {
      throw new Error(`include fromPath "${include.fromPath}" does not exist in artifact ${include.artifactDigest}`);
    }
    await copyEntry(source, root, toPath === '.' ? '' : toPath);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** A relative path that stays inside its root and out of .git, normalised ("." for the root). */
function includePath(raw: string, field: string, digest: string): string {
  const normal = posix.normalize(raw === '' ? '.' : raw).replace(/\/+$/, '');
  const parts = normal.split('/');
  if (posix.isAbsolute(raw) || parts[0] === '..' || parts.includes('.git')) {
    throw new GitSourceError(`include ${field} "${raw}" (artifact ${digest}) must stay inside the repository and out of .git`, 'IllegalPath');
  }
  return normal === '' ? '.' : normal;
}

/** Copies `source` to `root/destRel`, replacing what is there, never writing through a symlink. */
async function copyEntry(source: string, root: string, destRel: string): Promise<void> {
  const parts = destRel === '' ? [] : destRel.split('/');
  for (let i = 1; i < parts.length; i++) {
    const prefix = parts.slice(0, i).join('/');
    const st = await lstat(join(root, prefix)).catch(() => undefined);
    if (st === undefined) await mkdir(join(root, prefix));
    else if (!st.isDirectory()) {
      throw new GitSourceError(`include toPath "${destRel}" goes through "${prefix}", which is not a directory`, 'IllegalPath');
    }
  }
  const dest = destRel === '' ? root : join(root, destRel);
  const st = await lstat(source);
  const existing = await lstat(dest).catch(() => undefined);
  if (st.isDirectory()) {
    if (existing !== undefined && !existing.isDirectory()) await rm(dest, { force: true });
    if (existing === undefined || !existing.isDirectory()) await mkdir(dest);
    for (const name of (await readdir(source)).sort()) {
      if (name === '.git') continue;
      await copyEntry(join(source, name), root, destRel === '' ? name : `${destRel}/${name}`);
    }
  } else if (st.isSymbolicLink()) {
    if (existing !== undefined) await rm(dest, { recursive: true, force: true });
    await symlink(await readlink(source), dest);
  } else if (st.isFile()) {
    if (existing !== undefined) await rm(dest, { recursive: true, force: true });
    await copyFile(source, dest);
    await chmod(dest, st.mode & 0o777);
  }
}

interface ArtifactRecord {
  readonly revision: string;
  readonly fingerprint: string;
  readonly artifactDigest: string;
  readonly fileCount: number;
  readonly bytes: number;
}

/** The last artifact, when it was packed from this revision with these ignore rules and includes and is still stored. */
async function reuseLastArtifact(
  input: FetchGitInput,
  artifacts: SourceArtifacts,
  recordPath: string,
  revision: string,
  fingerprint: string,
): Promise<Omit<GitArtifact, 'commit' | 'changed'> | undefined> {
  if (input.lastRevision !== revision || input.lastArtifactDigest === undefined) return undefined;
  let record: Partial<ArtifactRecord>;
  try {
    record = JSON.parse(await readFile(recordPath, 'utf8')) as Partial<ArtifactRecord>;
  } catch {
    return undefined;
  }
  if (record.revision !== revision || record.fingerprint !== fingerprint || record.artifactDigest !== input.lastArtifactDigest) return undefined;
  if (typeof record.fileCount !== 'number' || typeof record.bytes !== 'number') return undefined;
  if (!(await artifacts.has(input.lastArtifactDigest))) return undefined;
  return { revision, artifactDigest: input.lastArtifactDigest, fileCount: record.fileCount, bytes: record.bytes };
}

// ---------------------------------------------------------------------------------------
// Small helpers

async function findSourceIgnoreFiles(root: string, rel: string): Promise<{ dir: string; text: string }[]> {
  const abs = rel === '' ? root : join(root, rel);
  const found: { dir: string; text: string }[] = [];
  const entries = (await readdir(abs, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const file = entries.find((e) => e.name === SOURCE_IGNORE_FILE && e.isFile());
  if (file) found.push({ dir: rel, text: await readFile(join(abs, file.name), 'utf8') });
  for (const e of entries) {
    if (e.isDirectory() && e.name !== '.git') found.push(...(await findSourceIgnoreFiles(root, rel === '' ? e.name : `${rel}/${e.name}`)));
  }
  return found;
}
