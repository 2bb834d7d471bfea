// The hub's artifact store: content-addressed (sha256) blobs under "artifacts/sha256/<hex>"
// of the hub's store (hub/blob-store.ts: a directory by default, an S3-compatible bucket
// when several hubs share it). Writes are atomic, so a crash never leaves a partial
// artifact under its final name, and storing the same bytes twice is a no-op.
import { digestOf, isDigest, verifyDigest } from '../core/digest.js';
import type { ChartArtifacts } from '../activities/helm-chart.js';
import type { SourceArtifacts } from '../activities/git-source.js';
import { FileBlobStore, type BlobStore } from './blob-store.js';

/** What the engines store sources and charts in (activities/git-source.ts, helm-chart.ts) is this. */
export interface ArtifactStore extends SourceArtifacts, ChartArtifacts {
  put(data: Uint8Array | string): Promise<string>;
  /** The bytes, verified against their digest; undefined when absent. */
  get(digest: string): Promise<Buffer | undefined>;
  has(digest: string): Promise<boolean>;
}

export class BlobArtifactStore implements ArtifactStore {
  /** `prefix` is '' or ends with '/': "artifacts/" in a hub's store. */
  constructor(private readonly blobs: BlobStore, private readonly prefix = 'artifacts/') {}

  async put(data: Uint8Array | string): Promise<string> {
    const digest = digestOf(data);
    const key = this.keyOf(digest);
    if (await this.blobs.has(key)) return digest;
    await this.blobs.put(key, data);
    return digest;
  }

  async get(digest: string): Promise<Buffer | undefined> {
    const blob = await this.blobs.get(this.keyOf(digest));
    if (!blob) return undefined;
    verifyDigest(blob.data, digest); // bytes changed in the store are refused, never served
    return blob.data;
  }

  has(digest: string): Promise<boolean> {
    return this.blobs.has(this.keyOf(digest));
  }

  private keyOf(digest: string): string {
    if (!isDigest(digest)) throw new Error(`invalid digest "${digest}" (want sha256:<64 hex digits>)`);
    return `${this.prefix}sha256/${digest.slice('sha256:'.length)}`;
  }
}

/** Artifacts in a directory of their own (`<dir>/sha256/<hex>`). */
export class FileArtifactStore extends BlobArtifactStore {
  constructor(readonly dir: string) {
    super(new FileBlobStore(dir), '');
  }
}
