// A whole local environment: one etcd, one Temporal server and N named clusters.
// Tests start one per test file; `npm run dev:up` starts a long-lived one. Temporal is the
// CLI's dev server (SQLite) unless asked for the SQL one (temporal-sql.ts: PostgreSQL).
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEtcd, type Etcd } from './etcd.js';
import { startCluster, type KubeCluster } from './kube-cluster.js';
import { startTemporal, type TemporalServer } from './temporal-server.js';
import { startTemporalSql } from './temporal-sql.js';

/**
 * Which Temporal server: 'dev' is the CLI's dev server (SQLite, one process); 'postgres' the
 * server built from go.temporal.io/server on its own PostgreSQL (scripts/build-temporal-sql.sh).
 */
export type TemporalKind = 'dev' | 'postgres';

export interface EnvironmentOptions {
  /** Names of the clusters to start (DNS labels). */
  readonly clusters: readonly string[];
  /** Start a Temporal server: true or 'dev' (the default) for the dev server, 'postgres' for the SQL one, false for none. */
  readonly temporal?: boolean | TemporalKind;
  /** Serve Temporal's Web UI (default false). */
  readonly temporalUi?: boolean;
  /** Working directory; a fresh temporary one when omitted (and removed on stop). */
  readonly dir?: string;
  /** Leave processes running after this Node process exits (dev environment). */
  readonly detached?: boolean;
  /** Every cluster's --node-monitor-grace-period (see ClusterOptions); tests shorten it. */
  readonly nodeMonitorGracePeriodSeconds?: number;
}

export interface LocalEnvironment {
  readonly dir: string;
  readonly temporal: TemporalServer | undefined;
  readonly etcd: Etcd | undefined;
  readonly clusters: ReadonlyMap<string, KubeCluster>;
  /** The named cluster; throws if it was not started. */
  cluster(name: string): KubeCluster;
  /** The Temporal server; throws if it was not started. */
  temporalServer(): TemporalServer;
  stop(): Promise<void>;
}

export async function startEnvironment(opts: EnvironmentOptions): Promise<LocalEnvironment> {
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'flotilla-env-'));
  mkdirSync(dir, { recursive: true });
  const detached = opts.detached ?? false;
  const clusters = new Map<string, KubeCluster>();
  let etcd: Etcd | undefined;
  let temporal: TemporalServer | undefined;

  const stop = async (): Promise<void> => {
    await Promise.all([...clusters.values()].map((c) => c.stop()));
    await Promise.all([etcd?.stop(), temporal?.stop()]);
    if (ownDir) rmSync(dir, { recursive: true, force: true });
  };

  const kind: TemporalKind | undefined = opts.temporal === false ? undefined : opts.temporal === 'postgres' ? 'postgres' : 'dev';
  const temporalStarting: Promise<TemporalServer | undefined> = kind === 'postgres'
    ? startTemporalSql({ dir: join(dir, 'temporal'), detached })
    : kind === 'dev'
      ? startTemporal({ dir: join(dir, 'temporal'), ui: opts.temporalUi ?? false, detached })
      : Promise.resolve(undefined);
  temporalStarting.catch(() => undefined); // observed below; avoids an unhandled rejection meanwhile
  try {
    if (opts.clusters.length > 0) {
      etcd = await startEtcd(join(dir, 'etcd'), { detached });
      const endpoint = etcd.endpoint;
      const started = await Promise.allSettled(opts.clusters.map((name) =>
        startCluster({
          name, dir: join(dir, 'clusters', name), etcdEndpoint: endpoint, detached,
          nodeMonitorGracePeriodSeconds: opts.nodeMonitorGracePeriodSeconds,
        })));
      for (const result of started) if (result.status === 'fulfilled') clusters.set(result.value.name, result.value);
      const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    }
    temporal = await temporalStarting;
  } catch (err) {
    // Temporal may still be starting: let it finish so that it is stopped too.
    temporal ??= await temporalStarting.catch(() => undefined);
    await stop();
    throw err;
  }

  return {
    dir,
    temporal,
    etcd,
    clusters,
    cluster(name) {
      const c = clusters.get(name);
      if (!c) throw new Error(`cluster "${name}" is not part of this environment (have: ${[...clusters.keys()].join(', ')})`);
      return c;
    },
    temporalServer() {
      if (!temporal) throw new Error('this environment was started without Temporal');
      return temporal;
    },
    stop,
  };
}
