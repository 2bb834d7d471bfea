#!/usr/bin/env node
// flotilla-hub: the hub process. One Temporal worker (the actors) and the agent gateway,
// with the registration store, artifact store and TLS material in one data directory.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type LogEntry } from '@temporalio/worker';
import { createLogger, logFunction } from '../core/log.js';
import { VERSION } from '../core/version.js';
import { assembleHub } from './assemble.js';
import { TaskQueueProbe, hubProblems } from './health.js';
import { dashboardRoutes } from './dashboard/routes.js';
import { objectInfoRows, rolloutPhaseRows, SnapshotCache, takeSnapshot } from './fleet-view.js';
import { apiToken, startHubApi, type HubApi, type HttpRoute } from './http-api.js';
import { HubMetrics } from './metrics.js';
import { ensureSelfSignedTls, loadTls } from './tls.js';

const usage = `usage:
  flotilla-hub serve --data-dir <dir> [--listen 127.0.0.1:7443] [--temporal 127.0.0.1:7233]
                     [--namespace default] [--task-queue flotilla-hub] [--heartbeat 10]
                     [--tls-cert <file> --tls-key <file>] [--host <name>...]
                     [--http 127.0.0.1:7480|off] [--temporal-ui <url>]

serve      runs the agent gateway (gRPC over TLS) and the Temporal worker of the actors.
           Without --tls-cert/--tls-key a self-signed certificate is made on first start in
           <data-dir>/tls/hub.crt; give that file to agents as their --hub-ca.
--http     the hub's HTTP API: /healthz and /readyz (503 with the problems while the worker
           is not running, nothing polls the task queue, Temporal cannot be reached, the gateway
           is down or the hub is stopping), /ui/ (the dashboard: docs/dashboard.md),
           /metrics (Prometheus), /api/v1/info (how to reach
           this hub's Temporal: \`flotilla --hub <url>\` uses it) and /api/v1/artifacts/<digest>.
           On a non-loopback address the dashboard, /metrics and every /api/ call need the
           bearer token in <data-dir>/api-token; the dashboard's actions always do.
           Default 127.0.0.1:7480.
--temporal-ui  the Temporal Web UI's URL, for links printed by flotilla history.
Tokens and revocation: flotilla cluster token create|revoke --hub-data <data-dir>.
Logs: JSON lines on stdout (ts, level, msg, component, cluster, kind, namespace, name, error);
LOG_LEVEL=debug|info|warn|error sets the least level written (default info).`;

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

async function serve(values: Record<string, string | boolean | string[] | undefined>): Promise<void> {
  const dataDir = requireString(values['data-dir'], '--data-dir');
  const hosts = Array.isArray(values.host) ? values.host : [];
  const tls = typeof values['tls-cert'] === 'string' && typeof values['tls-key'] === 'string'
    ? loadTls(values['tls-cert'], values['tls-key'])
    : await ensureSelfSignedTls(join(dataDir, 'tls'), hosts);
  const address = typeof values.temporal === 'string' ? values.temporal : '127.0.0.1:7233';
  const namespace = typeof values.namespace === 'string' ? values.namespace : 'default';
  const taskQueue = typeof values['task-queue'] === 'string' ? values['task-queue'] : 'flotilla-hub';
  const heartbeat = Number(typeof values.heartbeat === 'string' ? values.heartbeat : '10');
  if (!Number.isInteger(heartbeat) || heartbeat < 1) throw new UsageError('--heartbeat must be a whole number of seconds >= 1');

  Runtime.install({ logger: new DefaultLogger('WARN', temporalLog) });
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace });
  const metrics = new HubMetrics();
  const hub = await assembleHub({
    connection: await NativeConnection.connect({ address }), client, namespace, taskQueue, dataDir,
    heartbeatIntervalSeconds: heartbeat, log, metrics,
  });
  const { worker, gateway } = hub;
  let stopping = false;
  const probe = new TaskQueueProbe(client, taskQueue);
  metrics.observeTemporal({ workerState: () => worker.getState(), pollers: () => probe.pollers() });
  const listen = typeof values.listen === 'string' ? values.listen : '127.0.0.1:7443';
  const port = await gateway.listen(listen, tls);
  const grpc = `${listen.replace(/:\d+$/, '')}:${port}`;
  const httpListen = typeof values.http === 'string' ? values.http : '127.0.0.1:7480';
  const ui = typeof values['temporal-ui'] === 'string' ? values['temporal-ui'] : undefined;
  let api: HubApi | undefined;
  const tokenFile = join(dataDir, 'api-token');
  const { declarations } = hub;
  const fleet = new SnapshotCache(() => takeSnapshot(declarations));
  if (httpListen !== 'off') {
    try {
      api = await startHubApi(httpListen, {
        info: { version: VERSION, temporal: { address, namespace, taskQueue, ...(ui ? { uiUrl: ui } : {}) }, grpc },
        artifacts: hub.artifacts, tokenFile,
        problems: () => hubProblems({
          workerState: () => worker.getState(), probe, temporalAddress: address,
          gatewayListening: () => gateway.listening, stopping: () => stopping,
        }),
        routes: [
          metricsRoute(metrics, fleet),
          ...hub.routes, // Receivers: POST /hook/<path>, GET /api/v1/receivers
          ...dashboardRoutes({
            snapshot: () => fleet.get(), declarations, token: apiToken(tokenFile), version: VERSION, namespace, ...(ui ? { temporalUi: ui } : {}),
          }),
        ],
      });
    } catch (err) {
      await gateway.stop();
      throw err;
    }
  }
  log('hub ready', { grpc, http: api?.url, temporal: address, namespace, taskQueue, dataDir });

  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log('hub stopping');
    await hub.events.close(); // sends buffered events; agents' disconnects caused by the stop are not notified
    await gateway.stop();
    await api?.close();
    // The Temporal runtime may already be shutting the worker down on the same signal.
    if (worker.getState() === 'RUNNING') worker.shutdown();
  };
  process.once('SIGTERM', () => { void stop(); });
  process.once('SIGINT', () => { void stop(); });
  await worker.run();
  await connection.close();
}

function requireString(value: unknown, flag: string): string {
  if (typeof value !== 'string' || value === '') throw new UsageError(`${flag} is required`);
  return value;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      'data-dir': { type: 'string' }, listen: { type: 'string' }, temporal: { type: 'string' },
      namespace: { type: 'string' }, 'task-queue': { type: 'string' }, heartbeat: { type: 'string' },
      'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, host: { type: 'string', multiple: true },
      http: { type: 'string' }, 'temporal-ui': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command] = positionals;
  if (values.help || command === undefined) { console.log(usage); return; }
  if (command === 'serve') return serve(values);
  throw new UsageError(`unknown command "${positionals.join(' ')}"`);
}

main().catch((err: unknown) => {
  if (err instanceof UsageError) {
    console.error(`flotilla-hub: ${err.message}\n\n${usage}`);
    process.exit(2);
  }
  console.error(`flotilla-hub: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
