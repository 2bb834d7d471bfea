#!/usr/bin/env node
// flotilla-agent: runs in (or next to) a cluster, dials the hub and converges the cluster
// to the desired state the hub holds for it.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { createLogger, logFunction } from '../core/log.js';
import { parseLabels } from '../core/registration.js';
import { Agent, DEFAULT_CONCURRENCY, DEFAULT_KEEPALIVE_TIME_MS, DEFAULT_KEEPALIVE_TIMEOUT_MS } from './agent.js';
import { DEFAULT_AGENT_BOUNDS, agentBoundsProblem } from './bounds.js';
import { startAgentHttp, type AgentHttp } from './http-server.js';
import { AgentMetrics } from './metrics.js';

const usage = `usage: flotilla-agent --hub <host:port>[,<host:port>...] --hub-ca <pem file> --cluster <name> [options]

Registers with the hub once (with a registration token from 'flotilla cluster add' or
'flotilla cluster token create'), keeps the credential in the Secret
flotilla-system/flotilla-agent-credential of its cluster, and from then on holds one stream to
the hub. With several hub addresses (hub replicas) it moves to the next one when its hub goes
away; behind one load-balanced address the connection does the same by itself.

options:
  --hub <addresses>      (or FLOTILLA_HUB) the hub's gateway, host:port, comma separated for several
  --hub-ca <file>        (or FLOTILLA_HUB_CA) PEM the hub's certificate chains to
  --cluster <name>       (or FLOTILLA_CLUSTER) this cluster's name, a DNS label
  --labels <k=v,...>     (or FLOTILLA_LABELS) labels asked for at registration; the token's win
  --token <token>        registration token (or FLOTILLA_TOKEN); only needed the first time
  --kubeconfig <file>    cluster to manage (default: KUBECONFIG, then in-cluster config)
  --namespace <ns>       namespace for the agent's own state (default flotilla-system)
  --drift-interval <s>   re-apply to correct drift this often (default 60; 0 disables)
  --concurrent <n>       (or FLOTILLA_CONCURRENT) deployments applied and health-checked at
                         once (default 16; Flux's --concurrent per controller)
  --keepalive-time <s>   (or FLOTILLA_KEEPALIVE_TIME) ping the hub this often on the connection
                         (default 30); keep it >= the hub's grpc.minPingIntervalSeconds (20)
  --keepalive-timeout <s> (or FLOTILLA_KEEPALIVE_TIMEOUT) drop the connection and reconnect when
                         a ping is not answered within this (default 10)
  --cache-secret-artifacts (or FLOTILLA_CACHE_SECRET_ARTIFACTS=true) cache artifacts that hold
                         a Secret in Secrets of --namespace, so that a restarted agent re-applies
                         them without the hub; needs RBAC over every Secret of that namespace.
                         Default off: such artifacts stay in memory only (after a restart they
                         are fetched from the hub again)
  --max-artifact-bytes <n> (or FLOTILLA_MAX_ARTIFACT_BYTES) the largest artifact (rendered
                         manifests of one deployment) the agent accepts, in bytes (default
                         67108864, 64 MiB, as the hub's limits.render.maxBytes); a larger one is
                         refused while it downloads, the deployment reported Failed naming
                         this flag, nothing of it applied. Parsing an artifact holds ~40x
                         its size in memory: keep that under the pod's memory limit
  --max-objects <n>      (or FLOTILLA_MAX_OBJECTS) the most objects one artifact may hold
                         (default 10000, as the hub's limits.render.maxObjects); more: the
                         deployment is reported Invalid naming this flag, nothing of it applied
  --http <host:port|off> serve /metrics (Prometheus), /healthz and /readyz (503 while the
                         agent has no stream to the hub) on this address; port 0 picks a
                         free port (the "agent started" log line names the URL). No token:
                         bind to loopback or the pod's IP. Default off.
  -h, --help             this help

Logs: JSON lines on stdout (ts, level, msg, component, cluster, kind, namespace, name, error);
LOG_LEVEL=debug|info|warn|error sets the least level written (default info).`;

const logger = createLogger('agent');
const log = logFunction(logger);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      hub: { type: 'string' }, 'hub-ca': { type: 'string' }, cluster: { type: 'string' }, token: { type: 'string' }, labels: { type: 'string' },
      kubeconfig: { type: 'string' }, namespace: { type: 'string' }, 'drift-interval': { type: 'string' }, concurrent: { type: 'string' }, http: { type: 'string' },
      'keepalive-time': { type: 'string' }, 'keepalive-timeout': { type: 'string' }, 'cache-secret-artifacts': { type: 'boolean' },
      'max-artifact-bytes': { type: 'string' }, 'max-objects': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) { console.log(usage); return; }
  const env = (name: string): string | undefined => (process.env[name] === '' ? undefined : process.env[name]);
  const hub = values.hub ?? env('FLOTILLA_HUB');
  const hubCa = values['hub-ca'] ?? env('FLOTILLA_HUB_CA');
  const cluster = values.cluster ?? env('FLOTILLA_CLUSTER');
  if (!hub || !hubCa || !cluster) {
    console.error(`flotilla-agent: --hub, --hub-ca and --cluster are required\n\n${usage}`);
    process.exit(2);
  }
  const hubs = hub.split(',').map((h) => h.trim()).filter((h) => h !== '');
  const bad = hubs.find((h) => !/^.+:\d{1,5}$/.test(h));
  if (bad !== undefined || hubs.length === 0) {
    console.error(`flotilla-agent: --hub wants host:port[,host:port...], got "${hub}"`);
    process.exit(2);
  }
  let labels: Record<string, string>;
  try {
    labels = parseLabels(values.labels ?? env('FLOTILLA_LABELS') ?? '');
  } catch (err) {
    console.error(`flotilla-agent: --labels: ${err instanceof Error ? err.message : String(err)} (want k=v,k2=v2)`);
    process.exit(2);
  }
  const drift = Number(values['drift-interval'] ?? '60');
  if (!Number.isFinite(drift) || drift < 0) {
    console.error('flotilla-agent: --drift-interval must be a number of seconds >= 0');
    process.exit(2);
  }
  const concurrent = Number(values.concurrent ?? env('FLOTILLA_CONCURRENT') ?? String(DEFAULT_CONCURRENCY));
  if (!Number.isInteger(concurrent) || concurrent < 1 || concurrent > 256) {
    console.error('flotilla-agent: --concurrent must be a whole number from 1 to 256');
    process.exit(2);
  }
  const seconds = (flag: 'keepalive-time' | 'keepalive-timeout', variable: string, fallback: number): number => {
    const text = values[flag] ?? env(variable) ?? String(fallback);
    const n = Number(text);
    if (!Number.isFinite(n) || n <= 0) {
      console.error(`flotilla-agent: --${flag} must be a number of seconds > 0, got "${text}"`);
      process.exit(2);
    }
    return n;
  };
  const keepaliveTimeMs = seconds('keepalive-time', 'FLOTILLA_KEEPALIVE_TIME', DEFAULT_KEEPALIVE_TIME_MS / 1000) * 1000;
  const keepaliveTimeoutMs = seconds('keepalive-timeout', 'FLOTILLA_KEEPALIVE_TIMEOUT', DEFAULT_KEEPALIVE_TIMEOUT_MS / 1000) * 1000;
  const cacheSecretsText = env('FLOTILLA_CACHE_SECRET_ARTIFACTS') ?? 'false';
  if (!/^(true|1|yes|false|0|no)$/i.test(cacheSecretsText)) {
    console.error(`flotilla-agent: FLOTILLA_CACHE_SECRET_ARTIFACTS wants true or false, got "${cacheSecretsText}"`);
    process.exit(2);
  }
  const cacheSecretArtifacts = values['cache-secret-artifacts'] ?? /^(true|1|yes)$/i.test(cacheSecretsText);
  const count = (flag: 'max-artifact-bytes' | 'max-objects', variable: string, fallback: number): number => {
    const text = (values[flag] ?? env(variable) ?? String(fallback)).trim();
    if (!/^\d+$/.test(text)) {
      console.error(`flotilla-agent: --${flag} (or ${variable}) wants a positive integer, got "${text}"`);
      process.exit(2);
    }
    return Number(text);
  };
  const bounds = {
    maxArtifactBytes: count('max-artifact-bytes', 'FLOTILLA_MAX_ARTIFACT_BYTES', DEFAULT_AGENT_BOUNDS.maxArtifactBytes),
    maxObjects: count('max-objects', 'FLOTILLA_MAX_OBJECTS', DEFAULT_AGENT_BOUNDS.maxObjects),
  };
  const boundsProblem = agentBoundsProblem(bounds);
  if (boundsProblem !== undefined) {
    console.error(`flotilla-agent: ${boundsProblem}`);
    process.exit(2);
  }
  const kubeConfig = new KubeConfig();
  const kubeconfigFile = values.kubeconfig ?? process.env.KUBECONFIG;
  if (kubeconfigFile) kubeConfig.loadFromFile(kubeconfigFile);
  else kubeConfig.loadFromCluster();
  const httpListen = values.http ?? 'off';
  if (httpListen !== 'off' && !/^.+:\d+$/.test(httpListen)) {
    console.error(`flotilla-agent: --http must be host:port or off, got "${httpListen}"`);
    process.exit(2);
  }
  const token = values.token ?? process.env.FLOTILLA_TOKEN;
  const metrics = new AgentMetrics(cluster);
  const agent = new Agent({
    hubAddress: hubs, hubCa: readFileSync(hubCa), cluster, labels,
    ...(token ? { token } : {}), ...(values.namespace ? { namespace: values.namespace } : {}), kubeConfig, driftIntervalMs: drift * 1000, concurrency: concurrent, log, metrics,
    keepaliveTimeMs, keepaliveTimeoutMs, cacheSecretArtifacts, bounds,
  });
  let http: AgentHttp | undefined;
  if (httpListen !== 'off') http = await startAgentHttp(httpListen, { metrics, problems: () => agent.problems() });
  await agent.start();
  log('agent started', { cluster, hub: hubs.join(','), ...(http ? { http: http.url } : {}) });
  const stop = (): void => { void agent.stop().then(() => http?.close()).then(() => process.exit(0)); };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  console.error(`flotilla-agent: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
