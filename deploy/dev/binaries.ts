// Where the real infrastructure binaries live. scripts/install-infra.sh puts them in a cache
// outside the repository, keyed by the versions pinned in deploy/dev/versions.env.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';

/** The repository root, found from this file whether it runs from source or from dist/. */
export const repoRoot: string = findRepoRoot(dirname(fileURLToPath(import.meta.url)));

function findRepoRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'deploy', 'dev', 'versions.env')) && existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the Flotilla repository root above ${start}`);
    dir = parent;
  }
}

export interface Versions {
  readonly KUBERNETES_VERSION: string;
  readonly KWOK_VERSION: string;
  readonly HELM_VERSION: string;
  readonly KUSTOMIZE_VERSION: string;
  /** module@version of MinIO, e.g. github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c. */
  readonly MINIO_GO_MODULE: string;
  /** Flux's source- and kustomize-controller, built by scripts/build-flux.sh for the benchmarks only. */
  readonly FLUX_VERSION: string;
  /** go.temporal.io/server with SQL persistence, built by scripts/build-temporal-sql.sh (deploy/dev/temporal-sql.ts). */
  readonly TEMPORAL_SERVER_VERSION: string;
}

export function readVersions(): Versions {
  const text = readFileSync(join(repoRoot, 'deploy', 'dev', 'versions.env'), 'utf8');
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m?.[1] !== undefined && m[2] !== undefined) values.set(m[1], m[2]);
  }
  const get = (key: keyof Versions): string => {
    const v = values.get(key);
    if (v === undefined) throw new Error(`deploy/dev/versions.env has no ${key}`);
    return v;
  };
  return {
    KUBERNETES_VERSION: get('KUBERNETES_VERSION'),
    KWOK_VERSION: get('KWOK_VERSION'),
    HELM_VERSION: get('HELM_VERSION'),
    KUSTOMIZE_VERSION: get('KUSTOMIZE_VERSION'),
    MINIO_GO_MODULE: get('MINIO_GO_MODULE'),
    FLUX_VERSION: get('FLUX_VERSION'),
    TEMPORAL_SERVER_VERSION: get('TEMPORAL_SERVER_VERSION'),
  };
}

export const cacheDir: string = process.env.FLOTILLA_CACHE ?? join(homedir(), '.cache', 'flotilla');

export interface Binaries {
  /** The "hyperkube" wrapper: `kube apiserver|controller-manager|scheduler`. */
  readonly kube: string;
  readonly kwok: string;
  readonly etcd: string;
  readonly helm: string;
  readonly kustomize: string;
  readonly temporal: string;
  readonly temporalTestServer: string;
  readonly kubectl: string;
  /** MinIO, the S3-compatible server the S3 store is tested against. */
  readonly minio: string;
}

let paths: Binaries | undefined;

/** Where each binary is expected (not checked; see bin()). */
export function binaryPaths(): Binaries {
  if (paths) return paths;
  const v = readVersions();
  const venvBin = join(cacheDir, 'venv', 'bin');
  paths = {
    kube: join(cacheDir, 'bin', `k8s-${v.KUBERNETES_VERSION}`, 'kube'),
    kwok: join(cacheDir, 'bin', `kwok-${v.KWOK_VERSION}`, 'kwok'),
    etcd: whichEtcd(),
    helm: join(cacheDir, 'bin', `helm-${v.HELM_VERSION}`, 'helm'),
    kustomize: join(cacheDir, 'bin', `kustomize-${v.KUSTOMIZE_VERSION}`, 'kustomize'),
    temporal: join(venvBin, 'temporal'),
    temporalTestServer: join(venvBin, 'temporal-test-server'),
    kubectl: join(venvBin, 'kubectl'),
    minio: join(cacheDir, 'bin', `minio-${v.MINIO_GO_MODULE.slice(v.MINIO_GO_MODULE.lastIndexOf('@') + 1)}`, 'minio'),
  };
  return paths;
}

/** Binaries the hub runs in production, and the variable that names them (tools.* in hub/config.ts; the hub image sets them). */
const OVERRIDES: Partial<Record<keyof Binaries, string>> = { helm: 'FLOTILLA_HELM', kustomize: 'FLOTILLA_KUSTOMIZE' };

/** The path of one installed binary; fails with how to install it when it is missing. */
export function bin(name: keyof Binaries): string {
  const variable = OVERRIDES[name];
  const override = variable === undefined ? undefined : process.env[variable];
  if (override !== undefined && override !== '') {
    if (!existsSync(override)) throw new Error(`${name} is not at ${override} (${variable ?? ''})`);
    return override;
  }
  const path = binaryPaths()[name];
  if (!existsSync(path)) {
    throw new Error(`${name} is not installed (expected at ${path}). Run 'npm run setup' (scripts/install-infra.sh) to build or install it.`);
  }
  return path;
}

function whichEtcd(): string {
  for (const candidate of ['/usr/bin/etcd', '/usr/local/bin/etcd']) if (existsSync(candidate)) return candidate;
  try {
    return execFileSync('sh', ['-c', 'command -v etcd'], { encoding: 'utf8' }).trim() || '/usr/bin/etcd';
  } catch {
    return '/usr/bin/etcd';
  }
}

export function resolveInRepo(...parts: string[]): string {
  return resolve(repoRoot, ...parts);
}

/**
 * The hub flags (settings tools.helm, tools.kustomize) naming the helm and kustomize above:
 * what a dev or test hub runs. `flotilla-hub serve` itself does not look here: without the
 * settings it takes the ones on PATH.
 */
export function hubToolFlags(): string[] {
  return ['--helm', bin('helm'), '--kustomize', bin('kustomize')];
}

/** The same for the CLI (`flotilla build`/`check --pre` run kustomize, `cluster add` helm): its variables. */
export function cliToolEnv(): Record<string, string> {
  return { FLOTILLA_HELM: bin('helm'), FLOTILLA_KUSTOMIZE: bin('kustomize') };
}
