// Real git repositories on disk for tests and benchmarks: write files, commit, tag. The hub
// fetches them through file:// URLs with the real git. BareRepo is a server-side repository
// the hub can push to (image update automation), with an authoring clone and hooks that
// stage a concurrent push or refuse pushes.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';

const identity = ['-c', 'user.name=Flotilla Test', '-c', 'user.email=test@flotilla.dev', '-c', 'commit.gpgsign=false'];

export class GitRepo {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    this.git('init', '-q', '-b', 'main');
  }

  get url(): string {
    return `file://${this.dir}`;
  }

  git(...args: string[]): string {
    return execFileSync('git', [...identity, ...args], { cwd: this.dir, encoding: 'utf8' }).trim();
  }

  write(path: string, content: string): this {
    const file = join(this.dir, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
    return this;
  }

  /** Writes Kubernetes objects (or any values) as a multi-document YAML file. */
  writeObjects(path: string, objects: readonly unknown[]): this {
    return this.write(path, objects.map((o) => stringify(o)).join('---\n'));
  }

  copy(from: string, to: string): this {
    cpSync(from, join(this.dir, to), { recursive: true });
    return this;
  }

  remove(path: string): this {
    rmSync(join(this.dir, path), { recursive: true, force: true });
    return this;
  }

  /** Commits everything; returns the commit sha. */
  commit(message: string): string {
    this.git('add', '-A');
    this.git('commit', '-q', '--allow-empty', '-m', message);
    return this.git('rev-parse', 'HEAD');
  }

  tag(name: string): this {
    this.git('tag', name);
    return this;
  }

  /** Pushes HEAD to `branch` of origin (no force). */
  push(branch: string): this {
    this.git('push', '-q', 'origin', `HEAD:refs/heads/${branch}`);
    return this;
  }
}

const ZERO = '0000000000000000000000000000000000000000';

export interface CommitInfo {
  readonly commit: string;
  readonly parents: readonly string[];
  readonly authorName: string;
  readonly authorEmail: string;
  readonly committerName: string;
  readonly committerEmail: string;
  /** The full message, exactly as stored. */
  readonly message: string;
}

/**
 * A bare repository (the "server"), served at `url`. Force pushes are refused
 * (receive.denyNonFastForwards), as on a protected branch, so a test that pushes through it
 * also proves it never rewrote history.
 */
export class BareRepo {
  private authorClone: GitRepo | undefined;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    this.git('init', '-q', '--bare', '-b', 'main');
    this.git('config', 'receive.denyNonFastForwards', 'true');
  }

  get url(): string {
    return `file://${this.dir}`;
  }

  git(...args: string[]): string {
    return execFileSync('git', [...identity, ...args], { cwd: this.dir, encoding: 'utf8' }).trim();
  }

  /** A fresh working clone at `dir`, on `branch` when the bare repository has it. */
  clone(dir: string, branch = 'main'): GitRepo {
    const repo = new GitRepo(dir);
    repo.git('remote', 'add', 'origin', this.url);
    repo.git('fetch', '-q', 'origin');
    if (this.has(branch)) repo.git('checkout', '-q', '-B', branch, `origin/${branch}`);
    else repo.git('checkout', '-q', '--orphan', branch);
    return repo;
  }

  /** Writes `files` (null deletes) on `branch` through the authoring clone and pushes; returns the commit. */
  commitFiles(files: Readonly<Record<string, string | null>>, message: string, branch = 'main'): string {
    this.authorClone ??= new GitRepo(`${this.dir}.author`);
    const repo = this.authorClone;
    if (repo.git('remote') === '') repo.git('remote', 'add', 'origin', this.url);
    repo.git('fetch', '-q', 'origin');
    if (this.has(branch)) repo.git('checkout', '-q', '-f', '-B', branch, `origin/${branch}`);
    else repo.git('checkout', '-q', '-f', '--orphan', branch);
    repo.git('clean', '-qfdx');
    for (const [path, content] of Object.entries(files)) {
      if (content === null) repo.remove(path);
      else repo.write(path, content);
    }
    const commit = repo.commit(message);
    repo.push(branch);
    return commit;
  }

  has(branch: string): boolean {
    return this.git('for-each-ref', '--format=%(refname)', `refs/heads/${branch}`) !== '';
  }

  head(branch = 'main'): string {
    return this.git('rev-parse', '--verify', `refs/heads/${branch}^{commit}`);
  }

  /** A file's content on `rev` (a branch or commit), byte for byte. */
  show(rev: string, path: string): string {
    return execFileSync('git', ['show', `${rev}:${path}`], { cwd: this.dir, encoding: 'utf8' });
  }

  /** Commits reachable from `rev`, newest first. */
  log(rev = 'main'): CommitInfo[] {
    return this.git('rev-list', rev)
      .split('\n')
      .filter((c) => c !== '')
      .map((commit) => this.commitInfo(commit));
  }

  commitInfo(rev: string): CommitInfo {
    // Not this.git(): it trims, and the message must stay exact.
    const raw = execFileSync('git', ['cat-file', 'commit', rev], { cwd: this.dir, encoding: 'utf8' });
    const split = raw.indexOf('\n\n');
    const head = raw.slice(0, split);
    const ident = (kind: string): { name: string; email: string } => {
      const m = new RegExp(`^${kind} (.*) <(.*)> \\d+ [-+]\\d{4}$`, 'm').exec(head);
      return { name: m?.[1] ?? '', email: m?.[2] ?? '' };
    };
    const author = ident('author');
    const committer = ident('committer');
    return {
      commit: this.git('rev-parse', '--verify', `${rev}^{commit}`),
      parents: [...head.matchAll(/^parent (\S+)$/gm)].map((m) => m[1] ?? ''),
      authorName: author.name,
      authorEmail: author.email,
      committerName: committer.name,
      committerEmail: committer.email,
      message: raw.slice(split + 2),
    };
  }

  isAncestor(ancestor: string, descendant: string): boolean {
    try {
      this.git('merge-base', '--is-ancestor', ancestor, descendant);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Makes the next push to an existing branch lose a race: a one-shot pre-receive hook
   * commits `content` to `file` on that branch itself (commit-tree + update-ref, outside the
   * push's quarantine), after the push's objects arrived and before its ref update, which
   * then fails ("cannot lock ref ... but expected", "failed to update ref") as in a real
   * race. `commit()` is the concurrent commit, once the hook ran.
   */
  raceNextPush(file: string, content: string, message: string): { commit(): string | undefined } {
    const stage = join(this.dir, 'flotilla-race');
    rmSync(stage, { recursive: true, force: true });
    mkdirSync(stage);
    writeFileSync(join(stage, 'content'), content);
    writeFileSync(join(stage, 'message'), message.endsWith('\n') ? message : `${message}\n`);
    const q = shellQuote;
    this.installHook(
      'pre-receive',
      [
        'while read old new ref; do',
        '  case "$ref" in refs/heads/*) ;; *) continue ;; esac',
        `  [ "$old" = ${ZERO} ] && continue`,
        '  rm -f "$0"', // one shot
        '  unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES',
        `  export GIT_INDEX_FILE=${q(join(stage, 'index'))}`,
        '  export GIT_AUTHOR_NAME="Concurrent Pusher" GIT_AUTHOR_EMAIL=concurrent@flotilla.dev',
        '  export GIT_COMMITTER_NAME="Concurrent Pusher" GIT_COMMITTER_EMAIL=concurrent@flotilla.dev',
        '  git read-tree "$old"',
        `  blob=$(git hash-object -w ${q(join(stage, 'content'))})`,
        `  git update-index --add --cacheinfo "100644,$blob,"${q(file)}`,
        '  tree=$(git write-tree)',
        `  commit=$(git commit-tree "$tree" -p "$old" -F ${q(join(stage, 'message'))})`,
        '  git update-ref "$ref" "$commit" "$old"',
        `  echo "$commit" > ${q(join(stage, 'commit'))}`,
        '  break',
        'done',
        'exit 0',
      ],
    );
    return {
      commit: () => (existsSync(join(stage, 'commit')) ? readFileSync(join(stage, 'commit'), 'utf8').trim() : undefined),
    };
  }

  /** Every push is refused by a pre-receive hook printing `message` (until clearHooks). */
  rejectPushes(message: string): this {
    this.installHook('pre-receive', ['cat >/dev/null', `echo ${shellQuote(message)} >&2`, 'exit 1']);
    return this;
  }

  /**
   * The next push to a branch is accepted (the branch moves) and then held `seconds` by a
   * one-shot post-receive hook, which first creates `marker`: a test can kill the pusher while
   * its push is in flight but already landed.
   */
  holdNextPush(marker: string, seconds: number): this {
    this.installHook('post-receive', ['rm -f "$0"', 'cat >/dev/null', `touch ${shellQuote(marker)}`, `sleep ${seconds}`]);
    return this;
  }

  clearHooks(): this {
    rmSync(join(this.dir, 'hooks', 'pre-receive'), { force: true });
    return this;
  }

  private installHook(name: string, lines: readonly string[]): void {
    const path = join(this.dir, 'hooks', name);
    writeFileSync(path, ['#!/bin/sh', 'set -e', ...lines, ''].join('\n'));
    chmodSync(path, 0o755);
  }
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function configMap(name: string, namespace: string | undefined, data: Record<string, string>): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, ...(namespace ? { namespace } : {}) }, data };
}
