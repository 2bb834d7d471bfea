// A real Temporal server: the CLI's dev server (single node, SQLite), on loopback ports
// chosen at run time. temporal-sql.ts runs the production shape (SQL persistence) behind the
// same TemporalServer interface.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { bin } from './binaries.js';
import { freePorts } from './ports.js';
import { ManagedProcess, waitFor } from './processes.js';

export interface TemporalServer {
  /** host:port of the frontend gRPC service. */
  readonly address: string;
  readonly namespace: string;
  /** Web UI URL, when started with the UI. */
  readonly uiUrl: string | undefined;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
  /**
   * SIGKILL, then the same server again: same ports, same SQLite file (what was durable
   * survives, clients reconnect to the same address). For tests of a Temporal outage.
   */
  restart(): Promise<void>;
}

export interface TemporalOptions {
  readonly dir: string;
  readonly ui?: boolean;
  readonly detached?: boolean;
}

export async function startTemporal(opts: TemporalOptions): Promise<TemporalServer> {
  const [port, uiPort, httpPort, metricsPort] = await freePorts(4);
  if (port === undefined || uiPort === undefined || httpPort === undefined || metricsPort === undefined) {
    throw new Error('no free ports for Temporal');
  }
  mkdirSync(opts.dir, { recursive: true });
  const namespace = 'default';
  const args = [
    'server', 'start-dev',
    '--ip', '127.0.0.1',
    '--port', String(port),
    '--http-port', String(httpPort),
    '--metrics-port', String(metricsPort),
    '--db-filename', join(opts.dir, 'temporal.db'),
    '--namespace', namespace,
    '--log-level', 'warn',
  ];
  if (opts.ui) args.push('--ui-port', String(uiPort), '--ui-ip', '127.0.0.1', '--ui-disable-news-fetch');
  else args.push('--headless');
  const launch = (): ManagedProcess => ManagedProcess.start({
    name: 'temporal',
    command: bin('temporal'),
    args,
    logFile: join(opts.dir, 'temporal.log'),
    detached: opts.detached ?? false,
  });
  const address = `127.0.0.1:${port}`;
  const ready = (p: ManagedProcess): Promise<boolean> => waitForNamespace(address, namespace, p, 60_000);
  let proc = launch();
  await ready(proc);
  return {
    address,
    namespace,
    uiUrl: opts.ui ? `http://127.0.0.1:${uiPort}` : undefined,
    get process() { return proc; },
    stop: () => proc.stop(),
    async restart() {
      await proc.kill();
      proc = launch();
      await ready(proc);
    },
  };
}

/** Waits until the frontend at `address` answers for `namespace` (or `server` exits). */
export function waitForNamespace(address: string, namespace: string, server: ManagedProcess, timeoutMs: number): Promise<boolean> {
  return waitFor('Temporal frontend and namespace', async () => {
    const connection = await Connection.connect({ address, connectTimeout: 1000 });
    try {
      await connection.workflowService.describeNamespace({ namespace });
      return true;
    } finally {
      await connection.close();
    }
  }, { timeoutMs, intervalMs: 300, process: server });
}
