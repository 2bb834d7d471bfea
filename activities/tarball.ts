// Source artifacts as gzipped tarballs. packDirectory turns a directory into a tarball
// whose bytes depend only on the tree (sorted entries, epoch mtimes, uid/gid 0, modes
// normalised to 0644/0755, never a .git directory), so the same revision always gives
// the same artifact digest. extractTarball is the safe way back: it checks every entry
// before writing anything and refuses paths or links that would leave the target
// directory, device files, and archives that are too large.
import { once } from 'node:events';
import { lstat, mkdir, readdir, readFile, readlink } from 'node:fs/promises';
import { join, posix, win32 } from 'node:path';
import { createGzip } from 'node:zlib';
import { Header, Pax, Parser, Unpack, type HeaderData, type ReadEntry } from 'tar';

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

export interface PackOptions {
  /** Return false to leave a path out; for a directory, its whole subtree is left out. */
  readonly filter?: (relPath: string, isDir: boolean) => boolean;
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
  /** Sum of the entries' sizes, uncompressed. Default 256 MiB. */
  readonly maxBytes?: number;
  /** Default 100 000. */
  readonly maxEntries?: number;
}

const EPOCH = new Date(0);
const BLOCK = 512;
const MAX_SYMLINK_HOPS = 40;
const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;
const DEFAULT_MAX_ENTRIES = 100_000;

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

  try {
    await walk(root, '', opts.filter, async (rel, kind, mode) => {
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
        const data = await readFile(abs);
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
  const maxBytes = limits.maxBytes ?? DEFAULT_MAX_BYTES;
  const maxEntries = limits.maxEntries ?? DEFAULT_MAX_ENTRIES;
  const symlinks = new Map<string, string>(); // entry path -> link target
  const hardlinks: { path: string; target: string }[] = [];
  const paths: string[] = [];
  let bytes = 0;
  let refusal: Error | undefined;

  const parser = new Parser({ strict: true });
  const checked = new Promise<void>((resolve, reject) => {
    parser.on('error', reject);
    parser.on('end', resolve);
  });
  parser.on('entry', (entry: ReadEntry) => {
    try {
      if (paths.length >= maxEntries) {
        throw new Error(`tarball has more than ${maxEntries} entries; refusing to extract it`);
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
          bytes += entry.size;
          if (bytes > maxBytes) {
            throw new Error(`tarball holds more than ${maxBytes} bytes uncompressed; refusing to extract it`);
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
  parser.end(data);
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
  const unpack = new Unpack({ cwd: dir, strict: true, noMtime: true, preserveOwner: false });
  const done = new Promise<void>((resolve, reject) => {
    unpack.on('error', reject);
    unpack.on('close', resolve);
  });
  unpack.end(data);
  await done;
}

type EntryKind = 'directory' | 'file' | 'symlink';

/** Depth-first walk in sorted order, never entering a .git directory or following symlinks. */
async function walk(
  root: string,
  rel: string,
  filter: PackOptions['filter'],
  visit: (rel: string, kind: EntryKind, mode: number) => Promise<void>,
): Promise<void> {
  const names = (await readdir(rel === '' ? root : join(root, rel))).sort();
  for (const name of names) {
    if (name === '.git') continue;
    const path = rel === '' ? name : `${rel}/${name}`;
    const st = await lstat(join(root, path));
    if (st.isDirectory()) {
      if (filter && !filter(path, true)) continue;
      await visit(path, 'directory', st.mode);
      await walk(root, path, filter, visit);
    } else if (st.isFile() || st.isSymbolicLink()) {
      if (filter && !filter(path, false)) continue;
      await visit(path, st.isFile() ? 'file' : 'symlink', st.mode);
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
