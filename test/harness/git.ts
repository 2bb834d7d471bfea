// Real git repositories on disk for tests and benchmarks: write files, commit, tag. The hub
// fetches them through file:// URLs with the real git.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
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
}

export function configMap(name: string, namespace: string | undefined, data: Record<string, string>): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, ...(namespace ? { namespace } : {}) }, data };
}
