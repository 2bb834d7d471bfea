// Source artifacts as gzipped tarballs. packDirectory turns a directory into a tarball
// whose bytes depend only on the tree (sorted entries, epoch mtimes, uid/gid 0, modes
// normalised to 0644/0755, never a .git directory), so the same revision always gives
// the same artifact digest. extractTarball is the safe way back: it checks every entry
// before writing anything and refuses paths or links that would leave the target
// directory, device files, and archives that are too large.
//
// Both are bounded (core/render-limits.ts): packTree refuses a file over maxFileBytes by its
// stat() before reading it, and a tree of more than maxFiles files; extractTarball inflates
// the archive in small steps and stops the moment the inflated bytes cross untarMaxBytes or
// untarMaxRatio × the compressed bytes read so far, an entry crosses maxFileBytes, or the
// entries cross untarMaxEntries: a gzip bomb costs a few MiB, never its inflated size.
import { once } from 'node:events';
import { lstat, mkdir, readdir, readFile, readlink } from 'node:fs/promises';
import { join, posix, win32 } from 'node:path';
import { createGunzip, createGzip } from 'node:zlib';
import { Header, Pax, Parser, Unpack, type HeaderData, type ReadEntry } from 'tar';
import { archiveBreach, DEFAULT_RENDER_LIMITS, formatBytes, RenderLimitError, type RenderLimits } from '../core/render-limits.js';

/** A path in a tree or an archive that would escape its root (or is otherwise refused). */
export class UnsafePathError extends Error {
  override readonly name = 'UnsafePathError';
  constructor(
    message: string,
    /** The offending path, relative to the root. */
    readonly path: string,
  ) {
    super(message);
  }
}

/**
 * Returns false to leave a path out. For a directory it leaves out, `descend` (when given and
 * true) makes the walk go on into it and ask again for every path inside, as Flux's archive
 * walk does; without it the whole subtree is left out.
 */
export type PackFilter = ((relPath: string, isDir: boolean) => boolean) & { readonly descend?: (relPath: string) => boolean };

export interface PackOptions {
  readonly filter?: PackFilter;
  /** Files packed; default limits.render.maxFiles' default. */
  readonly maxFiles?: number;
  /** One file's size, checked by stat before it is read; default limits.render.maxFileBytes' default. */
  readonly maxFileBytes?: number;
}

export interface PackResult {
  readonly data: Buffer;
  readonly files: number;
  readonly directories: number;
  readonly symlinks: number;
  /** Total size of the packed regular files, uncompressed. */
  readonly contentBytes: number;
}

export interface ExtractLimits {
  /** Inflated bytes of the archive (limits.untar.maxBytes). Default 256 MiB. */
  readonly maxBytes?: number;
  /** Entries (limits.untar.maxEntries). Default 30 000. */
  readonly maxEntries?: number;
  /** Inflated / compressed (limits.untar.maxRatio), judged past UNTAR_RATIO_FLOOR_BYTES. Default 200. */
  readonly maxRatio?: number;
  /** One entry's size (limits.render.maxFileBytes). Default 16 MiB. */
  readonly maxFileBytes?: number;
}

/** The extract limits of a render's limits (undefined: the defaults). */
export function extractLimits(limits: RenderLimits | undefined): ExtractLimits {
  return limits === undefined ? {} : {
    maxBytes: limits.untarMaxBytes, maxEntries: limits.untarMaxEntries, maxRatio: limits.untarMaxRatio, maxFileBytes: limits.maxFileBytes,
  };
}

const EPOCH = new Date(0);
const BLOCK = 512;
const MAX_SYMLINK_HOPS = 40;
/** Compressed bytes handed to gunzip at a time: at gzip's ~1000:1 at most ~16 MiB come out of one. */
const INFLATE_STEP = 16 * 1024;

/** A deterministic .tar.gz of `root`. See packTree for the counts as well. */
export async function packDirectory(root: string, opts: PackOptions = {}): Promise<Buffer> {
  return (await packTree(root, opts)).data;
}

/**
 * Packs regular files, directories and symlinks that stay inside `root` (stored with their
 * relative target). Throws UnsafePathError for a packed symlink that points outside `root`
 * or into .git. Other file types (sockets, fifos, devices) are skipped.
 */
export async function packTree(root: string, opts: PackOptions = {}): Promise<PackResult> {
  const gzip = createGzip({ level: 9 });
  const chunks: Buffer[] = [];
  gzip.on('data', (chunk: Buffer) => chunks.push(chunk));
  const finished = once(gzip, 'end');
  const write = async (data: Buffer): Promise<void> => {
    if (!gzip.write(data)) await once(gzip, 'drain');
  };
  const counts = { files: 0, directories: 0, symlinks: 0, contentBytes: 0 };
  const maxFiles = opts.maxFiles ?? DEFAULT_RENDER_LIMITS.maxFiles;
  const maxFileBytes = opts.maxFileBytes ?? DEFAULT_RENDER_LIMITS.maxFileBytes;

  try {
    await walk(root, '', opts.filter, async (rel, kind, mode, size) => {
      const abs = join(root, rel);
      if (kind === 'directory') {
        counts.directories++;
        for (const b of headerBlocks({ path: `${rel}/`, type: 'Directory', mode: 0o755, size: 0 })) await write(b);
      } else if (kind === 'symlink') {
        const target = await readlink(abs);
        await assertLinkConfined(rel, target, (p) => symlinkTargetOnDisk(root, p));
        counts.symlinks++;
        for (const b of headerBlocks({ path: rel, type: 'SymbolicLink', mode: 0o777, size: 0, linkpath: target })) {
          await write(b);
        }
      } else {
        // Refused by their stat, before anything is read.
        if (size > maxFileBytes) throw new RenderLimitError('maxFileBytes', maxFileBytes, `file ${rel}`, `it is ${formatBytes(size)}`);
        if (counts.files >= maxFiles) throw new RenderLimitError('maxFiles', maxFiles, 'source tree', `it has more than ${maxFiles} files`);
        const data = await readFile(abs);
        if (data.length > maxFileBytes) throw new RenderLimitError('maxFileBytes', maxFileBytes, `file ${rel}`, `it grew to ${formatBytes(data.length)} while it was read`);
        counts.files++;
        counts.contentBytes += data.length;
        const portableMode = (mode & 0o111) !== 0 ? 0o755 : 0o644;
        for (const b of headerBlocks({ path: rel, type: 'File', mode: portableMode, size: data.length })) await write(b);
        await write(data);
        const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
        if (pad > 0) await write(Buffer.alloc(pad));
      }
    });
    gzip.end(Buffer.alloc(2 * BLOCK)); // end-of-archive marker
    await finished;
  } catch (err) {
    gzip.destroy();
    throw err;
  }
  return { data: Buffer.concat(chunks), ...counts };
}

/** Throws UnsafePathError naming the first symlink under `root` (outside .git) that leaves it. */
export async function assertSymlinksConfined(root: string): Promise<void> {
  await walk(root, '', undefined, async (rel, kind) => {
    if (kind !== 'symlink') return;
    await assertLinkConfined(rel, await readlink(join(root, rel)), (p) => symlinkTargetOnDisk(root, p));
  });
}

/**
 * Extracts a (gzipped) tarball into `dir`, which should be empty or absent. Every entry is
 * checked first; nothing is written when any is refused: absolute paths, `..` components,
 * symlinks or hardlinks whose target leaves `dir`, entries reached through a symlink,
 * devices and fifos, and archives over the size or entry-count limits.
 */
export async function extractTarball(data: Buffer, dir: string, limits: ExtractLimits = {}): Promise<void> {
  const bounds = {
    untarMaxBytes: limits.maxBytes ?? DEFAULT_RENDER_LIMITS.untarMaxBytes,
    untarMaxRatio: limits.maxRatio ?? DEFAULT_RENDER_LIMITS.untarMaxRatio,
  };
  const maxEntries = limits.maxEntries ?? DEFAULT_RENDER_LIMITS.untarMaxEntries;
  const maxFileBytes = limits.maxFileBytes ?? DEFAULT_RENDER_LIMITS.maxFileBytes;
  const symlinks = new Map<string, string>(); // entry path -> link target
  const hardlinks: { path: string; target: string }[] = [];
  const paths: string[] = [];
  let bytes = 0;
  let refusal: Error | undefined;

  const parser = new Parser({ strict: true });
  const state = { settled: false }; // (an object: set in callbacks, which narrowing cannot see)
  const checked = new Promise<void>((resolve, reject) => {
    parser.on('error', (err: Error) => { state.settled = true; reject(err); });
    parser.on('end', () => { state.settled = true; resolve(); });
  });
  parser.on('entry', (entry: ReadEntry) => {
    try {
      if (paths.length >= maxEntries) {
        throw new RenderLimitError('untarMaxEntries', maxEntries, 'archive', `it has more than ${maxEntries} entries`);
      }
      const rel = archivePath(entry.path, 'path');
      if (rel === '.' && entry.type !== 'Directory') {
        throw new UnsafePathError(`tarball entry "${entry.path}" would replace the target directory`, entry.path);
      }
      paths.push(rel);
      switch (entry.type) {
        case 'File':
        case 'OldFile':
        case 'ContiguousFile':
          // Judged by the header, before the entry's content is inflated.
          if (entry.size > maxFileBytes) {
            throw new RenderLimitError('maxFileBytes', maxFileBytes, `archive entry ${rel}`, `it is ${formatBytes(entry.size)}`);
          }
          bytes += entry.size;
          if (bytes > bounds.untarMaxBytes) {
            throw new RenderLimitError('untarMaxBytes', bounds.untarMaxBytes, 'archive', `its entries hold more than ${formatBytes(bounds.untarMaxBytes)}`);
          }
          break;
        case 'Directory':
          break;
        case 'SymbolicLink':
          symlinks.set(rel, entry.linkpath ?? '');
          break;
        case 'Link':
          hardlinks.push({ path: rel, target: archivePath(entry.linkpath ?? '', `hardlink target of "${entry.path}"`) });
          break;
        default:
          throw new UnsafePathError(`tarball entry "${entry.path}" has unsupported type ${entry.type}`, entry.path);
      }
    } catch (err) {
      refusal ??= err instanceof Error ? err : new Error(String(err));
      parser.abort(refusal);
    }
    entry.resume();
  });
  const seen = { end: false }; // (an object: set in a callback, which narrowing cannot see)
  parser.on('eof', () => {
    seen.end = true;
  });
  const streamed = inflate(data, parser, bounds, () => state.settled || refusal !== undefined).catch((err: unknown) => {
    refusal ??= err instanceof Error ? err : new Error(String(err));
    parser.abort(refusal);
  });
  try {
    await checked;
  } catch (err) {
    // node-tar calls an archive without entries "unrecognized"; a well-formed empty one is fine.
    if (refusal !== undefined) throw refusal;
    const empty = paths.length === 0 && seen.end && (err as { tarCode?: unknown }).tarCode === 'TAR_BAD_ARCHIVE';
    if (!empty) throw new Error(`cannot read the tarball: ${err instanceof Error ? err.message : String(err)}`);
    await mkdir(dir, { recursive: true });
    return;
  }

  const lookup = (p: string): Promise<string | undefined> => Promise.resolve(symlinks.get(p));
  for (const [path, target] of symlinks) await assertLinkConfined(path, target, lookup);
  for (const { path, target } of hardlinks) {
    await assertLinkConfined(path, target, lookup, true);
  }
  for (const path of [...paths, ...hardlinks.map((h) => h.target)]) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      if (symlinks.has(prefix)) {
        throw new UnsafePathError(`tarball entry "${path}" goes through the symlink "${prefix}"; refusing to extract it`, path);
      }
    }
  }

  await mkdir(dir, { recursive: true });
  await streamed;
  const unpack = new Unpack({ cwd: dir, strict: true, noMtime: true, preserveOwner: false });
  const done = new Promise<void>((resolve, reject) => {
    unpack.on('error', reject);
    unpack.on('close', resolve);
  });
  await inflate(data, unpack, bounds);
  await done;
}

export interface TarSink {
  write(chunk: Buffer): boolean;
  end(): unknown;
  once(event: 'drain', listener: () => void): unknown;
}

/**
 * Feeds `data` (gzipped or plain tar) to `sink`, inflating INFLATE_STEP compressed bytes at a
 * time and counting what comes out: throws RenderLimitError (and stops inflating) the moment
 * the inflated bytes cross the archive's size or ratio cap, so a bomb is never inflated.
 */
export async function inflate(
  data: Buffer, sink: TarSink, limits: { untarMaxBytes: number; untarMaxRatio: number }, stopped: () => boolean = () => false,
): Promise<void> {
  const write = async (chunk: Buffer): Promise<void> => {
    if (!sink.write(chunk)) await new Promise<void>((resolve) => sink.once('drain', resolve));
  };
  const gzipped = data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b;
  if (!gzipped) {
    const breach = archiveBreach(data.length, data.length, limits);
    if (breach !== undefined) throw new RenderLimitError(breach, limits[breach], 'archive', `it is ${formatBytes(data.length)}`);
    for (let at = 0; at < data.length && !stopped(); at += 1024 * 1024) await write(data.subarray(at, at + 1024 * 1024));
    sink.end();
    return;
  }
  const gunzip = createGunzip();
  let compressed = 0;
  let inflated = 0;
  const feed = async (): Promise<void> => {
    for (; compressed < data.length && !gunzip.destroyed; compressed = Math.min(compressed + INFLATE_STEP, data.length)) {
      if (!gunzip.write(data.subarray(compressed, compressed + INFLATE_STEP))) {
        await new Promise<void>((resolve) => {
          gunzip.once('drain', resolve);
          gunzip.once('close', resolve); // destroyed: the reader stopped
        });
      }
    }
    if (!gunzip.destroyed) gunzip.end();
  };
  const fed = feed().catch(() => undefined); // a gunzip error surfaces in the loop below
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      inflated += chunk.length;
      const read = Math.min(compressed + INFLATE_STEP, data.length); // what gunzip may have consumed
      const breach = archiveBreach(inflated, read, limits);
      if (breach !== undefined) {
        const ratio = (inflated / read).toFixed(0);
        throw new RenderLimitError(breach, limits[breach], 'archive', `${formatBytes(data.length)} compressed, it had inflated to ${formatBytes(inflated)} (${ratio}:1) when it was refused`);
      }
      if (stopped()) break; // the sink refused the archive already
      await write(chunk);
    }
  } catch (err) {
    gunzip.destroy();
    throw err instanceof RenderLimitError ? err : new Error(`cannot read the tarball: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    await fed;
  }
  sink.end();
}

type EntryKind = 'directory' | 'file' | 'symlink';

/** Depth-first walk in sorted order, never entering a .git directory or following symlinks. */
async function walk(
  root: string,
  rel: string,
  filter: PackOptions['filter'],
  visit: (rel: string, kind: EntryKind, mode: number, size: number) => Promise<void>,
): Promise<void> {
  const names = (await readdir(rel === '' ? root : join(root, rel))).sort();
  for (const name of names) {
    if (name === '.git') continue;
    const path = rel === '' ? name : `${rel}/${name}`;
    const st = await lstat(join(root, path));
    if (st.isDirectory()) {
      if (filter && !filter(path, true)) {
        // Flux leaves the directory's own entry out but walks on into it (fluxcd/pkg
        // artifact/storage/archive.go Archive returns nil, not filepath.SkipDir), so a `!`
        // pattern can keep a file inside; the extractor makes its parent directories. Nothing
        // left out is read: only names and lstat() are looked at, and only what is packed
        // counts against maxFiles. .git is never entered (above), though Flux's walk enters it.
        if (filter.descend?.(path) === true) await walk(root, path, filter, visit);
        continue;
      }
      await visit(path, 'directory', st.mode, 0);
      await walk(root, path, filter, visit);
    } else if (st.isFile() || st.isSymbolicLink()) {
      if (filter && !filter(path, false)) continue;
      await visit(path, st.isFile() ? 'file' : 'symlink', st.mode, st.size);
    }
  }
}

/** The link target when `rel` (relative to root) is a symlink on disk; undefined otherwise. */
async function symlinkTargetOnDisk(root: string, rel: string): Promise<string | undefined> {
  try {
    const st = await lstat(join(root, rel));
    return st.isSymbolicLink() ? await readlink(join(root, rel)) : undefined;
  } catch {
    return undefined; // absent (or under a file): resolution stops being able to escape here
  }
}

/**
 * Resolves a link the way the OS would, following any symlinks met on the way (as told
 * by `readLink`), and throws UnsafePathError when the walk leaves the root or enters .git.
 * Symlink targets are relative to the link's directory; hardlink targets to the root.
 */
async function assertLinkConfined(
  linkPath: string,
  target: string,
  readLink: (rel: string) => Promise<string | undefined>,
  hardlink = false,
): Promise<void> {
  const what = hardlink ? 'hardlink' : 'symlink';
  const refuse = (why: string): never => {
    throw new UnsafePathError(`${what} "${linkPath}" points ${why} (target "${target}"); refusing it`, linkPath);
  };
  if (target === '') refuse('nowhere');
  if (isAbsolutePath(target)) refuse('to an absolute path');
  const start = hardlink ? [] : posix.dirname(linkPath).split('/').filter((p) => p !== '.');
  const pending = target.split('/');
  const resolved = [...start];
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift() ?? '';
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (resolved.length === 0) refuse('outside the root');
      resolved.pop();
      continue;
    }
    if (part === '.git') refuse('into .git');
    resolved.push(part);
    const next = await readLink(resolved.join('/'));
    if (next === undefined) continue;
    if (++hops > MAX_SYMLINK_HOPS) refuse('through too many symlinks');
    if (isAbsolutePath(next)) refuse(`through "${resolved.join('/')}" to an absolute path`);
    resolved.pop();
    pending.unshift(...next.split('/'));
  }
}

function isAbsolutePath(p: string): boolean {
  return posix.isAbsolute(p) || win32.isAbsolute(p) || /^[a-zA-Z]:/.test(p);
}

/** An archive path made relative and normalised, or an error naming it. */
function archivePath(raw: string, what: string): string {
  if (isAbsolutePath(raw)) throw new UnsafePathError(`tarball ${what} "${raw}" is absolute; refusing to extract it`, raw);
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new UnsafePathError(`tarball ${what} "${raw}" contains ".."; refusing to extract it`, raw);
  return parts.length === 0 ? '.' : parts.join('/');
}

/** The header blocks of one entry: a PAX header first when a name is too long for ustar. */
function headerBlocks(h: Required<Pick<HeaderData, 'path' | 'type' | 'mode' | 'size'>> & Pick<HeaderData, 'linkpath'>): Buffer[] {
  const block = Buffer.alloc(BLOCK);
  const needPax = new Header({
    ...h,
    uid: 0,
    gid: 0,
    uname: '',
    gname: '',
    mtime: EPOCH,
  }).encode(block, 0);
  if (!needPax) return [block];
  const pax = new Pax({ path: h.path, linkpath: h.linkpath, mtime: EPOCH, uid: 0, gid: 0 }).encode();
  return [pax, block];
}
