// A production-shaped Temporal: the Temporal server built from go.temporal.io/server with
// SQL persistence on its own PostgreSQL, instead of the CLI's single-process dev server on
// SQLite (temporal-server.ts). This is what a fleet outgrowing one machine moves to (a
// Temporal cluster on a SQL database): the hub talks to it exactly as to the dev server.
// scripts/build-temporal-sql.sh builds the server, its schema tool and the schema files, and
// makes sure PostgreSQL is installed; everything here is on loopback ports chosen at run time.
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { execFile, execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import { cacheDir, readVersions } from './binaries.js';
import { freePortsInRange } from './ports.js';
import { ManagedProcess, waitFor } from './processes.js';
import { waitForNamespace, type TemporalServer } from './temporal-server.js';

const run = promisify(execFile);

/** The OS user PostgreSQL runs as when we are root (scripts/build-temporal-sql.sh creates it). */
export const POSTGRES_USER = 'flotilla-postgres';

export interface TemporalSqlBinaries {
  readonly server: string;
  readonly sqlTool: string;
  /** schema/postgresql/v12 of the same module: temporal/ and visibility/, each with versioned/. */
  readonly schemaDir: string;
  /** Directory of initdb and postgres. */
  readonly postgresBin: string;
}

/**
 * Where the build script put the server, and where PostgreSQL is; fails with how to build
 * them when anything is missing (callers that may skip check `temporalSqlMissing()` first).
 */
export function temporalSqlBinaries(): TemporalSqlBinaries {
  const missing = temporalSqlMissing();
  if (missing !== undefined) throw new Error(missing);
  return locate();
}

/** Why the SQL Temporal cannot run here, or undefined when it can. */
export function temporalSqlMissing(): string | undefined {
  const b = locate();
  const absent = [b.server, b.sqlTool, b.schemaDir, join(b.postgresBin, 'initdb'), join(b.postgresBin, 'postgres')].filter((p) => !existsSync(p));
  if (absent.length === 0 && (process.getuid?.() !== 0 || idOf('-u') !== undefined)) return undefined;
  const what = absent.length > 0 ? `missing ${absent.join(', ')}` : `no OS user ${POSTGRES_USER} to run PostgreSQL as (it refuses to run as root)`;
  return `the SQL Temporal server is not set up (${what}). Run 'bash scripts/build-temporal-sql.sh' to build it (several minutes) and install PostgreSQL.`;
}

function locate(): TemporalSqlBinaries {
  const version = readVersions().TEMPORAL_SERVER_VERSION;
  const dir = join(cacheDir, 'bin', `temporal-server-${version}`);
  return {
    server: join(dir, 'temporal-server'),
    sqlTool: join(dir, 'temporal-sql-tool'),
    schemaDir: join(dir, 'schema', 'postgresql', 'v12'),
    postgresBin: postgresBinDir(),
  };
}

/** Debian keeps PostgreSQL's server binaries in /usr/lib/postgresql/<major>/bin (not on PATH): the newest. */
function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root) ? readdirSync(root).filter((d) => /^\d+$/.test(d)).map(Number).sort((a, b) => b - a) : [];
  for (const major of majors) {
    const dir = join(root, String(major), 'bin');
    if (existsSync(join(dir, 'postgres'))) return dir;
  }
  return '/usr/bin'; // other distributions put them on PATH
}

/** The uid or gid of POSTGRES_USER; undefined when there is no such user. */
function idOf(flag: '-u' | '-g'): number | undefined {
  // Synchronous and rare (once per start): `id` is the portable way to read the user database.
  try {
    const out = execFileSync('id', [flag, POSTGRES_USER], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return /^\d+$/.test(out) ? Number(out) : undefined;
  } catch {
    return undefined;
  }
}

/** A private PostgreSQL cluster on a loopback port. */
export interface Postgres {
  readonly port: number;
  readonly process: ManagedProcess;
  /** Fast shutdown (SIGINT: active transactions are rolled back, clients disconnected), then start again on the same data. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface SqlTemporalServer extends TemporalServer {
  readonly postgres: Postgres;
  /**
   * SIGKILL the Temporal server; with `database`, also shut PostgreSQL down (fast) and start
   * it again; then the server again on the same ports against the same databases.
   */
  restart(opts?: { readonly database?: boolean }): Promise<void>;
}

export function isSqlTemporal(server: TemporalServer): server is SqlTemporalServer {
  return 'postgres' in server;
}

export interface TemporalSqlOptions {
  readonly dir: string;
  readonly detached?: boolean;
}

// 4 history shards, as Temporal's own development configs: some parallelism in the history
// service without the per-shard overhead a 2-core machine cannot afford. The count is fixed
// when the database is created.
const HISTORY_SHARDS = 4;

export async function startTemporalSql(opts: TemporalSqlOptions): Promise<SqlTemporalServer> {
  const bins = temporalSqlBinaries();
  mkdirSync(opts.dir, { recursive: true });
  // Below 32768: Temporal's PostgreSQL schema keeps cluster members' ports in a SMALLINT
  // (cluster_membership.rpc_port), so ports from the kernel's ephemeral range fail its start.
  const ports = await freePortsInRange(11, 20_000, 32_767);
  const port = (i: number): number => {
    const p = ports[i];
    if (p === undefined) throw new Error('no free ports for Temporal');
    return p;
  };
  const postgres = await startPostgres(bins, opts, port(10));
  try {
    // 1. The two databases, created and brought to the schema version of this server by its
    //    own tool, as Temporal's docs do it: setup-schema at 0.0, then update-schema runs
    //    every versioned migration.
    await setUpDatabase(bins, postgres.port, 'temporal', join(bins.schemaDir, 'temporal', 'versioned'));
    await setUpDatabase(bins, postgres.port, 'temporal_visibility', join(bins.schemaDir, 'visibility', 'versioned'));
    // 2. The server's configuration: all four services in one process, each on its own
    //    loopback ports.
    const configFile = join(opts.dir, 'temporal-server.yaml');
    writeFileSync(configFile, serverConfig({
      postgresPort: postgres.port, frontend: port(0), frontendHttp: port(1), frontendMembership: port(2),
      history: port(3), historyMembership: port(4), matching: port(5), matchingMembership: port(6),
      worker: port(7), workerMembership: port(8), metrics: port(9),
    }));
    const address = `127.0.0.1:${port(0)}`;
    const namespace = 'default';
    const launch = (): ManagedProcess => ManagedProcess.start({
      name: 'temporal-server',
      command: bins.server,
      args: ['--config-file', configFile, '--allow-no-auth', 'start'],
      logFile: join(opts.dir, 'temporal-server.log'),
      detached: opts.detached ?? false,
    });
    let proc = launch();
    // 3. Namespace 'default', registered through the frontend's API (what `temporal operator
    //    namespace create` calls); only once: it lives in the database from then on.
    await registerNamespace(address, namespace, proc);
    const ready = (p: ManagedProcess): Promise<boolean> => waitForNamespace(address, namespace, p, 120_000);
    await ready(proc);
    return {
      address,
      namespace,
      uiUrl: undefined,
      postgres,
      get process() { return proc; },
      async stop() {
        await proc.stop();
        await postgres.stop();
      },
      async restart(restartOpts) {
        await proc.kill();
        if (restartOpts?.database === true) await postgres.restart();
        proc = launch();
        await ready(proc);
      },
    };
  } catch (err) {
    await postgres.stop();
    throw err;
  }
}

async function registerNamespace(address: string, namespace: string, proc: ManagedProcess): Promise<void> {
  await waitFor(`namespace ${namespace} registered`, async () => {
    const connection = await Connection.connect({ address, connectTimeout: 1000 });
    try {
      await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('3 days') });
      return true;
    } catch (err) {
      if (err instanceof Error && 'code' in err && err.code === 6 /* ALREADY_EXISTS */) return true;
      throw err;
    } finally {
      await connection.close();
    }
  }, { timeoutMs: 120_000, intervalMs: 500, process: proc });
}

// PostgreSQL refuses to run as root. When we are root (CI containers, this machine), initdb and
// postgres run as the unprivileged system user the build script created, through util-linux's
// setpriv (which execs, so the process we manage is postgres itself and signals reach it).
// That user cannot traverse our private temporary directories (mkdtemp makes them 0700), so
// its data directory is a fresh one under the system temporary directory, owned by it, and
// removed by stop(); the logs stay in `dir`.
async function startPostgres(bins: TemporalSqlBinaries, opts: TemporalSqlOptions, port: number): Promise<Postgres> {
  let owned: string | undefined; // the data directory's parent when we made one for POSTGRES_USER
  let asUser: string[] = []; // setpriv's arguments, when we are root
  if (process.getuid?.() === 0) {
    const uid = idOf('-u');
    const gid = idOf('-g');
    if (uid === undefined || gid === undefined) throw new Error(`no OS user ${POSTGRES_USER}: run 'bash scripts/build-temporal-sql.sh'`);
    owned = mkdtempSync(join(tmpdir(), 'flotilla-postgres-'));
    chownSync(owned, uid, gid);
    asUser = [`--reuid=${String(uid)}`, `--regid=${String(gid)}`, '--clear-groups', '--'];
  }
  const data = owned === undefined ? join(opts.dir, 'postgres') : join(owned, 'data');
  const removeOwned = (): void => { if (owned !== undefined) rmSync(owned, { recursive: true, force: true }); };
  const command = (binary: string, args: readonly string[]): { command: string; args: string[] } => {
    const path = join(bins.postgresBin, binary);
    return asUser.length > 0 ? { command: 'setpriv', args: [...asUser, path, ...args] } : { command: path, args: [...args] };
  };
  const launch = (): ManagedProcess => {
    // No Unix socket (its default directory belongs to the system's cluster): TCP on loopback only.
    const c = command('postgres', ['-D', data, '-h', '127.0.0.1', '-p', String(port), '-k', '', '-c', 'max_connections=200']);
    return ManagedProcess.start({ name: 'postgres', ...c, logFile: join(opts.dir, 'postgres.log'), detached: opts.detached ?? false });
  };
  const ready = (p: ManagedProcess): Promise<boolean> => waitFor('PostgreSQL accepting connections', async () => {
    await run(join(bins.postgresBin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres']);
    return true;
  }, { timeoutMs: 60_000, intervalMs: 200, process: p });
  let proc: ManagedProcess | undefined;
  try {
    // Trust authentication, loopback only: a private, throwaway cluster for one run.
    const init = command('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-locale', '--no-sync']);
    await run(init.command, init.args, { env: { ...process.env, LC_ALL: 'C' } });
    proc = launch();
    await ready(proc);
  } catch (err) {
    await proc?.kill();
    removeOwned();
    throw err;
  }
  let current = proc;
  return {
    port,
    get process() { return current; },
    async restart() {
      await current.stop(30_000, 'SIGINT');
      current = launch();
      await ready(current);
    },
    async stop() {
      await current.stop(30_000, 'SIGINT');
      removeOwned();
    },
  };
}

async function setUpDatabase(bins: TemporalSqlBinaries, port: number, db: string, versionedDir: string): Promise<void> {
  const base = ['--plugin', 'postgres12', '--ep', '127.0.0.1', '-p', String(port), '-u', 'postgres', '--db', db];
  for (const args of [['create-database'], ['setup-schema', '-v', '0.0'], ['update-schema', '-d', versionedDir]]) {
    try {
      await run(bins.sqlTool, [...base, ...args]);
    } catch (err) {
      const out = err instanceof Error && 'stderr' in err ? String(err.stderr) : '';
      throw new Error(`temporal-sql-tool ${args.join(' ')} (${db}) failed: ${out}`, { cause: err });
    }
  }
}

interface ServerPorts {
  readonly postgresPort: number;
  readonly frontend: number; readonly frontendHttp: number; readonly frontendMembership: number;
  readonly history: number; readonly historyMembership: number;
  readonly matching: number; readonly matchingMembership: number;
  readonly worker: number; readonly workerMembership: number;
  readonly metrics: number;
}

/** The server's configuration: config/development-postgres12.yaml of the module, on our ports. */
function serverConfig(p: ServerPorts): string {
  const store = (db: string, conns: number): string => `
      sql:
        pluginName: postgres12
        databaseName: ${db}
        connectAddr: "127.0.0.1:${String(p.postgresPort)}"
        connectProtocol: tcp
        user: postgres
        password: ""
        maxConns: ${String(conns)}
        maxIdleConns: ${String(conns)}
        maxConnLifetime: 1h`;
  const service = (grpc: number, membership: number, extra = ''): string => `
    rpc:
      grpcPort: ${String(grpc)}
      membershipPort: ${String(membership)}
      bindOnLocalHost: true${extra}`;
  return `log:
  stdout: true
  level: warn
persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  numHistoryShards: ${String(HISTORY_SHARDS)}
  datastores:
    postgres-default:${store('temporal', 20)}
    postgres-visibility:${store('temporal_visibility', 4)}
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
  metrics:
    prometheus:
      framework: tally
      timerType: histogram
      listenAddress: "127.0.0.1:${String(p.metrics)}"
services:
  frontend:${service(p.frontend, p.frontendMembership, `\n      httpPort: ${String(p.frontendHttp)}`)}
  history:${service(p.history, p.historyMembership)}
  matching:${service(p.matching, p.matchingMembership)}
  worker:${service(p.worker, p.workerMembership)}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: "127.0.0.1:${String(p.frontend)}"
dcRedirectionPolicy:
  policy: noop
`;
}
