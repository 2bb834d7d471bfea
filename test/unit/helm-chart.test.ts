// core/helm-chart.ts: reading a repository index, picking a chart version the way Flux does
// (exact match, latest stable, ranges, prereleases only when asked for), and Helm's hook
// rules (which objects are hooks, weights, delete policies, and the order they run in).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ChartResolutionError, hookSteps, parseHelmIndex, resolveChartVersion, splitHooks, type HelmHook, type HelmIndex,
} from '../../core/helm-chart.js';
import type { KubeObject } from '../../core/objects.js';

const URL = 'https://charts.example.com/index.yaml';

const INDEX = `
apiVersion: v1
entries:
  podinfo:
  - name: podinfo
    version: 6.4.0
    appVersion: 6.4.0
    created: "2024-01-01T00:00:00Z"
    digest: ${'a'.repeat(64)}
    urls: [https://charts.example.com/podinfo-6.4.0.tgz]
  - name: podinfo
    version: 6.5.0
    appVersion: 6.5.0
    urls: [podinfo-6.5.0.tgz]
  - name: podinfo
    version: 7.0.0-rc.1
    urls: [podinfo-7.0.0-rc.1.tgz]
  - name: podinfo
    version: 6.4.1
    deprecated: true
    urls: [podinfo-6.4.1.tgz]
  - name: podinfo
    version: not-a-version
    urls: [broken.tgz]
  - name: podinfo
    version: v5.0
    urls: [podinfo-5.0.tgz]
  redis:
  - name: redis
    version: 1.0.0+build.1
    created: "2024-01-01T00:00:00Z"
    urls: [redis-old.tgz]
  - name: redis
    version: 1.0.0+build.2
    created: "2024-02-01T00:00:00Z"
    urls: [redis-new.tgz]
  empty: []
generated: "2024-03-01T00:00:00Z"
`;

const index: HelmIndex = parseHelmIndex(INDEX, URL);

function resolutionError(reason: string, message: string | RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof ChartResolutionError, `expected a ChartResolutionError, got ${String(err)}`);
    assert.equal(err.reason, reason);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  };
}

describe('parseHelmIndex', () => {
  it('reads entries, newest first, skipping versions Helm would skip', () => {
    assert.equal(index.apiVersion, 'v1');
    assert.equal(index.generated, '2024-03-01T00:00:00Z');
    assert.deepEqual(index.entries.podinfo?.map((v) => v.version), ['7.0.0-rc.1', '6.5.0', '6.4.1', '6.4.0', 'v5.0']);
    const v640 = index.entries.podinfo.find((v) => v.version === '6.4.0');
    assert.deepEqual(v640, {
      name: 'podinfo', version: '6.4.0', appVersion: '6.4.0', created: '2024-01-01T00:00:00Z',
      digest: 'a'.repeat(64), urls: ['https://charts.example.com/podinfo-6.4.0.tgz'], deprecated: false,
    });
    assert.equal(index.entries.podinfo.find((v) => v.version === '6.4.1')?.deprecated, true);
    assert.deepEqual(index.entries.empty, []);
  });

  it('orders versions that differ only by build metadata by creation time (Flux)', () => {
    assert.deepEqual(index.entries.redis?.map((v) => v.version), ['1.0.0+build.2', '1.0.0+build.1']);
  });

  it('reads the JSON form too', () => {
    const json = parseHelmIndex(JSON.stringify({ apiVersion: 'v1', entries: { a: [{ name: 'a', version: '1.0.0', urls: ['a.tgz'] }] } }), URL);
    assert.deepEqual(json.entries.a?.map((v) => v.version), ['1.0.0']);
  });

  it('refuses what is not an index, naming the URL', () => {
    assert.throws(() => parseHelmIndex('<html><body>Login</body></html>', URL), {
      message: `${URL} is not a Helm repository index: expected a YAML mapping with apiVersion and entries`,
    });
    assert.throws(() => parseHelmIndex('entries: {}\n', URL), { message: `${URL} is not a Helm repository index: no apiVersion specified` });
    assert.throws(() => parseHelmIndex('apiVersion: v1\nentries: [1, 2]\n', URL), /entries is not a mapping/);
    assert.throws(() => parseHelmIndex('apiVersion: v1\nentries:\n  a: 3\n', URL), /entries\.a is not a list of chart versions/);
    assert.throws(() => parseHelmIndex('   \n', URL), /the file is empty/);
    assert.throws(() => parseHelmIndex('apiVersion: v1\nentries: {a: [}\n', URL), /index\.yaml is not a Helm repository index: invalid YAML/);
  });
});

describe('resolveChartVersion', () => {
  const pick = (range: string, chart = 'podinfo'): string => resolveChartVersion(index, chart, range).version;

  it('takes the latest stable version for "*" or an empty range', () => {
    assert.equal(pick('*'), '6.5.0');
    assert.equal(pick(''), '6.5.0');
    assert.equal(pick('  '), '6.5.0');
  });

  it('takes an exact version, a prerelease too', () => {
    assert.equal(pick('6.4.0'), '6.4.0');
    assert.equal(pick('7.0.0-rc.1'), '7.0.0-rc.1');
    assert.equal(pick('v5.0'), 'v5.0');
  });

  it('takes the highest version in a range', () => {
    assert.equal(pick('^6.4'), '6.5.0');
    assert.equal(pick('~6.4.0'), '6.4.1');
    assert.equal(pick('6.4.x'), '6.4.1');
    assert.equal(pick('>=6.0.0 <6.5.0'), '6.4.1');
    assert.equal(pick('>=6.0, <6.5'), '6.4.1'); // Helm's comma AND
    assert.equal(pick('6.0.0 - 6.4.0'), '6.4.0');
    assert.equal(pick('<6'), 'v5.0'); // "v5.0" is 5.0.0 to Helm
    assert.equal(pick('>=5 <6 || >=6.4.1 <6.5'), '6.4.1');
  });

  it('returns the entry with its URLs and digest', () => {
    const v = resolveChartVersion(index, 'podinfo', '~6.4.0 <6.4.1');
    assert.equal(v.version, '6.4.0');
    assert.deepEqual(v.urls, ['https://charts.example.com/podinfo-6.4.0.tgz']);
    assert.equal(v.digest, 'a'.repeat(64));
  });

  it('considers prereleases only when the range names one', () => {
    assert.equal(pick('>=6.0.0'), '6.5.0');
    assert.equal(pick('>=6.0.0-0'), '7.0.0-rc.1');
    assert.equal(pick('>=6.0.0-0 <8.0.0'), '7.0.0-rc.1'); // per alternative, as in Helm's semver library
    assert.equal(pick('^6 || >=7.0.0-0'), '7.0.0-rc.1');
    assert.equal(pick('^7.0.0-0'), '7.0.0-rc.1');
    assert.throws(() => pick('^7'), resolutionError('NoMatchingVersion', /matches "\^7"/));
  });

  it('picks the newest build of the same version', () => {
    assert.deepEqual(resolveChartVersion(index, 'redis', '1.0.0').urls, ['redis-new.tgz']);
  });

  it('says when the chart is not in the index', () => {
    assert.throws(() => pick('*', 'nginx'), resolutionError('ChartNotFound', `chart "nginx" not found in ${URL}`));
    assert.throws(() => pick('*', 'constructor'), resolutionError('ChartNotFound', `chart "constructor" not found in ${URL}`));
  });

  it('lists the available versions when none matches', () => {
    assert.throws(
      () => pick('>=8.0.0'),
      resolutionError('NoMatchingVersion', 'no chart version of "podinfo" matches ">=8.0.0" (available: 7.0.0-rc.1, 6.5.0, 6.4.1, 6.4.0, v5.0)'),
    );
    assert.throws(() => pick('*', 'empty'), resolutionError('NoMatchingVersion', 'no chart version of "empty" matches "*" (no versions)'));
    const many = parseHelmIndex(
      `apiVersion: v1\nentries:\n  a:\n${Array.from({ length: 12 }, (_, i) => `  - {name: a, version: 1.${i}.0, urls: [a.tgz]}\n`).join('')}`,
      URL,
    );
    assert.throws(
      () => resolveChartVersion(many, 'a', '>=2'),
      resolutionError('NoMatchingVersion', 'no chart version of "a" matches ">=2" (available: 1.11.0, 1.10.0, 1.9.0, 1.8.0, 1.7.0, 1.6.0, 1.5.0, 1.4.0, 1.3.0, 1.2.0, …)'),
    );
  });

  it('refuses an invalid range', () => {
    assert.throws(() => pick('not-a-range'), resolutionError('InvalidRange', 'invalid semver range "not-a-range"'));
    assert.throws(() => pick('>=abc'), resolutionError('InvalidRange', 'invalid semver range ">=abc"'));
    assert.throws(() => pick('1.0.0 ||'), resolutionError('InvalidRange', 'invalid semver range "1.0.0 ||"'));
  });
});

function obj(kind: string, name: string, annotations?: Record<string, string>): KubeObject {
  return { apiVersion: kind === 'Job' ? 'batch/v1' : 'v1', kind, metadata: { name, ...(annotations ? { annotations } : {}) } };
}

const hook = (kind: string, name: string, event: string, more: Record<string, string> = {}): KubeObject =>
  obj(kind, name, { 'helm.sh/hook': event, ...more });

describe('splitHooks', () => {
  it('separates release objects from hooks, keeping the order', () => {
    const deployment = obj('Deployment', 'web', { 'app.kubernetes.io/name': 'web' });
    const service = obj('Service', 'web');
    const job = hook('Job', 'migrate', 'pre-install');
    const split = splitHooks([deployment, job, service]);
    assert.deepEqual(split.resources, [deployment, service]);
    assert.equal(split.hooks.length, 1);
    assert.deepEqual(split.hooks[0], { object: job, events: ['pre-install'], weight: 0, deletePolicies: ['before-hook-creation'] });
    assert.deepEqual(split.skipped, []);
  });

  it('reads several events, with spaces and any case, and test-success as test', () => {
    const { hooks } = splitHooks([
      hook('Job', 'a', 'pre-install, Pre-Upgrade ,post-rollback'),
      hook('Pod', 'b', 'test-success'),
      hook('Pod', 'c', 'test,test-success'),
    ]);
    assert.deepEqual(hooks.map((h) => h.events), [['pre-install', 'pre-upgrade', 'post-rollback'], ['test'], ['test']]);
  });

  it('drops an object whose hook annotation names an unknown event, as Helm does', () => {
    const odd = hook('Job', 'odd', 'pre-install,crd-install');
    const empty = hook('Job', 'empty', '');
    const split = splitHooks([odd, empty]);
    assert.deepEqual(split.resources, []);
    assert.deepEqual(split.hooks, []);
    assert.deepEqual(split.skipped, [{ object: odd, annotation: 'pre-install,crd-install' }, { object: empty, annotation: '' }]);
  });

  it('parses weights as Go integers, 0 otherwise', () => {
    const weights = ['-5', '+3', '10', '007', 'abc', '1.5', ' 2', ''].map((w) => splitHooks([hook('Job', 'j', 'post-install', { 'helm.sh/hook-weight': w })]).hooks[0]?.weight);
    assert.deepEqual(weights, [-5, 3, 10, 7, 0, 0, 0, 0]);
  });

  it('reads delete policies, defaulting to before-hook-creation only when none is given', () => {
    const policies = (value: string | undefined, kind = 'Job'): readonly string[] | undefined =>
      splitHooks([hook(kind, 'j', 'pre-install', value === undefined ? {} : { 'helm.sh/hook-delete-policy': value })]).hooks[0]?.deletePolicies;
    assert.deepEqual(policies(undefined), ['before-hook-creation']);
    assert.deepEqual(policies('hook-succeeded'), ['hook-succeeded']);
    assert.deepEqual(policies('Hook-Succeeded, hook-failed,hook-succeeded'), ['hook-succeeded', 'hook-failed']);
    assert.deepEqual(policies('before-hook-creation,hook-succeeded'), ['before-hook-creation', 'hook-succeeded']);
    assert.deepEqual(policies('keep-forever'), []); // Helm keeps the unknown value, which deletes nothing
    assert.deepEqual(policies(undefined, 'CustomResourceDefinition'), []); // Helm never deletes a CRD hook
  });
});

describe('hookSteps', () => {
  const names = (steps: ReturnType<typeof hookSteps>): [number, string[]][] =>
    steps.map((s) => [s.weight, s.hooks.map((h) => `${h.object.kind}/${h.object.metadata.name}`)]);
  const hooks: HelmHook[] = splitHooks([
    hook('Job', 'z-migrate', 'pre-install,pre-upgrade', { 'helm.sh/hook-weight': '5' }),
    hook('Job', 'a-migrate', 'pre-install', { 'helm.sh/hook-weight': '5' }),
    hook('ConfigMap', 'settings', 'pre-install', { 'helm.sh/hook-weight': '5' }),
    hook('Widget', 'w', 'pre-install', { 'helm.sh/hook-weight': '5' }),
    hook('Gadget', 'g', 'pre-install', { 'helm.sh/hook-weight': '5' }),
    hook('ServiceAccount', 'runner', 'pre-install', { 'helm.sh/hook-weight': '-10' }),
    hook('Secret', 'creds', 'pre-install'),
    hook('Job', 'notify', 'post-install', { 'helm.sh/hook-delete-policy': 'hook-succeeded' }),
    hook('Pod', 'test-b', 'test-success', { 'helm.sh/hook-delete-policy': 'before-hook-creation,hook-succeeded' }),
    hook('Pod', 'test-a', 'test'),
  ]).hooks;

  it('groups one event\'s hooks by weight, lowest first; kind install order then name within a weight', () => {
    assert.deepEqual(names(hookSteps(hooks, 'pre-install')), [
      [-10, ['ServiceAccount/runner']],
      [0, ['Secret/creds']],
      [5, ['ConfigMap/settings', 'Job/a-migrate', 'Job/z-migrate', 'Gadget/g', 'Widget/w']],
    ]);
  });

  it('includes a hook in every event it names', () => {
    assert.deepEqual(names(hookSteps(hooks, 'pre-upgrade')), [[5, ['Job/z-migrate']]]);
    assert.deepEqual(names(hookSteps(hooks, 'post-install')), [[0, ['Job/notify']]]);
    assert.deepEqual(hookSteps(hooks, 'pre-delete'), []);
  });

  it('carries each hook\'s delete policies, test hooks included', () => {
    const [step] = hookSteps(hooks, 'test');
    assert.deepEqual(names(hookSteps(hooks, 'test')), [[0, ['Pod/test-a', 'Pod/test-b']]]);
    assert.deepEqual(step?.hooks.map((h) => h.deletePolicies), [['before-hook-creation'], ['before-hook-creation', 'hook-succeeded']]);
    assert.deepEqual(hookSteps(hooks, 'post-install')[0]?.hooks[0]?.deletePolicies, ['hook-succeeded']);
  });
});
