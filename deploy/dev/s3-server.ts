// A real S3-compatible server: MinIO (built from its Go module by scripts/install-infra.sh)
// serving a directory on loopback, with random root credentials, for the hub's S3 store.
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { bin } from './binaries.js';
import { freePorts } from './ports.js';
import { ManagedProcess, waitFor } from './processes.js';

export interface S3Server {
  /** http://127.0.0.1:<port>: the S3 API, path-style. */
  readonly endpoint: string;
  /** MinIO's root user and password: full access to every bucket. */
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly region: 'us-east-1';
  readonly process: ManagedProcess;
  /** SIGTERM, then SIGKILL after a grace period. */
  stop(): Promise<void>;
}

export interface S3ServerOptions {
  /** Holds the data (dir/data), an empty TLS certificates dir (dir/certs), MinIO's HOME and the log. */
  readonly dir: string;
  /** S3 API port; a free one when not given. */
  readonly port?: number;
  readonly detached?: boolean;
}

export async function startS3Server(opts: S3ServerOptions): Promise<S3Server> {
  const [free, consolePort] = await freePorts(2);
  const port = opts.port ?? free;
  if (port === undefined || consolePort === undefined) throw new Error('no free ports for MinIO');
  const dataDir = join(opts.dir, 'data');
  const certsDir = join(opts.dir, 'certs');
  mkdirSync(dataDir, { recursive: true });
  mkdirSync(certsDir, { recursive: true });
  const accessKeyId = `flotilla-${randomBytes(6).toString('hex')}`;
  const secretAccessKey = randomBytes(24).toString('base64url');
  const proc = ManagedProcess.start({
    name: 'minio',
    command: bin('minio'),
    args: [
      'server', dataDir,
      '--address', `127.0.0.1:${port}`,
      '--console-address', `127.0.0.1:${consolePort}`,
      '--certs-dir', certsDir,
      '--quiet',
    ],
    env: {
      ...process.env,
      // MinIO makes ~/.minio (and ~/.minio/certs without --certs-dir): keep it in `dir`.
      HOME: opts.dir,
      MINIO_ROOT_USER: accessKeyId,
      MINIO_ROOT_PASSWORD: secretAccessKey,
      MINIO_BROWSER: 'off',
      MINIO_UPDATE: 'off',
      MINIO_REGION: 'us-east-1',
    },
    logFile: join(opts.dir, 'minio.log'),
    detached: opts.detached ?? false,
  });
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitFor('MinIO /minio/health/ready', async () => {
      const response = await fetch(`${endpoint}/minio/health/ready`, { signal: AbortSignal.timeout(2000) });
      await response.arrayBuffer();
      return response.status === 200 ? true : undefined;
    }, { timeoutMs: 60_000, intervalMs: 200, process: proc });
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return {
    endpoint,
    accessKeyId,
    secretAccessKey,
    region: 'us-east-1',
    process: proc,
    stop: () => proc.stop(),
  };
}
