// buildKustomization against the real kustomize binary, on source trees written to temp dirs:
// Flux's generated kustomization, overlays reaching ../base, the spec's transformations,
// postBuild substitution, commonMetadata, the errors a user sees, confinement to the source
// root, and podinfo's real kustomize directory.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { BuildError, type BuildResult } from '../../activities/kustomize-build.js';
import { buildKustomization } from '../harness/engines.js';
import type { KustomizationSpec } from '../../core/declarations/types.js';
import { repoRoot } from '../../deploy/dev/binaries.js';

type Obj = Record<string, unknown> & { kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> } };

// Real third-party material (../shared/fixtures beside the repository): podinfo's own kustomize directory.
const PODINFO = join(repoRoot, '..', 'shared', 'fixtures', 'podinfo', 'kustomize');
const temps: string[] = [];
after(async () => {
  await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'flotilla-kbuild-'));
  temps.push(dir);
  return dir;
}

/** A source root holding these files (path → content). */
async function source(files: Record<string, string>): Promise<string> {
  const root = await tempDir();
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
  return root;
}

function spec(fields: Partial<KustomizationSpec> = {}): KustomizationSpec {
  return {
    sourceRef: { kind: 'GitRepository', namespace: 'flux-system', name: 'repo' },
    path: '.',
    intervalSeconds: 600,
    retryIntervalSeconds: 600,
    timeoutSeconds: 60,
    prune: true,
    wait: false,
    healthChecks: [],
    dependsOn: [],
    patches: [],
    images: [],
    force: false,
    suspend: false,
    placement: { clusters: [], hub: false },
    ...fields,
  };
}

function objects(result: BuildResult): Obj[] {
  const docs = parseAllDocuments(result.yaml);
  const list = Array.isArray(docs) ? docs : [];
  const objs = list.map((d) => d.toJS() as Obj);
  assert.equal(objs.length, result.objectCount);
  return objs;
}

function find(objs: Obj[], kind: string, name: string): Obj {
  const found = objs.find((o) => o.kind === kind && o.metadata.name === name);
  assert.ok(found, `${kind}/${name} in ${objs.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found;
}

/** assert.rejects for a BuildError whose message matches. */
async function rejectsWith(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof BuildError, `a BuildError, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

const configMap = (name: string, data = 'a: "1"'): string => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  ${data}\n`;
const deployment = (name: string, image = 'nginx:1.0', extra = ''): string => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  labels:
    app: ${name}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: ${name}
  template:
    metadata:
      labels:
        app: ${name}
    spec:
      containers:
      - name: main
        image: ${image}
${extra}`;

describe('buildKustomization', () => {
  it('generates a kustomization for a directory without one, as Flux does', async () => {
    const root = await source({
      'apps/a.yaml': `${deployment('web')}---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector:\n    app: web\n  ports:\n  - port: 80\n`,
      'apps/b-config.yaml': configMap('b'),
      'apps/empty.yaml': '# only a comment\n',
      'apps/nested/c.yml': configMap('c'),
      'apps/nested/deeper/d.yaml': 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: d\nstringData:\n  k: v\n',
      'apps/nested/README.md': '# not a manifest\n',
      'apps/nested/values.json': '{"replicaCount": 2}\n',
      'apps/kustomized/kustomization.yaml': 'resources:\n- e.yaml\nnamePrefix: k-\n',
      'apps/kustomized/e.yaml': configMap('e'),
      'apps/kustomized/unlisted.yaml': configMap('never'),
    });
    const result = await buildKustomization(root, spec({ path: 'apps' }), {});
    // The generated file lists ./a.yaml, ./b-config.yaml, ./empty.yaml, ./kustomized (a directory
    // with its own kustomization: as a whole, so unlisted.yaml stays out), ./nested/c.yml and
    // ./nested/deeper/d.yaml; the objects come out in resource order, as Flux's kustomizer leaves
    // them (no kind-based re-sorting). The source itself is not modified.
    await assert.rejects(readFile(join(root, 'apps/kustomization.yaml'), 'utf8'), { code: 'ENOENT' });
    assert.deepEqual(objects(result).map((o) => `${o.kind}/${o.metadata.name}`), [
      'Deployment/web', 'Service/web', 'ConfigMap/b', 'ConfigMap/k-e', 'ConfigMap/c', 'Secret/d',
    ]);
  });

  it('fails on a .yaml file that holds no Kubernetes object, as Flux does', async () => {
    const root = await source({ 'apps/app.yaml': configMap('app'), 'apps/chart/values.yaml': 'replicaCount: 2\n' });
    await rejectsWith(
      buildKustomization(root, spec({ path: 'apps' }), {}),
      /^generating the kustomization file for path "apps" failed: failed to decode Kubernetes YAML from apps\/chart\/values.yaml: missing Resource metadata$/,
    );
  });

  it('builds an empty directory to nothing', async () => {
    const root = await source({ 'apps/notes.txt': 'nothing here\n' });
    const result = await buildKustomization(root, spec({ path: 'apps' }), {});
    assert.deepEqual(result, { yaml: '', objectCount: 0 });
  });

  it('builds an overlay that reaches ../base and a patch file elsewhere in the repository', async () => {
    const root = await source({
      'base/kustomization.yaml': 'resources:\n- deployment.yaml\n',
      'base/deployment.yaml': deployment('web'),
      'common/replicas.yaml': 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 4\n',
      'overlays/prod/kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- ../../base\npatches:\n- path: ../../common/replicas.yaml\ncommonLabels:\n  env: prod\n',
    });
    const objs = objects(await buildKustomization(root, spec({ path: 'overlays/prod', namePrefix: 'prod-' }), {}));
    const web = find(objs, 'Deployment', 'prod-web');
    assert.equal((web.spec as { replicas: number }).replicas, 4);
    assert.equal(web.metadata.labels?.env, 'prod', "the overlay's own kustomization is kept");
  });

  it('never modifies the source: a kustomization.yaml rewritten for the spec is the workspace\'s, not the source\'s', async () => {
    const original = 'resources:\n- cm.yaml\n';
    const root = await source({ 'app/kustomization.yaml': original, 'app/cm.yaml': configMap('settings') });
    const objs = objects(await buildKustomization(root, spec({ path: 'app', namePrefix: 'pre-' }), {}));
    assert.deepEqual(objs.map((o) => o.metadata.name), ['pre-settings']);
    assert.equal(await readFile(join(root, 'app/kustomization.yaml'), 'utf8'), original, 'the file is linked into the workspace, never written through');
    assert.deepEqual((await readdir(join(root, 'app'))).sort(), ['cm.yaml', 'kustomization.yaml']);
  });

  it('builds a directory holding a symlink to elsewhere in the source (the workspace then holds the whole source)', async () => {
    const root = await source({ 'shared/cm.yaml': configMap('shared'), 'app/own.yaml': configMap('own') });
    await symlink('../shared/cm.yaml', join(root, 'app/linked.yaml'));
    const objs = objects(await buildKustomization(root, spec({ path: 'app' }), {}));
    assert.deepEqual(objs.map((o) => o.metadata.name).sort(), ['own', 'shared']);
  });

  it('applies targetNamespace, namePrefix and nameSuffix, references included', async () => {
    const root = await source({
      'app/kustomization.yaml': 'namespace: ignored\nresources:\n- settings.yaml\n- web.yaml\n',
      'app/settings.yaml': configMap('settings'),
      'app/web.yaml': deployment('web', 'nginx:1.0', '        envFrom:\n        - configMapRef:\n            name: settings\n'),
    });
    const objs = objects(await buildKustomization(root, spec({ path: 'app', targetNamespace: 'apps', namePrefix: 'pre-', nameSuffix: '-suf' }), {}));
    assert.deepEqual(objs.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`), ['ConfigMap/apps/pre-settings-suf', 'Deployment/apps/pre-web-suf']);
    const web = find(objs, 'Deployment', 'pre-web-suf') as unknown as { spec: { template: { spec: { containers: { envFrom: { configMapRef: { name: string } }[] }[] } } } };
    assert.equal(web.spec.template.spec.containers[0]?.envFrom[0]?.configMapRef.name, 'pre-settings-suf');
  });

  it('applies a strategic-merge patch only to the objects its target selects', async () => {
    const root = await source({ 'app/web.yaml': deployment('web'), 'app/worker.yaml': deployment('worker') });
    const patch = 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: not-used\nspec:\n  replicas: 5\n';
    const objs = objects(await buildKustomization(root, spec({ path: 'app', patches: [{ patch, target: { kind: 'Deployment', labelSelector: 'app=web' } }] }), {}));
    assert.equal((find(objs, 'Deployment', 'web').spec as { replicas: number }).replicas, 5);
    assert.equal((find(objs, 'Deployment', 'worker').spec as { replicas: number }).replicas, 1);
  });

  it('applies a JSON 6902 patch written as YAML with its target', async () => {
    const root = await source({ 'app/web.yaml': deployment('web'), 'app/worker.yaml': deployment('worker') });
    const patch = '- op: replace\n  path: /spec/replicas\n  value: 3\n- op: add\n  path: /metadata/annotations\n  value:\n    patched: "yes"\n';
    const objs = objects(await buildKustomization(root, spec({ path: 'app', patches: [{ patch, target: { group: 'apps', version: 'v1', kind: 'Deployment', name: 'worker' } }] }), {}));
    const worker = find(objs, 'Deployment', 'worker');
    assert.equal((worker.spec as { replicas: number }).replicas, 3);
    assert.equal(worker.metadata.annotations?.patched, 'yes');
    assert.equal((find(objs, 'Deployment', 'web').spec as { replicas: number }).replicas, 1);
  });

  it('overrides images, merging into the kustomization.yaml entry of the same name as Flux does', async () => {
    const root = await source({
      'app/kustomization.yaml': 'resources:\n- web.yaml\nimages:\n- name: nginx\n  newTag: "1.25"\n',
      'app/web.yaml': deployment('web', 'nginx:1.0', '      - name: cache\n        image: redis:6\n'),
    });
    const images = [{ name: 'nginx', newName: 'registry.example.com/nginx' }, { name: 'redis', newTag: '7.2' }];
    const web = find(objects(await buildKustomization(root, spec({ path: 'app', images }), {})), 'Deployment', 'web');
    const containers = (web.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers;
    assert.deepEqual(containers.map((c) => c.image), ['registry.example.com/nginx:1.25', 'redis:7.2']);
  });

  it('sets commonMetadata on every object without touching selectors', async () => {
    const root = await source({ 'app/web.yaml': deployment('web'), 'app/cm.yaml': configMap('cm') });
    const commonMetadata = { labels: { team: 'payments' }, annotations: { 'example.com/owner': 'ana' } };
    const objs = objects(await buildKustomization(root, spec({ path: 'app', commonMetadata }), {}));
    for (const o of objs) {
      assert.equal(o.metadata.labels?.team, 'payments');
      assert.equal(o.metadata.annotations?.['example.com/owner'], 'ana');
    }
    const web = find(objs, 'Deployment', 'web');
    assert.deepEqual(web.metadata.labels, { app: 'web', team: 'payments' });
    const s = web.spec as { selector: { matchLabels: unknown }; template: { metadata: { labels: unknown } } };
    assert.deepEqual(s.selector.matchLabels, { app: 'web' });
    assert.deepEqual(s.template.metadata.labels, { app: 'web' });
  });

  it('substitutes postBuild variables per object, with defaults, escapes, types and opt-outs', async () => {
    const root = await source({
      'app/settings.yaml': configMap('settings-${region}', 'region: ${region}\n  env: ${env:=dev}\n  script: echo $${HOME} $$PATH\n  enabled: ${flag}'),
      'app/web.yaml': deployment('web').replace('replicas: 1', 'replicas: ${replicas}'),
      'app/raw.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: raw\n  annotations:\n    kustomize.toolkit.fluxcd.io/substitute: disabled\ndata:\n  region: ${region}\n',
    });
    const vars = { region: 'eu-west-1', replicas: '3', flag: 'yes' };
    const commonMetadata = { labels: {}, annotations: { note: '${region}' } };
    const postBuild = { substitute: vars, substituteFrom: [] };
    const objs = objects(await buildKustomization(root, spec({ path: 'app', postBuild, commonMetadata }), vars));
    const settings = find(objs, 'ConfigMap', 'settings-eu-west-1');
    assert.deepEqual(settings.data, { region: 'eu-west-1', env: 'dev', script: 'echo ${HOME} $PATH', enabled: true });
    assert.equal((find(objs, 'Deployment', 'web').spec as { replicas: unknown }).replicas, 3);
    assert.deepEqual(find(objs, 'ConfigMap', 'raw').data, { region: '${region}' });
    // commonMetadata is set after substitution, as Flux sets it just before applying.
    assert.equal(settings.metadata.annotations?.note, '${region}');
  });

  it('leaves ${...} alone without postBuild, and without any variable (as Flux does)', async () => {
    const files = { 'app/cm.yaml': configMap('cm', 'env: ${env:=dev}') };
    const none = objects(await buildKustomization(await source(files), spec({ path: 'app' }), { env: 'prod' }));
    assert.deepEqual(find(none, 'ConfigMap', 'cm').data, { env: '${env:=dev}' });
    const empty = objects(await buildKustomization(await source(files), spec({ path: 'app', postBuild: { substitute: {}, substituteFrom: [] } }), {}));
    assert.deepEqual(find(empty, 'ConfigMap', 'cm').data, { env: '${env:=dev}' });
  });

  it('names the object whose substitution fails or no longer parses', async () => {
    const postBuild = { substitute: { v: 'x' }, substituteFrom: [] };
    const bad = await source({ 'app/cm.yaml': configMap('script', 'run: echo ${INTERVAL / 1000}') });
    await rejectsWith(buildKustomization(bad, spec({ path: 'app', postBuild }), { v: 'x' }), /^post build failed for 'ConfigMap\.v1\.\[noGrp\]\/script': envsubst error: variable substitution failed: missing closing brace$/);
    const breaks = await source({ 'app/cm.yaml': configMap('cm', 'value: ${v}') });
    await rejectsWith(buildKustomization(breaks, spec({ path: 'app', postBuild }), { v: '[unclosed' }), /^post build failed for 'ConfigMap\.v1\.\[noGrp\]\/cm': the YAML does not parse after variable substitution/);
  });

  it("reports kustomize's own error for a broken kustomization.yaml", async () => {
    const root = await source({ 'broken/kustomization.yaml': 'resources:\n- deployment.yaml\n- missing.yaml\n', 'broken/deployment.yaml': deployment('web') });
    await rejectsWith(buildKustomization(root, spec({ path: 'broken' }), {}), /^kustomize build failed for path "broken": Error: accumulating resources: .*missing\.yaml.*no such file or directory/s);
  });

  it('refuses a path that does not exist or leaves the source root', async () => {
    const root = await source({ 'app/cm.yaml': configMap('cm') });
    const outside = await tempDir();
    await symlink(outside, join(root, 'link'));
    await rejectsWith(buildKustomization(root, spec({ path: 'nope' }), {}), /^kustomization path not found: nope$/);
    await rejectsWith(buildKustomization(root, spec({ path: '../etc' }), {}), /^kustomization path escapes the source root: \.\.\/etc$/);
    await rejectsWith(buildKustomization(root, spec({ path: 'link' }), {}), /^kustomization path escapes the source root through a symlink: link$/);
    await rejectsWith(buildKustomization(root, spec({ path: 'app/cm.yaml' }), {}), /^kustomization path is not a directory: app\/cm\.yaml$/);
  });

  it('never lets kustomize read files outside the source root', async () => {
    const absolute = await source({ 'app/kustomization.yaml': 'configMapGenerator:\n- name: leak\n  files:\n  - /etc/hostname\n' });
    await rejectsWith(buildKustomization(absolute, spec({ path: 'app' }), {}), /^app\/kustomization\.yaml: configMapGenerator\.files "\/etc\/hostname" points outside the source root/);

    const secret = await source({ 'secret.env': 'TOKEN=hub-credential\n' });
    const linked = await source({ 'app/kustomization.yaml': 'resources:\n- ../base\n', 'base/kustomization.yaml': 'secretGenerator:\n- name: s\n  envs:\n  - creds.env\n' });
    await symlink(join(secret, 'secret.env'), join(linked, 'base/creds.env'));
    await rejectsWith(buildKustomization(linked, spec({ path: 'app' }), {}), /^base\/kustomization\.yaml: secretGenerator\.envs "creds\.env" points outside the source root/);

    const remote = await source({ 'app/kustomization.yaml': 'resources:\n- https://github.com/stefanprodan/podinfo//kustomize?ref=6.7.0\n' });
    await rejectsWith(buildKustomization(remote, spec({ path: 'app' }), {}), /is a remote resource; remote bases are disabled/);
  });

  it('stops kustomize after the timeout', async () => {
    const dir = await tempDir();
    const slow = join(dir, 'kustomize');
    await writeFile(slow, '#!/bin/sh\nwhile :; do :; done\n');
    await chmod(slow, 0o755);
    const root = await source({ 'app/cm.yaml': configMap('cm') });
    await rejectsWith(buildKustomization(root, spec({ path: 'app' }), {}, { kustomizeBin: slow, timeoutMs: 300 }), /^kustomize build timed out after 300 ms for path "app"$/);
  });

  it("builds podinfo's kustomize directory into namespace apps", async () => {
    const root = await tempDir();
    await mkdir(join(root, 'kustomize'));
    for (const name of await readdir(PODINFO)) {
      await writeFile(join(root, 'kustomize', name), await readFile(join(PODINFO, name))); // fresh, writable copies
    }
    const objs = objects(await buildKustomization(root, spec({ path: 'kustomize', targetNamespace: 'apps' }), {}));
    assert.deepEqual(objs.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`).sort(), [
      'Deployment/apps/podinfo', 'HorizontalPodAutoscaler/apps/podinfo', 'Service/apps/podinfo',
    ]);
  });
});
