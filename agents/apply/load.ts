// Loading a directory (or file) of manifests: every *.yaml, *.yml and *.json below it, in
// path order, parsed into objects with per-document errors.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
import { findDuplicates, parseManifests, type ManifestError } from '../../core/manifests.js';
import type { KubeObject } from '../../core/objects.js';

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);
/** Kustomize build files are instructions for kustomize, not objects for the cluster. */
const KUSTOMIZE_FILES = new Set(['kustomization.yaml', 'kustomization.yml', 'Kustomization']);
/** Files larger than this are refused before parsing (a whole release is far smaller). */
const MAX_FILE_BYTES = 32 * 2 ** 20;

export interface Loaded {
  readonly objects: KubeObject[];
  readonly errors: ManifestError[];
}

function listFiles(path: string): string[] {
  const st = statSync(path);
  if (st.isFile()) return [path];
  const out: string[] = [];
  for (const entry of readdirSync(path, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.')) continue;
    const full = join(path, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(full));
    else if (entry.isFile() && MANIFEST_EXTENSIONS.has(extname(entry.name)) && !KUSTOMIZE_FILES.has(entry.name)) out.push(full);
  }
  return out;
}

export function loadManifests(path: string): Loaded {
  const errors: ManifestError[] = [];
  const sourced = [];
  for (const file of listFiles(path)) {
    const name = relative(process.cwd(), file) || file;
    const size = statSync(file).size;
    if (size > MAX_FILE_BYTES) {
      errors.push({ source: name, message: `file is ${(size / 2 ** 20).toFixed(0)} MiB, over the ${MAX_FILE_BYTES / 2 ** 20} MiB limit for manifests` });
      continue;
    }
    const parsed = parseManifests(readFileSync(file, 'utf8'), name);
    sourced.push(...parsed.objects);
    errors.push(...parsed.errors);
  }
  errors.push(...findDuplicates(sourced));
  return { objects: sourced.map((s) => s.object), errors };
}
