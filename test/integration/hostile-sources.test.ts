// Hostile sources against the hub's own render code (#24 "Bounded everything"): each input of
// the issue fails within seconds with the cap's name, a well-behaved build next to it keeps
// building, and this process (the hub's code runs in it) grows by less than a documented bound.
// Real kustomize and helm binaries (under prlimit), the real tar/gzip code paths, real files.
// The activities are called directly (the per-input cases); the full Temporal reconcile of an alias
// bomb next to another tenant's healthy Kustomization is in test/integration/tenants.test.ts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createGzip } from 'node:zlib';
import { Header } from 'tar';
import { limitMechanism, runLimited } from '../../activities/limited-exec.js';
import { buildKustomization, packageChartDirectory, renderChart } from '../harness/engines.js';
import { extractTarball, packTree } from '../../activities/tarball.js';
import type { KustomizationSpec } from '../../core/declarations/types.js';
import { DEFAULT_RENDER_LIMITS, MiB, RenderLimitError, type RenderLimits } from '../../core/render-limits.js';
import { loadHubConfig } from '../../hub/config.js';
import { bin } from '../../deploy/dev/binaries.js';
import { billionLaughs as laughs } from '../harness/yaml-bomb.js';

/** Each hostile input must be refused within this. Generous (a slow, shared CI machine): the refusals measured ~0.01–1.5 s. */
const REFUSED_WITHIN_MS = 20_000;
/** Growth of this process's RSS over the whole file. Generous: measured ~40–90 MiB; unbounded, the inputs cost 1.4–8.8 GB. */
const RSS_GROWTH_BOUND = 512 * MiB;

const temps: string[] = [];
const measured: { name: string; ms: number; rssMiB: number }[] = [];
let rssBefore = 0;
let peakRss = 0;
const sample = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage().rss); }, 20);

before(() => {
  rssBefore = process.memoryUsage().rss;
  peakRss = rssBefore;
});
after(async () => {
  clearInterval(sample);
  await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })));
  console.log(JSON.stringify({ measured, rssBeforeMiB: Math.round(rssBefore / MiB), peakGrowthMiB: Math.round((peakRss - rssBefore) / MiB) }));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'flotilla-hostile-'));
  temps.push(dir);
  return dir;
}

async function tree(files: Record<string, string>): Promise<string> {
  const root = await tempDir();
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
  return root;
}

function spec(path = '.'): KustomizationSpec {
  return {
    sourceRef: { kind: 'GitRepository', namespace: 'flux-system', name: 'repo' }, path, intervalSeconds: 600, retryIntervalSeconds: 600,
    timeoutSeconds: 60, prune: true, wait: false, healthChecks: [], dependsOn: [], patches: [], images: [], force: false, suspend: false,
    placement: { clusters: [], hub: false },
  };
}

const HEALTHY = {
  'kustomization.yaml': 'resources: [cm.yaml]\n',
  'cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: healthy, namespace: apps}\ndata: {a: b}\n',
};

/** Runs a hostile case and a healthy build concurrently: the hostile one must fail naming `cap`, the healthy one succeed. */
async function refused(name: string, cap: RegExp, hostile: () => Promise<unknown>): Promise<void> {
  const healthy = await tree(HEALTHY);
  const started = Date.now();
  const [bad, good] = await Promise.allSettled([hostile(), buildKustomization(healthy, spec(), {})]);
  const ms = Date.now() - started;
  measured.push({ name, ms, rssMiB: Math.round((process.memoryUsage().rss - rssBefore) / MiB) });
  assert.equal(bad.status, 'rejected', `${name} was not refused`);
  const message = bad.reason instanceof Error ? bad.reason.message : String(bad.reason);
  assert.match(message, cap);
  assert.ok(ms < REFUSED_WITHIN_MS, `${name} took ${ms} ms`);
  assert.equal(good.status, 'fulfilled', `the healthy build next to ${name} failed`);
  assert.equal(good.value.objectCount, 1);
}

/** The render caps of a hub started with FLOTILLA_RENDER_MAX_OBJECTS=50 (hub/config.ts, as `flotilla-hub serve` reads them). */
async function hubLimits(): Promise<RenderLimits> {
  const limits = loadHubConfig({ flags: { 'data-dir': await tempDir() }, env: { FLOTILLA_RENDER_MAX_OBJECTS: '50' } }).limits.render;
  assert.deepEqual(limits, { ...DEFAULT_RENDER_LIMITS, maxObjects: 50 });
  return limits;
}

/** A .tar.gz of one `size`-byte entry of zeros, streamed through gzip (never held inflated). */
async function zeroArchive(path: string, size: number): Promise<Buffer> {
  const header = Buffer.alloc(512);
  new Header({ path, type: 'File', mode: 0o644, size, mtime: new Date(0), uid: 0, gid: 0 }).encode(header, 0);
  const gzip = createGzip({ level: 9 });
  const out: Buffer[] = [];
  gzip.on('data', (c: Buffer) => out.push(c));
  const ended = new Promise((resolve) => gzip.on('end', resolve));
  gzip.write(header);
  const zeros = Buffer.alloc(16 * MiB);
  for (let left = size; left > 0; left -= zeros.length) {
    if (!gzip.write(left >= zeros.length ? zeros : zeros.subarray(0, left))) await new Promise((r) => gzip.once('drain', r));
  }
  gzip.end(Buffer.alloc(1024));
  await ended;
  return Buffer.concat(out);
}

describe('hostile sources are refused within seconds, naming the cap; a healthy build next to each succeeds', () => {
  it('children are limited on this machine (prlimit)', () => {
    assert.equal(limitMechanism().mechanism, 'prlimit');
  });

  it('a YAML alias bomb listed by kustomization.yaml: refused before kustomize reads it', async () => {
    const root = await tree({ 'kustomization.yaml': 'resources: [cm.yaml]\n', 'cm.yaml': laughs() });
    await refused('alias bomb', /cm\.yaml: document 1 contains excessive aliasing/, () => buildKustomization(root, spec(), {}));
  });

  it('the same bomb given to kustomize itself: stopped by the memory limit, not the hub', async () => {
    const root = await tree({ 'kustomization.yaml': 'resources: [cm.yaml]\n', 'cm.yaml': laughs() });
    await refused('alias bomb, kustomize under prlimit', /exceeded the memory limit of 2 GiB \(limits\.render\.memoryBytes\)/, async () => {
      const result = await runLimited({
        bin: bin('kustomize'), args: ['build', root], cwd: root, env: { PATH: '' }, timeoutMs: 120_000, limits: DEFAULT_RENDER_LIMITS,
        subject: 'kustomize build of path "."',
      });
      return result;
    });
  });

  it('a template that loops: stopped by the CPU time limit', async () => {
    const chart = await tree({
      'spin/Chart.yaml': 'apiVersion: v2\nname: spin\nversion: 1.0.0\n',
      'spin/templates/cm.yaml': '{{- range until 100000 }}{{- range until 100000 }}{{- end }}{{- end }}\n',
    });
    const tgz = await packageChartDirectory(join(chart, 'spin'));
    await refused('helm template CPU loop', /exceeded the CPU time limit of 2 s \(limits\.render\.cpuSeconds\)/, () =>
      renderChart(tgz, { releaseName: 'spin', namespace: 'apps', values: {}, includeCrds: false, limits: { ...DEFAULT_RENDER_LIMITS, cpuSeconds: 2 } }));
  });

  it('a 1 GiB file in a checkout: refused by its stat, never read', async () => {
    const root = await tree(HEALTHY);
    const handle = await open(join(root, 'huge.bin'), 'w');
    await handle.truncate(2 ** 30); // sparse: the test writes nothing
    await handle.close();
    await refused('1 GiB file', /file huge\.bin: exceeded the file size limit of 16 MiB \(limits\.render\.maxFileBytes\): it is 1 GiB/, () => packTree(root));
  });

  it('20 000 small files in a checkout: refused at the file count limit', async () => {
    const root = await tempDir();
    for (let d = 0; d < 20; d++) {
      await mkdir(join(root, `d${d}`));
      await Promise.all(Array.from({ length: 1000 }, (_, f) => writeFile(join(root, `d${d}`, `f${f}.txt`), 'x')));
    }
    await refused('20k files', /source tree: exceeded the file count limit of 10000 \(limits\.render\.maxFiles\)/, () => packTree(root));
  });

  it('a gzip bomb (2 MiB inflating to 2 GiB): refused while inflating', async () => {
    const bomb = await zeroArchive('manifests/big.yaml', 2 * 2 ** 30);
    assert.ok(bomb.length < 3 * MiB, `the bomb is ${bomb.length} bytes`);
    const dir = await tempDir();
    // The file size cap would refuse its header at once; without it the ratio cap must stop the stream.
    await refused('gzip bomb', /archive: exceeded the compression ratio limit of 200:1 \(limits\.untar\.maxRatio\)/, () =>
      extractTarball(bomb, join(dir, 'out'), { maxFileBytes: 4 * 2 ** 30, maxBytes: 4 * 2 ** 30 }));
    await refused('gzip bomb, default limits', /exceeded the file size limit of 16 MiB/, () => extractTarball(bomb, join(dir, 'out2')));
  });

  it('a .tgz Helm chart bomb: refused while reading the chart', async () => {
    const bomb = await zeroArchive('bomb/templates/zeros.yaml', 2 * 2 ** 30);
    await refused('chart bomb', /exceeded the compression ratio limit of 200:1 \(limits\.untar\.maxRatio\)/, () =>
      renderChart(bomb, { releaseName: 'b', namespace: 'apps', values: {}, includeCrds: false }));
  });

  it('a 30 MiB manifest: refused by its size before anything parses it', async () => {
    const cm = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n  big: "${'x'.repeat(30 * MiB)}"\n`;
    const root = await tree({ 'kustomization.yaml': 'resources: [cm.yaml]\n', 'cm.yaml': cm });
    await refused('30 MiB manifest', /file cm\.yaml: exceeded the file size limit of 16 MiB \(limits\.render\.maxFileBytes\): it is 30\.0 MiB/, () =>
      buildKustomization(root, spec(), {}));
  });

  it('RenderLimitError is what the activities turn into a failed reconcile', async () => {
    const root = await tree({ 'kustomization.yaml': 'resources: [cm.yaml]\n', 'cm.yaml': HEALTHY['cm.yaml'] });
    await assert.rejects(buildKustomization(root, spec(), {}, { limits: { ...DEFAULT_RENDER_LIMITS, maxBytes: 16 } }), (err: unknown) =>
      err instanceof RenderLimitError && err.limit === 'maxBytes' && /exceeded the output size limit of 16 bytes \(limits\.render\.maxBytes\)/.test(err.message));
  });

  it('a kustomize build over limits.render.maxObjects (set to 50): refused with the cap, 50 builds', async () => {
    const cms = (n: number): string => Array.from({ length: n }, (_, i) => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c${i}, namespace: apps}\n`).join('---\n');
    const limits = await hubLimits();
    const over = await tree({ 'kustomization.yaml': 'resources: [cms.yaml]\n', 'cms.yaml': cms(51) });
    await refused('kustomize build of 51 objects', /kustomize build of path "\.": exceeded the object count limit of 50 \(limits\.render\.maxObjects\): it built 51 objects; nothing was applied; split the render into smaller ones, or raise limits\.render\.maxObjects on the hub/, () =>
      buildKustomization(over, spec(), {}, { limits }));
    // At the cap exactly: built (the cap is the most allowed, not one less).
    const at = await tree({ 'kustomization.yaml': 'resources: [cms.yaml]\n', 'cms.yaml': cms(50) });
    assert.equal((await buildKustomization(at, spec(), {}, { limits })).objectCount, 50);
  });

  it('a helm template over limits.render.maxObjects (set to 50): refused with the cap, 50 renders', async () => {
    const chart = (n: number): Promise<string> => tree({
      'many/Chart.yaml': 'apiVersion: v2\nname: many\nversion: 1.0.0\n',
      'many/templates/cms.yaml': `{{- range until ${n} }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c{{ . }}}\n{{- end }}\n`,
    });
    const limits = await hubLimits();
    const over = await packageChartDirectory(join(await chart(51), 'many'));
    await refused('helm template of 51 objects', /helm template of chart .*: exceeded the object count limit of 50 \(limits\.render\.maxObjects\): it rendered 51 objects; nothing was applied/, () =>
      renderChart(over, { releaseName: 'many', namespace: 'apps', values: {}, includeCrds: false, limits }));
    const at = await packageChartDirectory(join(await chart(50), 'many'));
    assert.equal((await renderChart(at, { releaseName: 'many', namespace: 'apps', values: {}, includeCrds: false, limits })).resources.length, 50);
  });

  it(`this process grew by less than ${RSS_GROWTH_BOUND / MiB} MiB over all of them`, () => {
    const growth = peakRss - rssBefore;
    assert.ok(growth < RSS_GROWTH_BOUND, `peak RSS grew by ${Math.round(growth / MiB)} MiB`);
  });
});
