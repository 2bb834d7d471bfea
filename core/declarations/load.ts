// Reading declarations from disk: files and directories of Flux YAML (or JSON) into one
// ParsedDeclarations. The parsing itself is core/declarations/parse.ts (pure); this file only
// finds and reads files, then reports objects declared twice across them.
//
// Directories are walked recursively in sorted (byte) order, reading *.yaml, *.yml and
// *.json and skipping hidden entries (.git, .github, ...). kustomize's own build files
// (kustomization.yaml / kustomization.yml) are skipped and listed in `ignored`: they are
// input to a build, not objects to reconcile. A file named explicitly is read whatever its
// name ends with.
import { readFile, readdir, realpath, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { mergeParsed, parseDeclarationFile, type DeclarationError, type ParsedDeclarations, type ParsedFile } from './parse.js';

const MANIFEST_FILE = /\.(ya?ml|json)$/;
const KUSTOMIZE_BUILD_FILES = new Set(['kustomization.yaml', 'kustomization.yml', 'Kustomization']);

export async function loadDeclarationFiles(paths: readonly string[]): Promise<ParsedDeclarations> {
  const errors: DeclarationError[] = [];
  const skipped: string[] = [];
  const files: string[] = [];
  const seenFiles = new Set<string>(); // real paths, so overlapping arguments read a file once

  const addFile = async (file: string): Promise<void> => {
    const real = await realpath(file);
    if (seenFiles.has(real)) return;
    seenFiles.add(real);
    if (KUSTOMIZE_BUILD_FILES.has(basename(file))) skipped.push(`${file} (a kustomize build file, not a Flux object)`);
    else files.push(file);
  };

  for (const path of paths) {
    try {
      if ((await stat(path)).isDirectory()) {
        for (const file of await listManifestFiles(path, new Set())) await addFile(file);
      } else {
        await addFile(path);
      }
    } catch (err) {
      errors.push({ file: path, message: ioMessage(err) });
    }
  }

  const parsed: ParsedFile[] = [];
  for (const file of files) {
    try {
      parsed.push(parseDeclarationFile(await readFile(file, 'utf8'), file));
    } catch (err) {
      errors.push({ file, message: ioMessage(err) });
    }
  }
  const merged = mergeParsed(parsed);
  return {
    declarations: merged.declarations,
    errors: [...errors, ...merged.errors],
    ignored: [...skipped, ...merged.ignored],
    warnings: merged.warnings,
  };
}

/** Manifest files under `dir`, depth first in sorted order; `visited` holds real paths of directories (symlink loops). */
async function listManifestFiles(dir: string, visited: Set<string>): Promise<string[]> {
  const real = await realpath(dir);
  if (visited.has(real)) return [];
  visited.add(real);
  const names = (await readdir(dir)).filter((name) => !name.startsWith('.')).sort(byteOrder);
  const out: string[] = [];
  for (const name of names) {
    const path = join(dir, name);
    const info = await stat(path); // follows symlinks
    if (info.isDirectory()) out.push(...await listManifestFiles(path, visited));
    else if (info.isFile() && (MANIFEST_FILE.test(name) || KUSTOMIZE_BUILD_FILES.has(name))) out.push(path);
  }
  return out;
}

function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function ioMessage(err: unknown): string {
  const code = typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES') return 'permission denied';
  return `cannot read: ${err instanceof Error ? err.message : String(err)}`;
}
