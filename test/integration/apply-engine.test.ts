// The agent's apply engine against a real kube-apiserver (with controllers and kwok).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { Applier, type ApplyReport } from '../../agents/apply/applier.js';
import { ClusterClient } from '../../agents/apply/cluster-client.js';
import { waitForHealth } from '../../agents/apply/health.js';
import { bin, repoRoot } from '../../deploy/dev/binaries.js';
import type { KubeObject } from '../../core/objects.js';
import { useEnvironment } from '../harness/index.js';

const run = promisify(execFile);
const env = useEnvironment({ clusters: ['apply'], temporal: false });
const applyCli = fileURLToPath(new URL('../../agents/apply-cli.js', import.meta.url));

function client(): ClusterClient {
  return new ClusterClient(env().cluster('apply').kubeConfig());
}

async function kubectlJson(...args: string[]): Promise<KubeObject & { data?: Record<string, string>; spec?: Record<string, unknown> }> {
  return JSON.parse(await kubectl(...args, '-o', 'json')) as KubeObject;
}

async function kubectl(...args: string[]): Promise<string> {
  const { stdout } = await run(bin('kubectl'), ['--kubeconfig', env().cluster('apply').kubeconfigPath, ...args]);
  return stdout;
}

const ns = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
const cm = (name: string, namespace: string, data: Record<string, string> = { key: 'value' }, annotations?: Record<string, string>): KubeObject =>
  ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace, ...(annotations ? { annotations } : {}) }, data });
const deploy = (name: string, namespace: string, opts: { replicas?: number; fail?: string } = {}): KubeObject => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace },
  spec: {
    replicas: opts.replicas ?? 1,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name }, ...(opts.fail ? { annotations: { 'sim.flotilla.dev/fail': opts.fail } } : {}) },
      spec: { containers: [{ name: 'app', image: 'ghcr.io/stefanprodan/podinfo:6.14.1' }] },
    },
  },
});
const svc = (name: string, namespace: string): KubeObject => ({
  apiVersion: 'v1', kind: 'Service', metadata: { name, namespace },
  spec: { selector: { app: name }, ports: [{ port: 80, targetPort: 9898 }] },
});
const crd: KubeObject = {
  apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'widgets.example.com' },
  spec: {
    group: 'example.com', scope: 'Namespaced',
    names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
    versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { size: { type: 'integer' } } } } } } }],
  },
};

function actions(report: ApplyReport): Record<string, string> {
  return Object.fromEntries(report.objects.map((o) => [o.object, o.action]));
}

describe('apply engine', () => {
  it('applies a set, then re-applies it unchanged with zero writes', async () => {
    const c = client();
    const applier = new Applier(c);
    const set = [ns('shop'), cm('settings', 'shop'), deploy('web', 'shop'), svc('web', 'shop')];
    const first = await applier.apply({ name: 'shop', generation: 1, objects: set });
    assert.equal(first.phase, 'Applied', JSON.stringify(first.errors));
    assert.deepEqual(actions(first), {
      'Namespace/shop': 'created', 'ConfigMap/shop/settings': 'created', 'Deployment/shop/web': 'created', 'Service/shop/web': 'created',
    });
    // Independent client: the objects are there, under the deployment's field manager.
    const live = JSON.parse(await kubectl('get', 'configmap', 'settings', '-n', 'shop', '-o', 'json', '--show-managed-fields')) as KubeObject;
    assert.equal((live.metadata.managedFields as { manager: string }[])[0]?.manager, 'flotilla:shop');
    assert.equal(live.metadata.annotations?.['flotilla.dev/deployment'], 'shop');
    const rv = live.metadata.resourceVersion;

    const before = { ...c.stats };
    const again = await applier.apply({ name: 'shop', generation: 1, objects: set });
    assert.deepEqual(Object.values(actions(again)), ['unchanged', 'unchanged', 'unchanged', 'unchanged']);
    assert.equal(c.stats.writes - before.writes, 0, 'an unchanged re-apply writes nothing');
    const after = JSON.parse(await kubectl('get', 'configmap', 'settings', '-n', 'shop', '-o', 'json')) as KubeObject;
    assert.equal(after.metadata.resourceVersion, rv, 'no resourceVersion bump');

    const health = await waitForHealth(c, again.objects.map((o) => o.live).filter((o) => o !== undefined), 60_000);
    assert.equal(health.healthy, true, JSON.stringify(health.objects));
  });

  it('applies a CRD and its custom resources in one pass', async () => {
    const widget: KubeObject = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w1', namespace: 'widgets' }, spec: { size: 3 } };
    const report = await new Applier(client()).apply({ name: 'widgets', generation: 1, objects: [widget, ns('widgets'), crd] });
    assert.equal(report.phase, 'Applied', JSON.stringify(report.errors));
    assert.equal(report.counts.created, 3);
    const got = JSON.parse(await kubectl('get', 'widgets.example.com', 'w1', '-n', 'widgets', '-o', 'json')) as KubeObject;
    assert.deepEqual(got.spec, { size: 3 });
  });

  it('prunes what left the set, in order, but never what it did not create or what opted out', async () => {
    const c = client();
    const applier = new Applier(c);
    await applier.apply({ name: 'prune-a', generation: 1, objects: [
      ns('pruning'), cm('keep', 'pruning'), cm('drop', 'pruning'), cm('opted-out', 'pruning', {}, { 'kustomize.toolkit.fluxcd.io/prune': 'disabled' }),
      cm('shared', 'pruning'),
    ] });
    // Someone marks "shared" as another deployment's (a deployment declaring it is refused
    // while prune-a does: test/integration/ownership.test.ts); someone creates an unmanaged
    // ConfigMap by hand.
    await kubectl('annotate', 'configmap', 'shared', '-n', 'pruning', '--overwrite', 'flotilla.dev/deployment=prune-b');
    await kubectl('create', 'configmap', 'by-hand', '-n', 'pruning', '--from-literal=a=b');

    const report = await applier.apply({ name: 'prune-a', generation: 2, objects: [ns('pruning'), cm('keep', 'pruning')] });
    assert.equal(report.phase, 'Applied');
    const pruned = Object.fromEntries(report.pruned.map((p) => [p.object, p.action]));
    assert.deepEqual(pruned, {
      'ConfigMap/pruning/drop': 'deleted',
      'ConfigMap/pruning/opted-out': 'skipped',
      'ConfigMap/pruning/shared': 'skipped',
    });
    assert.match(report.pruned.find((p) => p.object === 'ConfigMap/pruning/shared')?.reason ?? '', /owned by deployment prune-b/);
    const names = (await kubectl('get', 'configmaps', '-n', 'pruning', '-o', 'name')).split('\n').filter(Boolean).sort();
    assert.deepEqual(names, ['configmap/by-hand', 'configmap/keep', 'configmap/kube-root-ca.crt', 'configmap/opted-out', 'configmap/shared']);

    // Deleting the deployment removes its objects (Namespace last) and its inventory.
    const removed = await applier.delete('prune-a');
    assert.deepEqual(removed.filter((p) => p.action === 'deleted').map((p) => p.object), ['ConfigMap/pruning/keep', 'Namespace/pruning']);
    assert.equal(await applier.inventories.load('prune-a'), undefined);
  });

  it('detects drift made with kubectl, reports the fields and reverts them', async () => {
    const c = client();
    const applier = new Applier(c);
    const set = [ns('drift'), cm('conf', 'drift', { level: 'info' }), deploy('api', 'drift', { replicas: 2 })];
    await applier.apply({ name: 'drift', generation: 1, objects: set });
    await kubectl('patch', 'configmap', 'conf', '-n', 'drift', '--type=merge', '-p', '{"data":{"level":"debug"}}');
    await kubectl('scale', 'deployment', 'api', '-n', 'drift', '--replicas=5');

    const observed = await applier.apply({ name: 'drift', generation: 1, objects: set }, { correctDrift: false });
    const byObject = Object.fromEntries(observed.objects.map((o) => [o.object, o]));
    assert.equal(byObject['ConfigMap/drift/conf']?.action, 'skipped');
    assert.deepEqual(byObject['ConfigMap/drift/conf'].drift, ['data.level']);
    assert.deepEqual(byObject['Deployment/drift/api']?.drift, ['spec.replicas']);
    assert.equal((await kubectlJson('get', 'configmap', 'conf', '-n', 'drift')).data?.level, 'debug', 'not reverted when disabled');

    const corrected = await applier.apply({ name: 'drift', generation: 1, objects: set });
    assert.equal(corrected.objects.find((o) => o.object === 'ConfigMap/drift/conf')?.action, 'configured');
    assert.equal((await kubectlJson('get', 'configmap', 'conf', '-n', 'drift')).data?.level, 'info');
    assert.equal((await kubectlJson('get', 'deployment', 'api', '-n', 'drift')).spec?.replicas, 2);

    await kubectl('delete', 'configmap', 'conf', '-n', 'drift');
    const recreated = await applier.apply({ name: 'drift', generation: 1, objects: set });
    const conf = recreated.objects.find((o) => o.object === 'ConfigMap/drift/conf');
    assert.equal(conf?.action, 'created');
    assert.deepEqual(conf.drift, ['deleted']);
  });

  it('validates the whole set by server-side dry-run: one invalid object and nothing is applied', async () => {
    const bad = deploy('bad', 'default');
    (bad.spec as { replicas: unknown }).replicas = 'many';
    const unknownKind: KubeObject = { apiVersion: 'example.com/v1', kind: 'Gadget', metadata: { name: 'g', namespace: 'default' } };
    const missingNs = cm('lost', 'no-such-namespace');
    const report = await new Applier(client()).apply({ name: 'invalid', generation: 1, objects: [cm('fine', 'default'), bad, missingNs] });
    assert.equal(report.phase, 'Invalid');
    const errors = Object.fromEntries(report.errors.map((e) => [e.object, e.message]));
    assert.match(errors['Deployment/default/bad'] ?? '', /replicas/);
    assert.match(errors['ConfigMap/no-such-namespace/lost'] ?? '', /namespaces "no-such-namespace" not found/);
    assert.equal(report.objects.length, 0);
    await assert.rejects(kubectl('get', 'configmap', 'fine', '-n', 'default'), /NotFound/);

    const unknown = await new Applier(client()).apply({ name: 'invalid', generation: 1, objects: [cm('fine', 'default'), unknownKind] });
    assert.equal(unknown.phase, 'Invalid');
    assert.match(unknown.errors[0]?.message ?? '', /does not serve kind Gadget in example\.com\/v1/);
    await assert.rejects(kubectl('get', 'configmap', 'fine', '-n', 'default'), /NotFound/);
  });

  it('waits for health and reports why a workload is not healthy', async () => {
    const c = client();
    const report = await new Applier(c).apply({ name: 'health', generation: 1, objects: [ns('health'), deploy('ok', 'health', { replicas: 2 }), deploy('broken', 'health', { fail: 'ErrImagePull' })] });
    const live = (name: string): KubeObject[] => report.objects.filter((o) => o.object.startsWith(name)).map((o) => o.live).filter((o) => o !== undefined);
    // Healthy objects: the wait ends as soon as they are Current (the timeout is only a bound).
    const good = await waitForHealth(c, [...live('Namespace/health'), ...live('Deployment/health/ok')], 120_000);
    assert.equal(good.healthy, true, JSON.stringify(good.objects));
    assert.equal(good.timedOut, false);
    // The broken one never becomes healthy; once its pods report the failure, a short wait says why.
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const pods = await c.list('v1', 'Pod', { namespace: 'health', labelSelector: 'app=broken' });
      if (pods.some((p) => JSON.stringify(p.status).includes('ErrImagePull'))) break;
      await sleep(200);
    }
    const bad = await waitForHealth(c, live('Deployment/health/broken'), 3_000);
    assert.equal(bad.healthy, false);
    assert.equal(bad.timedOut, true);
    const broken = bad.objects[0];
    assert.equal(broken?.status, 'InProgress');
    assert.equal(broken.reason, 'ErrImagePull');
    assert.match(broken.message, /simulated ErrImagePull for image ghcr\.io\/stefanprodan\/podinfo:6\.14\.1/);
    assert.match(broken.message, /not healthy within 3s/);
  });

  it('bounds the request rate it puts on the API server', async () => {
    const slow = new ClusterClient(env().cluster('apply').kubeConfig(), { qps: 10, burst: 1, concurrency: 4 });
    const started = performance.now();
    await Promise.all(Array.from({ length: 21 }, () => slow.get(ns('default'))));
    const seconds = (performance.now() - started) / 1000;
    const requests = slow.stats.requests; // 21 reads plus API discovery
    assert.ok(requests >= 21);
    // A token bucket of 10/s with a burst of 1 cannot serve n requests in under (n-1)/10 s.
    assert.ok(seconds >= (requests - 1) / 10 - 0.05, `${requests} requests at 10 qps took only ${seconds.toFixed(2)} s`);
  });
});

describe('flotilla-apply command', () => {
  it('applies the real podinfo manifests and waits for them to be healthy', async () => {
    const fixture = join(repoRoot, '..', 'shared', 'fixtures', 'podinfo', 'kustomize');
    assert.ok(existsSync(fixture), `the podinfo fixture is missing at ${fixture} (shared/fixtures must sit beside the repository)`);
    const { stdout } = await run('node', [applyCli, '--kubeconfig', env().cluster('apply').kubeconfigPath, '--name', 'podinfo',
      '--namespace', 'default', '--wait', '60', '-o', 'json', fixture]);
    const report = JSON.parse(stdout) as ApplyReport & { health: { healthy: boolean } };
    assert.equal(report.phase, 'Applied');
    assert.deepEqual(report.objects.map((o) => o.object).sort(),
      ['Deployment/default/podinfo', 'HorizontalPodAutoscaler/default/podinfo', 'Service/default/podinfo']);
    assert.equal(report.health.healthy, true);
  });

  it('rejects bad files with one error per document and changes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-bad-'));
    try {
      writeFileSync(join(dir, 'a-good.yaml'), stringify(cm('good', 'default')));
      writeFileSync(join(dir, 'b-broken.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x\n');
      writeFileSync(join(dir, 'c-nokind.yaml'), 'apiVersion: v1\nmetadata: {name: y}\n');
      writeFileSync(join(dir, 'd-dup.yaml'), stringify(cm('good', 'default')));
      writeFileSync(join(dir, 'e-huge.yaml'), stringify(cm('huge', 'default', { blob: 'x'.repeat(10 * 2 ** 20) })));
      const result = await run('node', [applyCli, '--kubeconfig', env().cluster('apply').kubeconfigPath, '--name', 'bad-input', dir])
        .then(() => ({ code: 0, stderr: '' }), (err: unknown) => err as { code: number; stderr: string });
      assert.equal(result.code, 1);
      assert.match(result.stderr, /b-broken\.yaml#1: malformed YAML/);
      assert.match(result.stderr, /c-nokind\.yaml#1 \(kind\): missing kind/);
      assert.match(result.stderr, /d-dup\.yaml#1 ConfigMap\/default\/good: duplicate of the object in .*a-good\.yaml#1/);
      assert.match(result.stderr, /e-huge\.yaml#1 ConfigMap\/default\/huge: object is 10\.0 MiB/);
      assert.match(result.stderr, /nothing was applied/);
      await assert.rejects(kubectl('get', 'configmap', 'good', '-n', 'default'), /NotFound/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('converges after being killed between its two stages, with no duplicates or orphans', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-crash-'));
    try {
      // Its own CRD: the deployment "widgets" above still declares widgets.example.com, and a
      // second deployment declaring it would be refused (test/integration/ownership.test.ts).
      const sprockets: KubeObject = { ...crd, metadata: { name: 'sprockets.example.com' }, spec: {
        ...(crd.spec as Record<string, unknown>), names: { plural: 'sprockets', singular: 'sprocket', kind: 'Sprocket', listKind: 'SprocketList' } } };
      const objects = [sprockets, ns('crash'), ...Array.from({ length: 30 }, (_, i) => cm(`cm-${i}`, 'crash')),
        { apiVersion: 'example.com/v1', kind: 'Sprocket', metadata: { name: 'w', namespace: 'crash' }, spec: { size: 1 } }];
      writeFileSync(join(dir, 'all.yaml'), objects.map((o) => stringify(o)).join('---\n'));
      const kubeconfig = env().cluster('apply').kubeconfigPath;
      // Slowed down so that the kill lands after the first stage and before the second ends.
      const child = spawn('node', [applyCli, '--kubeconfig', kubeconfig, '--name', 'crash', '--qps', '4', '--burst', '1', dir], { stdio: 'ignore' });
      const exited = new Promise((resolve) => child.on('exit', resolve));
      const c = client();
      const deadline = Date.now() + 60_000;
      while (!(await c.get(ns('crash'))) && Date.now() < deadline) await sleep(50);
      child.kill('SIGKILL');
      await exited;
      assert.ok(await c.get(ns('crash')), 'killed after the first stage applied the Namespace');
      const intent = await new Applier(c).inventories.load('crash');
      assert.equal(intent?.entries.length, 33, 'the whole set was recorded before anything was applied');
      const partial = await c.list('v1', 'ConfigMap', { namespace: 'crash', labelSelector: 'app.kubernetes.io/managed-by=flotilla' });
      assert.ok(partial.length < 30, `killed before the second stage finished (${partial.length}/30 ConfigMaps)`);

      const { stdout } = await run('node', [applyCli, '--kubeconfig', kubeconfig, '--name', 'crash', '-o', 'json', dir]);
      const report = JSON.parse(stdout) as ApplyReport;
      assert.equal(report.phase, 'Applied');
      const managed = await c.list('v1', 'ConfigMap', { namespace: 'crash', labelSelector: 'app.kubernetes.io/managed-by=flotilla' });
      assert.deepEqual(managed.map((m) => m.metadata.name).sort(), Array.from({ length: 30 }, (_, i) => `cm-${i}`).sort());
      const inventory = await new Applier(c).inventories.load('crash');
      assert.equal(inventory?.entries.length, 33, 'inventory holds exactly the set');
      const widgets = await c.list('example.com/v1', 'Sprocket', { namespace: 'crash' });
      assert.equal(widgets.length, 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
