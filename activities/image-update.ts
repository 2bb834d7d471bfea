// The git side of Flux's ImageUpdateAutomation: check out a branch of the fleet's repository,
// rewrite the image setter markers in the YAML under a path, commit when something changed
// and push. A plain async function; the hub wraps it as a Temporal activity.
//
// Pushes never force. When the remote branch moved under us (another commit landed between
// our fetch and our push, or during the push itself), the update is thrown away and redone
// from scratch on the new tip: the other commit may have changed the very lines we touch.
//
// Push branch semantics (fluxcd/image-automation-controller, docs/spec/v1beta2/
// imageupdateautomations.md "Push" > "Branch", and internal/source/source.go CheckoutSource,
// which calls fluxcd/pkg git/gogit Client.SwitchBranch): a push branch that does not exist yet
// is created from the checkout branch's tip. One that exists is, by default, overwritten by a
// force push of "checkout branch + changes"; with the feature gate GitForcePushBranch=false
// the updates are instead computed on top of the commits already on the push branch (the
// remote push branch becomes the base). We never force-push, so we always follow the second
// form: base = the push branch's tip when it exists, else the checkout branch's tip. As Flux
// warns, commits added later to the checkout branch then do not reach an existing push branch
// until it is merged or deleted.
import { lstat, readdir, readFile, realpath, writeFile } from 'node:fs/promises';
import { join, posix, relative, sep } from 'node:path';
import { renderCommitMessage, type ImageChange } from '../core/image/message-template.js';
import { applySetters } from '../core/image/setters.js';
import type { SourcePolicy } from '../core/source-policy.js';
import { checkGitDestination } from './git-source.js';
import {
  checkedUrl,
  checkoutDirName,
  ensureCheckout,
  errorText,
  gitFailure,
  GitSourceError,
  openSession,
  refNameProblem,
  run,
  withLock,
  type CheckedUrl,
  type GitCredentials,
  type GitSourceReason,
  type Session,
} from './git-session.js';

export interface ImageUpdateGitInput {
  /** imageupdateautomation/<ns>/<name>: names the persistent checkout directory, appears in messages. */
  readonly id: string;
  /** The GitRepository's URL. */
  readonly url: string;
  readonly credentials?: GitCredentials;
  /** Limit for each attempt (fetch, update, commit, push). */
  readonly timeoutSeconds: number;
  /** spec.git.checkout.ref.branch, or the GitRepository's branch. */
  readonly checkoutBranch: string;
  /** spec.git.push.branch; the caller defaults it to checkoutBranch. */
  readonly pushBranch: string;
  /** spec.update.path, relative to the repository root ("." = the root). */
  readonly path: string;
  /** Author and committer of the commits; an empty name falls back to the email (git refuses empty names). */
  readonly author: { readonly name: string; readonly email: string };
  readonly messageTemplate: string;
  readonly messageValues: Readonly<Record<string, string>>;
  readonly automation: { readonly namespace: string; readonly name: string };
  /** `<policy namespace>:<policy name>` → the image the policy selected (`repo:tag`). */
  readonly images: Readonly<Record<string, string>>;
  /** Push attempts, counting the first; default 5. */
  readonly maxAttempts?: number;
}

export interface ImageUpdateGitResult {
  readonly outcome: 'pushed' | 'unchanged';
  /** The push branch. */
  readonly branch: string;
  /** The commit the (last) update was applied on. */
  readonly baseCommit: string;
  /** The pushed commit (outcome pushed). */
  readonly commit?: string;
  /** The rendered commit message (outcome pushed). */
  readonly message?: string;
  readonly changes: readonly ImageChange[];
  /** 1 + the number of push conflicts resolved. */
  readonly attempts: number;
}

export interface ImageUpdateGitEnv {
  /** Persistent checkouts live here, one directory per id. */
  readonly workDir: string;
  readonly heartbeat?: () => void;
  /** The hub's source policy: checked before every push attempt. */
  readonly policy: SourcePolicy;
}

const DEFAULT_MAX_ATTEMPTS = 5;
/** Local refs the fetches write to (the checkout stays detached). */
const CHECKOUT_REF = 'refs/flotilla/checkout';
const PUSH_REF = 'refs/flotilla/push';
const MESSAGE_FILE = 'flotilla-commit-message';
/** git's words when the remote ref moved between our fetch and our push (checked client-side) or during it (server-side ref lock). */
const PUSH_RACE = /\((?:fetch first|non-fast-forward|stale info)\)|failed to update ref|cannot lock ref|but expected/i;

export async function updateImagesInGit(input: ImageUpdateGitInput, env: ImageUpdateGitEnv): Promise<ImageUpdateGitResult> {
  const url = checkedUrl(input.url);
  for (const [field, branch] of [['checkout', input.checkoutBranch], ['push', input.pushBranch]] as const) {
    const why = refNameProblem(branch);
    if (why !== undefined) throw new GitSourceError(`${input.id}: invalid ${field} branch "${branch}": ${why}`, 'InvalidRef');
  }
  const path = updatePath(input.id, input.path);
  const author = commitAuthor(input.id, input.author);
  const maxAttempts = input.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new RangeError(`${input.id}: maxAttempts must be a positive integer, got ${maxAttempts}`);
  // Prefixed so it can never be the directory of a GitRepository with the same id.
  const dir = join(env.workDir, `imageupdate_${checkoutDirName(input.id)}`);
  return withLock(dir, () => updateLocked({ ...input, path, author, maxAttempts }, url, env, dir));
}

interface Checked extends ImageUpdateGitInput {
  readonly maxAttempts: number;
}

async function updateLocked(input: Checked, url: CheckedUrl, env: ImageUpdateGitEnv, dir: string): Promise<ImageUpdateGitResult> {
  const heartbeat = (): void => env.heartbeat?.();
  const images = new Map(Object.entries(input.images));
  const to = `branch "${input.pushBranch}" of ${url.display}`;
  let lastRace: { readonly base: string; readonly error: GitSourceError } | undefined;
  for (let attempt = 1; ; attempt++) {
    // A session (and so a timeout) per attempt: each one fetches, commits and pushes anew.
    const checked = await checkGitDestination(input.id, url.url, env.policy, 'spec.sourceRef (its GitRepository spec.url)');
    const session = await openSession(dir, url, input.credentials, input.timeoutSeconds, checked);
    try {
      const step = async (args: string[], what: string, refMissing?: GitSourceReason): Promise<string> => {
        const out = await run(session, args, `${input.id}: ${what}`, refMissing);
        heartbeat();
        return out;
      };
      await ensureCheckout(session, dir);
      const base = await fetchBase(session, input, step);
      // git named a race but the branch did not move: it was something else; say what git said.
      if (lastRace !== undefined && lastRace.base === base) throw lastRace.error;

      const what = `cannot check out ${base} of ${url.display}`;
      await step(['clean', '-ffdxq'], what);
      await step(['checkout', '--quiet', '--force', '--detach', base], what);
      await step(['clean', '-ffdxq'], what);

      const applied = await applyUpdates(input.id, dir, input.path, images);
      heartbeat();
      const unchanged: ImageUpdateGitResult = { outcome: 'unchanged', branch: input.pushBranch, baseCommit: base, changes: [], attempts: attempt };
      if (applied.files.length === 0) return unchanged;

      const message = renderCommitMessage(input.messageTemplate, {
        automation: input.automation,
        changes: applied.changes,
        values: input.messageValues,
      });
      const commit = await commitUpdate(dir, base, applied.files, input.author, message, step);
      if (commit === undefined) return unchanged;

      try {
        await session.git.raw(['push', '--no-verify', '--recurse-submodules=no', url.url, `HEAD:refs/heads/${input.pushBranch}`]);
        heartbeat();
        return { outcome: 'pushed', branch: input.pushBranch, baseCommit: base, commit, message, changes: applied.changes, attempts: attempt };
      } catch (err) {
        heartbeat();
        const failure = gitFailure(session, err, `cannot push ${commit} to ${to}`, 'GitOperationFailed');
        const error = new GitSourceError(`${input.id}: ${failure.message}`, failure.reason);
        if (session.timedOut() || !PUSH_RACE.test(failure.message)) throw error;
        if (attempt >= input.maxAttempts) {
          const tries = attempt === 1 ? '1 push attempt' : `${attempt} push attempts`;
          throw new GitSourceError(`${input.id}: ${to} kept moving: gave up after ${tries} (maxAttempts); the last ${failure.message}`, 'GitOperationFailed');
        }
        lastRace = { base, error };
      }
    } finally {
      await session.close();
    }
  }
}

/** Fetches the checkout branch and, when it differs, the push branch; returns the commit to update (see the header for Flux's rule). */
async function fetchBase(session: Session, input: Checked, step: (args: string[], what: string, refMissing?: GitSourceReason) => Promise<string>): Promise<string> {
  const from = `from ${session.url.display}`;
  const fetch = ['fetch', '--quiet', '--no-tags', '--no-recurse-submodules', '--no-write-fetch-head', '--depth=1', session.url.url];
  await step(['update-ref', '-d', PUSH_REF], 'cannot reset the checkout');
  await step([...fetch, `+refs/heads/${input.checkoutBranch}:${CHECKOUT_REF}`], `cannot fetch branch "${input.checkoutBranch}" ${from}`, 'RefNotFound');
  let ref = CHECKOUT_REF;
  if (input.pushBranch !== input.checkoutBranch) {
    try {
      await step([...fetch, `+refs/heads/${input.pushBranch}:${PUSH_REF}`], `cannot fetch push branch "${input.pushBranch}" ${from}`, 'RefNotFound');
      ref = PUSH_REF;
    } catch (err) {
      if (!(err instanceof GitSourceError) || err.reason !== 'RefNotFound') throw err;
      // No push branch yet: the push creates it from the checkout branch.
    }
  }
  return (await step(['rev-parse', '--verify', `${ref}^{commit}`], 'cannot read the fetched commit')).trim();
}

/** Commits the changed files on `base` (HEAD moves there); undefined when the tree did not change after all. */
async function commitUpdate(
  dir: string,
  base: string,
  files: readonly string[],
  author: { readonly name: string; readonly email: string },
  message: string,
  step: (args: string[], what: string) => Promise<string>,
): Promise<string | undefined> {
  const what = 'cannot commit the image updates';
  // update-index takes paths literally (no pathspec magic); every file is tracked, as the checkout was cleaned.
  await step(['update-index', '--', ...files], what);
  const tree = (await step(['write-tree'], what)).trim();
  const baseTree = (await step(['rev-parse', '--verify', `${base}^{tree}`], what)).trim();
  if (tree === baseTree) return undefined;
  const messageFile = join(dir, '.git', MESSAGE_FILE);
  await writeFile(messageFile, message.endsWith('\n') ? message : `${message}\n`);
  // Plumbing, so no hooks run and no user config is read; -c names author and committer, no signing.
  const identity = ['-c', `user.name=${author.name}`, '-c', `user.email=${author.email}`, '-c', 'commit.gpgSign=false'];
  const commit = (await step([...identity, 'commit-tree', tree, '-p', base, '--no-gpg-sign', '-F', messageFile], what)).trim();
  await step(['update-ref', '--no-deref', 'HEAD', commit], what);
  return commit;
}

// ---------------------------------------------------------------------------------------
// The update itself

/** Applies the setters to every *.yaml / *.yml under `path`; writes the changed files. */
async function applyUpdates(
  id: string,
  root: string,
  path: string,
  images: ReadonlyMap<string, string>,
): Promise<{ readonly files: readonly string[]; readonly changes: readonly ImageChange[] }> {
  const rootReal = await realpath(root);
  let start: string;
  try {
    start = await realpath(path === '.' ? rootReal : join(rootReal, path));
  } catch {
    throw new GitSourceError(`${id}: update path "${path}" does not exist in the repository`, 'IllegalPath');
  }
  const rel = relative(rootReal, start).split(sep).join('/');
  // The path may go through a symlink, but must end inside the repository and out of .git.
  if (rel.startsWith('..') || posix.isAbsolute(rel) || rel.split('/').includes('.git')) {
    throw new GitSourceError(`${id}: update path "${path}" leads out of the repository (through a symlink)`, 'IllegalPath');
  }
  const files: string[] = [];
  const changes: ImageChange[] = [];
  for (const file of await yamlFiles(rootReal, rel === '' ? '' : rel)) {
    const abs = join(rootReal, file);
    const text = await readFile(abs, 'utf8');
    let result;
    try {
      result = applySetters(text, images);
    } catch (err) {
      throw new Error(`${id}: cannot update ${file}: ${errorText(err)}`);
    }
    if (result.changed.length === 0 || result.text === text) continue;
    await writeFile(abs, result.text);
    files.push(file);
    for (const c of result.changed) {
      const [namespace = '', name = ''] = c.policy.split(':');
      const image = images.get(`${namespace}:${name}`) ?? '';
      changes.push({ file, object: c.object, setter: c.policy, policy: { namespace, name }, oldValue: c.from, newValue: c.to, image });
    }
  }
  return { files, changes };
}

/** Regular *.yaml / *.yml files under `rel` (a file or a directory), sorted; .git and symlinks are skipped, never followed. */
async function yamlFiles(root: string, rel: string): Promise<string[]> {
  const abs = rel === '' ? root : join(root, rel);
  const st = await lstat(abs);
  if (st.isFile()) return YAML_FILE.test(rel) ? [rel] : [];
  if (!st.isDirectory()) return [];
  const found: string[] = [];
  const entries = (await readdir(abs, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const child = rel === '' ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory() && e.name !== '.git') found.push(...(await yamlFiles(root, child)));
    else if (e.isFile() && YAML_FILE.test(e.name)) found.push(child);
  }
  return found;
}

const YAML_FILE = /\.ya?ml$/;

// ---------------------------------------------------------------------------------------
// Input checks

/** spec.update.path normalised ("." for the root); absolute paths, "..", and .git are refused. */
function updatePath(id: string, raw: string): string {
  const normal = posix.normalize(raw === '' ? '.' : raw).replace(/\/+$/, '') || '.';
  const parts = normal.split('/');
  if (posix.isAbsolute(raw) || raw.includes('\\') || parts[0] === '..' || parts.includes('.git')) {
    throw new GitSourceError(`${id}: update path "${raw}" must be relative, stay inside the repository and out of .git`, 'IllegalPath');
  }
  return normal;
}

function commitAuthor(id: string, author: { readonly name: string; readonly email: string }): { readonly name: string; readonly email: string } {
  const bad = /[<>\n\r\0]/;
  const email = author.email.trim();
  const name = author.name.trim() || email;
  if (email === '' || bad.test(email) || bad.test(name)) {
    throw new Error(`${id}: commit author needs an email, and neither name nor email may contain "<", ">" or a line break`);
  }
  return { name, email };
}
