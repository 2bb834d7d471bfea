// One real etcd on loopback. Several local clusters share it through distinct
// --etcd-prefix values, which saves a process and its memory per cluster.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { bin } from './binaries.js';
import { freePorts } from './ports.js';
import { ManagedProcess, waitFor } from './processes.js';

export interface Etcd {
  readonly endpoint: string;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

export async function startEtcd(dir: string, opts: { detached?: boolean } = {}): Promise<Etcd> {
  const [clientPort, peerPort] = await freePorts(2);
  if (clientPort === undefined || peerPort === undefined) throw new Error('no free ports for etcd');
  mkdirSync(dir, { recursive: true });
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const proc = ManagedProcess.start({
    name: 'etcd',
    command: bin('etcd'),
    args: [
      '--name=flotilla',
      `--data-dir=${join(dir, 'data')}`,
      `--listen-client-urls=${client}`,
      `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=flotilla=${peer}`,
      '--logger=zap',
      '--log-level=warn',
      // Test data is disposable; 2 GiB keeps a long dev session from hitting the default quota.
      '--quota-backend-bytes=2147483648',
    ],
    logFile: join(dir, 'etcd.log'),
    detached: opts.detached ?? false,
  });
  await waitFor('etcd /health', async () => {
    const res = await fetch(`${client}/health`);
    const body = (await res.json()) as { health?: string };
    return body.health === 'true' ? true : undefined;
  }, { timeoutMs: 30_000, process: proc });
  return { endpoint: client, process: proc, stop: () => proc.stop() };
}
