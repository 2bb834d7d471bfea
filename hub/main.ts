#!/usr/bin/env node
// flotilla-hub: the hub process. One Temporal worker (the actors) and the agent gateway,
// with the registration store, artifact store and TLS material in one data directory.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type LogEntry } from '@temporalio/worker';
import { createLogger, logFunction } from '../core/log.js';
import { VERSION } from '../core/version.js';
import { executableOnPath } from '../activities/limited-exec.js';
import { assembleHub } from './assemble.js';
import { TaskQueueProbe, hubProblems } from './health.js';
import { dashboardRoutes } from './dashboard/routes.js';
import { objectInfoRows, rolloutPhaseRows, SnapshotCache, takeSnapshot } from './fleet-view.js';
import { apiToken, startHubApi, type HubApi, type HttpRoute } from './http-api.js';
import { HubMetrics } from './metrics.js';
import { ensureHttpTls, ensureSelfSignedTls, loadTls, type TlsMaterial } from './tls.js';
import { FileBlobStore, type BlobStore } from './blob-store.js';
import { clusterRoutes } from './cluster-api.js';
import { ConfigError, describeConfig, loadHubConfig, settingFlags, settingsTable, temporalConnectionOptions, type HubConfig } from './config.js';
import { S3BlobStore } from './s3-store.js';

const usage = `usage:
  flotilla-hub serve  [--config <file>] [settings...]   run the hub
  flotilla-hub config [--config <file>] [settings...]   print the effective settings and where each came from

serve      runs the agent gateway (gRPC over TLS), the hub's HTTP API and the Temporal workers of
           the actors. Several hubs with the same Temporal namespace and task queue and a shared
           store (store.type s3) serve one fleet together: agents may connect to any of them.
           Without grpc.tlsCertFile/tlsKeyFile a self-signed certificate is made on first start in
           <dataDir>/tls/hub.crt; give that file to agents as their --hub-ca.
           The HTTP API serves /healthz and /readyz (503 with the problems while the worker is
           not running, nothing polls the task queue, Temporal cannot be reached, the gateway is
           down or the hub is stopping), /ui/ (docs/dashboard.md), /metrics, /api/v1/info (how to
           reach this hub's Temporal: \`flotilla --hub <url>\` uses it), /api/v1/artifacts/<digest>
           and /api/v1/clusters (registration tokens, for flotilla cluster add|remove). On a
           non-loopback address everything but /healthz, /readyz and Receivers needs the bearer
           token in http.apiTokenFile. The HTTP API is HTTPS on any non-loopback address
           (http.tls.mode): with http.tls.certFile/keyFile, else grpc.tlsCertFile/tlsKeyFile,
           else a certificate the hub signs with its own CA, <dataDir>/tls/hub.crt (the file the
           \`flotilla\` command trusts with --ca-file or FLOTILLA_HUB_CA; 'hub ready' logs it as httpCa).

Settings (docs/configuration.md). Each comes from, in this order of precedence: its flag, its
environment variable, the YAML config file (--config or FLOTILLA_CONFIG; keys as below, nested:
temporal: {address: ...}), its default. They are all checked before the hub starts.
${settingsTable()}

Tokens and revocation: flotilla cluster add|remove|token create|revoke.
Logs: JSON lines on stdout (ts, level, msg, component, cluster, kind, namespace, name, error).`;

class UsageError extends Error {}

const logger = createLogger('hub');
const log = logFunction(logger);

/** The Temporal SDK's own lines (warnings and errors) go to the same JSON log. */
function temporalLog(entry: LogEntry): void {
  const level = entry.level === 'ERROR' ? 'error' : entry.level === 'WARN' ? 'warn' : entry.level === 'INFO' ? 'info' : 'debug';
  logger[level]({ ...entry.meta, source: 'temporal' }, entry.message);
}

function metricsRoute(metrics: HubMetrics, fleet: SnapshotCache): HttpRoute {
  return {
    method: 'GET', path: '/metrics', access: 'read',
    handle: async (_req, res) => {
      // The per-object and rollout gauges come from the fleet snapshot the dashboard shares.
      try {
        const snap = await fleet.get();
        metrics.setObjectInfo(objectInfoRows(snap));
        metrics.setRolloutPhases(rolloutPhaseRows(snap));
      } catch (err) {
        log('cannot read the fleet for /metrics', { error: err instanceof Error ? err.message : String(err) });
      }
      const body = await metrics.metrics();
      res.writeHead(200, { 'content-type': metrics.contentType });
      res.end(body);
    },
  };
}

/** The shared store: the data directory, or the S3 bucket (created when missing, checked for writes). */
async function openStore(config: HubConfig): Promise<BlobStore> {
  if (config.store.type === 'filesystem') return new FileBlobStore(config.dataDir);
  return S3BlobStore.open(config.store.s3, { create: true, write: true });
}

/**
 * The HTTP API's certificate (hub/config.ts httpSettings decides which), made or read before
 * anything starts so that a bad one stops the hub at once. `caFile`: what clients trust, when
 * the hub made it; `certFile`: the file it came from otherwise.
 */
async function httpTlsMaterial(config: HubConfig, gateway: TlsMaterial): Promise<(TlsMaterial & { caFile?: string; certFile?: string }) | undefined> {
  const { tls, listen, hosts } = config.http;
  if (listen === 'off' || tls.kind === 'plain') return undefined;
  if (tls.kind === 'given') return { ...loadTls(tls.certFile, tls.keyFile), certFile: tls.certFile };
  // The operator's gateway certificate serves both ports (hub replicas must share one).
  if (config.grpc.tls) return { ...gateway, certFile: config.grpc.tls.certFile };
  const listenHost = listen.slice(0, listen.lastIndexOf(':'));
  return ensureHttpTls(join(config.dataDir, 'tls'), [listenHost, ...hosts, ...config.grpc.hosts], config.grpc.hosts);
}

/**
 * The kustomize and helm the engines run: tools.* when set (the hub image sets both), else the
 * ones on PATH. A missing one is reported now and again when first needed (the engines fail
 * to run it), not refused: a hub without HelmReleases needs no helm.
 */
function engineTools(config: HubConfig): { kustomizeBin: string; helmBin: string } {
  const find = (name: 'kustomize' | 'helm', key: string, variable: string): string => {
    const found = config.tools[name] ?? executableOnPath(name);
    if (found !== undefined) return found;
    log(`no ${name} on PATH: set ${key} (${variable}, --${name}) to run ${name === 'helm' ? 'HelmReleases' : 'Kustomizations'}`, {}, 'warn');
    return name;
  };
  return { kustomizeBin: find('kustomize', 'tools.kustomize', 'FLOTILLA_KUSTOMIZE'), helmBin: find('helm', 'tools.helm', 'FLOTILLA_HELM') };
}

async function serve(config: HubConfig): Promise<void> {
  logger.level = config.log.level;
  const tools = engineTools(config);
  const { dataDir, temporal } = config;
  const tls = config.grpc.tls ? loadTls(config.grpc.tls.certFile, config.grpc.tls.keyFile) : await ensureSelfSignedTls(join(dataDir, 'tls'), config.grpc.hosts);
  const httpTls = await httpTlsMaterial(config, tls);
  const store = await openStore(config);

  Runtime.install({ logger: new DefaultLogger('WARN', temporalLog) });
  const options = temporalConnectionOptions(temporal);
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...options, connectTimeout: '10s' });
  } catch (err) {
    throw new Error(`cannot reach Temporal at ${temporal.address} (temporal.address${temporal.tls ? ', temporal.tls.*' : ''}${temporal.apiKey ? ', FLOTILLA_TEMPORAL_API_KEY' : ''}): ${err instanceof Error ? err.message : String(err)}`);
  }
  const client = new Client({ connection, namespace: temporal.namespace });
  const metrics = new HubMetrics();
  const hub = await assembleHub({
    connection: await NativeConnection.connect(options), client, namespace: temporal.namespace, taskQueue: temporal.taskQueue, dataDir, store,
    heartbeatIntervalSeconds: config.grpc.heartbeatSeconds, log, metrics, maxConcurrentActivities: config.limits.maxConcurrentActivities,
    tenancy: config.tenancy,
    renderLimits: config.limits.render,
    tools,
    sourcePolicy: config.sourcePolicy,
    transport: {
      keepaliveTimeMs: config.grpc.keepaliveTimeSeconds * 1000, keepaliveTimeoutMs: config.grpc.keepaliveTimeoutSeconds * 1000,
      minPingIntervalMs: config.grpc.minPingIntervalSeconds * 1000, maxReceiveMessageBytes: config.grpc.maxReceiveMessageBytes,
      maxStreamsPerCluster: config.grpc.maxStreamsPerCluster,
    },
    ...(config.hubId !== undefined ? { hubId: config.hubId } : {}),
  });
  const { worker, deliveryWorker, gateway } = hub;
  let stopping = false;
  const probe = new TaskQueueProbe(client, temporal.taskQueue);
  metrics.observeTemporal({ workerState: () => worker.getState(), pollers: () => probe.pollers() });
  const port = await gateway.listen(config.grpc.listen, tls);
  const grpc = `${config.grpc.listen.replace(/:\d+$/, '')}:${port}`;
  const ui = temporal.uiUrl;
  let api: HubApi | undefined;
  const tokenFile = config.http.apiTokenFile;
  const { declarations } = hub;
  const fleet = new SnapshotCache(() => takeSnapshot(declarations));
  if (config.http.listen !== 'off') {
    try {
      api = await startHubApi(config.http.listen, {
        info: { version: VERSION, temporal: { address: temporal.address, namespace: temporal.namespace, taskQueue: temporal.taskQueue, ...(ui ? { uiUrl: ui } : {}) }, grpc, grpcCa: tls.ca.toString('utf8') },
        artifacts: hub.artifacts, tokenFile, ...(httpTls ? { tls: httpTls } : {}),
        problems: () => hubProblems({
          workerState: () => worker.getState(), probe, temporalAddress: temporal.address,
          gatewayListening: () => gateway.listening, stopping: () => stopping,
        }),
        routes: [
          metricsRoute(metrics, fleet),
          ...hub.routes, // Receivers: POST /hook/<path>, GET /api/v1/receivers
          ...clusterRoutes(hub.registration),
          ...dashboardRoutes({
            snapshot: () => fleet.get(), declarations, token: apiToken(tokenFile), version: VERSION, namespace: temporal.namespace, ...(ui ? { temporalUi: ui } : {}),
          }),
        ],
      });
    } catch (err) {
      await gateway.stop();
      throw err;
    }
  }
  log('hub ready', {
    hubId: hub.hubId, grpc, http: api?.url, ...(api && httpTls ? { httpCa: httpTls.caFile ?? `the CA of ${httpTls.certFile}` } : {}), temporal: temporal.address, namespace: temporal.namespace, taskQueue: temporal.taskQueue,
    dataDir, store: store.location,
  });

  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log('hub stopping');
    await hub.events.close(); // sends buffered events; agents' disconnects caused by the stop are not notified
    await gateway.stop();
    await api?.close();
    // The Temporal runtime may already be shutting the workers down on the same signal.
    if (worker.getState() === 'RUNNING') worker.shutdown();
    if (deliveryWorker.getState() === 'RUNNING') deliveryWorker.shutdown();
  };
  process.once('SIGTERM', () => { void stop(); });
  process.once('SIGINT', () => { void stop(); });
  // Either worker failing stops the hub: without its own queue its agents would get no pushes.
  await Promise.all([worker.run(), deliveryWorker.run()].map((p) => p.catch(async (err: unknown) => { await stop(); throw err; })));
  await connection.close();
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: { ...settingFlags(), config: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err)); // an unknown flag, a flag without its value
  }
  const { values, positionals } = parsed;
  const [command] = positionals;
  if (values.help || command === undefined) { console.log(usage); return; }
  if (command !== 'serve' && command !== 'config') throw new UsageError(`unknown command "${positionals.join(' ')}"`);
  if (positionals.length > 1) throw new UsageError(`${command} takes no arguments, got "${positionals.slice(1).join(' ')}"`);
  const file = typeof values.config === 'string' ? values.config : process.env.FLOTILLA_CONFIG;
  const config = loadHubConfig({ flags: values, env: process.env, ...(file !== undefined && file !== '' ? { file } : {}) });
  if (command === 'config') { console.log(describeConfig(config)); return; }
  return serve(config);
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    console.error(`flotilla-hub: configuration: ${err.message}\n(flotilla-hub --help lists the settings; docs/configuration.md)`);
    process.exit(2);
  }
  if (err instanceof UsageError) {
    console.error(`flotilla-hub: ${err.message}\n\n${usage}`);
    process.exit(2);
  }
  console.error(`flotilla-hub: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
