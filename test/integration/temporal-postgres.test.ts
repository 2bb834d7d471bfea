// Flotilla on a production-shaped Temporal: the server built from go.temporal.io/server with
// PostgreSQL persistence (deploy/dev/temporal-sql.ts), not the CLI's dev server. What a fleet
// that outgrows one machine moves to; the hub, agent and CLI are unchanged. Proves that a
// GitRepository + Kustomization deploy through it, and that its state is durable in
// PostgreSQL: after the Temporal server is SIGKILLed and PostgreSQL is restarted, the same
// workflow runs carry on and a new commit still deploys.
// Skipped, saying how to build it, when scripts/build-temporal-sql.sh has not been run.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { ClusterClient } from '../../agents/apply/cluster-client.js';
import { isSqlTemporal, temporalSqlBinaries, temporalSqlMissing, type Postgres } from '../../deploy/dev/temporal-sql.js';
import { useFleet } from '../harness/fleet.js';
import { configMap, GitRepo } from '../harness/git.js';

const CLUSTER = 'pg';
const SOURCE_ID = 'gitrepository/flux-system/fleet';
const KUSTOMIZATION_ID = 'kustomization/flux-system/web';

const missing = temporalSqlMissing();
if (missing !== undefined) {
  it('Flotilla on a PostgreSQL-backed Temporal server', { skip: missing }, () => undefined);
} else {
  suite();
}

function suite(): void {
  const { env, fleet, dir } = useFleet({ [CLUSTER]: { env: 'pg' } }, 'flotilla-temporal-pg-', { temporal: 'postgres' });
  const state: { repo?: GitRepo } = {};
  const repo = (): GitRepo => (state.repo ??= new GitRepo(join(dir(), 'fleet')));

  async function webConfig(): Promise<Record<string, string> | undefined> {
    const cm = await new ClusterClient(env().cluster(CLUSTER).kubeConfig()).get({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'web', namespace: 'web' } });
    const data = cm?.data;
    return data !== null && typeof data === 'object' ? Object.fromEntries(Object.entries(data).map(([k, v]) => [k, String(v)])) : undefined;
  }

  /** Rows of a table of the temporal database, read with psql: the state is in PostgreSQL itself. */
  async function rowCount(postgres: Postgres, table: string): Promise<number> {
    const { stdout } = await promisify(execFile)(join(temporalSqlBinaries().postgresBin, 'psql'), [
      '-h', '127.0.0.1', '-p', String(postgres.port), '-U', 'postgres', '-d', 'temporal', '-tAc', `SELECT count(*) FROM ${table}`,
    ]);
    return Number(stdout.trim());
  }

  async function reconcile(): Promise<void> {
    const r = await fleet().cli('reconcile', 'kustomization', 'web', '--with-source');
    assert.equal(r.code, 0, r.stderr);
  }

  describe('Flotilla on a PostgreSQL-backed Temporal server', () => {
    let first = '';

    it('runs on the SQL server, and a GitRepository + Kustomization deploy through it', async () => {
      const temporal = env().temporalServer();
      assert.ok(isSqlTemporal(temporal), 'the environment runs the PostgreSQL-backed server');
      repo().writeObjects('web/namespace.yaml', [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'web' } }])
        .writeObjects('web/config.yaml', [configMap('web', 'web', { v: '1' })]);
      first = repo().commit('web v1');
      const file = join(dir(), 'declarations.yaml');
      writeFileSync(file, [
        { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'fleet', namespace: 'flux-system' }, spec: { url: repo().url, interval: '10m', ref: { branch: 'main' } } },
        { apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name: 'web', namespace: 'flux-system' }, spec: { interval: '10m', prune: true, path: './web', sourceRef: { kind: 'GitRepository', name: 'fleet' } } },
      ].map((o) => stringify(o)).join('---\n'));
      const applied = await fleet().cli('apply', '-f', file);
      assert.equal(applied.code, 0, applied.stderr);
      await reconcile();
      await fleet().waitForReadyAt(KUSTOMIZATION_ID, `main@sha1:${first}`);
      assert.deepEqual(await webConfig(), { v: '1' });
      // The hub's actors (a cluster, the source, the Kustomization at least) are rows in PostgreSQL.
      assert.ok(await rowCount(temporal.postgres, 'current_executions') >= 3, 'workflow executions stored in PostgreSQL');
    });

    it('survives the Temporal server SIGKILLed and PostgreSQL restarted: the same runs carry on, a new commit deploys', async () => {
      const temporal = env().temporalServer();
      assert.ok(isSqlTemporal(temporal));
      const workflows = fleet().client.workflow;
      const before = new Map<string, { runId: string; historyLength: number }>();
      for (const id of [SOURCE_ID, KUSTOMIZATION_ID]) {
        const d = await workflows.getHandle(id).describe();
        before.set(id, { runId: d.runId, historyLength: d.historyLength });
      }
      const postgresPid = temporal.postgres.process.pid;
      const serverPid = temporal.process.pid;

      await temporal.restart({ database: true });
      assert.notEqual(temporal.postgres.process.pid, postgresPid, 'PostgreSQL is a new process');
      assert.notEqual(temporal.process.pid, serverPid, 'the Temporal server is a new process');

      // The earlier workflows, as PostgreSQL kept them: the same runs, their histories whole,
      // their state (the Kustomization's last applied revision) as before the crash.
      for (const [id, b] of before) {
        const d = await workflows.getHandle(id).describe();
        assert.equal(d.runId, b.runId, `${id}: the same run`);
        assert.ok(d.historyLength >= b.historyLength, `${id}: history kept (${String(d.historyLength)} >= ${String(b.historyLength)} events)`);
        assert.equal(d.status.name, 'RUNNING', `${id} running`);
      }
      assert.equal((await fleet().kustomization(KUSTOMIZATION_ID)).lastAppliedRevision, `main@sha1:${first}`);

      repo().writeObjects('web/config.yaml', [configMap('web', 'web', { v: '2' })]);
      const second = repo().commit('web v2');
      await reconcile();
      const s = await fleet().waitForReadyAt(KUSTOMIZATION_ID, `main@sha1:${second}`);
      assert.equal(s.lastAttemptedRevision, `main@sha1:${second}`);
      assert.deepEqual(await webConfig(), { v: '2' });
    });
  });
}
