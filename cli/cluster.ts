// flotilla cluster add|remove|token create|revoke|list: joining a cluster to the fleet and
// taking it out again, the way `clusteradm join` or Rancher Fleet's agent-initiated
// registration do it. `add` asks the hub for a registration token bound to the cluster and
// installs the agent's Helm chart (deploy/charts/flotilla-agent) into the cluster with the
// real helm binary; `remove` uninstalls it, deletes the agent's credential and revokes the
// cluster on the hub. Both look before they change anything, so running them again changes
// nothing and says so.
//
// The hub is reached through its HTTP API (--hub, hub/cluster-api.ts) or, on the hub's own
// machine, through its data directory (--hub-data). Tokens never appear on a command line:
// helm gets them in a 0600 values file.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ApiException, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { isRecord } from '../core/manifests.js';
import { parseDuration, parseLabels } from '../core/registration.js';
import { executableOnPath } from '../activities/limited-exec.js';
import { FileBlobStore } from '../hub/blob-store.js';
import type { ClusterAnswer, RevokeAnswer, TokenAnswer } from '../hub/cluster-api.js';
import type { HubInfo } from '../hub/http-api.js';
import { RegistrationStore } from '../hub/registration.js';
import { CommandFailed, UsageError } from './gitops.js';
import { formatTime } from './output.js';
import { hubFetch } from './hub-http.js';

const run = promisify(execFile);

/** The agent chart's release: one per cluster, named like the chart so objects are "flotilla-agent". */
export const RELEASE = 'flotilla-agent';
export const DEFAULT_NAMESPACE = 'flotilla-system';
/** The agent's own credential (agents/agent-state.ts): made by the agent, not by helm. */
export const CREDENTIAL_SECRET = 'flotilla-agent-credential';
const DEFAULT_HUB = 'http://127.0.0.1:7480';
const CLUSTER_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** A token in a release is reused only while it has at least this long to live. */
const REUSE_MARGIN_MS = 10 * 60_000;
/** What a release's description records about the token in its values (helm --description). */
const DESCRIPTION = /^flotilla cluster add: token (\S+) expires (\d{4}-\d\d-\d\dT[\d:.]+Z)/;
/** Pod annotation naming the registration token the pod was started with. */
const TOKEN_ANNOTATION = 'flotilla.dev/registration-token';
/** Rendered in place of a token not made yet (--dry-run, and checking the values before making one). */
const PLACEHOLDER_TOKEN = 'flt_reg_not-made-yet';

export type ClusterValues = Readonly<Record<string, string | boolean | string[] | undefined>>;

function str(values: ClusterValues, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function env(name: string): string | undefined {
  const v = process.env[name];
  return v === undefined || v === '' ? undefined : v;
}

function message(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof Error) return `${err.message}: ${(cause as NodeJS.ErrnoException).code ?? cause.message}`;
  return err.message;
}

// ---------------------------------------------------------------------------------------------
// The hub: its HTTP API or its data directory

interface TokenRequest {
  readonly cluster?: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly ttlSeconds: number;
  readonly uses: number;
}

/** What the cluster commands need from the hub, whichever way it is reached. */
interface Registry {
  /** "the hub at <url>", "the hub data directory <dir>": for messages. */
  readonly where: string;
  clusters(): Promise<readonly ClusterAnswer[]>;
  createToken(request: TokenRequest): Promise<TokenAnswer>;
  revoke(cluster: string): Promise<RevokeAnswer>;
  /** Where agents dial the hub and the PEM they trust, as far as the hub tells. */
  agentEndpoint(): Promise<{ readonly grpc?: string; readonly ca?: string }>;
}

class HubApiRegistry implements Registry {
  constructor(readonly url: string, private readonly token: string | undefined) {}

  get where(): string {
    return `the hub at ${this.url}`;
  }

  async clusters(): Promise<readonly ClusterAnswer[]> {
    const answer = await this.call('GET', '/api/v1/clusters');
    if (!Array.isArray(answer)) throw new CommandFailed(`${this.url}/api/v1/clusters did not answer a list: is --hub a flotilla hub's HTTP API?`);
    return answer as ClusterAnswer[];
  }

  async createToken(request: TokenRequest): Promise<TokenAnswer> {
    return await this.call('POST', '/api/v1/clusters/tokens', {
      ...(request.cluster !== undefined ? { cluster: request.cluster } : {}), labels: request.labels, ttlSeconds: request.ttlSeconds, uses: request.uses,
    }) as TokenAnswer;
  }

  async revoke(cluster: string): Promise<RevokeAnswer> {
    return await this.call('POST', `/api/v1/clusters/${encodeURIComponent(cluster)}/revoke`) as RevokeAnswer;
  }

  async agentEndpoint(): Promise<{ grpc?: string; ca?: string }> {
    const info = await this.call('GET', '/api/v1/info') as Partial<HubInfo>;
    return { ...(typeof info.grpc === 'string' ? { grpc: info.grpc } : {}), ...(typeof info.grpcCa === 'string' ? { ca: info.grpcCa } : {}) };
  }

  private async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    let res: Response;
    try {
      res = await hubFetch(`${this.url}${path}`, {
        method, signal: AbortSignal.timeout(20_000),
        headers: { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...(method === 'POST' ? { 'content-type': 'application/json' } : {}) },
        ...(method === 'POST' ? { body: JSON.stringify(body ?? {}) } : {}),
      });
    } catch (err) {
      throw new CommandFailed(`cannot reach the hub API at ${this.url} (${message(err)}): is flotilla-hub serve running with its --http there? check --hub`);
    }
    const text = await res.text();
    let parsed: unknown;
    try { parsed = text === '' ? undefined : JSON.parse(text); } catch { parsed = undefined; }
    const error = isRecord(parsed) && typeof parsed.error === 'string' ? parsed.error : text.slice(0, 300);
    if (res.status === 401) {
      throw new CommandFailed(this.token
        ? `the hub at ${this.url} refused the API token (HTTP 401): --hub-token (or FLOTILLA_HUB_TOKEN) must be the token in the hub's <data-dir>/api-token`
        : `the hub at ${this.url} wants its API token for ${method} ${path}: pass --hub-token or set FLOTILLA_HUB_TOKEN (the hub keeps it in <data-dir>/api-token)`);
    }
    if (res.status === 404) throw new CommandFailed(`the hub at ${this.url} has no ${path} (HTTP 404): is --hub a flotilla hub's HTTP API, of this version?`);
    if (!res.ok) throw new CommandFailed(`the hub at ${this.url} refused ${method} ${path} (HTTP ${res.status}): ${error}`);
    if (parsed === undefined) throw new CommandFailed(`${this.url}${path} did not answer JSON: is --hub a flotilla hub's HTTP API?`);
    return parsed;
  }
}

class StoreRegistry implements Registry {
  private readonly store: RegistrationStore;

  constructor(readonly dir: string) {
    this.store = new RegistrationStore(new FileBlobStore(dir));
  }

  get where(): string {
    return `the hub data directory ${this.dir}`;
  }

  async clusters(): Promise<readonly ClusterAnswer[]> {
    return (await this.store.clusters()).map((c) => ({
      name: c.name, labels: c.labels, registeredAt: c.registeredAt, ...(c.revokedAt !== undefined ? { revokedAt: c.revokedAt } : {}),
    }));
  }

  async createToken(request: TokenRequest): Promise<TokenAnswer> {
    return this.store.createToken({
      ttlMs: request.ttlSeconds * 1000, labels: { ...request.labels }, uses: request.uses, ...(request.cluster !== undefined ? { cluster: request.cluster } : {}),
    });
  }

  async revoke(cluster: string): Promise<RevokeAnswer> {
    const revoked = await this.store.revoke(cluster);
    const tokensSpent = await this.store.revokeTokens(cluster);
    return { cluster, revoked, tokensSpent };
  }

  agentEndpoint(): Promise<{ ca?: string }> {
    // The hub's self-signed certificate (hub/tls.ts); a hub given --tls-cert needs --hub-ca.
    const selfSigned = join(this.dir, 'tls', 'hub.crt');
    return Promise.resolve(existsSync(selfSigned) ? { ca: readFileSync(selfSigned, 'utf8') } : {});
  }
}

/** The hub, as the flags and environment say: --hub, --hub-data, FLOTILLA_HUB, FLOTILLA_HUB_DATA, a hub on 127.0.0.1:7480. */
async function registry(values: ClusterValues, opts: { mayCreate?: boolean } = {}): Promise<Registry> {
  const token = str(values, 'hub-token') ?? env('FLOTILLA_HUB_TOKEN');
  const api = (url: string): Registry => new HubApiRegistry(url.replace(/\/+$/, ''), token);
  const data = (dir: string): Registry => {
    // A token may be made before the hub first started (and made its directory); nothing else
    // has anything to find in a directory that is not there.
    const missing = !existsSync(dir);
    if ((missing && opts.mayCreate !== true) || (!missing && !statSync(dir).isDirectory())) {
      throw new UsageError(`--hub-data ${dir} is not a directory: give the directory of flotilla-hub serve --data-dir`);
    }
    return new StoreRegistry(dir);
  };
  const hub = str(values, 'hub');
  if (hub) return api(hub);
  const hubData = str(values, 'hub-data');
  if (hubData) return data(hubData);
  const envHub = env('FLOTILLA_HUB');
  if (envHub) return api(envHub);
  const envData = env('FLOTILLA_HUB_DATA');
  if (envData) return data(envData);
  try {
    const res = await hubFetch(`${DEFAULT_HUB}/healthz`, { signal: AbortSignal.timeout(1500) });
    await res.body?.cancel();
    return api(DEFAULT_HUB);
  } catch {
    throw new UsageError(`which hub? pass --hub <url> (its HTTP API; FLOTILLA_HUB) or --hub-data <dir> (its data directory; FLOTILLA_HUB_DATA): nothing answers at ${DEFAULT_HUB}`);
  }
}

// ---------------------------------------------------------------------------------------------
// The cluster: helm for the release, the Kubernetes API for the agent's credential

interface KubeTarget {
  readonly kubeconfig: string;
  readonly context?: string;
  readonly namespace: string;
}

/** Checks --kubeconfig and --context before anything is changed anywhere; usage errors name what to fix. */
function kubeTarget(values: ClusterValues, verb: string): KubeTarget & { readonly config: KubeConfig } {
  const kubeconfig = str(values, 'kubeconfig') ?? env('KUBECONFIG');
  if (!kubeconfig) throw new UsageError(`cluster ${verb} needs --kubeconfig <file>: the kubeconfig of the cluster to ${verb === 'add' ? 'install the agent into' : 'remove the agent from'}`);
  if (kubeconfig.includes(':')) throw new UsageError(`--kubeconfig takes one file, got "${kubeconfig}"`);
  if (!existsSync(kubeconfig)) throw new UsageError(`--kubeconfig ${kubeconfig}: no such file`);
  if (!statSync(kubeconfig).isFile()) throw new UsageError(`--kubeconfig ${kubeconfig} is not a file`);
  const config = new KubeConfig();
  try {
    config.loadFromFile(kubeconfig);
  } catch (err) {
    throw new UsageError(`--kubeconfig ${kubeconfig} is not a kubeconfig: ${message(err)}`);
  }
  const context = str(values, 'context');
  const names = config.getContexts().map((c) => c.name);
  if (context !== undefined) {
    if (!names.includes(context)) throw new UsageError(`--context ${context} is not in ${kubeconfig} (its contexts: ${names.join(', ') || 'none'})`);
    config.setCurrentContext(context);
  } else if (!config.getCurrentContext() || !names.includes(config.getCurrentContext())) {
    throw new UsageError(`${kubeconfig} has no current context: pass --context (its contexts: ${names.join(', ') || 'none'})`);
  }
  const namespace = str(values, 'namespace') ?? DEFAULT_NAMESPACE;
  if (!CLUSTER_NAME.test(namespace)) throw new UsageError(`--namespace must be a Kubernetes namespace name, got "${namespace}"`);
  return { kubeconfig, ...(context !== undefined ? { context } : {}), namespace, config };
}

function describeTarget(t: KubeTarget): string {
  return `--kubeconfig ${t.kubeconfig}${t.context ? ` --context ${t.context}` : ''}`;
}

/** The cluster could not be reached (or refused us): helm's or the API server's words. */
class ClusterUnreachable extends Error {}
/** The chart refused the values (its checks, or a value of the wrong shape). */
class ValuesRefused extends Error {}

interface ReleaseState {
  readonly revision: number;
  readonly status: string;
  readonly description: string;
  /** The values it was installed with (without the chart's defaults). */
  readonly values: Record<string, unknown>;
  /** What its last revision rendered. */
  readonly manifest: string;
}

/** The helm binary, pointed at one cluster and namespace. */
class Helm {
  readonly binary: string;

  constructor(private readonly target: KubeTarget) {
    // FLOTILLA_HELM (as for the hub's tools.helm), else helm on PATH, as a helm user expects.
    const binary = env('FLOTILLA_HELM') ?? executableOnPath('helm');
    if (binary === undefined) throw new CommandFailed('helm not found on PATH: install helm 3, or point FLOTILLA_HELM at a helm 3 binary');
    this.binary = binary;
  }

  private get kubeArgs(): string[] {
    return ['--kubeconfig', this.target.kubeconfig, ...(this.target.context ? ['--kube-context', this.target.context] : []), '-n', this.target.namespace];
  }

  private async helm(args: readonly string[], timeoutMs = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await run(this.binary, [...args], { timeout: timeoutMs, maxBuffer: 64 << 20, env: { ...process.env, HELM_NAMESPACE: this.target.namespace } });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: unknown; stdout?: string; stderr?: string; killed?: boolean; message?: string };
      if (e.killed) return { code: 124, stdout: e.stdout ?? '', stderr: `helm ${args[0] ?? ''} did not finish within ${timeoutMs / 1000}s` };
      if (typeof e.code !== 'number') throw new CommandFailed(`cannot run ${this.binary}: ${e.message ?? String(err)}`);
      return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  }

  /** The release's state, values and manifest; undefined when there is none. Throws ClusterUnreachable. */
  async status(): Promise<ReleaseState | undefined> {
    const r = await this.helm(['status', RELEASE, '-o', 'json', ...this.kubeArgs]);
    if (r.code !== 0) {
      if (/release: not found/.test(r.stderr)) return undefined;
      throw new ClusterUnreachable(helmMessage(r.stderr));
    }
    const release = JSON.parse(r.stdout) as { version?: number; info?: { status?: string; description?: string }; config?: unknown; manifest?: string };
    return {
      revision: release.version ?? 0, status: release.info?.status ?? 'unknown', description: release.info?.description ?? '',
      values: isRecord(release.config) ? release.config : {}, manifest: release.manifest ?? '',
    };
  }

  /** Renders the chart locally as an install or upgrade would. Throws ValuesRefused. */
  async template(chart: string, valuesFile: string, sets: readonly string[]): Promise<string> {
    const r = await this.helm(['template', RELEASE, chart, '-n', this.target.namespace, '-f', valuesFile, ...sets.flatMap((s) => ['--set', s])]);
    if (r.code !== 0) throw new ValuesRefused(helmMessage(r.stderr));
    return r.stdout;
  }

  async upgradeInstall(chart: string, valuesFile: string, sets: readonly string[], description: string): Promise<{ revision: number; status: string; manifest: string }> {
    const r = await this.helm(['upgrade', '--install', RELEASE, chart, ...this.kubeArgs, '--create-namespace', '-f', valuesFile,
      ...sets.flatMap((s) => ['--set', s]), '--description', description, '-o', 'json'], 600_000);
    if (r.code !== 0) throw new CommandFailed(`helm upgrade --install ${RELEASE} -n ${this.target.namespace} (${describeTarget(this.target)}) failed: ${helmMessage(r.stderr)}`);
    const release = JSON.parse(r.stdout) as { version?: number; info?: { status?: string }; manifest?: string };
    return { revision: release.version ?? 0, status: release.info?.status ?? 'unknown', manifest: release.manifest ?? '' };
  }

  async uninstall(): Promise<void> {
    const r = await this.helm(['uninstall', RELEASE, ...this.kubeArgs]);
    if (r.code !== 0) throw new ClusterUnreachable(helmMessage(r.stderr));
  }
}

/** helm's error without its "Error: " and debugging advice. */
function helmMessage(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('Use --debug flag') && !/^WARNING: Kubernetes configuration file is (group|world)-readable/.test(l));
  return lines.map((l) => l.replace(/^Error: /, '')).join('; ') || 'helm failed without a message';
}

/** Reads, or deletes, the agent's credential Secret. Throws ClusterUnreachable. */
async function credentialSecret(config: KubeConfig, namespace: string, action: 'exists' | 'delete'): Promise<boolean> {
  const core = config.makeApiClient(CoreV1Api);
  try {
    if (action === 'exists') await core.readNamespacedSecret({ name: CREDENTIAL_SECRET, namespace });
    else await core.deleteNamespacedSecret({ name: CREDENTIAL_SECRET, namespace });
    return true;
  } catch (err) {
    if (err instanceof ApiException && (err as ApiException<unknown>).code === 404) return false;
    if (err instanceof ApiException) {
      const body: unknown = (err as ApiException<unknown>).body;
      let text = typeof body === 'string' ? body : '';
      try { text = (JSON.parse(text) as { message?: string }).message ?? text; } catch { /* not a Status */ }
      throw new ClusterUnreachable(`${action === 'delete' ? 'deleting' : 'reading'} Secret ${namespace}/${CREDENTIAL_SECRET}: HTTP ${(err as ApiException<unknown>).code} ${text}`.trim());
    }
    throw new ClusterUnreachable(`${action === 'delete' ? 'deleting' : 'reading'} Secret ${namespace}/${CREDENTIAL_SECRET}: ${message(err)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Manifests: what changed between two renderings

function stable(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stable).join(',')}]`;
  if (isRecord(value)) return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${stable(value[k])}`).join(',')}}`;
  return JSON.stringify(value);
}

/** Kind/name (Kind/namespace/name outside the release's namespace) -> the object, canonical. */
function objectsOf(manifest: string, namespace: string): Map<string, string> {
  const objects = new Map<string, string>();
  for (const doc of parseAllDocuments(manifest)) {
    const obj: unknown = doc.toJSON();
    if (!isRecord(obj) || typeof obj.kind !== 'string' || !isRecord(obj.metadata)) continue;
    const name = typeof obj.metadata.name === 'string' ? obj.metadata.name : '';
    const ns = typeof obj.metadata.namespace === 'string' ? obj.metadata.namespace : namespace;
    objects.set(ns === namespace ? `${obj.kind}/${name}` : `${obj.kind}/${ns}/${name}`, stable(obj));
  }
  return objects;
}

/** "Deployment/flotilla-agent configured", … in manifest order; empty when nothing differs. */
export function manifestChanges(before: string, after: string, namespace: string): string[] {
  const old = objectsOf(before, namespace);
  const now = objectsOf(after, namespace);
  const changes: string[] = [];
  for (const [key, obj] of now) {
    const was = old.get(key);
    if (was === undefined) changes.push(`${key} created`);
    else if (was !== obj) changes.push(`${key} configured`);
  }
  for (const key of old.keys()) if (!now.has(key)) changes.push(`${key} deleted`);
  return changes;
}

// ---------------------------------------------------------------------------------------------
// cluster add

function labelText(labels: Readonly<Record<string, unknown>>): string {
  return Object.keys(labels).sort().map((k) => `${k}=${String(labels[k])}`).join(',');
}

function isLoopbackOrAny(address: string): boolean {
  const host = address.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '0.0.0.0' || host === '::' || host === '::1' || host === '' || /^127\./.test(host);
}

function parseImage(image: string): { repository: string; tag: string } {
  if (image.includes('@')) throw new UsageError(`--image takes repository[:tag], not a digest: "${image}"`);
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  if (colon > slash) return { repository: image.slice(0, colon), tag: image.slice(colon + 1) };
  return { repository: image, tag: '' };
}

/** --set key=value, given to helm as is (after the values file); the token and name have their own flags. */
function parseSets(values: ClusterValues): string[] {
  const raw = values.set;
  const sets = Array.isArray(raw) ? raw : typeof raw === 'string' ? [raw] : [];
  for (const s of sets) {
    const key = s.slice(0, s.indexOf('='));
    if (!s.includes('=') || key === '') throw new UsageError(`--set wants key=value (as helm --set), got "${s}"`);
    for (const part of key.split(',').map((p) => p.split('=')[0] ?? '')) {
      if (part === 'hub.token' || part.startsWith('hub.token.')) throw new UsageError('--set hub.token is not taken: cluster add makes the registration token, and never puts it on a command line');
      if (part === 'cluster.name') throw new UsageError('--set cluster.name is not taken: the cluster\'s name is the <name> argument');
    }
  }
  return sets;
}

interface TokenInRelease {
  readonly value: string;
  readonly id?: string;
  readonly expiresAt?: number;
}

function tokenDescription(token: TokenInRelease | undefined): string {
  return token?.id !== undefined && token.expiresAt !== undefined
    ? `flotilla cluster add: token ${token.id} expires ${new Date(token.expiresAt).toISOString()}`
    : 'flotilla cluster add';
}

/** --ttl in whole seconds. */
function ttlOf(values: ClusterValues, fallback: string): number {
  try {
    return Math.max(1, Math.floor(parseDuration(str(values, 'ttl') ?? fallback) / 1000));
  } catch (err) {
    throw new UsageError(`--ttl: ${message(err)}`);
  }
}

function nested(values: Record<string, unknown>, path: readonly string[]): unknown {
  let v: unknown = values;
  for (const key of path) v = isRecord(v) ? v[key] : undefined;
  return v;
}

async function addCommand(name: string, values: ClusterValues): Promise<void> {
  if (!CLUSTER_NAME.test(name)) throw new UsageError(`cluster name "${name}" must be a DNS label (lowercase letters, digits, '-', at most 63)`);
  const target = kubeTarget(values, 'add');
  let labels: Record<string, string>;
  try { labels = parseLabels(str(values, 'labels') ?? ''); } catch (err) { throw new UsageError(`--labels: ${message(err)} (want k=v,k2=v2)`); }
  const sets = parseSets(values);
  const image = str(values, 'image') === undefined ? undefined : parseImage(str(values, 'image') ?? '');
  const ttlSeconds = ttlOf(values, '24h');
  const dryRun = values['dry-run'] === true;
  const hubAddressFlag = str(values, 'hub-address');
  if (hubAddressFlag !== undefined && !/^(\[[0-9a-fA-F:.]+\]|[^:/ [\]]+):\d{1,5}$/.test(hubAddressFlag)) {
    throw new UsageError(`--hub-address must be host:port (no scheme), got "${hubAddressFlag}"`);
  }
  const caFile = str(values, 'hub-ca');
  let caFromFile: string | undefined;
  if (caFile !== undefined) {
    if (!existsSync(caFile)) throw new UsageError(`--hub-ca ${caFile}: no such file`);
    caFromFile = readFileSync(caFile, 'utf8');
    if (!caFromFile.includes('-----BEGIN CERTIFICATE-----')) throw new UsageError(`--hub-ca ${caFile} is not a PEM certificate`);
  }
  // The package ships deploy/charts/ beside dist/; this file is dist/cli/cluster.js.
  const chart = fileURLToPath(new URL('../../deploy/charts/flotilla-agent', import.meta.url));
  if (!existsSync(join(chart, 'Chart.yaml'))) throw new CommandFailed(`the agent chart is missing from this installation (expected ${chart}): reinstall flotilla`);
  const helm = new Helm(target);
  const hub = await registry(values);
  const say = (line: string): void => { console.log(`cluster ${name}: ${line}${dryRun ? ' (dry run)' : ''}`); };

  // 1. What is there: the release (state, values, manifest), the agent's credential, the
  // hub's record of the cluster and where agents reach the hub; looked up side by side.
  const needEndpoint = hubAddressFlag === undefined || caFromFile === undefined;
  const [statusR, credentialR, clustersR, endpointR] = await Promise.allSettled([
    helm.status(), credentialSecret(target.config, target.namespace, 'exists'),
    hub.clusters(), needEndpoint ? hub.agentEndpoint() : Promise.resolve({}),
  ] as const);
  const settled = <T>(r: PromiseSettledResult<T>): T => {
    if (r.status === 'fulfilled') return r.value;
    if (r.reason instanceof ClusterUnreachable) throw new CommandFailed(`cannot reach the cluster with ${describeTarget(target)}: ${r.reason.message} (check --kubeconfig and --context)`);
    throw r.reason;
  };
  const release = settled(statusR);
  const oldValues = release?.values ?? {};
  const current = release?.manifest ?? '';
  const credentialExists = settled(credentialR);
  const releaseCluster = nested(oldValues, ['cluster', 'name']);
  if (release && typeof releaseCluster === 'string' && releaseCluster !== name) {
    throw new CommandFailed(`the release ${RELEASE} in namespace ${target.namespace} is the agent of cluster "${releaseCluster}", not "${name}": is ${describeTarget(target)} the cluster you mean? (flotilla cluster remove ${releaseCluster} … takes it out)`);
  }
  const record = settled(clustersR).find((c) => c.name === name);
  const registered = record !== undefined && record.revokedAt === undefined;

  // 2. Where agents dial the hub, and what they trust.
  const endpoint: { grpc?: string; ca?: string } = settled(endpointR);
  let hubAddress = hubAddressFlag;
  const ca = caFromFile ?? endpoint.ca;
  if (hubAddress === undefined) {
    if (endpoint.grpc === undefined) throw new UsageError(`--hub-address <host:port> is needed: ${hub.where} does not say where agents reach it (the address of the hub's gateway, flotilla-hub serve --listen, as this cluster reaches it)`);
    hubAddress = endpoint.grpc;
    if (isLoopbackOrAny(hubAddress)) {
      console.error(`flotilla: warning: the hub's gateway listens on ${hubAddress}, which an agent in another cluster cannot dial; pass --hub-address <host:port> (an address of the hub that the cluster reaches)`);
    }
  }
  if (ca === undefined) throw new UsageError(`--hub-ca <pem file> is needed: ${hub.where} does not give the CA of its gateway's certificate`);

  // 3. The token: the one in the release while it is good for this cluster, else a new one.
  const oldToken = nested(oldValues, ['hub', 'token']);
  const recorded = DESCRIPTION.exec(release?.description ?? '');
  const inRelease: TokenInRelease | undefined = typeof oldToken === 'string' && oldToken !== ''
    ? { value: oldToken, ...(recorded?.[1] && recorded[2] ? { id: recorded[1], expiresAt: Date.parse(recorded[2]) } : {}) }
    : undefined;
  let token: TokenInRelease | 'new' | undefined;
  if (registered) {
    if (!credentialExists) {
      throw new CommandFailed(`cluster "${name}" is registered on ${hub.where}, but namespace ${target.namespace} of ${describeTarget(target)} holds no agent credential (Secret ${CREDENTIAL_SECRET}), so no agent here can connect as "${name}". `
        + `If this is that cluster, take it out first (flotilla cluster remove ${name} ${describeTarget(target)}${target.namespace === DEFAULT_NAMESPACE ? '' : ` -n ${target.namespace}`}) and add it again; if not, choose another name.`);
    }
    // Registered: the token in the release was spent; keeping it keeps the manifest as it is.
    token = release ? inRelease : undefined;
  } else {
    // Not registered yet (the agent has not started) or revoked: the release's token serves
    // only while unspent and alive, which the description of the release records, and while
    // it carries the labels asked for now (a token's labels win at registration; add made it
    // with the labels it put in the release).
    const oldLabels = nested(oldValues, ['cluster', 'labels']);
    const sameLabels = labelText(isRecord(oldLabels) ? oldLabels : {}) === labelText(labels);
    const alive = record === undefined && inRelease?.expiresAt !== undefined && inRelease.expiresAt > Date.now() + REUSE_MARGIN_MS;
    token = alive && sameLabels ? inRelease : 'new';
  }
  const staleCredential = !registered && credentialExists;
  if (registered && labelText(record.labels) !== labelText(labels)) {
    console.error(`flotilla: warning: cluster ${name} was registered with labels "${labelText(record.labels) || '(none)'}"; the hub keeps the labels of a registration, so "${labelText(labels) || '(none)'}" reach it only when the cluster registers again (flotilla cluster remove ${name}, then add)`);
  }

  // The token's id (the hub's: a prefix of its sha256) as a pod annotation: a new token changes
  // the pod template, so the agent restarts and reads it (its env comes from the Secret only
  // when the container starts).
  const chartValues = (tokenValue: string | undefined): Record<string, unknown> => ({
    hub: { address: hubAddress, ca, ...(tokenValue !== undefined ? { token: tokenValue } : {}) },
    cluster: { name, labels },
    ...(tokenValue !== undefined ? { podAnnotations: { [TOKEN_ANNOTATION]: createHash('sha256').update(tokenValue).digest('hex').slice(0, 12) } } : {}),
    ...(image ? { image: { repository: image.repository, tag: image.tag } } : {}),
  });

  const dir = mkdtempSync(join(tmpdir(), 'flotilla-cluster-add-'));
  const valuesFile = join(dir, 'values.json');
  try {
    // 4. Render what this run asks for; identical to what is installed means nothing to do.
    writeFileSync(valuesFile, JSON.stringify(chartValues(token === 'new' ? PLACEHOLDER_TOKEN : token?.value)), { mode: 0o600 });
    let rendered: string;
    try {
      rendered = await helm.template(chart, valuesFile, sets);
    } catch (err) {
      if (err instanceof ValuesRefused) throw new CommandFailed(`the agent chart refused the values: ${err.message} (check --hub-address, --hub-ca, --labels, --image and --set)`);
      throw err;
    }
    if (release && token !== 'new' && !staleCredential && release.status === 'deployed' && manifestChanges(current, rendered, target.namespace).length === 0) {
      console.log(`cluster ${name}: unchanged`);
      return;
    }

    // 5. Change what differs.
    if (staleCredential) {
      if (!dryRun) await credentialSecret(target.config, target.namespace, 'delete').catch((err: unknown) => { throw new CommandFailed(message(err)); });
      say(`stale credential Secret ${target.namespace}/${CREDENTIAL_SECRET} deleted (${record ? 'its registration was revoked' : 'this hub does not know it'})`);
    }
    if (token === 'new') {
      if (dryRun) {
        say(`token created (for ${name} only, valid ${str(values, 'ttl') ?? '24h'})`);
      } else {
        if (inRelease !== undefined && !registered) {
          // The token this one replaces may be unspent: spend it (and any other made for the
          // cluster), as nothing registered with it.
          const spent = await hub.revoke(name);
          if (spent.tokensSpent > 0) say(`${spent.tokensSpent === 1 ? 'previous token' : `${spent.tokensSpent} previous tokens`} spent`);
          if (spent.revoked) console.error(`flotilla: warning: cluster ${name} registered on ${hub.where} while this ran, and that registration is revoked now: run flotilla cluster add again (it replaces the agent's revoked credential)`);
        }
        const made = await hub.createToken({ cluster: name, labels, ttlSeconds, uses: 1 });
        token = { value: made.token, id: made.id, expiresAt: made.expiresAt };
        say(`token created (id ${made.id}, expires ${formatTime(made.expiresAt)})`);
        writeFileSync(valuesFile, JSON.stringify(chartValues(made.token)), { mode: 0o600 });
      }
    }
    let outcome: { revision: number; manifest: string };
    if (dryRun) outcome = { revision: (release?.revision ?? 0) + 1, manifest: rendered };
    else outcome = await helm.upgradeInstall(chart, valuesFile, sets, tokenDescription(token === 'new' ? undefined : token));
    if (!release) {
      say(`release ${RELEASE} installed in ${target.namespace} (revision ${outcome.revision})`);
    } else {
      const changes = manifestChanges(current, outcome.manifest, target.namespace);
      say(`release ${RELEASE} upgraded in ${target.namespace} (revision ${outcome.revision})${changes.length > 0 ? `: ${changes.join(', ')}` : release.status === 'deployed' ? '' : ` (was ${release.status})`}`);
    }
    const oldLabels = nested(oldValues, ['cluster', 'labels']);
    const labelsBefore = release && isRecord(oldLabels) ? labelText(oldLabels) : '';
    if (labelText(labels) !== labelsBefore) say(Object.keys(labels).length > 0 ? `labels set: ${labelText(labels)}` : 'labels removed');
    if (!dryRun && !release) {
      console.error(`flotilla: the agent registers with ${hub.where} when its pod starts; see it with: flotilla get clusters (its pod: kubectl -n ${target.namespace} get deploy ${RELEASE} ${describeTarget(target)})`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// cluster remove

async function removeCommand(name: string, values: ClusterValues): Promise<void> {
  if (!CLUSTER_NAME.test(name)) throw new UsageError(`cluster name "${name}" must be a DNS label (lowercase letters, digits, '-', at most 63)`);
  const target = kubeTarget(values, 'remove');
  const dryRun = values['dry-run'] === true;
  const helm = new Helm(target);
  const hub = await registry(values);
  let done = 0;
  const say = (line: string): void => { done++; console.log(`cluster ${name}: ${line}${dryRun ? ' (dry run)' : ''}`); };

  // 1. In the cluster: the release, then the credential the agent made.
  let unreachable: string | undefined;
  try {
    const release = await helm.status();
    if (release) {
      const owner = nested(release.values, ['cluster', 'name']);
      if (typeof owner === 'string' && owner !== name) {
        throw new CommandFailed(`the release ${RELEASE} in namespace ${target.namespace} is the agent of cluster "${owner}", not "${name}": nothing was removed; is ${describeTarget(target)} the cluster you mean?`);
      }
      if (!dryRun) await helm.uninstall();
      say(`release ${RELEASE} uninstalled from ${target.namespace}`);
    }
    const credential = dryRun
      ? await credentialSecret(target.config, target.namespace, 'exists')
      : await credentialSecret(target.config, target.namespace, 'delete');
    if (credential) say(`Secret ${target.namespace}/${CREDENTIAL_SECRET} deleted`);
  } catch (err) {
    if (!(err instanceof ClusterUnreachable)) throw err;
    unreachable = err.message;
  }

  // 2. On the hub, whatever became of the cluster side: the credential stops working everywhere.
  let hubError: string | undefined;
  try {
    if (dryRun) {
      const record = (await hub.clusters()).find((c) => c.name === name && c.revokedAt === undefined);
      if (record) say(`credential revoked on ${hub.where}`);
    } else {
      const answer = await hub.revoke(name);
      if (answer.revoked) say(`credential revoked on ${hub.where}`);
      if (answer.tokensSpent > 0) say(`${answer.tokensSpent} unused registration token${answer.tokensSpent === 1 ? '' : 's'} spent`);
    }
  } catch (err) {
    if (unreachable === undefined) throw err;
    hubError = message(err);
  }

  if (unreachable !== undefined) {
    const kube = `--kubeconfig ${target.kubeconfig}${target.context ? ` --context ${target.context}` : ''}`;
    throw new CommandFailed(`cluster ${name}: the in-cluster objects could not be removed: ${unreachable}\n`
      + (hubError !== undefined ? `  nor could the cluster be revoked on the hub: ${hubError}\n` : '')
      + `  when the cluster is reachable, run again: flotilla cluster remove ${name} ${kube}${target.namespace === DEFAULT_NAMESPACE ? '' : ` -n ${target.namespace}`}\n`
      + `  or by hand: helm uninstall ${RELEASE} -n ${target.namespace} ${kube.replace('--context', '--kube-context')}\n`
      + `              kubectl delete secret ${CREDENTIAL_SECRET} -n ${target.namespace} ${kube}`);
  }
  if (done === 0) console.log(`cluster ${name}: nothing to remove`);
}

// ---------------------------------------------------------------------------------------------
// token create, revoke, list

async function tokenCreateCommand(values: ClusterValues): Promise<void> {
  const uses = Number(str(values, 'uses') ?? '1');
  if (!Number.isInteger(uses) || uses < 1) throw new UsageError('--uses must be a whole number >= 1');
  let labels: Record<string, string>;
  try { labels = parseLabels(str(values, 'labels') ?? ''); } catch (err) { throw new UsageError(`--labels: ${message(err)} (want k=v,k2=v2)`); }
  const cluster = str(values, 'cluster');
  if (cluster !== undefined && !CLUSTER_NAME.test(cluster)) throw new UsageError(`--cluster "${cluster}" must be a DNS label`);
  const ttlSeconds = ttlOf(values, '1h');
  const hub = await registry(values, { mayCreate: true });
  const { token, id, expiresAt } = await hub.createToken({ labels, ttlSeconds, uses, ...(cluster !== undefined ? { cluster } : {}) });
  console.error(`token ${id}${cluster !== undefined ? ` for cluster ${cluster}` : ''} expires ${new Date(expiresAt).toISOString()}; it is shown once:`);
  console.log(token);
}

async function revokeCommand(name: string, values: ClusterValues): Promise<void> {
  const hub = await registry(values);
  const answer = await hub.revoke(name);
  if (!answer.revoked && answer.tokensSpent === 0) throw new CommandFailed(`no registered cluster "${name}" on ${hub.where}`);
  const spent = answer.tokensSpent > 0 ? `${answer.tokensSpent} unused token${answer.tokensSpent === 1 ? '' : 's'} spent` : '';
  console.log(`cluster ${name}: ${[answer.revoked ? 'credential revoked' : '', spent].filter((s) => s !== '').join(', ')}`);
}

async function listCommand(values: ClusterValues): Promise<void> {
  const hub = await registry(values);
  const clusters = await hub.clusters();
  const output = str(values, 'output');
  if (output === 'json') { console.log(JSON.stringify(clusters, null, 2)); return; }
  for (const c of clusters) {
    console.log(`${c.name.padEnd(24)} ${c.revokedAt === undefined ? 'registered' : 'revoked   '} ${new Date(c.registeredAt).toISOString()}  ${labelText(c.labels)}`);
  }
}

/** `flotilla cluster <verb> …`. */
export async function clusterCommand(words: readonly string[], values: ClusterValues): Promise<void> {
  const [verb, ...rest] = words;
  const one = (what: string): string => {
    const [name, ...extra] = rest;
    if (name === undefined) throw new UsageError(`cluster ${verb ?? ''} needs ${what}`);
    if (extra.length > 0) throw new UsageError(`cluster ${verb ?? ''} takes one ${what}, got "${rest.join(' ')}"`);
    return name;
  };
  if (verb === 'add') return addCommand(one('<name>'), values);
  if (verb === 'remove') return removeCommand(one('<name>'), values);
  if (verb === 'token' && rest[0] === 'create' && rest.length === 1) return tokenCreateCommand(values);
  if (verb === 'revoke') return revokeCommand(one('<name>'), values);
  if (verb === 'list' && rest.length === 0) return listCommand(values);
  throw new UsageError(`unknown command "cluster ${words.join(' ')}" (add, remove, token create, revoke or list)`);
}
