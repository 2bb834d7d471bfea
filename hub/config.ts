// The hub's configuration: one table of settings, each readable from the config file
// (YAML, --config / FLOTILLA_CONFIG), an environment variable and a flag. A flag beats the
// environment, which beats the file, which beats the default. Everything is validated
// before the hub starts, and an error names the setting and where its value came from.
// docs/configuration.md is this table in prose; `flotilla-hub config` prints the effective
// values with their sources.
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { TenancySettings } from '../core/tenancy.js';
import { isLoopback } from './http-api.js';
import { DEFAULT_RENDER_LIMITS, LIMIT_SETTINGS, renderLimitsProblem, type RenderLimits } from '../core/render-limits.js';
import { allowHostProblem, type SourcePolicy } from '../core/source-policy.js';

export type Source = 'default' | 'file' | 'env' | 'flag';
type Value = string | number | boolean | readonly string[];

interface Setting {
  /** Dotted path in the file ("temporal.address"). */
  readonly key: string;
  readonly env?: string;
  readonly flag?: string;
  readonly type: 'string' | 'int' | 'bool' | 'list' | 'file' | 'address';
  readonly values?: readonly string[];
  readonly default?: Value;
  /** Secrets: environment only, never in the file, never printed. */
  readonly secret?: boolean;
  readonly help: string;
}

export const SETTINGS: readonly Setting[] = [
  { key: 'dataDir', env: 'FLOTILLA_DATA_DIR', flag: 'data-dir', type: 'string', help: 'directory for this hub\'s own files (caches, TLS material it makes, events.jsonl) and, with store.type filesystem, the shared store' },
  { key: 'hubId', env: 'FLOTILLA_HUB_ID', flag: 'hub-id', type: 'string', help: 'unique among running hubs (its own task queue is <taskQueue>/hub/<hubId>); default: host name and a random suffix' },
  { key: 'temporal.address', env: 'FLOTILLA_TEMPORAL_ADDRESS', flag: 'temporal', type: 'address', default: '127.0.0.1:7233', help: 'Temporal frontend host:port (Temporal Cloud: <namespace>.<account>.tmprl.cloud:7233, or with an API key the regional <region>.<cloud>.api.temporal.io:7233)' },
  { key: 'temporal.namespace', env: 'FLOTILLA_TEMPORAL_NAMESPACE', flag: 'namespace', type: 'string', default: 'default', help: 'Temporal namespace (Temporal Cloud: <namespace>.<account>)' },
  { key: 'temporal.taskQueue', env: 'FLOTILLA_TASK_QUEUE', flag: 'task-queue', type: 'string', default: 'flotilla-hub', help: 'task queue every hub of one fleet polls' },
  { key: 'temporal.uiUrl', env: 'FLOTILLA_TEMPORAL_UI', flag: 'temporal-ui', type: 'string', help: 'Temporal Web UI URL, for links in flotilla history and the dashboard' },
  { key: 'temporal.tls.enabled', env: 'FLOTILLA_TEMPORAL_TLS', flag: 'temporal-tls', type: 'bool', default: false, help: 'connect to Temporal over TLS (implied by a client certificate, a CA file, a server name or an API key)' },
  { key: 'temporal.tls.caFile', env: 'FLOTILLA_TEMPORAL_TLS_CA', flag: 'temporal-tls-ca', type: 'file', help: 'CA bundle Temporal\'s certificate chains to (default: the system\'s)' },
  { key: 'temporal.tls.certFile', env: 'FLOTILLA_TEMPORAL_TLS_CERT', flag: 'temporal-tls-cert', type: 'file', help: 'client certificate for mTLS (with temporal.tls.keyFile)' },
  { key: 'temporal.tls.keyFile', env: 'FLOTILLA_TEMPORAL_TLS_KEY', flag: 'temporal-tls-key', type: 'file', help: 'client key for mTLS (with temporal.tls.certFile)' },
  { key: 'temporal.tls.serverName', env: 'FLOTILLA_TEMPORAL_TLS_SERVER_NAME', flag: 'temporal-tls-server-name', type: 'string', help: 'TLS server name, when it differs from the address\'s host' },
  { key: 'temporal.apiKey', env: 'FLOTILLA_TEMPORAL_API_KEY', type: 'string', secret: true, help: 'Temporal Cloud API key (environment only; implies TLS)' },
  { key: 'grpc.listen', env: 'FLOTILLA_GRPC_LISTEN', flag: 'listen', type: 'address', default: '127.0.0.1:7443', help: 'agent gateway (gRPC over TLS) host:port; port 0 picks one' },
  { key: 'grpc.tlsCertFile', env: 'FLOTILLA_GRPC_TLS_CERT', flag: 'tls-cert', type: 'file', help: 'gateway certificate (with grpc.tlsKeyFile); default: self-signed in <dataDir>/tls, made on first start' },
  { key: 'grpc.tlsKeyFile', env: 'FLOTILLA_GRPC_TLS_KEY', flag: 'tls-key', type: 'file', help: 'gateway key (with grpc.tlsCertFile)' },
  { key: 'grpc.hosts', env: 'FLOTILLA_GRPC_HOSTS', flag: 'host', type: 'list', default: [], help: 'extra names for the self-signed certificate (comma separated in the environment)' },
  { key: 'grpc.heartbeatSeconds', env: 'FLOTILLA_HEARTBEAT_SECONDS', flag: 'heartbeat', type: 'int', default: 10, help: 'agents\' heartbeat; an agent silent for 3 of them is Unreachable' },
  { key: 'grpc.keepaliveTimeSeconds', env: 'FLOTILLA_GRPC_KEEPALIVE_TIME', flag: 'keepalive-time', type: 'int', default: 30, help: 'the gateway pings each agent connection this often; with grpc.keepaliveTimeoutSeconds it bounds how long a frozen or cut-off agent\'s stream stays open' },
  { key: 'grpc.keepaliveTimeoutSeconds', env: 'FLOTILLA_GRPC_KEEPALIVE_TIMEOUT', flag: 'keepalive-timeout', type: 'int', default: 10, help: 'a connection whose ping is not answered within this is dropped (the cluster is Disconnected)' },
  { key: 'grpc.minPingIntervalSeconds', env: 'FLOTILLA_GRPC_MIN_PING_INTERVAL', flag: 'min-ping-interval', type: 'int', default: 20, help: 'shortest ping interval permitted to agents; keep it at most the agents\' --keepalive-time' },
  { key: 'grpc.maxReceiveMessageBytes', env: 'FLOTILLA_GRPC_MAX_RECEIVE_MESSAGE_BYTES', flag: 'max-receive-message-bytes', type: 'int', default: 4_194_304, help: 'largest message an agent may send; a larger one fails its call with RESOURCE_EXHAUSTED' },
  { key: 'grpc.maxStreamsPerCluster', env: 'FLOTILLA_GRPC_MAX_STREAMS_PER_CLUSTER', flag: 'max-streams-per-cluster', type: 'int', default: 2, help: 'Connect streams one cluster may hold open on this hub at once (a Hello replaces the older one; 2 lets a restarted agent in while its old stream is half-open); one more is refused with RESOURCE_EXHAUSTED' },
  { key: 'http.listen', env: 'FLOTILLA_HTTP_LISTEN', flag: 'http', type: 'address', default: '127.0.0.1:7480', help: 'HTTP API, dashboard, /metrics, /healthz, /readyz and Receivers host:port, or off' },
  { key: 'http.tls.mode', env: 'FLOTILLA_HTTP_TLS', flag: 'http-tls', type: 'string', values: ['auto', 'on', 'off'], default: 'auto', help: 'HTTPS for the HTTP API: auto (TLS unless http.listen is a loopback address), on (always), off (plain HTTP; loopback only)' },
  { key: 'http.tls.certFile', env: 'FLOTILLA_HTTP_TLS_CERT', flag: 'http-tls-cert', type: 'file', help: 'HTTP API certificate (with http.tls.keyFile); default: grpc.tlsCertFile, else one the hub signs with its own CA (<dataDir>/tls/hub.crt)' },
  { key: 'http.tls.keyFile', env: 'FLOTILLA_HTTP_TLS_KEY', flag: 'http-tls-key', type: 'file', help: 'HTTP API key (with http.tls.certFile)' },
  { key: 'http.hosts', env: 'FLOTILLA_HTTP_HOSTS', flag: 'http-host', type: 'list', default: [], help: 'extra names for the hub-made HTTP certificate (comma separated in the environment; it also names the http.listen host and grpc.hosts)' },
  { key: 'http.apiTokenFile', env: 'FLOTILLA_API_TOKEN_FILE', flag: 'api-token-file', type: 'string', help: 'bearer token of the HTTP API (made on first start when absent); default <dataDir>/api-token. Hubs behind one address share one' },
  { key: 'store.type', env: 'FLOTILLA_STORE', flag: 'store', type: 'string', values: ['filesystem', 's3'], default: 'filesystem', help: 'where artifacts, registrations and hub ConfigMaps/Secrets live: the data directory (one hub) or an S3-compatible bucket (any number of hubs)' },
  { key: 'store.s3.endpoint', env: 'FLOTILLA_S3_ENDPOINT', flag: 's3-endpoint', type: 'string', help: 'S3 endpoint URL (https://s3.eu-west-1.amazonaws.com, http://minio:9000)' },
  { key: 'store.s3.bucket', env: 'FLOTILLA_S3_BUCKET', flag: 's3-bucket', type: 'string', help: 'bucket (private: it holds the Secrets declared to the hub); created when missing' },
  { key: 'store.s3.region', env: 'FLOTILLA_S3_REGION', flag: 's3-region', type: 'string', default: 'us-east-1', help: 'region the requests are signed for' },
  { key: 'store.s3.prefix', env: 'FLOTILLA_S3_PREFIX', flag: 's3-prefix', type: 'string', default: '', help: 'key prefix, so that several fleets share a bucket ("" or ending with /)' },
  { key: 'store.s3.accessKeyId', env: 'AWS_ACCESS_KEY_ID', type: 'string', secret: true, help: 'S3 access key (environment only)' },
  { key: 'store.s3.secretAccessKey', env: 'AWS_SECRET_ACCESS_KEY', type: 'string', secret: true, help: 'S3 secret key (environment only)' },
  { key: 'store.s3.sessionToken', env: 'AWS_SESSION_TOKEN', type: 'string', secret: true, help: 'S3 session token, for temporary credentials (environment only)' },
  { key: 'tools.helm', env: 'FLOTILLA_HELM', flag: 'helm', type: 'file', help: 'helm binary (default: helm on PATH; the hub image: /usr/local/bin/helm)' },
  { key: 'tools.kustomize', env: 'FLOTILLA_KUSTOMIZE', flag: 'kustomize', type: 'file', help: 'kustomize binary (default: kustomize on PATH; the hub image: /usr/local/bin/kustomize)' },
  { key: 'sources.allowSchemes', env: 'FLOTILLA_SOURCES_ALLOW_SCHEMES', flag: 'sources-allow-schemes', type: 'list', values: ['http', 'git', 'file'], default: [], help: 'schemes sources may use besides https and ssh (git) and oci (Helm): http, git, file (comma separated in the environment); docs/security.md' },
  { key: 'sources.allowHosts', env: 'FLOTILLA_SOURCES_ALLOW_HOSTS', flag: 'sources-allow-hosts', type: 'list', default: [], help: 'internal destinations sources, notification Providers and analysis checks may reach: host names, *.suffix, IP addresses or CIDRs (e.g. git.corp.internal,10.20.0.0/16); docs/security.md' },
  { key: 'sources.allowPrivateNetworks', env: 'FLOTILLA_SOURCES_ALLOW_PRIVATE_NETWORKS', flag: 'sources-allow-private-networks', type: 'bool', default: false, help: 'let sources reach loopback, private, link-local (cloud metadata) and in-cluster addresses: for a development fleet on one machine only; docs/security.md' },
  { key: 'limits.maxConcurrentActivities', env: 'FLOTILLA_MAX_CONCURRENT_ACTIVITIES', flag: 'max-concurrent-activities', type: 'int', default: 100, help: 'activities (git fetches, builds, renders, pushes) this hub runs at once' },
  { key: 'tenancy.defaultServiceAccount', env: 'FLOTILLA_DEFAULT_SERVICE_ACCOUNT', flag: 'default-service-account', type: 'string', help: 'Flux\'s --default-service-account: the ServiceAccount (in the declaration\'s own namespace) a Kustomization or HelmRelease without spec.serviceAccountName is applied as; unset: the agent\'s own identity' },
  { key: 'tenancy.noCrossNamespaceRefs', env: 'FLOTILLA_NO_CROSS_NAMESPACE_REFS', flag: 'no-cross-namespace-refs', type: 'bool', default: false, help: 'Flux\'s --no-cross-namespace-refs: a Kustomization or HelmRelease may use only sources in its own namespace (else Ready=False, reason AccessDenied)' },
  // Render caps (core/render-limits.ts, docs/security.md): a breach fails that one reconcile, naming the cap.
  { key: 'limits.render.memoryBytes', env: 'FLOTILLA_RENDER_MEMORY_BYTES', flag: 'render-memory-bytes', type: 'int', default: DEFAULT_RENDER_LIMITS.memoryBytes, help: 'address space (RLIMIT_AS) of each kustomize / helm run; at least 1 GiB (Go reserves ~800 MiB)' },
  { key: 'limits.render.cpuSeconds', env: 'FLOTILLA_RENDER_CPU_SECONDS', flag: 'render-cpu-seconds', type: 'int', default: DEFAULT_RENDER_LIMITS.cpuSeconds, help: 'CPU seconds (RLIMIT_CPU) of each kustomize / helm run' },
  { key: 'limits.render.maxBytes', env: 'FLOTILLA_RENDER_MAX_BYTES', flag: 'render-max-bytes', type: 'int', default: DEFAULT_RENDER_LIMITS.maxBytes, help: 'bytes one kustomize build or helm template may output' },
  { key: 'limits.render.maxObjects', env: 'FLOTILLA_RENDER_MAX_OBJECTS', flag: 'render-max-objects', type: 'int', default: DEFAULT_RENDER_LIMITS.maxObjects, help: 'objects one kustomize build or helm template may output' },
  { key: 'limits.render.maxFiles', env: 'FLOTILLA_RENDER_MAX_FILES', flag: 'render-max-files', type: 'int', default: DEFAULT_RENDER_LIMITS.maxFiles, help: 'files in one source tree (a git checkout as packed, after .sourceignore)' },
  { key: 'limits.render.maxFileBytes', env: 'FLOTILLA_RENDER_MAX_FILE_BYTES', flag: 'render-max-file-bytes', type: 'int', default: DEFAULT_RENDER_LIMITS.maxFileBytes, help: 'bytes of one file in a source tree or archive (checked by stat, before reading)' },
  { key: 'limits.untar.maxBytes', env: 'FLOTILLA_UNTAR_MAX_BYTES', flag: 'untar-max-bytes', type: 'int', default: DEFAULT_RENDER_LIMITS.untarMaxBytes, help: 'bytes an artifact or chart archive may inflate to (refused while inflating)' },
  { key: 'limits.untar.maxEntries', env: 'FLOTILLA_UNTAR_MAX_ENTRIES', flag: 'untar-max-entries', type: 'int', default: DEFAULT_RENDER_LIMITS.untarMaxEntries, help: 'entries of one artifact or chart archive' },
  { key: 'limits.untar.maxRatio', env: 'FLOTILLA_UNTAR_MAX_RATIO', flag: 'untar-max-ratio', type: 'int', default: DEFAULT_RENDER_LIMITS.untarMaxRatio, help: 'inflated:compressed ratio an archive may reach once past 8 MiB inflated (refused while inflating)' },
  { key: 'log.level', env: 'LOG_LEVEL', flag: 'log-level', type: 'string', values: ['debug', 'info', 'warn', 'error'], default: 'info', help: 'least level written to the JSON log' },
];

export interface TemporalSettings {
  readonly address: string;
  readonly namespace: string;
  readonly taskQueue: string;
  readonly uiUrl?: string;
  /** undefined: plain gRPC. */
  readonly tls?: { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string; readonly serverName?: string };
  readonly apiKey?: string;
}

export interface S3Settings {
  readonly endpoint: string;
  readonly bucket: string;
  readonly region: string;
  readonly prefix: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface HubConfig {
  readonly dataDir: string;
  readonly hubId?: string;
  readonly temporal: TemporalSettings;
  readonly grpc: {
    readonly listen: string; readonly tls?: { readonly certFile: string; readonly keyFile: string }; readonly hosts: readonly string[]; readonly heartbeatSeconds: number;
    readonly keepaliveTimeSeconds: number; readonly keepaliveTimeoutSeconds: number; readonly minPingIntervalSeconds: number;
    readonly maxReceiveMessageBytes: number; readonly maxStreamsPerCluster: number;
  };
  readonly http: {
    /** host:port, or 'off' */ readonly listen: string; readonly apiTokenFile: string;
    /** plain: HTTP (loopback only); given: these files; hub: the hub's own (grpc.tls when given, else signed by its CA). */
    readonly tls: { readonly kind: 'plain' } | { readonly kind: 'given'; readonly certFile: string; readonly keyFile: string } | { readonly kind: 'hub' };
    /** Names the hub-made certificate carries besides loopback. */
    readonly hosts: readonly string[];
  };
  readonly store: { readonly type: 'filesystem' } | { readonly type: 's3'; readonly s3: S3Settings };
  readonly tools: { readonly helm?: string; readonly kustomize?: string };
  readonly limits: { readonly maxConcurrentActivities: number; readonly render: RenderLimits };
  /** Flux's multi-tenancy flags (core/tenancy.ts). */
  readonly tenancy: TenancySettings;
  /** The source policy (core/source-policy.ts): settings sources.*. */
  readonly sourcePolicy: SourcePolicy;
  readonly log: { readonly level: 'debug' | 'info' | 'warn' | 'error' };
  /** Where each setting's value came from, for `flotilla-hub config`. */
  readonly sources: ReadonlyMap<string, { readonly value: Value; readonly source: Source }>;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface ConfigInputs {
  /** Flags as parsed (parseArgs values), by flag name. */
  readonly flags: Readonly<Record<string, string | boolean | string[] | undefined>>;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** --config, else FLOTILLA_CONFIG. */
  readonly file?: string;
}

/** parseArgs options for every setting with a flag. */
export function settingFlags(): Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {};
  for (const s of SETTINGS) {
    if (s.flag === undefined) continue;
    options[s.flag] = s.type === 'bool' ? { type: 'boolean' } : s.type === 'list' ? { type: 'string', multiple: true } : { type: 'string' };
  }
  return options;
}

function describe(s: Setting, source: Source, file?: string): string {
  switch (source) {
    case 'flag': return `${s.key} (flag --${s.flag ?? ''})`;
    case 'env': return `${s.key} (environment ${s.env ?? ''})`;
    case 'file': return `${s.key} (in ${file ?? 'the config file'})`;
    case 'default': return `${s.key} (default)`;
  }
}

/** A value from the environment or a flag (text), or from YAML (typed), checked against the setting's type. */
function coerce(s: Setting, raw: unknown, where: string): Value {
  const fail = (what: string): never => { throw new ConfigError(`${where}: ${what}`); };
  switch (s.type) {
    case 'bool':
      if (typeof raw === 'boolean') return raw;
      if (typeof raw === 'string' && /^(true|1|yes)$/i.test(raw)) return true;
      if (typeof raw === 'string' && /^(false|0|no)$/i.test(raw)) return false;
      return fail(`want true or false, got ${JSON.stringify(raw)}`);
    case 'int': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
      if (!Number.isInteger(n) || n < 1) fail(`want a whole number >= 1, got ${JSON.stringify(raw)}`);
      return n;
    }
    case 'list': {
      let items: string[] | undefined;
      if (Array.isArray(raw) && raw.every((x) => typeof x === 'string')) items = raw.flatMap((x: string) => x.split(',')).map((x) => x.trim()).filter((x) => x !== '');
      if (typeof raw === 'string') items = raw.split(',').map((x) => x.trim()).filter((x) => x !== '');
      if (items === undefined) return fail(`want a list of strings, got ${JSON.stringify(raw)}`);
      const unknown = s.values === undefined ? undefined : items.find((x) => !(s.values ?? []).includes(x));
      if (unknown !== undefined) fail(`want some of ${(s.values ?? []).join(', ')}, got "${unknown}"`);
      return items;
    }
    default: {
      if (typeof raw !== 'string' && typeof raw !== 'number') return fail(`want a string, got ${JSON.stringify(raw)}`);
      const text = String(raw).trim();
      if (text === '') return text;
      if (s.values && !s.values.includes(text)) fail(`want one of ${s.values.join(', ')}, got "${text}"`);
      if (s.type === 'address' && !(s.key === 'http.listen' && text === 'off')
        && !(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(text) && Number(text.slice(text.lastIndexOf(':') + 1)) <= 65535)) {
        fail(`want host:port (port 0-65535)${s.key === 'http.listen' ? ' or off' : ''}, got "${text}"`);
      }
      if (s.type === 'file') {
        if (!existsSync(text)) fail(`no file at ${text}`);
        if (!statSync(text).isFile()) fail(`${text} is not a file`);
        try { accessSync(text, constants.R_OK); } catch { fail(`${text} is not readable by the hub`); }
      }
      return text;
    }
  }
}

/** The YAML file, flattened to dotted keys; unknown keys and secrets in it are errors. */
function readConfigFile(file: string): Map<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`config file ${file}: ${err instanceof Error ? err.message : String(err)} (--config / FLOTILLA_CONFIG)`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`config file ${file} is not valid YAML: ${err instanceof Error ? err.message : String(err)}`);
  }
  const flat = new Map<string, unknown>();
  if (doc === null || doc === undefined) return flat;
  const known = new Map(SETTINGS.map((s) => [s.key, s]));
  const sections = new Set(SETTINGS.flatMap((s) => s.key.split('.').slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join('.'))));
  const walk = (node: unknown, path: string): void => {
    if (typeof node !== 'object' || node === null || Array.isArray(node)) {
      throw new ConfigError(`config file ${file}: ${path === '' ? 'the document' : path} must be a mapping`);
    }
    for (const [k, v] of Object.entries(node)) {
      const key = path === '' ? k : `${path}.${k}`;
      const setting = known.get(key);
      if (setting) {
        if (setting.secret) throw new ConfigError(`config file ${file}: ${key} is a secret: set it in the environment (${setting.env ?? ''}), not in the file`);
        if (v !== null && v !== undefined) flat.set(key, v);
      } else if (sections.has(key)) {
        if (v !== null && v !== undefined) walk(v, key);
      } else {
        const guess = [...known.keys(), ...sections]
          .map((candidate) => ({ candidate, distance: candidate.toLowerCase() === key.toLowerCase() ? 0 : editDistance(candidate, key) }))
          .filter((c) => c.distance <= 2)
          .sort((a, b) => a.distance - b.distance)[0]?.candidate;
        throw new ConfigError(`config file ${file}: unknown setting ${key}${guess ? ` (did you mean ${guess}?)` : ''}`);
      }
    }
  };
  walk(doc, '');
  return flat;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const here = row[j] ?? 0;
      row[j] = Math.min(here + 1, (row[j - 1] ?? 0) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = here;
    }
  }
  return row[b.length] ?? 0;
}

/** Resolves every setting by precedence (flag, environment, file, default) and checks them together. */
export function loadHubConfig(inputs: ConfigInputs): HubConfig {
  const file = inputs.file;
  const fromFile = file !== undefined ? readConfigFile(file) : new Map<string, unknown>();
  const sources = new Map<string, { value: Value; source: Source }>();
  const where = new Map<string, string>();
  for (const s of SETTINGS) {
    const flag = s.flag === undefined ? undefined : inputs.flags[s.flag];
    const env = s.env === undefined ? undefined : inputs.env[s.env];
    const given: [Source, unknown][] = [];
    if (flag !== undefined && !(Array.isArray(flag) && flag.length === 0)) given.push(['flag', flag]);
    if (env !== undefined && env !== '') given.push(['env', env]);
    if (fromFile.has(s.key)) given.push(['file', fromFile.get(s.key)]);
    for (const [source, raw] of given) {
      const at = describe(s, source, file);
      const value = coerce(s, raw, at);
      if (value === '') continue; // an empty value is not given at this level: the next one decides
      sources.set(s.key, { value, source });
      where.set(s.key, at);
      break;
    }
    if (!sources.has(s.key) && s.default !== undefined) {
      sources.set(s.key, { value: s.default, source: 'default' });
      where.set(s.key, describe(s, 'default'));
    }
  }
  const str = (key: string): string | undefined => {
    const v = sources.get(key)?.value;
    return typeof v === 'string' ? v : undefined;
  };
  const num = (key: string): number => Number(sources.get(key)?.value);
  const named = (key: string): string => where.get(key) ?? `${key} (not set)`;
  const need = (key: string, why: string): string => {
    const v = str(key);
    const s = SETTINGS.find((x) => x.key === key);
    if (v === undefined) {
      const places = [...(s?.secret ? [] : ['the config file']), ...(s?.env ? [`the environment (${s.env})`] : []), ...(s?.flag ? [`--${s.flag}`] : [])];
      const last = places.pop() ?? 'the config file';
      throw new ConfigError(`${key} is required${why}: set it in ${places.length > 0 ? `${places.join(', ')} or ${last}` : last}`);
    }
    return v;
  };
  const pair = (a: string, b: string): { a: string; b: string } | undefined => {
    const x = str(a);
    const y = str(b);
    if ((x === undefined) !== (y === undefined)) throw new ConfigError(`${x === undefined ? named(b) : named(a)} is set but ${x === undefined ? a : b} is not: give both`);
    return x !== undefined && y !== undefined ? { a: x, b: y } : undefined;
  };

  const dataDir = need('dataDir', '');
  const mtls = pair('temporal.tls.certFile', 'temporal.tls.keyFile');
  const apiKey = str('temporal.apiKey');
  const tlsOn = sources.get('temporal.tls.enabled')?.value === true || mtls !== undefined || apiKey !== undefined
    || str('temporal.tls.caFile') !== undefined || str('temporal.tls.serverName') !== undefined;
  if (sources.get('temporal.tls.enabled')?.source !== 'default' && sources.get('temporal.tls.enabled')?.value === false) {
    const needsTls = mtls ? 'a client certificate (temporal.tls.certFile/keyFile)' : apiKey !== undefined ? 'an API key (FLOTILLA_TEMPORAL_API_KEY)'
      : str('temporal.tls.caFile') !== undefined ? 'a CA file (temporal.tls.caFile)' : str('temporal.tls.serverName') !== undefined ? 'a server name (temporal.tls.serverName)' : undefined;
    if (needsTls !== undefined) throw new ConfigError(`${named('temporal.tls.enabled')} is false, but ${needsTls} needs TLS: remove one of them`);
  }
  const caFile = str('temporal.tls.caFile');
  const serverName = str('temporal.tls.serverName');
  const uiUrl = str('temporal.uiUrl');
  if (uiUrl !== undefined && !/^https?:\/\/\S+$/.test(uiUrl)) throw new ConfigError(`${named('temporal.uiUrl')}: want an http(s) URL, got "${uiUrl}"`);
  const temporal: TemporalSettings = {
    address: need('temporal.address', ''), namespace: need('temporal.namespace', ''), taskQueue: need('temporal.taskQueue', ''),
    ...(uiUrl !== undefined ? { uiUrl } : {}),
    ...(tlsOn ? { tls: { ...(caFile ? { caFile } : {}), ...(mtls ? { certFile: mtls.a, keyFile: mtls.b } : {}), ...(serverName ? { serverName } : {}) } } : {}),
    ...(apiKey !== undefined ? { apiKey } : {}),
  };
  if (/\s/.test(temporal.taskQueue)) throw new ConfigError(`${named('temporal.taskQueue')}: no spaces, got "${temporal.taskQueue}"`);
  const hubId = str('hubId');
  if (hubId !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(hubId)) {
    throw new ConfigError(`${named('hubId')}: letters, digits, '.', '_' and '-', at most 63, got "${hubId}"`);
  }
  const grpcTls = pair('grpc.tlsCertFile', 'grpc.tlsKeyFile');
  const listHosts = sources.get('grpc.hosts')?.value;
  const http = httpSettings(need('http.listen', ''), need('http.tls.mode', ''), pair('http.tls.certFile', 'http.tls.keyFile'), sources.get('http.hosts')?.value, named);
  const storeType = need('store.type', '');
  let store: HubConfig['store'] = { type: 'filesystem' };
  if (storeType === 's3') {
    const why = ' when store.type is s3';
    const endpoint = need('store.s3.endpoint', why);
    if (!/^https?:\/\/[^/\s]+\/?$/.test(endpoint)) throw new ConfigError(`${named('store.s3.endpoint')}: want http(s)://host[:port], got "${endpoint}"`);
    const bucket = need('store.s3.bucket', why);
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) || bucket.includes('..')) {
      throw new ConfigError(`${named('store.s3.bucket')}: want a bucket name (3-63 of a-z 0-9 . -), got "${bucket}"`);
    }
    const prefix = str('store.s3.prefix') ?? '';
    if (prefix !== '' && !prefix.endsWith('/')) throw new ConfigError(`${named('store.s3.prefix')}: must end with '/', got "${prefix}"`);
    const sessionToken = str('store.s3.sessionToken');
    store = {
      type: 's3',
      s3: {
        endpoint: endpoint.replace(/\/$/, ''), bucket, region: need('store.s3.region', why), prefix,
        accessKeyId: need('store.s3.accessKeyId', why), secretAccessKey: need('store.s3.secretAccessKey', why),
        ...(sessionToken !== undefined ? { sessionToken } : {}),
      },
    };
  } else {
    for (const key of ['store.s3.endpoint', 'store.s3.bucket', 'store.s3.prefix']) {
      if ((str(key) ?? '') !== '') throw new ConfigError(`${named(key)} is set but store.type is filesystem: set store.type to s3 (FLOTILLA_STORE=s3) or remove it`);
    }
  }
  const defaultServiceAccount = str('tenancy.defaultServiceAccount');
  if (defaultServiceAccount !== undefined && !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(defaultServiceAccount)) {
    throw new ConfigError(`${named('tenancy.defaultServiceAccount')}: "${defaultServiceAccount}" is not a ServiceAccount name (lower-case letters, digits, '-' and '.', at most 253)`);
  }
  const cap = (k: keyof RenderLimits): number => num(LIMIT_SETTINGS[k]);
  const render: RenderLimits = {
    memoryBytes: cap('memoryBytes'), cpuSeconds: cap('cpuSeconds'), maxBytes: cap('maxBytes'), maxObjects: cap('maxObjects'),
    maxFiles: cap('maxFiles'), maxFileBytes: cap('maxFileBytes'), untarMaxBytes: cap('untarMaxBytes'),
    untarMaxEntries: cap('untarMaxEntries'), untarMaxRatio: cap('untarMaxRatio'),
  };
  const renderProblem = renderLimitsProblem(render);
  if (renderProblem !== undefined) throw new ConfigError(renderProblem);
  const helm = str('tools.helm');
  const kustomize = str('tools.kustomize');
  for (const key of ['tools.helm', 'tools.kustomize']) {
    const path = str(key);
    if (path === undefined) continue;
    try { accessSync(path, constants.X_OK); } catch { throw new ConfigError(`${named(key)}: ${path} is not executable`); }
  }
  const sourcePolicy = (): SourcePolicy => {
    const list = (key: string): string[] => {
      const v = sources.get(key)?.value;
      return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
    };
    const allowHosts = list('sources.allowHosts');
    for (const entry of allowHosts) {
      const problem = allowHostProblem(entry);
      if (problem !== undefined) throw new ConfigError(`${named('sources.allowHosts')}: ${problem}`);
    }
    return { allowSchemes: list('sources.allowSchemes'), allowHosts, allowPrivateNetworks: sources.get('sources.allowPrivateNetworks')?.value === true };
  };
  return {
    dataDir, ...(hubId !== undefined ? { hubId } : {}), temporal,
    grpc: {
      listen: need('grpc.listen', ''), ...(grpcTls ? { tls: { certFile: grpcTls.a, keyFile: grpcTls.b } } : {}),
      hosts: Array.isArray(listHosts) ? listHosts : [], heartbeatSeconds: num('grpc.heartbeatSeconds'),
      keepaliveTimeSeconds: num('grpc.keepaliveTimeSeconds'), keepaliveTimeoutSeconds: num('grpc.keepaliveTimeoutSeconds'),
      minPingIntervalSeconds: num('grpc.minPingIntervalSeconds'), maxReceiveMessageBytes: num('grpc.maxReceiveMessageBytes'),
      maxStreamsPerCluster: num('grpc.maxStreamsPerCluster'),
    },
    http: { ...http, apiTokenFile: str('http.apiTokenFile') ?? `${dataDir.replace(/\/$/, '')}/api-token` },
    store,
    tools: { ...(helm !== undefined ? { helm } : {}), ...(kustomize !== undefined ? { kustomize } : {}) },
    tenancy: { ...(defaultServiceAccount !== undefined ? { defaultServiceAccount } : {}), noCrossNamespaceRefs: sources.get('tenancy.noCrossNamespaceRefs')?.value === true },
    limits: { maxConcurrentActivities: num('limits.maxConcurrentActivities'), render },
    sourcePolicy: sourcePolicy(),
    log: { level: need('log.level', '') as HubConfig['log']['level'] },
    sources,
  };
}

/**
 * The HTTP API's transport. Plain HTTP is served on loopback only: anything that can reach a
 * non-loopback address would see the API token and the dashboard's cookie in the clear.
 *   mode  listen        certFile/keyFile  →
 *   auto  loopback      —                 plain (the dev default, 127.0.0.1:7480)
 *   auto  loopback      given             given
 *   auto  non-loopback  —                 hub (the hub's own certificate)
 *   auto  non-loopback  given             given
 *   on    any           — / given         hub / given
 *   off   loopback      —                 plain
 *   off   any           given             refused (which one?)
 *   off   non-loopback  —                 refused (plain HTTP beyond loopback)
 */
function httpSettings(listen: string, mode: string, given: { a: string; b: string } | undefined, hosts: Value | undefined,
  named: (key: string) => string): Pick<HubConfig['http'], 'listen' | 'tls' | 'hosts'> {
  const host = listen === 'off' ? '' : listen.slice(0, listen.lastIndexOf(':'));
  const loopback = listen === 'off' || isLoopback(host);
  if (mode === 'off' && given !== undefined) {
    throw new ConfigError(`${named('http.tls.mode')} is off, but ${named('http.tls.certFile')} is set: remove one of them`);
  }
  if (mode === 'off' && !loopback) {
    throw new ConfigError(`${named('http.tls.mode')} is off, but ${named('http.listen')} is ${listen}, not a loopback address: `
      + 'plain HTTP is served on loopback only (127.0.0.1, ::1, localhost). Set http.tls.mode to auto or on (the hub\'s own certificate, '
      + 'or http.tls.certFile/keyFile), or listen on 127.0.0.1 behind a proxy or ingress that terminates TLS (docs/security.md)');
  }
  const tls: HubConfig['http']['tls'] = given !== undefined ? { kind: 'given', certFile: given.a, keyFile: given.b }
    : mode === 'on' || (mode === 'auto' && !loopback) ? { kind: 'hub' } : { kind: 'plain' };
  return { listen, tls, hosts: Array.isArray(hosts) ? hosts : [] };
}

/** The effective configuration as `flotilla-hub config` prints it: one line per setting, secrets hidden. */
export function describeConfig(config: HubConfig): string {
  const rows = SETTINGS.map((s) => {
    const entry = config.sources.get(s.key);
    const value = entry === undefined ? '-' : s.secret ? '(set)' : Array.isArray(entry.value) ? entry.value.join(',') : String(entry.value);
    return [s.key, value, entry?.source ?? 'unset'] as const;
  });
  const width = Math.max(...rows.map((r) => r[0].length));
  const valueWidth = Math.min(48, Math.max(...rows.map((r) => r[1].length)));
  return rows.map(([key, value, source]) => `${key.padEnd(width)}  ${value.padEnd(valueWidth)}  ${source}`).join('\n');
}

/** The settings table for --help and docs: key, environment variable, flag, default. */
export function settingsTable(): string {
  return SETTINGS.map((s) => {
    const names = [s.env, s.flag ? `--${s.flag}` : undefined].filter((x) => x !== undefined).join(', ');
    const def = s.default === undefined ? '' : ` [default ${Array.isArray(s.default) ? (s.default.length ? s.default.join(',') : 'none') : String(s.default) || '""'}]`;
    return `  ${s.key.padEnd(32)} ${names}${def}\n  ${''.padEnd(32)} ${s.help}`;
  }).join('\n');
}

/** What Connection.connect and NativeConnection.connect take for these settings (TLS, API key). */
export function temporalConnectionOptions(t: TemporalSettings): {
  address: string;
  tls?: { serverNameOverride?: string; serverRootCACertificate?: Buffer; clientCertPair?: { crt: Buffer; key: Buffer } };
  apiKey?: string;
} {
  const tls = t.tls === undefined ? undefined : {
    ...(t.tls.serverName ? { serverNameOverride: t.tls.serverName } : {}),
    ...(t.tls.caFile ? { serverRootCACertificate: readFileSync(t.tls.caFile) } : {}),
    ...(t.tls.certFile && t.tls.keyFile ? { clientCertPair: { crt: readFileSync(t.tls.certFile), key: readFileSync(t.tls.keyFile) } } : {}),
  };
  return { address: t.address, ...(tls ? { tls } : {}), ...(t.apiKey !== undefined ? { apiKey: t.apiKey } : {}) };
}
