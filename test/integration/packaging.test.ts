// Packaging, checked by running what the packages ship. The Dockerfiles are linted (hadolint)
// and checked against the repository (what they COPY exists and passes .dockerignore, the
// modules the entry points import are all built, from production dependencies only), then
// their entry points run from the very layout the runtime stage copies. The Helm charts are
// linted, rendered and applied to a real kube-apiserver: Pod Security "restricted" admits their
// pods, and the API server's own RBAC shows what the agent may and may not do, with the apply
// engine and the agent's state store running as the agent's ServiceAccount. The npm package is
// packed, installed in a clean directory and its bins run.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';
import { dirname, join, posix, relative, resolve, sep } from 'node:path';
import type { V1Container, V1Deployment, V1PodSpec, V1Service } from '@kubernetes/client-node';
import { parse as parseYaml, parseAllDocuments, stringify } from 'yaml';
import { AgentStateStore } from '../../agents/agent-state.js';
import { ClusterClient } from '../../agents/apply/cluster-client.js';
import { bin, cacheDir, repoRoot, resolveInRepo } from '../../deploy/dev/binaries.js';
import { ensureSelfSignedTls } from '../../hub/tls.js';
import { useEnvironment } from '../harness/index.js';

interface Installed { readonly dir: string; readonly tarball: string; readonly files: string[] }
let installing: Promise<Installed> | undefined;
// npm pack + install (half a minute) runs while the cluster starts; the tests that need it await it.
// (Deferred: a root-level hook runs as soon as it is registered, before the rest of this module is evaluated.)
before(() => { setImmediate(() => { installedPackage().catch(() => undefined); }); });
const env = useEnvironment({ clusters: ['pkg'], temporal: false });

const pkg = JSON.parse(readFileSync(resolveInRepo('package.json'), 'utf8')) as {
  version: string; bin: Record<string, string>; files: string[];
  dependencies: Record<string, string>; devDependencies: Record<string, string>;
};
const versions = readEnvFile(resolveInRepo('deploy', 'dev', 'versions.env'));
const HUB_CHART = resolveInRepo('deploy', 'charts', 'flotilla-hub');
const AGENT_CHART = resolveInRepo('deploy', 'charts', 'flotilla-agent');
const KUBE_VERSION = '1.30.14';
const AGENT_NS = 'flotilla-system';
const AGENT_SA = `system:serviceaccount:${AGENT_NS}:flotilla-agent`;

// ---------------------------------------------------------------------------------------------
// Processes and temporary directories

interface Result { readonly code: number; readonly stdout: string; readonly stderr: string }

function run(command: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {}): Promise<Result> {
  return new Promise((resolveRun) => {
    const child = execFile(command, args, {
      cwd: opts.cwd, env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 * 2 ** 20, encoding: 'utf8',
    }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 127;
      resolveRun({ code, stdout, stderr: err !== null && typeof err.code !== 'number' ? `${stderr}${err.message}` : stderr });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** The environment without this process's npm and Flotilla settings (npm test sets npm_config_*). */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(npm_|FLOTILLA_|INIT_CWD$|KUBECONFIG$)/i.test(k)) out[k] = v;
  }
  return { ...out, ...extra };
}

const temps: string[] = [];
function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `flotilla-pkg-${label}-`));
  temps.push(dir);
  return dir;
}
after(() => { for (const dir of temps) rmSync(dir, { recursive: true, force: true }); });

function readEnvFile(path: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m?.[1] !== undefined && m[2] !== undefined) values.set(m[1], m[2]);
  }
  return values;
}

// ---------------------------------------------------------------------------------------------
// Dockerfiles: a small parser (continuations, comments, stages) and .dockerignore's rules

interface Instruction { readonly cmd: string; readonly rest: string; readonly line: number }
interface Stage { readonly image: string; readonly name: string | undefined; readonly index: number; readonly instructions: Instruction[] }
interface Dockerfile { readonly path: string; readonly stages: Stage[] }

function parseDockerfile(path: string): Dockerfile {
  const stages: Stage[] = [];
  let pending = '';
  let startLine = 0;
  readFileSync(path, 'utf8').split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line.startsWith('#') || (line === '' && pending === '')) return;
    if (pending === '') startLine = i + 1;
    if (line.endsWith('\\')) { pending += `${line.slice(0, -1)} `; return; }
    const text = (pending + line).trim();
    pending = '';
    const m = /^(\w+)\s+([\s\S]*)$/.exec(text);
    if (!m?.[1] || m[2] === undefined) return;
    const cmd = m[1].toUpperCase();
    if (cmd === 'FROM') {
      const [image = '', as, name] = m[2].split(/\s+/);
      stages.push({ image, name: as?.toUpperCase() === 'AS' ? name : undefined, index: stages.length, instructions: [] });
      return;
    }
    const stage = stages.at(-1);
    assert.ok(stage, `${path}:${startLine}: ${cmd} before FROM`);
    stage.instructions.push({ cmd, rest: m[2], line: startLine });
  });
  return { path, stages };
}

interface Copy { readonly from: string | undefined; readonly sources: string[]; readonly dest: string; readonly line: number }

function copies(stage: Stage): Copy[] {
  return stage.instructions.filter((i) => i.cmd === 'COPY' || i.cmd === 'ADD').map((i) => {
    assert.equal(i.cmd, 'COPY', `line ${i.line}: ADD fetches and unpacks; COPY is what is meant`);
    const words = i.rest.split(/\s+/);
    const flags = words.filter((w) => w.startsWith('--'));
    const paths = words.filter((w) => !w.startsWith('--'));
    const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
    const dest = paths.pop();
    assert.ok(dest !== undefined && paths.length > 0, `line ${i.line}: COPY needs a source and a destination`);
    return { from, sources: paths, dest, line: i.line };
  });
}

function lastValue(stage: Stage, cmd: string): string | undefined {
  return stage.instructions.filter((i) => i.cmd === cmd).at(-1)?.rest;
}

function jsonArray(stage: Stage, cmd: string): string[] {
  const text = lastValue(stage, cmd);
  assert.ok(text !== undefined, `the runtime stage has no ${cmd}`);
  const value: unknown = JSON.parse(text);
  assert.ok(Array.isArray(value) && value.every((v) => typeof v === 'string'), `${cmd} is in exec (JSON array) form`);
  return value;
}

function envOf(stage: Stage): Map<string, string> {
  const out = new Map<string, string>();
  for (const i of stage.instructions.filter((x) => x.cmd === 'ENV')) {
    for (const word of i.rest.split(/\s+/)) {
      const eq = word.indexOf('=');
      if (eq > 0) out.set(word.slice(0, eq), word.slice(eq + 1));
    }
  }
  return out;
}

function workdir(stage: Stage): string {
  return lastValue(stage, 'WORKDIR') ?? '/';
}

function argDefault(stage: Stage, name: string): string | undefined {
  for (const i of stage.instructions.filter((x) => x.cmd === 'ARG')) {
    const [key, value] = i.rest.split('=', 2);
    if (key === name) return value;
  }
  return undefined;
}

/** .dockerignore: later patterns win, a pattern matching a directory covers what is below it. */
function dockerignore(path: string): (file: string) => boolean {
  const rules = readFileSync(path, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')).map((l) => {
    const negate = l.startsWith('!');
    const pattern = (negate ? l.slice(1) : l).replace(/^\/+|\/+$/g, '');
    let re = '';
    for (let i = 0; i < pattern.length; i++) {
      const c = pattern.charAt(i);
      if (c === '*' && pattern[i + 1] === '*') {
        re += pattern[i + 2] === '/' ? '(?:.*/)?' : '.*';
        i += pattern[i + 2] === '/' ? 2 : 1;
      } else if (c === '*') re += '[^/]*';
      else if (c === '?') re += '[^/]';
      else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
    return { negate, re: new RegExp(`^${re}$`) };
  });
  return (file) => {
    const parts = file.split('/');
    const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let included = true;
    for (const rule of rules) if (prefixes.some((p) => rule.re.test(p))) included = rule.negate;
    return included;
  };
}

function filesUnder(dir: string): string[] {
  if (statSync(dir).isFile()) return [dir];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.name === 'node_modules' ? [] : e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]);
}

const repoPath = (abs: string): string => relative(repoRoot, abs).split(sep).join('/');

/**
 * The modules reached from `entries` through relative imports (static and dynamic), and the
 * packages they import.
 */
function importGraph(entries: readonly string[]): { modules: Set<string>; packages: Set<string> } {
  const modules = new Set<string>();
  const packages = new Set<string>();
  const specifiers = [
    /^\s*(?:import|export)\s+(?:type\s+)?[\w*{}\s,$]+?\s+from\s+['"]([^'"]+)['"]/gm,
    /^\s*import\s+['"]([^'"]+)['"]/gm,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  const queue = [...entries];
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    if (modules.has(file)) continue;
    modules.add(file);
    const text = readFileSync(file, 'utf8');
    for (const re of specifiers) {
      for (const m of text.matchAll(re)) {
        const spec = m[1] ?? '';
        if (spec.startsWith('.')) {
          const target = resolve(dirname(file), spec);
          assert.ok(existsSync(target), `${repoPath(file)} imports ${spec}, which was not built`);
          queue.push(target);
        } else if (!spec.startsWith('node:') && !builtinModules.includes(spec)) {
          packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0] ?? spec);
        }
      }
    }
  }
  return { modules, packages };
}

// ---------------------------------------------------------------------------------------------
// Helm charts: render, and read what was rendered

type Obj = Record<string, unknown> & { kind: string; metadata: { name: string; namespace?: string } };

interface Render { readonly code: number; readonly stderr: string; readonly objects: Obj[] }

/** A rule of a rendered Role. */
interface RoleRule { readonly apiGroups: string[]; readonly resources: string[]; readonly resourceNames?: string[]; readonly verbs: string[] }

async function helmTemplate(chart: string, opts: { release?: string; namespace?: string; set?: Record<string, string | number | boolean>; setFile?: Record<string, string>; json?: Record<string, unknown> } = {}): Promise<Render> {
  const args = ['template', opts.release ?? 'flotilla', chart, '--namespace', opts.namespace ?? 'flotilla-system', '--kube-version', KUBE_VERSION];
  for (const [k, v] of Object.entries(opts.set ?? {})) args.push(typeof v === 'string' ? '--set-string' : '--set', `${k}=${String(v)}`);
  for (const [k, v] of Object.entries(opts.setFile ?? {})) args.push('--set-file', `${k}=${v}`);
  for (const [k, v] of Object.entries(opts.json ?? {})) args.push('--set-json', `${k}=${JSON.stringify(v)}`);
  const r = await run(bin('helm'), args, { env: cleanEnv({ HOME: helmHome() }) });
  const objects = r.code === 0
    ? parseAllDocuments(r.stdout).map((d) => d.toJS() as unknown).filter((o): o is Obj => typeof o === 'object' && o !== null)
    : [];
  return { code: r.code, stderr: r.stderr, objects };
}

let helmHomeDir: string | undefined;
function helmHome(): string {
  helmHomeDir ??= tempDir('helm-home');
  return helmHomeDir;
}

function find(objects: readonly Obj[], kind: string, name: string): Obj {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `no ${kind} ${name} among ${objects.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
  return o;
}

function findDeployment(objects: readonly Obj[], name: string): V1Deployment {
  return find(objects, 'Deployment', name);
}

/** The data of a ConfigMap or Secret. */
function dataOf(objects: readonly Obj[], kind: 'ConfigMap' | 'Secret', name: string): Record<string, string> {
  const { data } = find(objects, kind, name);
  assert.ok(typeof data === 'object' && data !== null, `${kind} ${name} has data`);
  return data as Record<string, string>;
}

function kindsAndNames(objects: readonly Obj[]): string[] {
  return objects.map((o) => `${o.kind}/${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`).sort();
}

function podSpec(d: V1Deployment): V1PodSpec {
  const spec = d.spec?.template.spec;
  assert.ok(spec, `${d.metadata?.name ?? '?'} has a pod template`);
  return spec;
}

function container(d: V1Deployment, name: string): V1Container {
  const c = podSpec(d).containers.find((x) => x.name === name);
  assert.ok(c, `${d.metadata?.name ?? '?'} has a container ${name}`);
  return c;
}

/** Every pod template: non-root, nothing privileged, read-only root with /tmp mounted, resources set. */
function assertUnprivileged(objects: readonly Obj[], what: string): void {
  const workloads = objects.filter((o) => ['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'Pod'].includes(o.kind)) as unknown as V1Deployment[];
  assert.ok(workloads.length > 0, `${what}: renders a workload`);
  for (const d of workloads) {
    const spec = podSpec(d);
    const where = `${what}: ${d.metadata?.name ?? '?'}`;
    assert.ok(!spec.hostNetwork && !spec.hostPID && !spec.hostIPC, `${where}: no host namespaces`);
    assert.ok(!(spec.volumes ?? []).some((v) => v.hostPath), `${where}: no hostPath volumes`);
    assert.equal(spec.securityContext?.runAsNonRoot, true, `${where}: pod runAsNonRoot`);
    assert.ok(Number.isInteger(spec.securityContext.runAsUser) && (spec.securityContext.runAsUser ?? 0) > 0, `${where}: pod runAsUser numeric, not root`);
    assert.equal(spec.securityContext.seccompProfile?.type, 'RuntimeDefault', `${where}: pod seccomp RuntimeDefault`);
    for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
      const sc = c.securityContext;
      const at = `${where}/${c.name}`;
      assert.ok(sc, `${at}: has a securityContext`);
      assert.equal(sc.runAsNonRoot, true, `${at}: runAsNonRoot`);
      assert.ok(Number.isInteger(sc.runAsUser) && (sc.runAsUser ?? 0) > 0, `${at}: runAsUser numeric and not 0`);
      assert.equal(sc.allowPrivilegeEscalation, false, `${at}: allowPrivilegeEscalation false`);
      assert.equal(sc.readOnlyRootFilesystem, true, `${at}: readOnlyRootFilesystem`);
      assert.notEqual(sc.privileged, true, `${at}: not privileged`);
      assert.deepEqual(sc.capabilities?.drop, ['ALL'], `${at}: drops every capability`);
      assert.equal(sc.capabilities.add, undefined, `${at}: adds none`);
      assert.equal(sc.seccompProfile?.type, 'RuntimeDefault', `${at}: seccomp RuntimeDefault`);
      for (const k of ['requests', 'limits'] as const) {
        assert.ok(c.resources?.[k]?.cpu !== undefined && c.resources[k].memory !== undefined, `${at}: resources.${k} cpu and memory`);
      }
      assert.ok((c.volumeMounts ?? []).some((m) => m.mountPath === '/tmp'), `${at}: /tmp is a volume (the root filesystem is read-only)`);
    }
  }
}

const CA_PEM = (async (): Promise<string> => {
  const tls = await ensureSelfSignedTls(join(tempDir('ca'), 'tls'), ['flotilla-hub.flotilla-system.svc']);
  return tls.ca.toString('utf8');
})();
let caFile: string | undefined;
async function hubCaFile(): Promise<string> {
  if (caFile) return caFile;
  const file = join(tempDir('ca-file'), 'hub-ca.crt');
  writeFileSync(file, await CA_PEM);
  caFile = file;
  return file;
}

async function agentRender(set: Record<string, string | number | boolean> = {}, opts: { release?: string; namespace?: string; json?: Record<string, unknown> } = {}): Promise<Render> {
  return helmTemplate(AGENT_CHART, {
    release: 'flotilla-agent',
    ...opts,
    set: { 'hub.address': 'flotilla-hub.flotilla-system.svc:7443', 'cluster.name': 'pkg', 'hub.token': 'registration-token-1', ...set },
    setFile: { 'hub.ca': await hubCaFile() },
  });
}

// The keys of hub.yaml, as docs/configuration.md and the hub's parser define them.
const HUB_CONFIG_SHAPE = {
  dataDir: 0,
  temporal: { address: 0, namespace: 0, taskQueue: 0, uiUrl: 0, tls: { enabled: 0, caFile: 0, certFile: 0, keyFile: 0, serverName: 0 } },
  grpc: { listen: 0, tlsCertFile: 0, tlsKeyFile: 0, hosts: 0, heartbeatSeconds: 0 },
  http: { listen: 0, tls: { mode: 0, certFile: 0, keyFile: 0 }, hosts: 0, apiTokenFile: 0 },
  store: { type: 0, s3: { endpoint: 0, bucket: 0, region: 0, prefix: 0 } },
  tools: { helm: 0, kustomize: 0 },
  limits: { maxConcurrentActivities: 0 },
  log: { level: 0 },
};

function shapeOf(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 0;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shapeOf(v)]).sort(([a], [b]) => String(a).localeCompare(String(b))));
}

interface HubConfig {
  dataDir: string;
  temporal: { tls: { enabled: boolean; caFile: string; certFile: string; keyFile: string } };
  grpc: { listen: string; tlsCertFile: string; tlsKeyFile: string; hosts: string[] };
  http: { listen: string; tls: { mode: string; certFile: string; keyFile: string }; hosts: string[]; apiTokenFile: string };
  store: { type: string; s3: { bucket: string } };
  tools: { helm: string; kustomize: string };
}

function hubConfig(objects: readonly Obj[], name = 'flotilla-hub'): HubConfig {
  const text = dataOf(objects, 'ConfigMap', name)['hub.yaml'];
  assert.ok(text !== undefined, 'the ConfigMap holds hub.yaml');
  const config: unknown = parseYaml(text);
  assert.deepEqual(shapeOf(config), shapeOf(HUB_CONFIG_SHAPE), 'hub.yaml has exactly the keys of the configuration contract');
  return config as HubConfig;
}

/** A file the hub config names is mounted: a volume at its directory that provides that file. */
function assertMountedFile(d: V1Deployment, file: string): void {
  const c = container(d, 'hub');
  const mount = (c.volumeMounts ?? []).find((m) => posix.dirname(file) === m.mountPath);
  assert.ok(mount, `${file} is under a volume mount of the hub container`);
  const volume = (podSpec(d).volumes ?? []).find((v) => v.name === mount.name);
  const items = volume?.secret?.items ?? volume?.configMap?.items;
  assert.ok(items?.some((i) => i.path === posix.basename(file)), `the volume ${mount.name} provides ${posix.basename(file)}`);
}

// ---------------------------------------------------------------------------------------------
// The npm package, packed and installed once for the tests that need it

function installedPackage(): Promise<Installed> {
  installing ??= (async () => {
    const packDir = tempDir('pack');
    // dist/ is built by the test command; --ignore-scripts skips prepack's second build.
    const pack = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', packDir], { cwd: repoRoot, env: cleanEnv(), timeoutMs: 120_000 });
    assert.equal(pack.code, 0, `npm pack: ${pack.stderr}`);
    const [info] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
    assert.ok(info, 'npm pack reports the tarball');
    const tarball = join(packDir, info.filename);
    const dir = tempDir('install');
    const npmEnv = cleanEnv();
    const init = await run('npm', ['init', '-y'], { cwd: dir, env: npmEnv });
    assert.equal(init.code, 0, `npm init: ${init.stderr}`);
    const install = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: dir, env: npmEnv, timeoutMs: 240_000 });
    assert.equal(install.code, 0, `npm install ${tarball}: ${install.stderr}`);
    return { dir, tarball, files: info.files.map((f) => f.path) };
  })();
  return installing;
}

async function npx(installed: Installed, ...args: string[]): Promise<Result> {
  return run('npx', args, { cwd: installed.dir, env: cleanEnv(), timeoutMs: 60_000 });
}

// ---------------------------------------------------------------------------------------------
// kubectl against the test cluster

async function kubectl(...args: string[]): Promise<Result> {
  return run(bin('kubectl'), ['--kubeconfig', env().cluster('pkg').kubeconfigPath, ...args], { env: cleanEnv(), timeoutMs: 90_000 });
}

async function kubectlOk(...args: string[]): Promise<string> {
  const r = await kubectl(...args);
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function applyObjects(objects: readonly Obj[], label: string): Promise<void> {
  const file = join(tempDir(`apply-${label}`), 'objects.yaml');
  writeFileSync(file, objects.map((o) => stringify(o)).join('---\n'));
  await kubectlOk('apply', '--server-side', '--field-manager', 'packaging-test', '-f', file);
}

/** `kubectl auth can-i` as a ServiceAccount: the API server's RBAC answers. */
async function canI(as: string, ...args: string[]): Promise<boolean> {
  const r = await kubectl('auth', 'can-i', ...args, `--as=${as}`);
  assert.ok(r.code === 0 || r.code === 1, `kubectl auth can-i ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim() === 'yes';
}

/** Namespaces where Pod Security admission enforces "restricted": a pod that is not is refused. */
async function restrictedNamespaces(...names: string[]): Promise<void> {
  await applyObjects(names.map((name) => ({
    apiVersion: 'v1', kind: 'Namespace',
    metadata: { name, labels: { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/warn': 'restricted' } },
  })), `ns-${names.join('-')}`);
}

/** A kubeconfig for the cluster that authenticates with a ServiceAccount token (TokenRequest). */
async function serviceAccountKubeconfig(namespace: string, name: string): Promise<string> {
  const token = (await kubectlOk('create', 'token', name, '-n', namespace, '--duration', '10m')).trim();
  const config = parseYaml(readFileSync(env().cluster('pkg').kubeconfigPath, 'utf8')) as { users: { name: string; user: Record<string, unknown> }[] };
  for (const u of config.users) u.user = { token };
  const file = join(tempDir('sa-kubeconfig'), 'kubeconfig');
  writeFileSync(file, stringify(config), { mode: 0o600 });
  return file;
}

// =============================================================================================

describe('Dockerfiles', () => {
  const hub = parseDockerfile(resolveInRepo('deploy', 'hub.Dockerfile'));
  const agent = parseDockerfile(resolveInRepo('deploy', 'agent.Dockerfile'));
  const included = dockerignore(resolveInRepo('.dockerignore'));
  const finalStage = (d: Dockerfile): Stage => {
    const s = d.stages.at(-1);
    assert.ok(s, `${d.path} has a stage`);
    return s;
  };

  it('pass hadolint (which does flag a bad Dockerfile)', async () => {
    const hadolint = join(cacheDir, 'venv', 'bin', 'hadolint');
    assert.ok(existsSync(hadolint), `hadolint is not installed (expected at ${hadolint}); run 'npm run setup'`);
    const ours = await run(hadolint, ['--format', 'json', '--failure-threshold', 'style', hub.path, agent.path]);
    assert.deepEqual(JSON.parse(ours.stdout || '[]'), [], 'no findings');
    assert.equal(ours.code, 0);
    const bad = join(tempDir('bad-dockerfile'), 'Dockerfile');
    writeFileSync(bad, 'FROM node:latest\nRUN apt-get install -y git\nUSER root\n');
    const flagged = await run(hadolint, ['--format', 'json', bad]);
    assert.notEqual(flagged.code, 0);
    const codes = (JSON.parse(flagged.stdout) as { code: string }[]).map((f) => f.code);
    for (const code of ['DL3007', 'DL3002']) assert.ok(codes.includes(code), `hadolint reports ${code} (got ${codes.join(', ')})`);
  });

  it('pin tagged base images, run as a numeric non-root user, and declare what must be writable', () => {
    for (const [d, volumes] of [[hub, ['/tmp', '/var/lib/flotilla']], [agent, ['/tmp']]] as const) {
      for (const s of d.stages) {
        const [image = '', tag] = s.image.split(':');
        assert.ok(tag && tag !== 'latest' && !image.includes('$'), `${d.path}: stage ${s.index} pins a tag (${s.image})`);
      }
      const last = finalStage(d);
      assert.match(d.stages[0]?.image ?? '', /^(golang|node):/);
      assert.match(last.image, /^node:20-bookworm-slim$/, `${d.path}: runs on node:20-bookworm-slim`);
      const user = lastValue(last, 'USER') ?? '';
      assert.match(user, /^\d+(:\d+)?$/, `${d.path}: USER is numeric (${user})`);
      assert.ok(user.split(':').every((id) => Number(id) > 0), `${d.path}: USER is not root`);
      const declared = JSON.parse(lastValue(last, 'VOLUME') ?? '[]') as string[];
      assert.deepEqual(declared, [...volumes], `${d.path}: VOLUME declares the writable paths`);
      assert.equal(envOf(last).get('HOME'), '/tmp', `${d.path}: HOME is writable`);
    }
    assert.deepEqual(jsonArray(finalStage(hub), 'ENTRYPOINT'), ['node', '/app/dist/hub/main.js']);
    assert.deepEqual(jsonArray(finalStage(hub), 'CMD'), ['serve', '--config', '/etc/flotilla/hub.yaml']);
    assert.deepEqual(jsonArray(finalStage(agent), 'ENTRYPOINT'), ['node', '/app/dist/agents/main.js']);
    // The hub's helm and kustomize are the versions the tests use, built the way install-infra.sh builds them.
    const tools = hub.stages.find((s) => s.name === 'tools');
    assert.ok(tools, 'the hub builds its tools in a stage named tools');
    assert.equal(argDefault(tools, 'HELM_VERSION'), versions.get('HELM_VERSION'));
    assert.equal(argDefault(tools, 'KUSTOMIZE_VERSION'), versions.get('KUSTOMIZE_VERSION'));
    const install = tools.instructions.find((i) => i.cmd === 'RUN')?.rest ?? '';
    assert.match(install, /go install .*helm\.sh\/helm\/v3\/cmd\/helm@\$\{HELM_VERSION\}/);
    assert.match(install, /go install .*sigs\.k8s\.io\/kustomize\/kustomize\/v5@\$\{KUSTOMIZE_VERSION\}/);
    assert.match(tools.instructions.find((i) => i.cmd === 'ENV')?.rest ?? '', /CGO_ENABLED=0/);
    // Programs the hub runs besides node: git (and ssh for git over ssh), openssl (self-signed certificate), helm, kustomize.
    const apt = finalStage(hub).instructions.filter((i) => i.cmd === 'RUN').map((i) => i.rest).join(' ');
    for (const p of ['git', 'openssh-client', 'openssl', 'ca-certificates']) assert.match(apt, new RegExp(`install [^&]*\\b${p}\\b`), `the hub image installs ${p}`);
    const hubEnv = envOf(finalStage(hub));
    assert.equal(hubEnv.get('FLOTILLA_HELM'), '/usr/local/bin/helm');
    assert.equal(hubEnv.get('FLOTILLA_KUSTOMIZE'), '/usr/local/bin/kustomize');
  });

  it('copy only what exists: context files that .dockerignore lets through, earlier stages\' outputs', () => {
    for (const d of [hub, agent]) {
      const names = new Set<string>();
      for (const s of d.stages) {
        for (const c of copies(s)) {
          if (c.from !== undefined) {
            assert.ok(names.has(c.from), `${d.path}:${c.line}: --from=${c.from} names an earlier stage`);
            continue;
          }
          for (const src of c.sources) {
            const abs = resolveInRepo(src);
            assert.ok(existsSync(abs), `${d.path}:${c.line}: ${src} exists in the repository`);
            const kept = filesUnder(abs).map(repoPath).filter(included);
            assert.ok(kept.length > 0, `${d.path}:${c.line}: .dockerignore lets ${src} into the build context`);
          }
        }
        if (s.name) names.add(s.name);
      }
    }
  });

  it('build every module the entry points load, from the context, with production dependencies only', () => {
    const build = hub.stages.find((s) => s.name === 'build');
    assert.ok(build, 'the hub has a build stage');
    const buildSources = copies(build).filter((c) => c.from === undefined).flatMap((c) => c.sources);
    const entries = [
      ...Object.values(pkg.bin).map((b) => resolveInRepo(b)),
      resolveInRepo('dist', 'workflows', 'index.js'), // bundled by the worker at start (hub/assemble.ts)
    ];
    const { modules, packages } = importGraph(entries);
    for (const m of modules) {
      const source = repoPath(m).replace(/^dist\//, '').replace(/\.js$/, '.ts');
      assert.ok(existsSync(resolveInRepo(source)), `${repoPath(m)} comes from ${source}`);
      assert.ok(buildSources.some((src) => source === src || source.startsWith(`${src.replace(/\/$/, '')}/`)), `${source} is copied into the build stage`);
      assert.ok(included(source), `${source} passes .dockerignore`);
      assert.ok(!/^(test|bench)\//.test(source), `${source}: run-time code does not import tests or benchmarks`);
    }
    for (const p of packages) assert.ok(p in pkg.dependencies, `${p} is imported at run time, so it must be a dependency (not a devDependency)`);
    assert.ok(modules.size > 50 && packages.has('@temporalio/worker'), 'the graph was followed');
  });

  /** The runtime stage's file system, made from what it COPYs; its ENV with paths into it. */
  interface Layout { readonly root: string; readonly env: Record<string, string>; readonly cwd: string; readonly entry: string[] }
  const layouts = new Map<string, Promise<Layout>>();
  const layout = (d: Dockerfile): Promise<Layout> => {
    const made = layouts.get(d.path) ?? (async (): Promise<Layout> => {
      const installed = await installedPackage(); // production node_modules, as the deps stage makes them
      const root = tempDir('image');
      const last = finalStage(d);
      const build = d.stages.find((s) => s.name === 'build');
      assert.ok(build);
      const builtTops = new Set(copies(build).filter((c) => c.from === undefined).flatMap((c) => c.sources.map((s) => s.split('/')[0] ?? s)));
      const stageOutputs: Record<string, (src: string) => string> = {
        build: (src) => resolveInRepo(src.replace(/^\/src\/?/, '')),
        deps: (src) => { assert.equal(src, '/src/node_modules'); return join(installed.dir, 'node_modules'); },
        tools: (src) => bin(posix.basename(src) as 'helm' | 'kustomize'),
      };
      for (const c of copies(last)) {
        const dest = posix.resolve(workdir(last), c.dest);
        for (const src of c.sources) {
          const from = c.from === undefined ? resolveInRepo(src) : stageOutputs[c.from]?.(src);
          assert.ok(from !== undefined && existsSync(from), `${d.path}:${c.line}: ${c.from ?? 'context'}:${src} exists`);
          const target = join(root, c.dest.endsWith('/') ? posix.join(dest, posix.basename(src)) : dest);
          mkdirSync(dirname(target), { recursive: true });
          if (c.from === 'deps' || c.from === 'tools') symlinkSync(from, target);
          else if (c.from === 'build' && src === '/src/dist') {
            // What the image's build stage compiles: the dist directories of the copied sources.
            cpSync(from, target, { recursive: true, filter: (f) => { const top = relative(from, f).split(sep)[0]; return !top || builtTops.has(top); } });
          } else cpSync(from, target, { recursive: true, filter: (f) => included(repoPath(f)) || statSync(f).isDirectory() });
        }
      }
      const env: Record<string, string> = {};
      for (const [k, v] of envOf(last)) env[k] = v.startsWith('/') && existsSync(join(root, v)) ? join(root, v) : v;
      const [node, script, ...entryArgs] = jsonArray(last, 'ENTRYPOINT');
      assert.equal(node, 'node');
      assert.ok(script);
      return { root, env, cwd: join(root, workdir(last)), entry: [join(root, script), ...entryArgs] };
    })();
    layouts.set(d.path, made);
    return made;
  };
  const runEntry = async (l: Layout, args: readonly string[], extraEnv: Record<string, string> = {}): Promise<Result> =>
    run(process.execPath, [...l.entry, ...args], { cwd: l.cwd, env: cleanEnv({ ...l.env, ...extraEnv }) });

  it('run their entry points from the layout the runtime stage copies', async () => {
    for (const [d, expectUsage] of [[hub, /usage:\s+flotilla-hub serve/], [agent, /usage: flotilla-agent --hub/]] as const) {
      const l = await layout(d);
      assert.ok(!existsSync(join(l.root, 'app', 'dist', 'test')), 'no tests in the image');
      const help = await runEntry(l, ['--help']);
      assert.equal(help.code, 0, `${d.path}: entry point --help: ${help.stderr}`);
      assert.match(help.stdout, expectUsage);
      // The agent protocol loads from the package root the runtime finds in the image (/app).
      const proto = pathToFileURL(join(l.root, 'app', 'dist', 'proto', 'load.js')).href;
      const loaded = await run(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(proto)}); console.log(Object.keys(m.agentProto()).sort().join(','))`], { cwd: l.cwd, env: cleanEnv(l.env) });
      assert.equal(loaded.code, 0, loaded.stderr);
      assert.match(loaded.stdout, /AgentGateway/);
      if (d === hub) {
        for (const flag of jsonArray(finalStage(d), 'CMD').filter((a) => a.startsWith('--'))) assert.ok(help.stdout.includes(flag), `the hub takes the image's CMD flag ${flag}`);
        // Built from the module at HELM_VERSION, helm reports its minor version only (no release ldflags).
        const helm = await run(l.env.FLOTILLA_HELM ?? '', ['version', '--short']);
        assert.match(helm.stdout, /^v3\.\d+/, helm.stderr);
        assert.ok((versions.get('HELM_VERSION') ?? '').startsWith(helm.stdout.trim().split('+')[0] ?? '?'), `FLOTILLA_HELM runs helm ${versions.get('HELM_VERSION') ?? ''}: ${helm.stdout}`);
        const kustomize = await run(l.env.FLOTILLA_KUSTOMIZE ?? '', ['version']);
        assert.equal(kustomize.code, 0, `FLOTILLA_KUSTOMIZE runs kustomize: ${kustomize.stderr}`);
        // The image carries the CLI too (NOTES.txt: cluster token create through kubectl exec).
        const version = await run(process.execPath, [join(l.root, 'app', 'dist', 'cli', 'main.js'), 'version'], { cwd: l.cwd, env: cleanEnv(l.env) });
        assert.equal(version.stdout.trim(), `flotilla ${pkg.version}`, version.stderr);
      }
    }
  });

  it('the hub image\'s entry point accepts the hub.yaml and environment the chart gives its pod', async () => {
    const l = await layout(hub);
    const renders: { name: string; set: Record<string, string | number | boolean> }[] = [
      { name: 'default', set: {} },
      {
        name: 's3, Temporal Cloud, every secret',
        set: {
          replicaCount: 2, 'store.type': 's3', 'store.s3.bucket': 'fleet-state', 'store.s3.endpoint': 'http://minio.minio:9000', 'store.s3.prefix': 'prod/',
          'store.s3.credentials.existingSecret': 'hub-s3', 'temporal.address': 'prod.acct.tmprl.cloud:7233', 'temporal.namespace': 'prod.acct',
          'temporal.apiKey.value': 'temporal-key', 'temporal.tls.clientCertSecret': 'temporal-client', 'temporal.tls.caSecret': 'temporal-ca',
          'grpc.tls.secretName': 'hub-gateway-tls', 'http.apiToken.existingSecret': 'hub-api-token', 'temporal.uiUrl': 'https://cloud.temporal.io',
          'http.tls.secretName': 'hub-http-tls',
        },
      },
    ];
    for (const { name, set } of renders) {
      const r = await helmTemplate(HUB_CHART, { release: 'flotilla-hub', set });
      assert.equal(r.code, 0, r.stderr);
      const d = findDeployment(r.objects, 'flotilla-hub');
      const c = container(d, 'hub');
      // What the pod would see: the chart's hub.yaml with its container paths in the layout,
      // the mounted files present, and the env the Deployment gives (Secrets resolved).
      const inLayout = (value: unknown): unknown => typeof value === 'string' && value.startsWith('/') ? join(l.root, value)
        : Array.isArray(value) || typeof value !== 'object' || value === null ? value
          : Object.fromEntries(Object.entries(value).map(([k, v]) => [k, inLayout(v)]));
      const config = inLayout(parseYaml(dataOf(r.objects, 'ConfigMap', 'flotilla-hub')['hub.yaml'] ?? '')) as HubConfig;
      for (const m of c.volumeMounts ?? []) {
        const volume = (podSpec(d).volumes ?? []).find((v) => v.name === m.name);
        for (const item of volume?.secret?.items ?? []) {
          mkdirSync(join(l.root, m.mountPath), { recursive: true });
          writeFileSync(join(l.root, m.mountPath, item.path), `${item.key} of ${volume?.secret?.secretName ?? ''}\n`);
        }
      }
      mkdirSync(config.dataDir, { recursive: true });
      const file = join(tempDir('hub-yaml'), 'hub.yaml');
      writeFileSync(file, stringify(config));
      const podEnv: Record<string, string> = {};
      const chartSecret = r.objects.some((o) => o.kind === 'Secret') ? dataOf(r.objects, 'Secret', 'flotilla-hub-secrets') : {};
      for (const e of c.env ?? []) {
        const ref = e.valueFrom?.secretKeyRef;
        if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') podEnv[e.name] = 'flotilla-hub-5d8c7b9f4-x2x7q';
        else if (ref) podEnv[e.name] = ref.name === 'flotilla-hub-secrets' ? Buffer.from(chartSecret[ref.key] ?? '', 'base64').toString() : `${ref.name ?? ''}/${ref.key}`;
        else if (e.value !== undefined) podEnv[e.name] = e.value;
      }
      const args = jsonArray(finalStage(hub), 'CMD').map((a) => (a === '/etc/flotilla/hub.yaml' ? file : a));
      assert.deepEqual(args, ['serve', '--config', file], 'the chart runs the image\'s CMD');
      assert.deepEqual(c.args, jsonArray(finalStage(hub), 'CMD'));
      const effective = await runEntry(l, ['config', ...args.slice(1)], podEnv);
      assert.equal(effective.code, 0, `${name}: flotilla-hub config --config <the chart's hub.yaml>: ${effective.stderr}`);
      const row = (key: string, value: string, source: string): RegExp => new RegExp(`^${key.replace(/\./g, '\\.')}\\s+${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s+${source}$`, 'm');
      assert.match(effective.stdout, row('hubId', 'flotilla-hub-5d8c7b9f4-x2x7q', 'env'), `${name}: the hub id is the pod's name`);
      assert.match(effective.stdout, row('grpc.listen', '0.0.0.0:7443', 'file'));
      assert.match(effective.stdout, row('tools.helm', join(l.root, '/usr/local/bin/helm'), 'env'), 'the image\'s FLOTILLA_HELM');
      if (name === 'default') {
        assert.match(effective.stdout, row('store.type', 'filesystem', 'file'));
        assert.match(effective.stdout, row('temporal.tls.enabled', 'false', 'file'));
        assert.match(effective.stdout, row('http.tls.mode', 'on', 'file'), 'the chart serves HTTPS');
      } else {
        assert.match(effective.stdout, row('http.tls.certFile', join(l.root, '/etc/flotilla/http-tls/tls.crt'), 'file'));
        assert.match(effective.stdout, row('store.type', 's3', 'file'));
        assert.match(effective.stdout, row('store.s3.accessKeyId', '(set)', 'env'));
        assert.match(effective.stdout, row('temporal.apiKey', '(set)', 'env'));
        assert.match(effective.stdout, row('temporal.tls.certFile', join(l.root, '/etc/flotilla/temporal-tls/tls.crt'), 'file'));
        assert.match(effective.stdout, row('grpc.tlsCertFile', join(l.root, '/etc/flotilla/tls/tls.crt'), 'file'));
        assert.match(effective.stdout, row('http.apiTokenFile', join(l.root, '/etc/flotilla/api-token/token'), 'file'));
      }
    }
  });
});

describe('Helm charts', () => {
  it('lint cleanly with --strict', async () => {
    const ca = await hubCaFile();
    for (const [chart, args] of [
      [HUB_CHART, []],
      [AGENT_CHART, ['--set', 'hub.address=hub.example.com:7443', '--set', 'cluster.name=pkg', '--set-file', `hub.ca=${ca}`]],
      [AGENT_CHART, ['--set', 'hub.address=hub.example.com:7443', '--set', 'cluster.name=pkg', '--set-file', `hub.ca=${ca}`, '--set', 'cacheSecretArtifacts=true']],
    ] as const) {
      const r = await run(bin('helm'), ['lint', '--strict', chart, '--kube-version', KUBE_VERSION, ...args], { env: cleanEnv({ HOME: helmHome() }) });
      assert.equal(r.code, 0, `helm lint --strict ${chart}: ${r.stdout}${r.stderr}`);
      assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
      assert.doesNotMatch(r.stdout, /\[(WARNING|ERROR)\]/);
    }
  });

  it('carry the package version and document every value', () => {
    for (const chart of [HUB_CHART, AGENT_CHART]) {
      const meta = parseYaml(readFileSync(join(chart, 'Chart.yaml'), 'utf8')) as Record<string, string>;
      assert.equal(meta.apiVersion, 'v2');
      assert.equal(meta.version, '0.1.0');
      assert.equal(meta.appVersion, pkg.version, `${meta.name ?? chart}: appVersion is package.json's version`);
      for (const f of ['values.yaml', 'README.md', 'templates/_helpers.tpl', 'templates/NOTES.txt']) assert.ok(existsSync(join(chart, f)), `${meta.name ?? chart}: ${f}`);
      // Each leaf value has a comment right above its key (or above its parent map's key).
      const lines = readFileSync(join(chart, 'values.yaml'), 'utf8').split('\n');
      const readme = readFileSync(join(chart, 'README.md'), 'utf8');
      const leaves = (value: unknown, prefix: string): string[] => typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length > 0
        ? Object.entries(value).flatMap(([k, v]) => leaves(v, prefix ? `${prefix}.${k}` : k)) : [prefix];
      for (const key of leaves(parseYaml(lines.join('\n')), '')) {
        const parts = key.split('.');
        // The line of each key on the path, each searched below its parent's.
        let at = -1;
        const documented = parts.map((part, depth) => {
          at = lines.findIndex((l, i) => i > at && l.startsWith(`${'  '.repeat(depth)}${part}:`));
          return at > 0 && /^\s*# /.test(lines[at - 1] ?? '');
        }).some(Boolean);
        assert.ok(documented, `${meta.name ?? chart}: values.yaml documents ${key}`);
        const listed = parts.some((_, depth) => readme.includes(`\`${parts.slice(0, depth + 1).join('.')}\``));
        assert.ok(listed, `${meta.name ?? chart}: README.md lists ${key} (or the map it is in)`);
      }
    }
  });

  it('hub: renders the Deployment, Service, ConfigMap (hub.yaml), PVC and ServiceAccount', async () => {
    const r = await helmTemplate(HUB_CHART, { release: 'flotilla-hub' });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(kindsAndNames(r.objects), [
      'ConfigMap/flotilla-system/flotilla-hub', 'Deployment/flotilla-system/flotilla-hub',
      'PersistentVolumeClaim/flotilla-system/flotilla-hub-data', 'Service/flotilla-system/flotilla-hub',
      'ServiceAccount/flotilla-system/flotilla-hub',
    ]);
    assertUnprivileged(r.objects, 'hub');
    const svc = find(r.objects, 'Service', 'flotilla-hub') as unknown as V1Service;
    assert.deepEqual(svc.spec?.ports?.map((p) => [p.name, p.port]), [['grpc', 7443], ['http', 7480]]);
    const d = findDeployment(r.objects, 'flotilla-hub');
    assert.equal(d.spec?.replicas, 1);
    assert.equal(d.spec.strategy?.type, 'Recreate', 'one pod owns the filesystem store');
    const c = container(d, 'hub');
    assert.deepEqual(c.args, ['serve', '--config', '/etc/flotilla/hub.yaml']);
    assert.equal(c.startupProbe?.httpGet?.path, '/healthz');
    assert.equal(c.livenessProbe?.httpGet?.path, '/healthz');
    assert.equal(c.readinessProbe?.httpGet?.path, '/readyz');
    assert.equal(c.readinessProbe.httpGet.port, 'http');
    for (const probe of [c.startupProbe, c.livenessProbe, c.readinessProbe]) assert.equal(probe.httpGet?.scheme, 'HTTPS', 'the hub serves HTTPS');
    assert.equal(svc.spec.ports.find((p) => p.name === 'http')?.appProtocol, 'https', 'the Service never announces plain HTTP');
    assert.equal(c.env?.find((e) => e.name === 'FLOTILLA_HUB_ID')?.valueFrom?.fieldRef?.fieldPath, 'metadata.name', 'the hub id is the pod name');
    assert.ok(!c.env.some((e) => e.name.startsWith('AWS_') || e.name === 'FLOTILLA_TEMPORAL_API_KEY'), 'no secrets referenced when none are given');
    const volumes = podSpec(d).volumes ?? [];
    assert.equal(volumes.find((v) => v.name === 'data')?.persistentVolumeClaim?.claimName, 'flotilla-hub-data');
    assert.ok(volumes.find((v) => v.name === 'tmp')?.emptyDir);
    const config = hubConfig(r.objects);
    assert.equal(config.dataDir, '/var/lib/flotilla');
    assert.equal(c.volumeMounts?.find((m) => m.name === 'data')?.mountPath, config.dataDir);
    assert.equal(config.store.type, 'filesystem');
    assert.equal(config.grpc.listen, '0.0.0.0:7443');
    assert.equal(config.http.listen, '0.0.0.0:7480');
    assert.deepEqual(config.http.tls, { mode: 'on', certFile: '', keyFile: '' }, 'HTTPS with the hub\'s own certificate');
    assert.equal(config.grpc.tlsCertFile, '');
    assert.ok(config.grpc.hosts.includes('flotilla-hub.flotilla-system.svc'), 'the self-signed certificate names the Service');
    assert.deepEqual(config.tools, { helm: '/usr/local/bin/helm', kustomize: '/usr/local/bin/kustomize' });
  });

  it('hub: two replicas on S3 with every secret: no PVC, secrets from Secrets, files mounted where hub.yaml says', async () => {
    const r = await helmTemplate(HUB_CHART, {
      release: 'flotilla-hub',
      set: {
        replicaCount: 2, 'store.type': 's3', 'store.s3.bucket': 'fleet', 'store.s3.endpoint': 'https://minio.example:9000',
        'store.s3.credentials.accessKeyId': 'AKIA-TEST', 'store.s3.credentials.secretAccessKey': 'secret-key',
        'temporal.address': 'ns.tmprl.cloud:7233', 'temporal.tls.enabled': true, 'temporal.tls.clientCertSecret': 'temporal-client',
        'temporal.tls.caSecret': 'temporal-ca', 'temporal.apiKey.existingSecret': 'temporal-api-key',
        'grpc.tls.secretName': 'hub-gateway-tls', 'http.apiToken.value': 'api-token-1', 'http.tls.secretName': 'hub-http-tls',
      },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.objects.some((o) => o.kind === 'PersistentVolumeClaim'), 'no PVC with the S3 store');
    assertUnprivileged(r.objects, 'hub (s3)');
    const d = findDeployment(r.objects, 'flotilla-hub');
    assert.equal(d.spec?.replicas, 2);
    assert.notEqual(d.spec.strategy?.type, 'Recreate');
    assert.ok((podSpec(d).volumes ?? []).find((v) => v.name === 'data')?.emptyDir, 'the data directory is a cache');
    const c = container(d, 'hub');
    const envRef = (name: string): [string, string] | undefined => {
      const ref = c.env?.find((e) => e.name === name)?.valueFrom?.secretKeyRef;
      return ref ? [ref.name ?? '', ref.key] : undefined;
    };
    assert.deepEqual(envRef('AWS_ACCESS_KEY_ID'), ['flotilla-hub-secrets', 'AWS_ACCESS_KEY_ID']);
    assert.deepEqual(envRef('AWS_SECRET_ACCESS_KEY'), ['flotilla-hub-secrets', 'AWS_SECRET_ACCESS_KEY']);
    assert.deepEqual(envRef('FLOTILLA_TEMPORAL_API_KEY'), ['temporal-api-key', 'api-key']);
    const secret = dataOf(r.objects, 'Secret', 'flotilla-hub-secrets');
    assert.deepEqual(Object.fromEntries(Object.entries(secret).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()])),
      { AWS_ACCESS_KEY_ID: 'AKIA-TEST', AWS_SECRET_ACCESS_KEY: 'secret-key', token: 'api-token-1' });
    const config = hubConfig(r.objects);
    assert.equal(config.store.type, 's3');
    assert.equal(config.store.s3.bucket, 'fleet');
    assert.equal(config.temporal.tls.enabled, true);
    for (const file of [config.grpc.tlsCertFile, config.grpc.tlsKeyFile, config.http.apiTokenFile, config.http.tls.certFile, config.http.tls.keyFile,
      config.temporal.tls.caFile, config.temporal.tls.certFile, config.temporal.tls.keyFile]) {
      assert.ok(file.startsWith('/etc/flotilla/'), `a file path is set (${file})`);
      assertMountedFile(d, file);
    }
    assert.equal(config.grpc.tlsCertFile, '/etc/flotilla/tls/tls.crt', 'the gateway certificate is mounted at /etc/flotilla/tls');
    const gatewayVolume = (podSpec(d).volumes ?? []).find((v) => v.secret?.secretName === 'hub-gateway-tls');
    assert.ok(gatewayVolume);
  });

  it('hub: refuses more than one replica on the filesystem store, saying why', async () => {
    const r = await helmTemplate(HUB_CHART, { set: { replicaCount: 2 } });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /replicaCount is 2 but store\.type is "filesystem".*Set store\.type=s3/);
    const noTls = await helmTemplate(HUB_CHART, { set: { replicaCount: 2, 'store.type': 's3', 'store.s3.bucket': 'b' } });
    assert.notEqual(noTls.code, 0);
    assert.match(noTls.stderr, /grpc\.tls\.secretName is empty/);
  });

  it('agent: renders a least-privilege agent by default', async () => {
    const r = await agentRender({ 'cluster.labels.env': 'prod', 'cluster.labels.region': 'eu' });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(kindsAndNames(r.objects), [
      'ClusterRole/flotilla-agent-apply', 'ClusterRole/flotilla-agent-impersonate', 'ClusterRole/flotilla-agent-read',
      'ClusterRoleBinding/flotilla-agent-impersonate', 'ClusterRoleBinding/flotilla-agent-read',
      'ConfigMap/flotilla-system/flotilla-agent-hub-ca', 'Deployment/flotilla-system/flotilla-agent',
      'Role/flotilla-system/flotilla-agent-state', 'RoleBinding/default/flotilla-agent-apply',
      'RoleBinding/flotilla-system/flotilla-agent-state', 'Secret/flotilla-system/flotilla-agent-token',
      'ServiceAccount/flotilla-system/flotilla-agent',
    ]);
    // Tenants: impersonate on ServiceAccounts only, no users or groups (docs/tenants.md).
    const impersonate = r.objects.find((o) => o.kind === 'ClusterRole' && o.metadata.name === 'flotilla-agent-impersonate');
    assert.deepEqual(impersonate?.rules, [{ apiGroups: [''], resources: ['serviceaccounts'], verbs: ['impersonate'] }]);
    assertUnprivileged(r.objects, 'agent');
    const d = findDeployment(r.objects, 'flotilla-agent');
    assert.equal(d.spec?.replicas, 1);
    assert.equal(d.spec.strategy?.type, 'Recreate');
    assert.equal(podSpec(d).serviceAccountName, 'flotilla-agent');
    const c = container(d, 'agent');
    assert.deepEqual(c.args, ['--hub', 'flotilla-hub.flotilla-system.svc:7443', '--hub-ca', '/etc/flotilla/hub-ca/ca.crt', '--cluster', 'pkg',
      '--labels', 'env=prod,region=eu', '--namespace', 'flotilla-system', '--http', '0.0.0.0:8080',
      '--max-artifact-bytes', '8388608', '--max-objects', '10000', '--drift-interval', '60']);
    const token = c.env?.find((e) => e.name === 'FLOTILLA_TOKEN')?.valueFrom?.secretKeyRef;
    assert.deepEqual([token?.name, token?.key, token?.optional], ['flotilla-agent-token', 'token', true]);
    assert.equal(c.livenessProbe?.httpGet?.path, '/healthz');
    assert.equal(c.readinessProbe?.httpGet?.path, '/readyz');
    assert.equal(c.readinessProbe.httpGet.port, 'http');
    assert.equal(c.ports?.[0]?.containerPort, 8080);
    const ca = dataOf(r.objects, 'ConfigMap', 'flotilla-agent-hub-ca');
    assert.equal(ca['ca.crt']?.trim(), (await CA_PEM).trim());
    const bindings = r.objects.filter((o) => o.kind === 'ClusterRoleBinding') as unknown as { roleRef: { name: string } }[];
    assert.ok(!bindings.some((b) => b.roleRef.name === 'cluster-admin'), 'no cluster-admin by default');
    // Its own namespace: the credential Secret by name, no other Secret (cacheSecretArtifacts is off).
    const stateRules = (find(r.objects, 'Role', 'flotilla-agent-state') as unknown as { rules: RoleRule[] }).rules;
    assert.deepEqual(stateRules.filter((rule) => rule.resources.includes('secrets')),
      [{ apiGroups: [''], resources: ['secrets'], resourceNames: ['flotilla-agent-credential'], verbs: ['get', 'create', 'update', 'patch'] }]);
    assert.ok(!(c.args ?? []).includes('--cache-secret-artifacts'));
    // With the token in an existing Secret the chart makes none and points at it.
    const existing = await agentRender({ 'hub.token': '', 'hub.tokenSecret.existingSecret': 'my-token', 'hub.tokenSecret.key': 't' });
    assert.equal(existing.code, 0, existing.stderr);
    assert.ok(!existing.objects.some((o) => o.kind === 'Secret'));
    const ref = container(findDeployment(existing.objects, 'flotilla-agent'), 'agent').env?.find((e) => e.name === 'FLOTILLA_TOKEN')?.valueFrom?.secretKeyRef;
    assert.deepEqual([ref?.name, ref?.key], ['my-token', 't']);
  });

  it('agent: cacheSecretArtifacts=true passes --cache-secret-artifacts and grants the Secrets of its namespace', async () => {
    const r = await agentRender({ cacheSecretArtifacts: true });
    assert.equal(r.code, 0, r.stderr);
    const c = container(findDeployment(r.objects, 'flotilla-agent'), 'agent');
    assert.deepEqual(c.args?.slice(-3), ['--drift-interval', '60', '--cache-secret-artifacts']);
    const role = find(r.objects, 'Role', 'flotilla-agent-state') as unknown as { metadata: { namespace: string }; rules: RoleRule[] };
    assert.equal(role.metadata.namespace, 'flotilla-system');
    assert.deepEqual(role.rules.filter((rule) => rule.resources.includes('secrets')), [
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['flotilla-agent-credential'], verbs: ['get', 'create', 'update', 'patch'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'create', 'update', 'patch', 'delete'] },
    ]);
    // Nothing else changes: no cluster-wide Secrets.
    const defaults = await agentRender();
    assert.equal(defaults.code, 0, defaults.stderr);
    assert.deepEqual(kindsAndNames(r.objects), kindsAndNames(defaults.objects));
    assertUnprivileged(r.objects, 'agent (cacheSecretArtifacts)');
  });

  it('agent: every flag the chart passes is one flotilla-agent takes', async () => {
    const r = await agentRender({ 'cluster.labels.env': 'prod', cacheSecretArtifacts: true });
    assert.equal(r.code, 0, r.stderr);
    const help = await run(process.execPath, [resolveInRepo('dist', 'agents', 'main.js'), '--help']);
    assert.equal(help.code, 0, help.stderr);
    for (const arg of container(findDeployment(r.objects, 'flotilla-agent'), 'agent').args ?? []) {
      if (arg.startsWith('--')) assert.ok(help.stdout.includes(`${arg} `), `flotilla-agent --help lists ${arg}`);
    }
  });

  it('agent: rbac.clusterAdmin=true binds cluster-admin instead of the scoped roles', async () => {
    const r = await agentRender({ 'rbac.clusterAdmin': true });
    assert.equal(r.code, 0, r.stderr);
    const binding = find(r.objects, 'ClusterRoleBinding', 'flotilla-agent-cluster-admin') as unknown as { roleRef: unknown; subjects: unknown };
    assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' });
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'flotilla-agent', namespace: 'flotilla-system' }]);
    assert.ok(!r.objects.some((o) => o.kind === 'ClusterRole' || (o.kind === 'RoleBinding' && o.metadata.name === 'flotilla-agent-apply')));
    assertUnprivileged(r.objects, 'agent (cluster-admin)');
  });

  it('agent: limits.maxArtifactBytes and limits.maxObjects become --max-artifact-bytes and --max-objects; bad ones are refused', async () => {
    const argsOf = (r: Render): string[] => container(findDeployment(r.objects, 'flotilla-agent'), 'agent').args ?? [];
    const after = (args: string[], flag: string): string | undefined => args[args.indexOf(flag) + 1];
    const defaults = await agentRender();
    assert.equal(defaults.code, 0, defaults.stderr);
    // Integers, not 8.388608e+06 (values.yaml numbers are floats to Helm).
    assert.equal(after(argsOf(defaults), '--max-artifact-bytes'), '8388608');
    assert.equal(after(argsOf(defaults), '--max-objects'), '10000');
    const small = await agentRender({ 'limits.maxArtifactBytes': 16384, 'limits.maxObjects': 50 });
    assert.equal(small.code, 0, small.stderr);
    assert.equal(after(argsOf(small), '--max-artifact-bytes'), '16384');
    assert.equal(after(argsOf(small), '--max-objects'), '50');
    for (const [set, message] of [
      [{ 'limits.maxObjects': 0 }, /limits\.maxObjects must be a positive integer \(bytes or objects\), got 0/],
      [{ 'limits.maxObjects': 1.5 }, /limits\.maxObjects must be a positive integer/],
      [{ 'limits.maxArtifactBytes': '64Mi' }, /limits\.maxArtifactBytes must be a positive integer \(bytes or objects\), got 64Mi/],
      [{ 'limits.maxArtifactBytes': 999_999_999_999 }, /limits\.maxArtifactBytes must be at most 536870888 \(the longest string Node\.js holds/],
    ] as const) {
      const r = await agentRender(set);
      assert.notEqual(r.code, 0, JSON.stringify(set));
      assert.match(r.stderr, message);
    }
  });

  it('agent: refuses to render without what it needs, saying what to set', async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ 'hub.address': '' }, /hub\.address is required: the host:port of the hub's agent gateway/],
      [{ 'hub.address': 'https://hub:7443' }, /hub\.address must be host:port \(no scheme\)/],
      [{ 'cluster.name': '' }, /cluster\.name is required/],
      [{ 'cluster.name': 'Prod_EU' }, /cluster\.name "Prod_EU" must be a DNS label/],
    ];
    for (const [set, message] of cases) {
      const r = await agentRender(set);
      assert.notEqual(r.code, 0, JSON.stringify(set));
      assert.match(r.stderr, message);
    }
    const noCa = await helmTemplate(AGENT_CHART, { set: { 'hub.address': 'hub:7443', 'cluster.name': 'pkg' } });
    assert.notEqual(noCa.code, 0);
    assert.match(noCa.stderr, /hub\.ca or hub\.caSecret is required/);
  });
});

describe('the charts on a real cluster', () => {
  before(async () => {
    await restrictedNamespaces(AGENT_NS, 'flotilla-hub', 'flotilla-admin');
    // Where the agent applies: plain namespaces (the test workload is not "restricted").
    await applyObjects(['apps', 'other'].map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } })), 'ns-workloads');
  }, { timeout: 120_000 });

  it('the agent chart applies, reads back, and its pod passes Pod Security "restricted"', async () => {
    const r = await agentRender({ 'cluster.labels.env': 'prod' }, { json: { 'rbac.namespaces': ['apps'] } });
    assert.equal(r.code, 0, r.stderr);
    await applyObjects(r.objects, 'agent');
    const sa = JSON.parse(await kubectlOk('get', 'serviceaccount', 'flotilla-agent', '-n', AGENT_NS, '-o', 'json')) as Obj;
    assert.equal(sa.metadata.name, 'flotilla-agent');
    const role = JSON.parse(await kubectlOk('get', 'role', 'flotilla-agent-state', '-n', AGENT_NS, '-o', 'json')) as { rules: unknown[] };
    assert.equal(role.rules.length, 2);
    await kubectlOk('get', 'rolebinding', 'flotilla-agent-apply', '-n', 'apps');
    assert.notEqual((await kubectl('get', 'rolebinding', 'flotilla-agent-apply', '-n', 'default')).code, 0, 'only the listed namespaces are bound');
    await kubectlOk('get', 'clusterrole', 'flotilla-agent-read', 'flotilla-agent-apply');
    const d = JSON.parse(await kubectlOk('get', 'deployment', 'flotilla-agent', '-n', AGENT_NS, '-o', 'json')) as V1Deployment;
    assert.deepEqual(container(d, 'agent').args?.slice(0, 6), ['--hub', 'flotilla-hub.flotilla-system.svc:7443', '--hub-ca', '/etc/flotilla/hub-ca/ca.crt', '--cluster', 'pkg']);
    const token = JSON.parse(await kubectlOk('get', 'secret', 'flotilla-agent-token', '-n', AGENT_NS, '-o', 'json')) as { data: { token: string } };
    assert.equal(Buffer.from(token.data.token, 'base64').toString(), 'registration-token-1');
    const ca = JSON.parse(await kubectlOk('get', 'configmap', 'flotilla-agent-hub-ca', '-n', AGENT_NS, '-o', 'json')) as { data: { 'ca.crt': string } };
    assert.match(ca.data['ca.crt'], /^-----BEGIN CERTIFICATE-----/);
    // The ReplicaSet's pod was admitted by "restricted" and (kwok) runs.
    await kubectlOk('rollout', 'status', 'deployment/flotilla-agent', '-n', AGENT_NS, '--timeout=60s');
  });

  it('the hub chart\'s objects are accepted and its pod passes Pod Security "restricted"', async () => {
    const r = await helmTemplate(HUB_CHART, { release: 'flotilla-hub', namespace: 'flotilla-hub', set: { 'persistence.enabled': false, 'http.apiToken.value': 't' } });
    assert.equal(r.code, 0, r.stderr);
    await applyObjects(r.objects, 'hub');
    await kubectlOk('rollout', 'status', 'deployment/flotilla-hub', '-n', 'flotilla-hub', '--timeout=60s');
  });

  it('the API server\'s RBAC grants the agent what it uses and nothing more', async () => {
    const yes = async (...args: string[]): Promise<void> => { assert.equal(await canI(AGENT_SA, ...args), true, `can ${args.join(' ')}`); };
    const no = async (...args: string[]): Promise<void> => { assert.equal(await canI(AGENT_SA, ...args), false, `cannot ${args.join(' ')}`); };
    // In an allowed namespace: server-side apply, reads, watches (health), delete (prune).
    for (const verb of ['create', 'patch', 'get', 'list', 'watch', 'delete']) await yes(verb, 'deployments.apps', '-n', 'apps');
    await yes('create', 'services', '-n', 'apps');
    await yes('list', 'pods', '-n', 'apps');
    await no('create', 'pods', '-n', 'apps');
    await no('create', 'roles.rbac.authorization.k8s.io', '-n', 'apps');
    // Its own namespace: its credential Secret and its state ConfigMaps, nothing else.
    await yes('create', 'secrets/flotilla-agent-credential', '-n', AGENT_NS);
    await yes('patch', 'secrets/flotilla-agent-credential', '-n', AGENT_NS);
    await no('get', 'secrets/flotilla-agent-token', '-n', AGENT_NS);
    await no('list', 'secrets', '-n', AGENT_NS);
    await yes('create', 'configmaps', '-n', AGENT_NS);
    await yes('list', 'configmaps', '-n', AGENT_NS);
    await no('create', 'deployments.apps', '-n', AGENT_NS);
    // Elsewhere and cluster-wide: reads for discovery only.
    await no('create', 'deployments.apps', '-n', 'other');
    await no('create', 'deployments.apps', '-n', 'default');
    await no('*', '*', '--all-namespaces');
    await no('create', 'namespaces');
    await no('create', 'clusterrolebindings.rbac.authorization.k8s.io');
    await no('get', 'secrets', '--all-namespaces');
    await yes('get', 'namespaces');
    await yes('watch', 'customresourcedefinitions.apiextensions.k8s.io');
  });

  it('the agent\'s apply engine and state store work as its ServiceAccount, only where allowed', async () => {
    const kubeconfig = await serviceAccountKubeconfig(AGENT_NS, 'flotilla-agent');
    // The agent's own state, with the agent's code: credential Secret and state ConfigMap.
    const client = ClusterClient.fromKubeconfigFile(kubeconfig);
    try {
      const store = new AgentStateStore(client, AGENT_NS);
      assert.equal(await store.loadCredential(), undefined);
      await store.saveCredential('credential-1');
      await store.saveCredential('credential-2');
      assert.equal(await store.loadCredential(), 'credential-2');
      await store.save({ desired: { version: '3', deployments: [] }, applied: { a: '1' } });
      assert.deepEqual((await store.load()).applied, { a: '1' });
      // Artifacts: a plain one in a ConfigMap; one with a Secret, by default, nowhere (the Role
      // grants no Secret but the credential), and tidying lists no Secret: nothing is refused.
      const warnings: string[] = [];
      const quiet = new AgentStateStore(client, AGENT_NS, (message, fields, level) => { if (level === 'warn' || level === 'error') warnings.push(`${message} ${JSON.stringify(fields)}`); });
      const plain = stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'apps' }, data: { a: '1' } });
      const withSecret = stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'apps' }, stringData: { password: 'pkg-hunter2' } });
      const digests = { plain: `sha256:${'a'.repeat(64)}`, withSecret: `sha256:${'b'.repeat(64)}` };
      assert.equal(await quiet.saveArtifact(digests.plain, plain), 'ConfigMap');
      assert.equal(await quiet.saveArtifact(digests.withSecret, withSecret), undefined);
      assert.equal(await quiet.loadArtifact(digests.withSecret), undefined);
      assert.equal(await quiet.loadArtifact(digests.plain), plain);
      await quiet.save({ desired: { version: '4', deployments: [] }, applied: {} });
      await quiet.load();
      assert.deepEqual(warnings, []);
      assert.doesNotMatch(await kubectlOk('get', 'configmaps,secrets', '-n', AGENT_NS, '-o', 'yaml'), /pkg-hunter2/);
    } finally {
      client.close();
    }
    const apply = async (...args: string[]): Promise<Result> =>
      run(process.execPath, [resolveInRepo('dist', 'agents', 'apply-cli.js'), '--kubeconfig', kubeconfig, ...args], { env: cleanEnv(), timeoutMs: 120_000 });
    const manifests = (namespace: string): string => {
      const dir = tempDir(`manifests-${namespace}`);
      const labels = { app: 'web' };
      writeFileSync(join(dir, 'web.yaml'), [
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'web-config', namespace }, data: { level: 'info' } },
        { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace }, spec: { selector: labels, ports: [{ port: 80, targetPort: 8080 }] } },
        {
          apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace },
          spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'web', image: 'ghcr.io/stefanprodan/podinfo:6.14.1' }] } } },
        },
      ].map((o) => stringify(o)).join('---\n'));
      return dir;
    };
    // Allowed: dry-run, server-side apply, inventory in its namespace, health by watches.
    const ok = await apply('--name', 'packaging-web', '--wait', '60', manifests('apps'));
    assert.equal(ok.code, 0, `${ok.stdout}${ok.stderr}`);
    assert.match(ok.stdout, /packaging-web@1: Applied; 3 created.*healthy/);
    const inventories = await kubectlOk('get', 'configmaps', '-n', AGENT_NS, '-l', 'flotilla.dev/inventory=true', '-o', 'name');
    assert.equal(inventories.trim().split('\n').length, 1, 'the inventory is in the agent\'s namespace');
    // Prune, as the agent's ServiceAccount.
    const removed = await apply('--name', 'packaging-web', '--delete');
    assert.equal(removed.code, 0, `${removed.stdout}${removed.stderr}`);
    assert.notEqual((await kubectl('get', 'deployment', 'web', '-n', 'apps')).code, 0, 'pruned');
    // Not allowed: a namespace the chart did not list. Nothing is applied, and the API server says why.
    const refused = await apply('--name', 'packaging-other', manifests('other'));
    assert.notEqual(refused.code, 0);
    assert.match(refused.stdout + refused.stderr, /forbidden/i);
    assert.match(refused.stdout + refused.stderr, /system:serviceaccount:flotilla-system:flotilla-agent/);
    assert.equal((await kubectlOk('get', 'deployments,services,configmaps', '-n', 'other', '-o', 'name', '-l', 'app.kubernetes.io/managed-by=flotilla')).trim(), '');
  });

  it('with cacheSecretArtifacts=true the API server lets the agent manage the Secrets of its namespace only', async () => {
    const r = await agentRender({ cacheSecretArtifacts: true }, { release: 'cache', namespace: 'flotilla-admin' });
    assert.equal(r.code, 0, r.stderr);
    await applyObjects(r.objects.filter((o) => ['ServiceAccount', 'Role', 'RoleBinding'].includes(o.kind) && o.metadata.namespace === 'flotilla-admin'), 'cache');
    const sa = 'system:serviceaccount:flotilla-admin:cache-flotilla-agent';
    for (const verb of ['get', 'list', 'create', 'update', 'patch', 'delete']) assert.equal(await canI(sa, verb, 'secrets', '-n', 'flotilla-admin'), true, `can ${verb} secrets`);
    assert.equal(await canI(sa, 'watch', 'secrets', '-n', 'flotilla-admin'), false);
    assert.equal(await canI(sa, 'get', 'secrets', '-n', AGENT_NS), false, 'not in another namespace');
    assert.equal(await canI(sa, 'get', 'secrets', '--all-namespaces'), false);
    assert.equal(await canI(AGENT_SA, 'list', 'secrets', '-n', AGENT_NS), false, 'the default agent is unchanged');
  });

  it('with rbac.clusterAdmin=true the API server lets the agent do anything', async () => {
    const r = await agentRender({ 'rbac.clusterAdmin': true }, { release: 'admin', namespace: 'flotilla-admin' });
    assert.equal(r.code, 0, r.stderr);
    await applyObjects(r.objects, 'admin');
    const sa = 'system:serviceaccount:flotilla-admin:admin-flotilla-agent';
    assert.equal(await canI(sa, '*', '*', '--all-namespaces'), true);
    assert.equal(await canI(sa, 'create', 'namespaces'), true);
    assert.equal(await canI(AGENT_SA, '*', '*', '--all-namespaces'), false, 'the least-privilege agent is unchanged');
  });
});

describe('npm package', () => {
  it('packs the bins with what they read at run time, and no tests', async () => {
    const { files } = await installedPackage();
    // flotilla cluster add installs the agent chart from the package (cli/cluster.ts).
    for (const f of [...Object.values(pkg.bin), 'dist/workflows/index.js', 'dist/deploy/dev/binaries.js',
      'proto/flotilla/agent/v1/agent.proto', 'deploy/charts/flotilla-agent/Chart.yaml',
      'deploy/charts/flotilla-agent/templates/deployment.yaml', 'deploy/charts/flotilla-hub/values.yaml', 'README.md', 'package.json']) {
      assert.ok(files.includes(f), `the tarball has ${f}`);
    }
    for (const f of files) {
      assert.ok(!/^dist\/(test|bench)\//.test(f) && !f.endsWith('.map'), `the tarball leaves out ${f}`);
      assert.ok(!f.endsWith('.ts') || f.endsWith('.d.ts'), `no TypeScript sources: ${f}`);
    }
    assert.ok(!('private' in pkg), 'package.json is publishable');
  });

  it('installs in a clean directory, where flotilla, flotilla-hub and flotilla-agent run', async () => {
    const installed = await installedPackage();
    assert.ok(!realpathSync(installed.dir).startsWith(realpathSync(repoRoot)), 'installed outside the repository');
    const installedPkg = join(installed.dir, 'node_modules', 'flotilla');
    assert.ok(!lstatSync(installedPkg).isSymbolicLink(), 'installed from the tarball, not linked to the repository');
    for (const [name, target] of Object.entries(pkg.bin)) {
      const file = join(installedPkg, target);
      assert.ok(readFileSync(file, 'utf8').startsWith('#!/usr/bin/env node\n'), `${target} starts with a shebang`);
      assert.ok((statSync(file).mode & 0o111) !== 0, `${target} is executable`);
      assert.ok(existsSync(join(installed.dir, 'node_modules', '.bin', name)), `.bin/${name}`);
    }
    const binPath = (name: string): string => join(installed.dir, 'node_modules', '.bin', name);
    // Independent processes: run them side by side.
    const [help, version, hub, agent, apply] = await Promise.all([
      npx(installed, 'flotilla', '--help'),
      npx(installed, 'flotilla', 'version'),
      npx(installed, 'flotilla-hub', '--help'),
      npx(installed, 'flotilla-agent', '--help'),
      // The bins run directly too (shebang, executable bit).
      run(binPath('flotilla-apply'), ['--help'], { env: cleanEnv() }),
    ]);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /usage: flotilla /);
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout.trim(), `flotilla ${pkg.version}`);
    assert.equal(hub.code, 0, hub.stderr);
    assert.match(hub.stdout, /usage:\s+flotilla-hub serve/);
    assert.equal(agent.code, 0, agent.stderr);
    assert.match(agent.stdout, /usage: flotilla-agent --hub <host:port>\S* --hub-ca <pem file> --cluster <name>/);
    assert.equal(apply.code, 0, apply.stderr);
    assert.match(apply.stdout, /usage: flotilla-apply/);
    // A usage error exits 2 with the message.
    const bad = await run(binPath('flotilla-agent'), ['--hub', 'h:1'], { env: cleanEnv() });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--hub, --hub-ca and --cluster are required/);
    // Its bounds are checked before anything is read or dialed (agents/bounds.ts).
    for (const [args, message] of [
      [['--max-objects', '0'], /--max-objects must be a positive integer, got 0/],
      [['--max-artifact-bytes', '64Mi'], /--max-artifact-bytes \(or FLOTILLA_MAX_ARTIFACT_BYTES\) wants a positive integer, got "64Mi"/],
      [['--max-artifact-bytes', '999999999999'], /--max-artifact-bytes must be at most \d+ \(the longest string Node\.js holds/],
    ] as const) {
      const r = await run(binPath('flotilla-agent'), ['--hub', 'h:1', '--hub-ca', '/nonexistent', '--cluster', 'c', ...args], { env: cleanEnv() });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
    }
  });
});
