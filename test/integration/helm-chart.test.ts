// activities/helm-chart.ts against the real helm binary and a real chart repository: podinfo
// (read from /work/shared/fixtures) packaged at two versions plus two small charts of ours,
// indexed with `helm repo index` and served over loopback HTTP behind basic auth. Covers the
// index fetch (credentials right, wrong, missing; unreachable; not an index), version
// resolution, download with digest verification (tampered archives, credentials kept to the
// repository's host), rendering podinfo and its hooks, .Capabilities, and helm's errors.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import { promisify } from 'node:util';
import {
  ChartRenderError, HelmChartError, HelmRepositoryError, fetchChart, fetchHelmIndex, readChartMetadata,
} from '../../activities/helm-chart.js';
import { packageChartDirectory, renderChart, type RenderOptions } from '../harness/engines.js';
import { digestOf } from '../../core/digest.js';
import { hookSteps, resolveChartVersion, type HelmIndex } from '../../core/helm-chart.js';
import type { KubeObject } from '../../core/objects.js';
import { bin, repoRoot } from '../../deploy/dev/binaries.js';
import { FileArtifactStore } from '../../hub/artifact-store.js';
import { DEV_SOURCE_POLICY } from '../../deploy/dev/source-policy.js';

/** The test's chart servers listen on http://127.0.0.1: allowed explicitly (a hub's default refuses them). */
const DEV = { policy: DEV_SOURCE_POLICY };

// Real third-party material (../shared/fixtures beside the repository): podinfo's own chart.
const PODINFO = join(repoRoot, '..', 'shared', 'fixtures', 'podinfo', 'charts', 'podinfo');
const USER = 'flux';
const PASSWORD = 's3cr3t-Pa55';
const KUBE_VERSION = '1.30.14';

const temps: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'flotilla-helm-test-'));
  temps.push(dir);
  return dir;
}

/** A chart directory holding these files (path → content). */
async function chartDir(files: Record<string, string>): Promise<string> {
  const root = await tempDir();
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
  return root;
}

/** Serves `dir` over loopback HTTP; requires basic auth when `auth` is set. Records the Authorization headers it saw. */
async function serve(dir: string, auth?: { user: string; password: string }): Promise<{ server: Server; url: string; seen: (string | undefined)[] }> {
  const seen: (string | undefined)[] = [];
  const expected = auth ? `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}` : undefined;
  const server = createServer((req: IncomingMessage, res) => {
    seen.push(req.headers.authorization);
    if (expected !== undefined && req.headers.authorization !== expected) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="charts"' }).end('unauthorized');
      return;
    }
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    readFile(join(dir, path)).then(
      (data) => res.writeHead(200).end(data),
      () => res.writeHead(404).end('not found'),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const servers: Server[] = [];
after(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A chart of ours exercising .Capabilities, .Release and values, with a CRD and a hook. */
const CAPS_CHART = {
  'Chart.yaml': 'apiVersion: v2\nname: caps\nversion: 0.1.0\nappVersion: "1.10"\n',
  'values.yaml': 'flag: "no"\n',
  'crds/widgets.yaml': [
    'apiVersion: apiextensions.k8s.io/v1', 'kind: CustomResourceDefinition', 'metadata:', '  name: widgets.example.com',
    'spec:', '  group: example.com', '  names: {kind: Widget, plural: widgets}', '  scope: Namespaced',
    '  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]', '',
  ].join('\n'),
  'templates/info.yaml': [
    'apiVersion: v1', 'kind: ConfigMap', 'metadata:', '  name: {{ .Release.Name }}-info', 'data:',
    '  kubeVersion: {{ .Capabilities.KubeVersion.Version | quote }}',
    '  upgrade: {{ .Release.IsUpgrade | quote }}',
    '  namespace: {{ .Release.Namespace | quote }}',
    '  flag: {{ .Values.flag | quote }}',
    '  hasMonitoring: {{ .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" | quote }}', '',
  ].join('\n'),
  'templates/servicemonitor.yaml': [
    '{{- if .Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor" }}',
    'apiVersion: monitoring.coreos.com/v1', 'kind: ServiceMonitor', 'metadata:', '  name: {{ .Release.Name }}',
    'spec:', '  selector: {matchLabels: {app: caps}}', '  endpoints: [{port: http}]', '{{- end }}', '',
  ].join('\n'),
  'templates/hook.yaml': [
    'apiVersion: v1', 'kind: Secret', 'metadata:', '  name: {{ .Release.Name }}-seed', '  annotations:',
    '    helm.sh/hook: pre-install,pre-upgrade', '    helm.sh/hook-weight: "-5"', 'stringData: {seed: "1"}', '',
  ].join('\n'),
};

const BROKEN_CHART = {
  'Chart.yaml': 'apiVersion: v2\nname: broken\nversion: 0.1.0\n',
  'templates/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name \n',
};

function byKind(objects: readonly KubeObject[], kind: string): KubeObject[] {
  return objects.filter((o) => o.kind === kind);
}

describe('Helm chart repository, fetch and render (real helm)', () => {
  let repoDir: string;
  let repo: { server: Server; url: string; seen: (string | undefined)[] };
  let index: HelmIndex;
  let store: FileArtifactStore;
  let podinfo650: Buffer;
  const auth = { username: USER, password: PASSWORD };

  before(async () => {
    repoDir = await tempDir();
    // Charts from directories, with packageChartDirectory (helm package).
    for (const version of ['6.4.0', '6.5.0']) {
      await writeFile(join(repoDir, `podinfo-${version}.tgz`), await packageChartDirectory(PODINFO, { version }));
    }
    await writeFile(join(repoDir, 'caps-0.1.0.tgz'), await packageChartDirectory(await chartDir(CAPS_CHART)));
    await writeFile(join(repoDir, 'broken-0.1.0.tgz'), await packageChartDirectory(await chartDir(BROKEN_CHART)));
    repo = await serve(repoDir, { user: USER, password: PASSWORD });
    servers.push(repo.server);
    await promisify(execFile)(bin('helm'), ['repo', 'index', repoDir, `--url=${repo.url}`], {
      env: { HOME: repoDir, HELM_CACHE_HOME: join(repoDir, '.h'), HELM_CONFIG_HOME: join(repoDir, '.h'), HELM_DATA_HOME: join(repoDir, '.h'), PATH: '' },
    });
    // Not a chart repository: an HTML page where the index should be.
    await mkdir(join(repoDir, 'html'));
    await writeFile(join(repoDir, 'html', 'index.yaml'), '<html><body>Sign in</body></html>\n');
    store = new FileArtifactStore(await tempDir());
    podinfo650 = await readFile(join(repoDir, 'podinfo-6.5.0.tgz'));
  });

  describe('fetchHelmIndex', () => {
    it('fetches and parses the index with the right credentials', async () => {
      const result = await fetchHelmIndex(`${repo.url}/`, auth, DEV);
      index = result.index;
      assert.equal(result.digest, digestOf(await readFile(join(repoDir, 'index.yaml'))));
      assert.equal(index.url, `${repo.url}/index.yaml`);
      assert.deepEqual(index.entries.podinfo?.map((v) => v.version), ['6.5.0', '6.4.0']);
      assert.equal(index.entries.podinfo[0]?.appVersion, '6.14.1');
      assert.deepEqual(index.entries.podinfo[0].urls, [`${repo.url}/podinfo-6.5.0.tgz`]);
      assert.equal(index.entries.podinfo[0].digest, digestOf(podinfo650).slice('sha256:'.length));
    });

    it('refuses wrong or missing credentials clearly, never echoing the password', async () => {
      const wrong = await fetchHelmIndex(repo.url, { username: USER, password: 'hunter2-wrong' }, DEV).then(() => undefined, (err: unknown) => err);
      assert.ok(wrong instanceof HelmRepositoryError);
      assert.equal(wrong.reason, 'IndexationFailed');
      assert.equal(wrong.message, `failed to fetch Helm repository index ${repo.url}/index.yaml: 401 Unauthorized (the credentials were refused)`);
      assert.ok(!wrong.message.includes('hunter2') && !wrong.message.includes(PASSWORD));
      await assert.rejects(fetchHelmIndex(repo.url, undefined, DEV), { name: 'HelmRepositoryError', message: /401 Unauthorized \(the repository needs credentials\)$/ });
    });

    it('refuses credentials embedded in the URL without repeating them', async () => {
      const url = repo.url.replace('http://', `http://${USER}:${PASSWORD}@`);
      const err = await fetchHelmIndex(url, undefined, DEV).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof HelmRepositoryError);
      assert.match(err.message, /embeds credentials/);
      assert.ok(!err.message.includes(PASSWORD));
    });

    it('names the URL when the repository is unreachable', async () => {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const port = (closed.address() as AddressInfo).port;
      await new Promise((resolve) => closed.close(resolve));
      await assert.rejects(fetchHelmIndex(`http://127.0.0.1:${port}/charts`, auth, { ...DEV, timeoutMs: 5000 }), (err: unknown) => {
        assert.ok(err instanceof HelmRepositoryError);
        assert.equal(err.reason, 'IndexationFailed');
        assert.match(err.message, new RegExp(`^failed to fetch Helm repository index http://127\\.0\\.0\\.1:${port}/charts/index\\.yaml: .*ECONNREFUSED`));
        return true;
      });
    });

    it('says when the URL does not serve a Helm index, or is too large', async () => {
      await assert.rejects(fetchHelmIndex(`${repo.url}/html`, auth, DEV), {
        name: 'HelmRepositoryError',
        message: `${repo.url}/html/index.yaml is not a Helm repository index: expected a YAML mapping with apiVersion and entries`,
      });
      await assert.rejects(fetchHelmIndex(repo.url, auth, { ...DEV, maxBytes: 100 }), { name: 'HelmRepositoryError', message: /larger than the 100 bytes allowed/ });
      await assert.rejects(fetchHelmIndex('oci://ghcr.io/stefanprodan/charts', undefined, DEV), { name: 'HelmRepositoryError', message: /is not http\(s\)/ });
    });
  });

  describe('resolve and fetchChart', () => {
    it('resolves a range against the fetched index', () => {
      assert.equal(resolveChartVersion(index, 'podinfo', '~6.4').version, '6.4.0');
      assert.equal(resolveChartVersion(index, 'podinfo', '>=6.0.0').version, '6.5.0');
      assert.throws(() => resolveChartVersion(index, 'podinfo', '>=7.0.0'), {
        message: 'no chart version of "podinfo" matches ">=7.0.0" (available: 6.5.0, 6.4.0)',
      });
    });

    it('downloads the chart, checks its digest and stores it', async () => {
      const chart = resolveChartVersion(index, 'podinfo', '6.5.x');
      const { artifactDigest } = await fetchChart(chart, repo.url, store, { auth, ...DEV });
      assert.equal(artifactDigest, digestOf(podinfo650));
      assert.deepEqual(await store.get(artifactDigest), podinfo650);
    });

    it('refuses an archive that does not match the index digest', async () => {
      const tampered = Buffer.from(podinfo650);
      tampered[tampered.length - 20] = (tampered[tampered.length - 20] ?? 0) ^ 0xff;
      await writeFile(join(repoDir, 'tampered.tgz'), tampered);
      const chart = { name: 'podinfo', version: '6.5.0', urls: ['tampered.tgz'], digest: digestOf(podinfo650).slice('sha256:'.length) };
      await assert.rejects(fetchChart(chart, `${repo.url}/`, store, { auth, ...DEV }), (err: unknown) => {
        assert.ok(err instanceof HelmChartError);
        assert.equal(err.reason, 'ChartPullError');
        assert.equal(
          err.message,
          `chart podinfo-6.5.0 from ${repo.url}/tampered.tgz has digest ${digestOf(tampered)}, but the repository index says ${digestOf(podinfo650)}; refusing it`,
        );
        return true;
      });
      assert.equal(await store.has(digestOf(tampered)), false);
    });

    it('sends credentials only to the repository\'s own host', async () => {
      const other = await serve(repoDir);
      servers.push(other.server);
      const { artifactDigest } = await fetchChart({ urls: [`${other.url}/podinfo-6.4.0.tgz`] }, repo.url, store, { auth, ...DEV });
      assert.equal(artifactDigest, digestOf(await readFile(join(repoDir, 'podinfo-6.4.0.tgz'))));
      assert.deepEqual(other.seen, [undefined]);
    });

    it('says which chart is missing on the server', async () => {
      await assert.rejects(fetchChart({ name: 'podinfo', version: '9.9.9', urls: ['podinfo-9.9.9.tgz'] }, repo.url, store, { auth, ...DEV }), {
        name: 'HelmChartError',
        message: `failed to fetch chart podinfo-9.9.9 from ${repo.url}/podinfo-9.9.9.tgz: 404 Not Found`,
      });
    });
  });

  describe('renderChart', () => {
    const base: RenderOptions = { releaseName: 'web', namespace: 'apps', values: {}, kubeVersion: KUBE_VERSION, includeCrds: false };

    it('renders podinfo: release objects, and its hook Job and test pods as hooks', async () => {
      const tgz = await store.get(digestOf(podinfo650));
      assert.ok(tgz);
      const rendered = await renderChart(tgz, {
        ...base,
        values: {
          replicaCount: 2,
          hooks: {
            preInstall: { job: { enabled: true } },
            postUpgrade: { job: { enabled: true, hookDeletePolicy: 'before-hook-creation' } },
          },
        },
      });
      assert.deepEqual(rendered.chart, { name: 'podinfo', version: '6.5.0', appVersion: '6.14.1' });
      assert.deepEqual(rendered.resources.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`).sort(), [
        'Deployment/apps/web-podinfo', 'Service/apps/web-podinfo',
      ]);
      const [deployment] = byKind(rendered.resources, 'Deployment');
      assert.equal((deployment?.spec as { replicas?: unknown } | undefined)?.replicas, 2);
      assert.deepEqual(rendered.skippedHooks, []);

      // templates/hooks/job.yaml: one Job per enabled hook, with the values' delete policy.
      const jobs = rendered.hooks.filter((h) => h.object.kind === 'Job');
      assert.deepEqual(jobs.map((h) => [h.object.metadata.name, h.events, h.weight, h.deletePolicies]).sort(), [
        ['web-podinfo-post-upgrade', ['post-upgrade'], 0, ['before-hook-creation']],
        ['web-podinfo-pre-install', ['pre-install'], 0, ['hook-succeeded', 'hook-failed']],
      ]);
      assert.deepEqual(hookSteps(rendered.hooks, 'pre-install').map((s) => [s.weight, s.hooks.map((h) => h.object.metadata.name)]), [
        [0, ['web-podinfo-pre-install']],
      ]);
      assert.deepEqual(hookSteps(rendered.hooks, 'pre-upgrade'), []);

      // templates/tests: grpc, jwt and service pods (`test-success`, Helm 2's name for `test`); the
      // others are off by default. Names end in a random suffix.
      const [tests] = hookSteps(rendered.hooks, 'test');
      assert.equal(tests?.weight, 0);
      assert.deepEqual(tests.hooks.map((h) => h.object.metadata.name.replace(/-[a-z0-9]{5}$/, '')), [
        'web-podinfo-grpc-test', 'web-podinfo-jwt-test', 'web-podinfo-service-test',
      ]);
      for (const h of tests.hooks) {
        assert.equal(h.object.kind, 'Pod');
        assert.deepEqual(h.events, ['test']);
        assert.deepEqual(h.deletePolicies, ['before-hook-creation', 'hook-succeeded']);
        assert.equal(h.object.metadata.namespace, 'apps');
      }
    });

    it('fails with helm\'s message when the cluster is older than the chart allows', async () => {
      await assert.rejects(renderChart(podinfo650, { ...base, kubeVersion: '1.22.0' }), {
        name: 'ChartRenderError',
        message: 'helm template failed for chart podinfo-6.5.0: Error: chart requires kubeVersion: >=1.23.0-0 which is incompatible with Kubernetes v1.22.0',
      });
    });

    it('honours .Capabilities.APIVersions, the kube version, --is-upgrade, --include-crds and string values', async () => {
      const caps = await readFile(join(repoDir, 'caps-0.1.0.tgz'));
      const plain = await renderChart(caps, { ...base, releaseName: 'c', values: { flag: 'yes' } });
      assert.deepEqual(plain.chart, { name: 'caps', version: '0.1.0', appVersion: '1.10' });
      assert.deepEqual(plain.resources.map((o) => o.kind), ['ConfigMap']);
      assert.deepEqual(plain.resources[0]?.data, { kubeVersion: 'v1.30.14', upgrade: 'false', namespace: 'apps', flag: 'yes', hasMonitoring: 'false' });
      assert.deepEqual(plain.hooks.map((h) => [h.object.kind, h.object.metadata.name, h.events, h.weight]), [['Secret', 'c-seed', ['pre-install', 'pre-upgrade'], -5]]);

      const full = await renderChart(caps, {
        ...base,
        releaseName: 'c',
        isUpgrade: true,
        includeCrds: true,
        apiVersions: ['monitoring.coreos.com/v1', 'monitoring.coreos.com/v1/ServiceMonitor'],
      });
      assert.deepEqual(full.resources.map((o) => o.kind).sort(), ['ConfigMap', 'CustomResourceDefinition', 'ServiceMonitor']);
      const info = byKind(full.resources, 'ConfigMap')[0];
      assert.equal((info?.data as Record<string, string> | undefined)?.upgrade, 'true');
      assert.equal((info?.data as Record<string, string> | undefined)?.hasMonitoring, 'true');
      // The group/version alone does not make the Kind available.
      const groupOnly = await renderChart(caps, { ...base, releaseName: 'c', apiVersions: ['monitoring.coreos.com/v1'] });
      assert.deepEqual(groupOnly.resources.map((o) => o.kind), ['ConfigMap']);

      await assert.rejects(renderChart(caps, { ...base, apiVersions: ['a/v1,b/v1'] }), { name: 'ChartRenderError', message: /invalid API version "a\/v1,b\/v1"/ });
    });

    it('reports a template error with helm\'s message', async () => {
      const broken = await readFile(join(repoDir, 'broken-0.1.0.tgz'));
      await assert.rejects(renderChart(broken, base), (err: unknown) => {
        assert.ok(err instanceof ChartRenderError);
        assert.equal(
          err.message,
          'helm template failed for chart broken-0.1.0: Error: parse error at (broken/templates/cm.yaml:5): unclosed action started at broken/templates/cm.yaml:4',
        );
        return true;
      });
    });

    it('refuses what is not a chart archive', async () => {
      await assert.rejects(readChartMetadata(Buffer.from('not a tarball at all')), { name: 'ChartRenderError', message: /^not a Helm chart archive/ });
      await assert.rejects(packageChartDirectory(join(repoDir, 'no-such-chart')), { name: 'HelmChartError', message: /^helm package failed for .*no-such-chart: Error: / });
    });
  });
});
