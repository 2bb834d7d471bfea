// One extraction per source revision, shared by every build of it. A repository of 1,000 apps
// with a Kustomization per app used to be extracted, and every YAML file of it checked, once
// per build: 1,000 × the whole repository for one commit. Here each source artifact (by digest)
// is extracted once into <dir>/sources/<digest>, its YAML files are checked once (checkSourceYaml; the
// verdict, a refusal included, stays with the tree), and every build reads it from a workspace
// of its own under <dir>/work (activities/kustomize-build.ts links the part a build reads, so
// both live on one filesystem): nothing writes into a tree once it is ready. The trees of the
// `keep` most recently used digests stay; older ones are removed once no build is reading them.
// The directory is the hub's own cache: emptied when the hub starts.
import { mkdirSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { RenderLimitError, type RenderLimits } from '../core/render-limits.js';
import { BuildError, checkSourceYaml } from './kustomize-build.js';
import { extractLimits, extractTarball } from './tarball.js';

interface Tree {
  /** The extracted tree and its YAML verdict (undefined: every file passed). */
  readonly ready: Promise<{ readonly root: string; readonly refusal: Error | undefined }>;
  readers: number;
  lastUsed: number;
}

export class SourceTrees {
  private readonly trees = new Map<string, Tree>();
  private clock = 0;

  /** Where builds make their workspaces (BuildOptions.workDir). */
  readonly workDir: string;
  private readonly dir: string;

  constructor(cacheDir: string, private readonly keep = 4) {
    rmSync(cacheDir, { recursive: true, force: true });
    this.dir = join(cacheDir, 'sources');
    this.workDir = join(cacheDir, 'work');
    mkdirSync(this.dir, { recursive: true });
    mkdirSync(this.workDir, { recursive: true });
  }

  /**
   * Runs `build` on the extracted, checked tree of the artifact `digest` (extracted from
   * `load()` the first time). Throws the source's YAML refusal instead, when it has one.
   */
  async use<T>(digest: string, load: () => Promise<Buffer>, limits: RenderLimits, build: (root: string) => Promise<T>): Promise<T> {
    let tree = this.trees.get(digest);
    if (!tree) {
      tree = { ready: this.extract(digest, load, limits), readers: 0, lastUsed: 0 };
      this.trees.set(digest, tree);
    }
    tree.readers += 1;
    tree.lastUsed = ++this.clock;
    try {
      const { root, refusal } = await tree.ready.catch((err: unknown) => {
        // A failed extraction is not kept: the next build tries again.
        if (this.trees.get(digest) === tree) this.trees.delete(digest);
        throw err;
      });
      if (refusal) throw refusal;
      return await build(root);
    } finally {
      tree.readers -= 1;
      await this.evict();
    }
  }

  private async extract(digest: string, load: () => Promise<Buffer>, limits: RenderLimits): Promise<{ root: string; refusal: Error | undefined }> {
    // A name of its own per extraction: an evicted tree may still be being removed when the same digest comes back.
    const root = join(this.dir, `${digest.replace(/^sha256:/, '')}.${randomBytes(4).toString('hex')}`);
    try {
      await extractTarball(await load(), root, extractLimits(limits));
      await checkSourceYaml(root, limits);
      return { root, refusal: undefined };
    } catch (err) {
      // The source's own fault is its verdict, kept; anything else (I/O) is tried again by the next build.
      if (err instanceof BuildError || err instanceof RenderLimitError) return { root, refusal: err };
      await rm(root, { recursive: true, force: true });
      throw err;
    }
  }

  /** Removes the least recently used trees beyond `keep` that nobody is reading. */
  private async evict(): Promise<void> {
    const idle = [...this.trees].filter(([, t]) => t.readers === 0).sort(([, a], [, b]) => b.lastUsed - a.lastUsed);
    for (const [digest, tree] of idle.slice(this.keep)) {
      this.trees.delete(digest);
      const { root } = await tree.ready.catch(() => ({ root: undefined }));
      if (root !== undefined) await rm(root, { recursive: true, force: true });
    }
  }
}
