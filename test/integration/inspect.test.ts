// The operator's questions, answered from real histories: `flotilla history`, `events`,
// `get all`, `trace`, `explain` and `check` on a fleet of two real clusters (hub and agents as
// processes, a real Temporal), through a rollout with an approval gate and one that fails and
// rolls back. Golden files hold their output with the unstable fields (times, hashes, ids,
// widths) normalized; FLOTILLA_UPDATE_GOLDEN=1 rewrites them.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { specSignal } from '../../api/actor.js';
import { KUSTOMIZATION_WORKFLOW_TYPE, type KustomizationWorkflow } from '../../api/kustomization.js';
import type { RolloutStatus } from '../../api/rollout.js';
import type { ActorDeclaration } from '../../core/declarations/types.js';
import { parseDeclarationObject } from '../../core/declarations/parse.js';
import { waitFor } from '../../deploy/dev/processes.js';
import { appObjects, devProdRollout, fleetSource } from '../harness/apps.js';
import { TASK_QUEUE, useFleet } from '../harness/fleet.js';
import { GitRepo } from '../harness/git.js';
import { golden } from '../harness/golden.js';

const { fleet, dir } = useFleet({ dev: { env: 'dev' }, prod: { env: 'prod' } }, 'flotilla-inspect-');
const ID = 'kustomization/flux-system/app';
const state: { repo?: GitRepo } = {};

function repo(): GitRepo {
  state.repo ??= new GitRepo(join(dir(), 'fleet'));
  return state.repo;
}

function writeApp(version: string, broken = false): string {
  const [ns, deployment] = appObjects('app', version, broken);
  repo().writeObjects('app/app.yaml', [ns ?? {}, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'app-config', namespace: 'app' }, data: { version } }, deployment ?? {}]);
  return repo().commit(`app ${version}${broken ? ' (broken)' : ''}`);
}

/** Times, hashes, run ids, client identities and column widths vary from run to run. */
export function normalize(text: string): string {
  return text
    .replace(/\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?Z/g, '<time>')
    .replace(/sha1:[0-9a-f]{8,40}/g, 'sha1:<commit>')
    .replace(/sha256:[0-9a-f]{12,64}/g, 'sha256:<digest>')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<run>')
    .replace(/\b\d+@[\w.-]+/g, '<client>')
    .replace(/\b\d+(d|h|m|s)(\d+(h|m|s))?\b/g, '<age>')
    .replace(/ \(in <age>\)/g, '')
    .replace(/http:\/\/127\.0\.0\.1:\d+/g, 'http://<hub>')
    .replace(/\/tmp\/flotilla-inspect-\w+/g, '<dir>')
    .replace(/-[a-z0-9]{8,10}-[a-z0-9]{5}\b/g, '-<pod>')
    .replace(/generation \d+/g, 'generation <n>')
    .replace(/[ \t]+/g, ' ')
    .split('\n').map((l) => l.trimEnd())
    // The same line twice in a row is a re-report (drift check); how many is timing.
    .filter((l, i, all) => l !== all[i - 1])
    // The declaration's own Ready line depends on whether its first reconcile beat the source.
    .filter((l) => !/^ - kustomization\/.*: Ready=/.test(l))
    .join('\n');
}

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return fleet().cli(...args);
}

async function rollout(): Promise<RolloutStatus | undefined> {
  return fleet().declarations.rolloutStatus(ID);
}

async function waitForRollout(commit: string, done: (s: RolloutStatus) => boolean, what: string): Promise<RolloutStatus> {
  return waitFor(`rollout of ${commit.slice(0, 7)}: ${what}`, async () => {
    const s = await rollout().catch(() => undefined);
    return s && s.revision.endsWith(commit) && done(s) ? s : undefined;
  }, { timeoutMs: 150_000, intervalMs: 300 });
}

describe('history, trace, explain and the fleet at a glance', () => {
  const commits: string[] = [];

  it('applies a fleet: an app rolled out dev → prod with an approval gate, and one dev-only app', async () => {
    repo().writeObjects('devonly/cm.yaml', [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'devonly', namespace: 'default' }, data: { a: '1' } }]);
    commits.push(writeApp('1.0.0'));
    const objects = [
      fleetSource(repo().url),
      devProdRollout('app', '1s'),
      {
        apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name: 'devonly', namespace: 'flux-system' },
        spec: { interval: '10m', prune: true, sourceRef: { kind: 'GitRepository', name: 'fleet' }, path: './devonly', placement: { clusterSelector: { matchLabels: { env: 'dev' } } } },
      },
    ];
    const file = join(dir(), 'fleet.yaml');
    writeFileSync(file, objects.map((x) => stringify(x)).join('---\n'));
    const r = await cli('apply', '-f', file);
    assert.equal(r.code, 0, r.stderr);
    await waitForRollout(commits[0] ?? '', (s) => s.phase === 'WaitingApproval', 'waiting for approval of prod');
  });

  it('explain says prod is held at the approval gate, and dev is up to date', async () => {
    const prod = await cli('explain', 'kustomization/app', '--cluster', 'prod');
    assert.equal(prod.code, 1, 'not up to date: exit 1');
    assert.match(prod.stdout, /waits for approval of wave prod/);
    golden('explain-waiting-approval.txt', `${normalize(prod.stdout)}\n`);
    const dev = await cli('explain', 'kustomization/app', '--cluster', 'dev');
    assert.equal(dev.code, 0, dev.stdout + dev.stderr);
    assert.match(dev.stdout, /dev runs the latest revision main@sha1:[0-9a-f]{8} and it was healthy at the agent's last report \(generation \d+, READY, .*health checks on\)/);
    const notPlaced = await cli('explain', 'kustomization/devonly', '--cluster', 'prod');
    assert.equal(notPlaced.code, 1);
    assert.match(notPlaced.stdout, /not placed on prod: its placement selects clusters matching env=dev, and prod has env=prod/);
    const unknown = await cli('explain', 'kustomization/app', '--cluster', 'nowhere');
    assert.match(unknown.stdout, /nowhere is not a registered cluster/);
  });

  it('get all shows clusters, sources, per-cluster readiness and the rollout in progress', async () => {
    const r = await cli('get', 'all');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ROLLOUTS IN PROGRESS[\s\S]*kustomization\/flux-system\/app .* WaitingApproval .* prod \(2\/2\)/);
    golden('get-all-waiting.txt', `${normalize(r.stdout)}\n`);
    const json = JSON.parse((await cli('get', 'all', '-o', 'json')).stdout) as { clusters: { name: string; connection: string }[] };
    assert.deepEqual(json.clusters.map((c) => `${c.name}:${c.connection}`), ['dev:Connected', 'prod:Connected']);
  });

  it('get -o json|yaml prints declarations as Kubernetes does: a List, spec with Flux names, RFC 3339 times', async () => {
    const rfc3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
    interface Obj {
      apiVersion: string; kind: string; metadata: { name: string; namespace: string; generation: number };
      spec: Record<string, unknown>;
      status: { observedGeneration: number; conditions: { type: string; status: string; lastTransitionTime: string }[]; clusters: { cluster: string; updatedAt?: string }[] };
    }
    const r = await cli('get', 'ks', '-o', 'json');
    assert.equal(r.code, 0, r.stderr);
    const list = JSON.parse(r.stdout) as { apiVersion: string; kind: string; items: Obj[] };
    assert.equal(list.apiVersion, 'v1');
    assert.equal(list.kind, 'List');
    assert.deepEqual(list.items.map((i) => `${i.apiVersion} ${i.kind} ${i.metadata.namespace}/${i.metadata.name}`).sort(),
      ['kustomize.toolkit.fluxcd.io/v1 Kustomization flux-system/app', 'kustomize.toolkit.fluxcd.io/v1 Kustomization flux-system/devonly']);
    // jq '.items[].status.conditions[] | select(.type=="Ready")'
    const ready = list.items.flatMap((i) => i.status.conditions).filter((c) => c.type === 'Ready');
    assert.equal(ready.length, 2);
    for (const c of ready) assert.match(c.lastTransitionTime, rfc3339);
    const app = list.items.find((i) => i.metadata.name === 'app');
    assert.ok(app);
    assert.equal(app.metadata.generation, app.status.observedGeneration);
    assert.equal(app.spec.prune, true);
    assert.match(String(app.spec.interval), /^\d+[hms]/);
    // A cluster not reported on yet (prod, behind the approval gate) has no updatedAt: an unset time is left out.
    assert.ok(app.status.clusters.some((c) => c.updatedAt !== undefined), JSON.stringify(app.status.clusters));
    assert.ok(app.status.clusters.every((c) => c.updatedAt === undefined || rfc3339.test(c.updatedAt)), JSON.stringify(app.status.clusters));
    // One named object alone, in YAML with quoted times.
    const one = await cli('get', 'ks', 'app', '-o', 'yaml');
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /^apiVersion: kustomize\.toolkit\.fluxcd\.io\/v1\nkind: Kustomization\nmetadata:\n {2}name: app\n/);
    assert.match(one.stdout, /^ {6}lastTransitionTime: "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"$/m);
    const missing = await cli('get', 'ks', 'nothing', '-o', 'json');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Kustomization nothing not found in namespace flux-system/);
    const all = JSON.parse((await cli('get', 'all', '-o', 'json')).stdout) as { declarations: Obj[] };
    assert.ok(all.declarations.length >= 3 && all.declarations.every((d) => typeof d.apiVersion === 'string' && typeof d.metadata.name === 'string'));
  });

  it('approve from the CLI; history names who approved, and the rollout finishes', async () => {
    const a = await cli('rollout', 'approve', 'kustomization', 'app', '--reason', 'dev looks good');
    assert.equal(a.code, 0, a.stderr);
    await waitForRollout(commits[0] ?? '', (s) => s.phase === 'Succeeded', 'succeeded');
    const h = await cli('history', 'kustomization/app');
    assert.equal(h.code, 0, h.stderr);
    assert.match(h.stdout, /ApproveRequested .* approve requested: dev looks good \(by /);
    assert.match(h.stdout, /Approved/);
  });

  it('a broken version fails in dev and is rolled back; history, explain and events tell it', async () => {
    commits.push(writeApp('2.0.0', true));
    const r = await cli('reconcile', 'kustomization', 'app', '--with-source');
    assert.equal(r.code, 1, 'a failed rollout is not Ready');
    await waitForRollout(commits[1] ?? '', (s) => s.phase === 'RolledBack', 'rolled back');
    const dev = await cli('explain', 'kustomization/app', '--cluster', 'dev');
    assert.equal(dev.code, 1);
    assert.match(dev.stdout, /the rollout of main@sha1:[0-9a-f]{8} failed and was rolled back, so dev stays at main@sha1:[0-9a-f]{8}/);
    golden('explain-rolled-back.txt', `${normalize(dev.stdout)}\n`);

    const h = await cli('history', 'kustomization/app', '--cluster', 'dev');
    assert.equal(h.code, 0, h.stderr);
    for (const type of ['NewArtifact', 'Built', 'ClusterUpdateFailed', 'RollbackStarted', 'ClusterRolledBack', 'RolloutFinished']) {
      assert.match(h.stdout, new RegExp(`\\b${type}\\b`), `history shows ${type}`);
    }
    // No row about prod (fleet-wide rows, such as the rollout's plan naming its waves, stay).
    assert.ok(!/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\s+prod\s/m.test(h.stdout), '--cluster dev leaves prod out');
    assert.match(h.stdout, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\s+dev\s+Applied\s/m, 'and keeps dev\'s rows');
    // (The golden timelines are in test/unit/history.test.ts, on recorded histories: here the
    // order of entries from concurrent clusters varies from run to run.)

    const json = JSON.parse((await cli('history', 'kustomization/app', '--revision', commits[1]?.slice(0, 8) ?? '', '-o', 'json')).stdout) as { entries: { type: string; revision?: string }[] };
    assert.ok(json.entries.length > 0 && json.entries.every((e) => e.revision?.includes(commits[1]?.slice(0, 8) ?? '-')));

    const ev = await cli('events', '--for', 'kustomization/app', '--since', '1h');
    assert.equal(ev.code, 0, ev.stderr);
    assert.match(ev.stdout, /kustomization\/app .* RollbackFinished/);
  });

  it('trace finds the declaration that delivers an object, and its state on the cluster', async () => {
    const t = await cli('trace', 'deployment/app', '-n', 'app', '--cluster', 'prod');
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /managed by: +kustomization\/flux-system\/app/);
    golden('trace-deployment.txt', `${normalize(t.stdout)}\n`);
    const missing = await cli('trace', 'deployment/nothing', '--cluster', 'prod');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no Kustomization or HelmRelease placed on prod delivers deployment\/nothing/);
  });

  it('the CLI finds Temporal through the hub API (--hub) and check verifies hub, worker and agents', async () => {
    const r = await fleet().cliVia(['--hub', fleet().hubUrl, 'check']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /✔ hub worker: task queue flotilla-hub: \d+ workflow and \d+ activity pollers/);
    assert.match(r.stdout, /✔ agent prod: Connected/);
    await fleet().agents.get('prod')?.stop();
    await waitFor('prod disconnected', async () => ((await fleet().declarations.clusters()).find((c) => c.name === 'prod')?.connection !== 'Connected' ? true : undefined), { timeoutMs: 30_000 });
    const down = await fleet().cliVia(['--hub', fleet().hubUrl, 'check']);
    assert.equal(down.code, 1);
    assert.match(down.stdout, /✗ agent prod: (Disconnected|Unreachable)/);
    const nowhere = await fleet().cliVia(['--hub', 'http://127.0.0.1:9', 'get', 'all']);
    assert.equal(nowhere.code, 1);
    assert.match(nowhere.stderr, /cannot reach the hub API at http:\/\/127\.0\.0\.1:9/);
  });

  it('a history spanning continue-as-new is complete: every run, oldest entries included', async () => {
    // An actor with a small history limit continues as new every few reconciles. Its own
    // ConfigMap: one declared by another Kustomization (devonly) would be refused as theirs.
    repo().writeObjects('short/cm.yaml', [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'short', namespace: 'default' }, data: { a: '1' } }]);
    repo().commit('short');
    assert.equal((await cli('reconcile', 'source', 'git', 'fleet')).code, 0);
    const decl = parseDeclarationObject({
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name: 'short', namespace: 'flux-system' },
      spec: { interval: '10m', prune: true, sourceRef: { kind: 'GitRepository', name: 'fleet' }, path: './short', placement: { clusters: ['dev'] } },
    }, 'test');
    assert.ok(!Array.isArray(decl) && decl.kind === 'Kustomization');
    const d = decl;
    await fleet().client.workflow.signalWithStart<KustomizationWorkflow, [ActorDeclaration]>(KUSTOMIZATION_WORKFLOW_TYPE, {
      workflowId: 'kustomization/flux-system/short', taskQueue: TASK_QUEUE, signal: specSignal, signalArgs: [d],
      args: [{ generation: 1, suspendedByCli: false, subscribers: [], declaration: d, historyLimit: 60 }],
    });
    for (let i = 0; i < 6; i++) {
      const r = await cli('reconcile', 'kustomization', 'short');
      assert.equal(r.code, 0, r.stderr);
    }
    const json = JSON.parse((await cli('history', 'kustomization/short', '-o', 'json')).stdout) as {
      runs: { workflowId: string; status: string }[]; entries: { type: string; runId: string }[];
    };
    const runs = json.runs.filter((r) => r.workflowId === 'kustomization/flux-system/short');
    assert.ok(runs.length >= 2, `continued as new at least once (runs: ${runs.length})`);
    assert.ok(runs.slice(0, -1).every((r) => r.status === 'ContinuedAsNew'));
    assert.equal(json.entries[0]?.type, 'Created', 'the first run\'s first entry is there');
    assert.equal(json.entries.filter((e) => e.type === 'ReconcileRequested').length, 6, 'every reconcile, whichever run it fell in');
    assert.ok(json.entries.some((e) => e.type === 'ContinuedAsNew'));
    assert.ok(new Set(json.entries.map((e) => e.runId)).size >= 2);
    const applied = json.entries.filter((e) => e.type === 'Applied');
    assert.ok(applied.length >= 1, 'the apply on dev, from the first run');
  });
});
