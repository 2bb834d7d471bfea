// Where the hub keeps what every hub replica must share: artifacts, registrations (token and
// credential hashes) and the ConfigMaps/Secrets declared to it. Keys are '/'-separated
// paths ("artifacts/sha256/<hex>", "registration.json", "objects/Secret/<ns>/<name>.json").
// Two backends: a directory (the default, one hub) and an S3-compatible bucket
// (hub/s3-store.ts, any number of hubs). Writes of one key are atomic in both: a reader sees
// the old bytes or the new ones, never a mix.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { digestOf } from '../core/digest.js';

export interface Blob {
  readonly data: Buffer;
  /** Changes whenever the bytes change: what put()'s ifMatch compares. */
  readonly etag: string;
}

export interface PutOptions {
  /** Only write when the stored blob still has this etag (optimistic concurrency). */
  readonly ifMatch?: string;
  /** Only write when nothing is stored under the key yet. */
  readonly ifNoneMatch?: true;
  /** Readable by the hub only (Secrets, registrations): file mode 0600 on disk. */
  readonly secret?: boolean;
}

export interface BlobStore {
  /** Where it is, for logs and errors ("/var/lib/flotilla", "s3://bucket/prefix"). */
  readonly location: string;
  get(key: string): Promise<Blob | undefined>;
  has(key: string): Promise<boolean>;
  /** False when a precondition (ifMatch / ifNoneMatch) did not hold; nothing was written then. */
  put(key: string, data: Uint8Array | string, opts?: PutOptions): Promise<boolean>;
  /** Removes the key; absent keys are fine. */
  delete(key: string): Promise<void>;
  /** Every key under the prefix (which ends with '/'), in lexical order. */
  list(prefix: string): Promise<string[]>;
}

/** Conditional writes per file path, one at a time within this process. */
const writing = new Map<string, Promise<unknown>>();

function serialized<T>(path: string, step: () => Promise<T>): Promise<T> {
  const before = writing.get(path) ?? Promise.resolve();
  const run = before.then(step, step);
  const settled = run.catch(() => undefined);
  writing.set(path, settled);
  void settled.then(() => { if (writing.get(path) === settled) writing.delete(path); });
  return run;
}

const KEY = /^[A-Za-z0-9._@-]+(\/[A-Za-z0-9._@-]+)*$/;

/** Refuses keys that could escape the store ('..', absolute paths, empty segments). */
export function checkKey(key: string): string {
  if (!KEY.test(key) || key.split('/').some((s) => s === '.' || s === '..')) throw new Error(`invalid store key "${key}"`);
  return key;
}

/** A directory: each key a file below it (the layout of a hub data directory). */
export class FileBlobStore implements BlobStore {
  constructor(readonly dir: string) {}

  get location(): string {
    return this.dir;
  }

  async get(key: string): Promise<Blob | undefined> {
    try {
      const data = await readFile(this.pathOf(key));
      return { data, etag: digestOf(data) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async has(key: string): Promise<boolean> {
    // A stat, not a read: artifacts are checked before every put.
    try {
      return (await stat(this.pathOf(key))).isFile();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  async put(key: string, data: Uint8Array | string, opts: PutOptions = {}): Promise<boolean> {
    const path = this.pathOf(key);
    if (opts.ifMatch === undefined && !opts.ifNoneMatch) return this.write(path, data, opts);
    // The check and the rename are one step within this process only: one process owns a
    // data directory, which is why several hubs need the S3 backend.
    return serialized(path, async () => {
      const current = await this.get(key);
      if (opts.ifNoneMatch && current) return false;
      if (opts.ifMatch !== undefined && current?.etag !== opts.ifMatch) return false;
      return this.write(path, data, opts);
    });
  }

  private async write(path: string, data: Uint8Array | string, opts: PutOptions): Promise<boolean> {
    await mkdir(dirname(path), { recursive: true, ...(opts.secret ? { mode: 0o700 } : {}) });
    const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(tmp, data, { mode: opts.secret ? 0o600 : 0o644 });
    await rename(tmp, path);
    return true;
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  async list(prefix: string): Promise<string[]> {
    if (prefix !== '' && !prefix.endsWith('/')) throw new Error(`list prefix "${prefix}" must end with '/'`);
    const root = prefix === '' ? this.dir : this.pathOf(prefix.slice(0, -1));
    const keys: string[] = [];
    const walk = async (dir: string, rel: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      for (const e of entries) {
        if (e.isDirectory()) await walk(join(dir, e.name), `${rel}${e.name}/`);
        else if (e.isFile() && !e.name.endsWith('.tmp')) keys.push(`${rel}${e.name}`);
      }
    };
    await walk(root, prefix);
    return keys.sort();
  }

  private pathOf(key: string): string {
    return join(this.dir, ...checkKey(key).split('/').join(sep).split(sep));
  }
}
