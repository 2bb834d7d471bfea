// Ownership between deployments and co-controllers (agents/apply/ownership.ts) against a real
// kube-apiserver with its controllers: per-deployment field managers, conflicts between
// deployments and hand-over, HPAs, the ignore-fields annotation, the migration from the
// single `flotilla` manager, and fights with another field manager.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Applier, fightNotes, type ApplyReport } from '../../agents/apply/applier.js';
import { ClusterClient } from '../../agents/apply/cluster-client.js';
import { bin } from '../../deploy/dev/binaries.js';
import type { KubeObject } from '../../core/objects.js';
import { useEnvironment } from '../harness/index.js';

const run = promisify(execFile);
const env = useEnvironment({ clusters: ['ownership'], temporal: false });

function client(): ClusterClient {
  return new ClusterClient(env().cluster('ownership').kubeConfig());
}

async function kubectl(...args: string[]): Promise<string> {
  const { stdout } = await run(bin('kubectl'), ['--kubeconfig', env().cluster('ownership').kubeconfigPath, ...args]);
  return stdout;
}

interface Live extends KubeObject {
  data?: Record<string, string>;
  spec?: { replicas?: number; template?: { metadata?: { annotations?: Record<string, string> } } };
}
interface Entry { manager: string; operation: string; subresource?: string; fieldsV1?: Record<string, unknown> }

async function getLive(kind: string, name: string, namespace: string): Promise<Live> {
  return JSON.parse(await kubectl('get', kind, name, '-n', namespace, '-o', 'json', '--show-managed-fields')) as Live;
}
const podAnnotations = (o: Live): Record<string, string> | undefined => o.spec?.template?.metadata?.annotations;
const entries = (o: KubeObject): Entry[] => (o.metadata.managedFields ?? []) as Entry[];
const managers = (o: KubeObject): string[] => entries(o).map((e) => e.manager).sort();

const ns = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
const cm = (name: string, namespace: string, data: Record<string, string>, annotations?: Record<string, string>): KubeObject =>
  ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace, ...(annotations ? { annotations } : {}) }, data });
const deploy = (name: string, namespace: string, opts: { replicas: number; annotations?: Record<string, string>; podAnnotations?: Record<string, string> }): KubeObject => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace, ...(opts.annotations ? { annotations: opts.annotations } : {}) },
  spec: {
    replicas: opts.replicas,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name }, ...(opts.podAnnotations ? { annotations: opts.podAnnotations } : {}) },
      spec: { containers: [{ name: 'app', image: 'ghcr.io/stefanprodan/podinfo:6.14.1' }] },
    },
  },
});

function result(report: ApplyReport, object: string): ApplyReport['objects'][number] {
  const found = report.objects.find((o) => o.object === object);
  assert.ok(found, `${object} in ${JSON.stringify(report.objects.map((o) => o.object))} (errors: ${JSON.stringify(report.errors)})`);
  return found;
}

describe('ownership between deployments and co-controllers', () => {
  it('refuses an object another deployment declares, never flips it, and takes it over once that one drops it', async () => {
    const applier = new Applier(client());
    const a = 'kustomization/flux-system/a';
    const b = 'kustomization/flux-system/b';
    const setA = [ns('shared'), cm('x', 'shared', { owner: 'a' }), cm('only-a', 'shared', { k: 'v' })];
    const setB = [cm('x', 'shared', { owner: 'b' }), cm('only-b', 'shared', { k: 'v' })];
    assert.equal((await applier.apply({ name: a, generation: 1, objects: setA })).phase, 'Applied');
    const uid = (await getLive('configmap', 'x', 'shared')).metadata.uid;

    for (let i = 0; i < 3; i++) {
      const refused = await applier.apply({ name: b, generation: 1, objects: setB });
      assert.equal(refused.phase, 'Invalid');
      assert.deepEqual(refused.errors, [{ object: 'ConfigMap/shared/x', message: `is managed by deployment ${a}; remove it from one of them` }]);
      const kept = await applier.apply({ name: a, generation: 1, objects: setA });
      assert.equal(kept.phase, 'Applied');
      assert.equal(result(kept, 'ConfigMap/shared/x').action, 'unchanged');
      const live = await getLive('configmap', 'x', 'shared');
      assert.deepEqual(live.data, { owner: 'a' }, `round ${i}: the first deployment keeps its object`);
      assert.equal(live.metadata.annotations?.['flotilla.dev/deployment'], a);
      assert.deepEqual(managers(live), [`flotilla:${a}`]);
    }
    await assert.rejects(kubectl('get', 'configmap', 'only-b', '-n', 'shared'), /NotFound/, 'nothing of the refused set is applied');

    // The first drops it: prune leaves it to the second (which was refused it) instead of deleting it.
    const dropped = await applier.apply({ name: a, generation: 2, objects: [ns('shared'), cm('only-a', 'shared', { k: 'v' })] });
    assert.equal(dropped.phase, 'Applied');
    assert.deepEqual(dropped.pruned.map((p) => [p.object, p.action, p.reason]), [['ConfigMap/shared/x', 'skipped', `handed over to deployment ${b}`]]);
    const takeover = await applier.apply({ name: b, generation: 1, objects: setB });
    assert.equal(takeover.phase, 'Applied', JSON.stringify(takeover.errors));
    assert.equal(result(takeover, 'ConfigMap/shared/x').action, 'configured');
    const taken = await getLive('configmap', 'x', 'shared');
    assert.deepEqual(taken.data, { owner: 'b' });
    assert.equal(taken.metadata.uid, uid, 'handed over in place, not deleted and recreated');
    assert.equal(taken.metadata.annotations?.['flotilla.dev/deployment'], b);
    assert.deepEqual(managers(taken), [`flotilla:${b}`], 'the first deployment\'s manager is gone');

    // Later rounds of both: stable.
    assert.equal((await applier.apply({ name: a, generation: 2, objects: [ns('shared'), cm('only-a', 'shared', { k: 'v' })] })).phase, 'Applied');
    assert.equal(result(await applier.apply({ name: b, generation: 1, objects: setB }), 'ConfigMap/shared/x').action, 'unchanged');
    assert.deepEqual((await getLive('configmap', 'x', 'shared')).data, { owner: 'b' });
  });

  it('leaves spec.replicas of a Deployment an HPA scales to the HPA: no write, no drift', async () => {
    const c = client();
    const applier = new Applier(c);
    const name = 'kustomization/apps/web';
    const set = [ns('scaled'), deploy('web', 'scaled', { replicas: 2 })];
    await applier.apply({ name, generation: 1, objects: set });
    // A real autoscaling/v2 HPA, created by someone else (kube-controller-manager runs its controller).
    await c.apply({
      apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'web', namespace: 'scaled' },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' }, minReplicas: 1, maxReplicas: 10,
        metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } }],
      },
    }, { fieldManager: 'test-hpa-author' });

    // While Flotilla still owns replicas (nobody scaled yet), holding them keeps the live value.
    const before = c.stats.writes;
    const held = await applier.apply({ name, generation: 1, objects: set });
    assert.equal(result(held, 'Deployment/scaled/web').action, 'unchanged');
    assert.equal(c.stats.writes - before, 0);

    // Scaled through the scale subresource, as the HPA controller (and kubectl scale) do.
    await kubectl('scale', 'deployment', 'web', '-n', 'scaled', '--replicas=5');
    const start = c.stats.writes;
    for (let round = 0; round < 5; round++) {
      const report = await applier.apply({ name, generation: 1, objects: set }, { correctDrift: true });
      const web = result(report, 'Deployment/scaled/web');
      assert.equal(web.action, 'unchanged', `round ${round}`);
      assert.equal(web.drift, undefined, 'replicas under an HPA are not drift');
      assert.equal((await getLive('deployment', 'web', 'scaled')).spec?.replicas, 5);
    }
    assert.equal(c.stats.writes - start, 0, 'five drift rounds wrote nothing');
    const live = await getLive('deployment', 'web', 'scaled');
    const ours = entries(live).find((e) => e.manager === `flotilla:${name}` && e.operation === 'Apply');
    assert.ok(ours, JSON.stringify(managers(live)));
    assert.equal(JSON.stringify(ours.fieldsV1).includes('"f:replicas"'), false, 'flotilla does not own spec.replicas');

    // A new manifest is applied, and still leaves replicas alone.
    const next = [ns('scaled'), deploy('web', 'scaled', { replicas: 2, podAnnotations: { release: '2' } })];
    const changed = await applier.apply({ name, generation: 2, objects: next });
    assert.equal(result(changed, 'Deployment/scaled/web').action, 'configured');
    const after = await getLive('deployment', 'web', 'scaled');
    assert.equal(after.spec?.replicas, 5);
    assert.equal(podAnnotations(after)?.release, '2');
  });

  it('moves objects applied under the old single manager "flotilla" to the deployment\'s manager', async () => {
    const c = client();
    const applier = new Applier(c);
    const set = (data: Record<string, string>): KubeObject[] => [ns('migrate'), cm('old', 'migrate', data)];
    await applier.apply({ name: 'legacy', generation: 1, objects: set({ a: '1', b: '2' }) });
    // Make it exactly what an earlier Flotilla left: the same object and inventory, every
    // apply entry under the manager "flotilla".
    for (const [kind, name, namespace] of [['Namespace', 'migrate', undefined], ['ConfigMap', 'old', 'migrate']] as const) {
      const live = await c.get({ apiVersion: 'v1', kind, metadata: { name, ...(namespace ? { namespace } : {}) } });
      assert.ok(live);
      const renamed = entries(live).map((e) => (e.manager === 'flotilla:legacy' ? { ...e, manager: 'flotilla' } : e));
      await c.jsonPatch(live, [{ op: 'replace', path: '/metadata/managedFields', value: renamed }]);
    }
    assert.deepEqual(managers(await getLive('configmap', 'old', 'migrate')), ['flotilla']);

    const migrated = await applier.apply({ name: 'legacy', generation: 1, objects: set({ a: '1', b: '2' }) });
    assert.equal(migrated.phase, 'Applied');
    assert.equal(result(migrated, 'ConfigMap/migrate/old').action, 'unchanged');
    const live = await getLive('configmap', 'old', 'migrate');
    assert.deepEqual(managers(live), ['flotilla:legacy']);
    assert.deepEqual(managers(await getLive('namespace', 'migrate', 'default')), ['flotilla:legacy']);

    // Ownership moved: a key removed from the manifest is removed from the object.
    const smaller = await applier.apply({ name: 'legacy', generation: 2, objects: set({ a: '1' }) });
    assert.equal(result(smaller, 'ConfigMap/migrate/old').action, 'configured');
    assert.deepEqual((await getLive('configmap', 'old', 'migrate')).data, { a: '1' });
  });

  it('never re-asserts the fields flotilla.dev/ignore-fields names once the object exists', async () => {
    const c = client();
    const applier = new Applier(c);
    const ignore = { 'flotilla.dev/ignore-fields': 'spec.replicas, spec.template.metadata.annotations' };
    const set = [ns('ignoring'), deploy('api', 'ignoring', { replicas: 2, annotations: ignore, podAnnotations: { tier: 'one' } })];
    const created = await applier.apply({ name: 'ignoring', generation: 1, objects: set });
    assert.equal(result(created, 'Deployment/ignoring/api').action, 'created');
    const first = await getLive('deployment', 'api', 'ignoring');
    assert.equal(first.spec?.replicas, 2, 'kept on create');
    assert.deepEqual(podAnnotations(first), { tier: 'one' }, 'kept on create');

    await kubectl('scale', 'deployment', 'api', '-n', 'ignoring', '--replicas=3');
    await kubectl('patch', 'deployment', 'api', '-n', 'ignoring', '--type=merge', '--field-manager=sidecar-injector',
      '-p', '{"spec":{"template":{"metadata":{"annotations":{"tier":"two","injected":"yes"}}}}}');
    const start = c.stats.writes;
    for (let round = 0; round < 2; round++) {
      const report = await applier.apply({ name: 'ignoring', generation: 1, objects: set });
      const api = result(report, 'Deployment/ignoring/api');
      assert.equal(api.action, 'unchanged');
      assert.equal(api.drift, undefined);
    }
    assert.equal(c.stats.writes - start, 0);
    const live = await getLive('deployment', 'api', 'ignoring');
    assert.equal(live.spec?.replicas, 3);
    assert.deepEqual(podAnnotations(live), { tier: 'two', injected: 'yes' });

    // A bad path is an error of the object, and nothing is applied.
    const bad = await applier.apply({ name: 'ignoring', generation: 2, objects: [
      ns('ignoring'), deploy('api', 'ignoring', { replicas: 2, annotations: { 'flotilla.dev/ignore-fields': 'metadata.name,spec..replicas' } }),
    ] });
    assert.equal(bad.phase, 'Invalid');
    assert.match(bad.errors[0]?.message ?? '', /^annotation flotilla\.dev\/ignore-fields: "metadata\.name" cannot be ignored: it is the object's identity; "spec\.\.replicas": empty key/);
  });

  it('stops re-applying a field another manager changed back three times, until the manifest changes', async () => {
    const c = client();
    const applier = new Applier(c);
    const set = (level: string): KubeObject[] => [ns('fight'), cm('tuned', 'fight', { level, other: 'x' })];
    await applier.apply({ name: 'fight', generation: 1, objects: set('info') });
    const edit = (value: string): Promise<string> => kubectl('patch', 'configmap', 'tuned', '-n', 'fight', '--type=merge',
      '--field-manager=kubectl-edit', '-p', JSON.stringify({ data: { level: value } }));

    for (let change = 1; change <= 2; change++) {
      await edit(`debug-${change}`);
      const report = await applier.apply({ name: 'fight', generation: 1, objects: set('info') });
      const tuned = result(report, 'ConfigMap/fight/tuned');
      assert.equal(tuned.action, 'configured', `change ${change} is drift, corrected`);
      assert.deepEqual(tuned.drift, ['data.level']);
      assert.equal(tuned.fights, undefined);
      assert.equal((await getLive('configmap', 'tuned', 'fight')).data?.level, 'info');
    }
    await edit('debug-3');
    const third = await applier.apply({ name: 'fight', generation: 1, objects: set('info') });
    const tuned = result(third, 'ConfigMap/fight/tuned');
    assert.equal(tuned.action, 'unchanged', 'a fight is not drift and is not re-applied');
    assert.deepEqual(tuned.fights?.map((f) => [f.field, f.manager, f.changes, f.new]), [['data.level', 'kubectl-edit', 3, true]]);
    assert.deepEqual(fightNotes(third), ['ConfigMap/fight/tuned: fight over data.level with manager kubectl-edit: stopped re-applying']);
    assert.equal((await getLive('configmap', 'tuned', 'fight')).data?.level, 'debug-3', 'left as the other manager set it');

    const start = c.stats.writes;
    const later = await applier.apply({ name: 'fight', generation: 1, objects: set('info') });
    assert.equal(result(later, 'ConfigMap/fight/tuned').fights?.[0]?.new, false);
    assert.deepEqual(fightNotes(later, true), [], 'reported once');
    assert.equal(c.stats.writes - start, 0);
    assert.equal((await getLive('configmap', 'tuned', 'fight')).data?.level, 'debug-3');

    // A new manifest is a new intent: applied, the field taken back.
    const changed = await applier.apply({ name: 'fight', generation: 2, objects: set('warn') });
    assert.equal(result(changed, 'ConfigMap/fight/tuned').action, 'configured');
    assert.equal(result(changed, 'ConfigMap/fight/tuned').fights, undefined);
    assert.equal((await getLive('configmap', 'tuned', 'fight')).data?.level, 'warn');
  });
});
