// The hub's artifact store: content-addressed (sha256), on the local filesystem by
// default. Writes are atomic (temporary file, then rename), so a crash never leaves a
// partial artifact under its final name, and storing the same bytes twice is a no-op.
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { digestOf, isDigest, verifyDigest } from '../core/digest.js';

export interface ArtifactStore {
  put(data: Uint8Array | string): Promise<string>;
  /** The bytes, verified against their digest; undefined when absent. */
  get(digest: string): Promise<Buffer | undefined>;
  has(digest: string): Promise<boolean>;
}

export class FileArtifactStore implements ArtifactStore {
  constructor(readonly dir: string) {}

  async put(data: Uint8Array | string): Promise<string> {
    const digest = digestOf(data);
    const path = this.pathOf(digest);
    if (await this.has(digest)) return digest;
    await mkdir(join(this.dir, 'sha256'), { recursive: true });
    const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(tmp, data);
    await rename(tmp, path);
    return digest;
  }

  async get(digest: string): Promise<Buffer | undefined> {
    let data: Buffer;
    try {
      data = await readFile(this.pathOf(digest));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    verifyDigest(data, digest); // a file changed on disk is refused, never served
    return data;
  }

  async has(digest: string): Promise<boolean> {
    try {
      await stat(this.pathOf(digest));
      return true;
    } catch {
      return false;
    }
  }

  private pathOf(digest: string): string {
    if (!isDigest(digest)) throw new Error(`invalid digest "${digest}" (want sha256:<64 hex digits>)`);
    return join(this.dir, 'sha256', digest.slice('sha256:'.length));
  }
}
