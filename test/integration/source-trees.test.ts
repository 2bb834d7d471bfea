// SourceTrees (activities/source-trees.ts) with the real kustomize: one extraction and one YAML
// check per source digest for any number of builds, at once or one after another; a source
// the YAML check refuses refuses every build of it without being read again; trees beyond
// `keep` are removed once no build reads them.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SourceTrees } from '../../activities/source-trees.js';
import { packTree } from '../../activities/tarball.js';
import { DEFAULT_RENDER_LIMITS } from '../../core/render-limits.js';
import type { KustomizationSpec } from '../../core/declarations/types.js';
import { digestOf } from '../../core/digest.js';
import { buildKustomization } from '../harness/engines.js';
import { GitRepo } from '../harness/git.js';
import { billionLaughs } from '../harness/yaml-bomb.js';

const temps: string[] = [];
after(async () => {
  await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })));
});
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'flotilla-trees-'));
  temps.push(dir);
  return dir;
}

function spec(path: string): KustomizationSpec {
  return {
    sourceRef: { kind: 'GitRepository', namespace: 'flux-system', name: 'repo' }, path, intervalSeconds: 600, retryIntervalSeconds: 600,
    timeoutSeconds: 60, prune: true, wait: false, healthChecks: [], dependsOn: [], patches: [], images: [], force: false, suspend: false,
    placement: { clusters: [], hub: false },
  };
}

/** A source artifact (the packed tree of a git working copy) with one ConfigMap per app. */
async function artifact(apps: number, extra: Record<string, string> = {}): Promise<{ data: Buffer; digest: string }> {
  const repo = new GitRepo(join(await tempDir(), 'repo'));
  for (let i = 0; i < apps; i++) {
    repo.writeObjects(`apps/app-${String(i)}/cm.yaml`, [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `app-${String(i)}`, namespace: 'default' }, data: { i: String(i) } }]);
  }
  for (const [path, text] of Object.entries(extra)) repo.write(path, text);
  const data = (await packTree(repo.dir)).data;
  return { data, digest: digestOf(data) };
}

describe('SourceTrees', () => {
  it('extracts and checks a source once for every build of it, concurrent or not', async () => {
    const trees = new SourceTrees(await tempDir());
    const source = await artifact(6);
    let loads = 0;
    const load = (): Promise<Buffer> => { loads += 1; return Promise.resolve(source.data); };
    const build = (i: number): Promise<string> => trees.use(source.digest, load, DEFAULT_RENDER_LIMITS, async (root) =>
      (await buildKustomization(root, spec(`apps/app-${String(i)}`), {}, { sourceChecked: true, workDir: trees.workDir })).yaml);
    const first = await Promise.all([0, 1, 2, 3].map(build));
    const later = await Promise.all([4, 5].map(build));
    assert.equal(loads, 1, 'one extraction');
    [...first, ...later].forEach((yaml, i) => { assert.match(yaml, new RegExp(`name: app-${String(i)}\\n`)); });
    assert.deepEqual(await readdir(trees.workDir), [], 'every workspace removed');
  });

  it('refuses every build of a source whose YAML the check refuses, without extracting it again', async () => {
    const trees = new SourceTrees(await tempDir());
    const source = await artifact(1, { 'other/bomb.yaml': billionLaughs() });
    let loads = 0;
    const load = (): Promise<Buffer> => { loads += 1; return Promise.resolve(source.data); };
    for (let i = 0; i < 2; i++) {
      await assert.rejects(trees.use(source.digest, load, DEFAULT_RENDER_LIMITS, () => Promise.resolve('built')), /other\/bomb\.yaml: document 1 contains excessive aliasing/);
    }
    assert.equal(loads, 1);
  });

  it('keeps the most recently used trees and removes the others once no build reads them', async () => {
    const dir = await tempDir();
    const trees = new SourceTrees(dir, 2);
    const sources = await Promise.all([1, 2, 3].map((n) => artifact(n)));
    for (const s of sources) await trees.use(s.digest, () => Promise.resolve(s.data), DEFAULT_RENDER_LIMITS, () => Promise.resolve());
    const kept = (await readdir(join(dir, 'sources'))).map((name) => `sha256:${name.split('.')[0] ?? ''}`).sort();
    assert.deepEqual(kept, [sources[1]?.digest, sources[2]?.digest].sort());
  });
});
