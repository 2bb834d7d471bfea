// Test harness: one real local environment (Temporal + named clusters) per test file,
// started once in before() and always stopped in after(), even when tests fail.
import { after, before } from 'node:test';
import { DefaultLogger, NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { Client, Connection } from '@temporalio/client';
import { startEnvironment, type EnvironmentOptions, type LocalEnvironment } from '../../deploy/dev/environment.js';

export type { LocalEnvironment } from '../../deploy/dev/environment.js';
export type { KubeCluster } from '../../deploy/dev/kube-cluster.js';

/**
 * Registers before/after hooks that start and stop one environment for the calling test
 * file. Returns an accessor valid inside tests.
 */
export function useEnvironment(
  opts: EnvironmentOptions,
  hooks: { afterStart?: (env: LocalEnvironment) => Promise<void>; beforeStop?: () => Promise<void> } = {},
): () => LocalEnvironment {
  let env: LocalEnvironment | undefined;
  // One hook each way, so that whatever a file builds on the environment (a hub, agents)
  // starts after it and stops before it.
  before(async () => {
    env = await startEnvironment(opts);
    await hooks.afterStart?.(env);
  }, { timeout: 300_000 });
  after(async () => {
    try {
      await hooks.beforeStop?.();
    } finally {
      await env?.stop();
    }
  }, { timeout: 120_000 });
  return () => {
    if (!env) throw new Error('environment not started (use the accessor inside a test, after before() ran)');
    return env;
  };
}

export interface RunningWorker {
  readonly worker: Worker;
  readonly client: Client;
  readonly taskQueue: string;
  /** Resolves when the worker has shut down. */
  readonly done: Promise<void>;
  shutdown(): Promise<void>;
}

/** Starts a Temporal worker against the environment's server, plus a client for it. */
export async function startWorker(
  env: LocalEnvironment,
  opts: Omit<WorkerOptions, 'connection' | 'namespace'>,
): Promise<RunningWorker> {
  quietWorkerLogs();
  const server = env.temporalServer();
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  const worker = await Worker.create({ ...opts, connection: nativeConnection, namespace: server.namespace });
  const done = worker.run();
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection, namespace: server.namespace });
  return {
    worker,
    client,
    taskQueue: opts.taskQueue,
    done,
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
      await connection.close();
      await nativeConnection.close();
    },
  };
}

let runtimeInstalled = false;
/** The worker's lifecycle chatter at INFO drowns the output; warnings and errors remain. */
export function quietWorkerLogs(): void {
  if (runtimeInstalled) return;
  Runtime.install({ logger: new DefaultLogger('WARN') });
  runtimeInstalled = true;
}
