// Builds a Flux Kustomization's manifests the way Flux's kustomize-controller does, with the
// real kustomize binary:
//   1. resolve spec.path inside the extracted source;
//   2. the kustomization file Flux would write there: generated from the directory's
//      manifests when it has none, then edited with the spec's targetNamespace, namePrefix,
//      nameSuffix, patches and images (fluxcd/pkg kustomize.Generator.GenerateManifest);
//   3. `kustomize build` it, loading files from anywhere inside the source (not just below the
//      kustomization), never outside it; every YAML file of the source is first checked
//      against the file size cap and Go's alias rule (core/yaml-aliases.ts), and kustomize
//      runs under the render's memory, CPU and output limits (activities/limited-exec.ts).
//      The source is never modified (one extraction serves every build of a revision,
//      activities/source-trees.ts): the build runs in a workspace of its own holding the part
//      of the source it reads (every path its kustomizations name, found while checking them
//      in step 3; the whole source when that part holds a symlink), linked, not copied, with
//      the kustomization file of step 2 written there;
//   4. per built object: postBuild variable substitution (core/substitute.ts), then
//      commonMetadata labels and annotations (Flux sets those just before applying).
// The result is one multi-document YAML string in kustomize's output order.
import { copyFile, link, lstat, mkdir, mkdtemp, readFile, readdir, readlink, realpath, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { parseAllDocuments, parseDocument, stringify, type Tags } from 'yaml';
import type { KustomizationSpec, KustomizePatch } from '../core/declarations/types.js';
import { isRecord } from '../core/manifests.js';
import { DEFAULT_RENDER_LIMITS, formatBytes, RenderLimitError, type RenderLimits } from '../core/render-limits.js';
import { SubstitutionError, substituteObject } from '../core/substitute.js';
import { findExcessiveAliasing } from '../core/yaml-aliases.js';
import { runLimited } from './limited-exec.js';

/** A build that fails because of the source or the spec; the message says which step and why. */
export class BuildError extends Error {
  override name = 'BuildError';
}

export interface BuildResult {
  readonly yaml: string;
  readonly objectCount: number;
}

export interface BuildOptions {
  /** Kills kustomize after this long; defaults to the Kustomization's timeout. */
  readonly timeoutMs?: number;
  /** The kustomize binary to run (the hub's tools.kustomize, the CLI's --kustomize). */
  readonly kustomizeBin: string;
  /**
   * Remote resources (git or HTTP URLs) are refused unless this is true; that is Flux's
   * hardened `--no-remote-bases` mode. When allowed, what a remote base reads is not confined.
   */
  readonly allowRemoteBases?: boolean;
  /** The hub's caps (limits.render.*); default DEFAULT_RENDER_LIMITS. */
  readonly limits?: RenderLimits;
  /**
   * The source's YAML files already passed checkSourceYaml (the caller checked this source
   * once for all its builds: activities/source-trees.ts).
   */
  readonly sourceChecked?: boolean;
  /** Where the build's workspace is made (same filesystem as the source, so files are linked); default the OS temp dir. */
  readonly workDir?: string;
  /** How kustomize's messages name the source root (they name files by their workspace path); default '.'. */
  readonly sourceName?: string;
}

/** The file names kustomize recognises, in the order it looks for them. */
const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'] as const;

/** sourceRoot is an extracted source artifact (a temp dir the function may modify). */
export async function buildKustomization(
  sourceRoot: string,
  spec: KustomizationSpec,
  vars: Readonly<Record<string, string>>,
  opts: BuildOptions,
): Promise<BuildResult> {
  const root = await realpath(sourceRoot);
  const dir = await resolveKustomizationPath(root, spec.path);
  const generated = await kustomizationFile(root, dir, spec);
  const allowRemote = opts.allowRemoteBases ?? false;
  const reached = await checkReferences(root, dir, allowRemote, generated);
  const limits = opts.limits ?? DEFAULT_RENDER_LIMITS;
  if (opts.sourceChecked !== true) await checkSourceYaml(root, limits);
  const kustomize = opts.kustomizeBin;
  const timeoutMs = opts.timeoutMs ?? Math.max(spec.timeoutSeconds, 1) * 1000;
  const workspace = await mkdtemp(join(opts.workDir ?? tmpdir(), 'flotilla-build-'));
  let output: string;
  try {
    const built = await linkWorkspace(root, await readPart(root, dir, reached), workspace);
    const file = join(built, relative(root, generated.file));
    await rm(file, { force: true }); // a link to the source's file: replaced, never written through
    await writeFile(file, generated.text);
    output = await runKustomize(kustomize, join(built, relative(root, dir)), spec.path, timeoutMs, allowRemote, limits).catch((err: unknown) => {
      // kustomize names files by their workspace path: said relative to the source, as the checks say them.
      throw err instanceof BuildError ? new BuildError(err.message.split(built).join(opts.sourceName ?? '.')) : err;
    });
  } finally {
    await rm(workspace, { recursive: true, force: true });
  }
  const objects = output.match(/^---$/gm)?.length ?? 0;
  if (objects + 1 > limits.maxObjects) {
    throw new RenderLimitError('maxObjects', limits.maxObjects, `kustomize build of path "${spec.path}"`, `it built ${objects + 1} objects`);
  }
  return postBuild(output, spec, vars);
}

// ---------------------------------------------------------------------------------------------
// 1. The path.

function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/** Flux's SecureJoin would turn `../x` into `<root>/x`; we refuse a path (or symlink) that leaves the root. */
async function resolveKustomizationPath(root: string, path: string): Promise<string> {
  const target = resolve(root, path);
  if (!isInside(root, target)) throw new BuildError(`kustomization path escapes the source root: ${path}`);
  let real: string;
  try {
    real = await realpath(target);
  } catch {
    throw new BuildError(`kustomization path not found: ${path}`);
  }
  if (!isInside(root, real)) throw new BuildError(`kustomization path escapes the source root through a symlink: ${path}`);
  if (!(await stat(real)).isDirectory()) throw new BuildError(`kustomization path is not a directory: ${path}`);
  return real;
}

async function findKustomizationFile(dir: string): Promise<string | undefined> {
  for (const name of KUSTOMIZATION_FILES) {
    try {
      if (!(await stat(join(dir, name))).isDirectory()) return name;
    } catch {
      // not there
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// 2. The kustomization file Flux writes.

/**
 * The fields of kustomize's Kustomization type. Flux reads the user's file into that type and
 * writes it back, so any other top-level field is dropped; so do we.
 */
const KUSTOMIZATION_FIELDS = new Set([
  'apiVersion', 'kind', 'metadata', 'openapi', 'namePrefix', 'nameSuffix', 'namespace', 'commonLabels', 'labels',
  'commonAnnotations', 'patchesStrategicMerge', 'patchesJson6902', 'patches', 'images', 'imageTags', 'replacements',
  'replicas', 'vars', 'sortOptions', 'resources', 'components', 'crds', 'bases', 'configMapGenerator', 'secretGenerator',
  'helmGlobals', 'helmCharts', 'helmChartInflationGenerator', 'generatorOptions', 'configurations', 'generators',
  'transformers', 'validators', 'buildMetadata',
]);

type Kustomization = Record<string, unknown>;

/** The kustomization file of the build: where it goes and what it says. */
interface GeneratedFile {
  readonly file: string;
  readonly text: string;
}

async function kustomizationFile(root: string, dir: string, spec: KustomizationSpec): Promise<GeneratedFile> {
  const existing = await findKustomizationFile(dir);
  const step = `generating the kustomization file for path "${spec.path}" failed`;
  let file: string;
  let k: Kustomization;
  if (existing !== undefined) {
    file = join(dir, existing);
    if (!isInside(root, await realpath(file))) throw new BuildError(`${relative(root, file)} is a symlink to outside the source root`);
    const doc = parseDocument(await readFile(file, 'utf8'));
    const error = doc.errors[0];
    if (error) throw new BuildError(`${step}: ${relative(root, file)}: ${firstLine(error.message)}`);
    const value: unknown = plainData(doc) ?? {};
    if (!isRecord(value)) throw new BuildError(`${step}: ${relative(root, file)} is not a YAML mapping`);
    k = { apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization' };
    for (const [key, v] of Object.entries(value)) if (KUSTOMIZATION_FIELDS.has(key)) k[key] = v;
    // Flux's guard against kustomize's "kustomization.yaml is empty" error.
    if (!Array.isArray(k.resources) || k.resources.length === 0) k.buildMetadata = ['originAnnotations'];
  } else {
    file = join(dir, 'kustomization.yaml');
    const resources = await scanManifests(root, dir, step);
    k = { apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization' };
    // An empty directory builds to nothing; Flux sets a placeholder namespace to keep kustomize happy.
    if (resources.length > 0) k.resources = resources;
    else k.namespace = '_placeholder';
  }
  applySpec(k, spec);
  return { file, text: stringify(k, { lineWidth: 0 }) };
}

/**
 * Flux's generated resources: every .yaml/.yml file under dir (recursively, in directory-walk
 * order), except that a directory holding its own kustomization file is listed as a whole and
 * not entered. Every such file must hold Kubernetes objects: Flux fails the build on one that
 * does not (a Helm values file, say) rather than skipping it.
 */
async function scanManifests(root: string, dir: string, step: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (current: string): Promise<void> => {
    const names = (await readdir(current)).sort(compareBytes);
    for (const name of names) {
      const path = join(current, name);
      const info = await lstat(path); // like Go's filepath.Walk: symlinked directories are not entered
      if (info.isDirectory()) {
        if ((await findKustomizationFile(path)) !== undefined) found.push(path);
        else await walk(path);
        continue;
      }
      const ext = extname(name);
      if (ext !== '.yaml' && ext !== '.yml') continue;
      const real = await realpath(path).catch(() => path);
      if (!isInside(root, real)) throw new BuildError(`${step}: ${relative(root, path)} is a symlink to outside the source root`);
      let text: string;
      try {
        text = await readFile(real, 'utf8');
      } catch (err) {
        throw new BuildError(`${step}: cannot read ${relative(root, path)}: ${err instanceof Error ? err.message : String(err)}`);
      }
      const problem = manifestProblem(text);
      if (problem !== undefined) throw new BuildError(`${step}: failed to decode Kubernetes YAML from ${relative(root, path)}: ${problem}`);
      found.push(path);
    }
  };
  await walk(dir);
  return found.map((path) => `./${relative(dir, path).split(sep).join('/')}`);
}

/** Go sorts directory entries by their bytes. */
function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Why kustomize's resource reader would reject this file, as Flux checks it; undefined when fine. */
function manifestProblem(text: string): string | undefined {
  for (const doc of parseAllDocuments(text)) {
    const error = doc.errors[0];
    if (error) return `MalformedYAMLError: ${firstLine(error.message)}`;
    let value: unknown;
    try {
      value = doc.toJS();
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
    if (value === null || value === undefined || isEmptyCollection(value)) continue;
    if (!isRecord(value)) return 'missing Resource metadata';
    const meta = isRecord(value.metadata) ? value.metadata : {};
    const present = (v: unknown): boolean => v !== null && v !== undefined && !isEmptyCollection(v);
    const hasMeta = [value.apiVersion, value.kind, meta.name, meta.namespace, meta.labels, meta.annotations].some(present);
    if (!hasMeta) return 'missing Resource metadata';
    const kind = typeof value.kind === 'string' ? value.kind : '';
    if (kind === '') return 'missing kind in object';
    if (!kind.endsWith('List') && (typeof meta.name !== 'string' || meta.name === '')) return `missing metadata.name in ${kind} object`;
  }
  return undefined;
}

/** A parsed document as plain data; undefined when yaml refuses to expand it (too many aliases). */
function plainData(doc: { toJS(): unknown }): unknown {
  try {
    return doc.toJS();
  } catch {
    return undefined;
  }
}

function isEmptyCollection(v: unknown): boolean {
  return (Array.isArray(v) && v.length === 0) || (isRecord(v) && Object.keys(v).length === 0);
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}

/** The spec's fields, set on the kustomization as Flux's generator sets them. */
function applySpec(k: Kustomization, spec: KustomizationSpec): void {
  if (spec.targetNamespace) k.namespace = spec.targetNamespace;
  if (spec.namePrefix) k.namePrefix = spec.namePrefix;
  if (spec.nameSuffix) k.nameSuffix = spec.nameSuffix;
  if (spec.patches.length > 0) k.patches = [...asList(k.patches), ...spec.patches.map(kustomizePatch)];
  if (spec.images.length > 0) {
    const images = asList(k.images);
    for (const image of spec.images) {
      const same = images.find((i): i is Record<string, unknown> => isRecord(i) && i.name === image.name);
      if (same) {
        // Merged into the file's entry; newTag and digest are replaced together (either pins the version).
        if (image.newName) same.newName = image.newName;
        if (image.newTag || image.digest) {
          delete same.newTag;
          delete same.digest;
          Object.assign(same, withoutEmpty({ newTag: image.newTag, digest: image.digest }));
        }
      } else {
        images.push(withoutEmpty({ name: image.name, newName: image.newName, newTag: image.newTag, digest: image.digest }));
      }
    }
    k.images = images;
  }
}

function kustomizePatch(p: KustomizePatch): Record<string, unknown> {
  if (!p.target) return { patch: p.patch };
  const t = p.target;
  return {
    patch: p.patch,
    target: withoutEmpty({
      group: t.group, version: t.version, kind: t.kind, name: t.name, namespace: t.namespace,
      labelSelector: t.labelSelector, annotationSelector: t.annotationSelector,
    }),
  };
}

function asList(value: unknown): unknown[] {
  return Array.isArray(value) ? [...(value as unknown[])] : [];
}

function withoutEmpty(fields: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(fields)) if (value) out[key] = value;
  return out;
}

// ---------------------------------------------------------------------------------------------
// 3. Confinement, then kustomize.
//
// Flux builds in-process on a filesystem that refuses any path outside the source root, with
// kustomize's load restrictor off (LoadRestrictionsNone), so `../base` or `../common/patch.yaml`
// work anywhere inside the repository. The kustomize CLI has no such filesystem: with
// LoadRestrictionsNone it would read any file on the hub (`configMapGenerator: files:
// [/etc/...]`), and with the default LoadRestrictionsRootOnly it would refuse files Flux reads.
// So we run it with LoadRestrictionsNone and first check, ourselves, every local path that the
// kustomizations of this build name (resources, components, bases, patches, generators and
// their files, transformers, validators, crds, configurations, replacements, openapi): each
// must resolve, symlinks followed, inside the source root. Helm charts and exec/KRM plugins
// stay disabled, as in Flux (kustomize's defaults).

interface Reference {
  readonly field: string;
  readonly value: string;
  /** kustomization: may be a directory holding a kustomization; plugin: a generator/transformer config; file: read as is. */
  readonly kind: 'kustomization' | 'plugin' | 'file';
}

const REMOTE_PREFIXES = ['git::', 'gh:', 'ssh://', 'https://', 'http://', 'git@', 'github.com:', 'github.com/'];

function isRemote(value: string): boolean {
  const lower = value.toLowerCase();
  return REMOTE_PREFIXES.some((p) => lower.startsWith(p) && lower.length > p.length);
}

/**
 * Checks every local path the build's kustomizations name (the build's own one is `own`, not
 * yet on disk) and returns them all, resolved: the part of the source the build reads.
 */
async function checkReferences(root: string, dir: string, allowRemote: boolean, own: GeneratedFile): Promise<Set<string>> {
  const visited = new Set<string>();
  const reached = new Set<string>([dir]);

  const visitKustomization = async (kdir: string): Promise<void> => {
    if (visited.has(kdir)) return;
    visited.add(kdir);
    reached.add(kdir);
    let text: string;
    let file: string;
    if (kdir === dir) {
      file = own.file;
      text = own.text;
    } else {
      const name = await findKustomizationFile(kdir);
      if (name === undefined) return; // kustomize reports it
      file = join(kdir, name);
      const real = await realpath(file);
      if (!isInside(root, real)) throw new BuildError(`${relative(root, file)} is a symlink to outside the source root`);
      reached.add(real);
      text = await readFile(real, 'utf8');
    }
    const doc = parseDocument(text);
    if (doc.errors.length > 0) return; // kustomize reports it
    const k = plainData(doc);
    if (isRecord(k)) for (const ref of kustomizationReferences(k)) await check(kdir, file, ref);
  };

  const check = async (kdir: string, file: string, ref: Reference): Promise<void> => {
    const where = `${relative(root, file)}: ${ref.field} "${ref.value}"`;
    if (isRemote(ref.value)) {
      if (allowRemote) return;
      throw new BuildError(`${where} is a remote resource; remote bases are disabled (Flux's --no-remote-bases): vendor it into the source`);
    }
    const local = ref.value.toLowerCase().startsWith('file://') ? ref.value.slice('file://'.length) : ref.value;
    let real: string;
    try {
      real = await realpath(resolve(kdir, local));
    } catch {
      return; // missing: kustomize reports it with its own message
    }
    if (!isInside(root, real)) throw new BuildError(`${where} points outside the source root; Flux only reads files inside the source`);
    reached.add(real);
    const isDir = (await stat(real)).isDirectory();
    if (isDir && ref.kind !== 'file') return visitKustomization(real);
    if (!isDir && ref.kind === 'plugin') {
      for (const doc of parseAllDocuments(await readFile(real, 'utf8'))) {
        const config = doc.errors.length === 0 ? plainData(doc) : undefined;
        if (isRecord(config)) for (const r of pluginReferences(config, ref.field)) await check(kdir, file, r);
      }
    }
  };

  await visitKustomization(dir);
  return reached;
}

/**
 * The directory (relative to the root) the build's workspace holds: the nearest directory
 * holding every path the build reaches; the whole source when that part holds a symlink (its
 * target may lie outside the part, and kustomize follows it).
 */
async function readPart(root: string, dir: string, reached: ReadonlySet<string>): Promise<string> {
  let part = dir;
  for (const path of reached) while (!isInside(part, path)) part = resolve(part, '..');
  const hasSymlink = async (current: string): Promise<boolean> => {
    for (const entry of await readdir(current, { withFileTypes: true })) {
      if (entry.isSymbolicLink()) return true;
      if (entry.isDirectory() && await hasSymlink(join(current, entry.name))) return true;
    }
    return false;
  };
  return part !== root && await hasSymlink(part) ? '' : relative(root, part);
}

/**
 * The build's workspace: `part` of the source at the same relative path under `workspace`,
 * its files hard-linked (copied where they cannot be), its symlinks recreated as they are.
 * Returns the workspace's source root.
 */
async function linkWorkspace(root: string, part: string, workspace: string): Promise<string> {
  const copy = async (from: string, to: string): Promise<void> => {
    await mkdir(to, { recursive: true });
    for (const entry of await readdir(from, { withFileTypes: true })) {
      const source = join(from, entry.name);
      const target = join(to, entry.name);
      if (entry.isDirectory()) await copy(source, target);
      else if (entry.isSymbolicLink()) await symlink(await readlink(source), target);
      else if (entry.isFile()) await link(source, target).catch(async (err: unknown) => {
        // Across filesystems, or where hard links are not allowed (some network and FUSE filesystems): a copy.
        if (!['EXDEV', 'EPERM', 'ENOTSUP', 'EMLINK', 'EOPNOTSUPP'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
        await copyFile(source, target);
      });
    }
  };
  const built = join(workspace, 'source');
  await copy(join(root, part), join(built, part));
  return built;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : typeof value === 'string' ? [value] : [];
}

function records(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.filter(isRecord) : [];
}

/** `files:` entries are `path` or `key=path`. */
function filePath(entry: string): string {
  const eq = entry.indexOf('=');
  return eq < 0 ? entry : entry.slice(eq + 1);
}

function kustomizationReferences(k: Record<string, unknown>): Reference[] {
  const refs: Reference[] = [];
  const add = (field: string, kind: Reference['kind'], values: string[]): void => {
    for (const value of values) if (value !== '' && !value.includes('\n')) refs.push({ field, value, kind });
  };
  for (const field of ['resources', 'components', 'bases']) add(field, 'kustomization', strings(k[field]));
  for (const field of ['generators', 'transformers', 'validators']) {
    add(field, 'plugin', strings(k[field]));
    // Inline plugin configurations (YAML text in the list) may name files too.
    for (const inline of strings(k[field]).filter((v) => v.includes('\n'))) {
      for (const doc of parseAllDocuments(inline)) {
        const config = doc.errors.length === 0 ? plainData(doc) : undefined;
        if (isRecord(config)) refs.push(...pluginReferences(config, field));
      }
    }
  }
  for (const field of ['crds', 'configurations', 'patchesStrategicMerge']) add(field, 'file', strings(k[field]));
  for (const field of ['patches', 'patchesJson6902', 'replacements']) {
    add(`${field}.path`, 'file', records(k[field]).flatMap((p) => strings(p.path)));
  }
  if (isRecord(k.openapi)) add('openapi.path', 'file', strings(k.openapi.path));
  for (const field of ['configMapGenerator', 'secretGenerator']) {
    for (const g of records(k[field])) {
      add(`${field}.files`, 'file', strings(g.files).map(filePath));
      add(`${field}.envs`, 'file', [...strings(g.envs), ...strings(g.env)]);
    }
  }
  return refs;
}

/** Files named by a builtin generator or transformer configuration (ConfigMapGenerator, PatchTransformer, ...). */
function pluginReferences(config: Record<string, unknown>, field: string): Reference[] {
  const values = [
    ...strings(config.path), ...strings(config.paths), ...strings(config.files).map(filePath), ...strings(config.envs),
    ...strings(config.env), ...records(config.replacements).flatMap((r) => strings(r.path)),
  ];
  return values.filter((v) => v !== '').map((value) => ({ field, value, kind: 'file' as const }));
}

/**
 * Every YAML file of the source, before kustomize reads any: none may be larger than
 * limits.render.maxFileBytes (checked by stat, before reading), and none may hold a document
 * Go's YAML decoder would refuse for excessive aliasing (core/yaml-aliases.ts; Flux's
 * in-process kustomize decodes with that rule, the kustomize CLI would expand the bomb).
 * The whole source, not just the files the kustomization names: kustomize also reads files
 * named by generators, patches and components, and a source is bounded (limits.render.maxFiles).
 */
export async function checkSourceYaml(root: string, limits: RenderLimits): Promise<void> {
  const walk = async (dir: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort(compareBytes)) {
      const path = join(dir, name);
      const info = await lstat(path);
      if (info.isDirectory()) {
        await walk(path);
        continue;
      }
      const ext = extname(name).toLowerCase();
      if (!info.isFile() || (ext !== '.yaml' && ext !== '.yml' && name !== 'Kustomization')) continue;
      const rel = relative(root, path);
      if (info.size > limits.maxFileBytes) {
        throw new RenderLimitError('maxFileBytes', limits.maxFileBytes, `file ${rel}`, `it is ${formatBytes(info.size)}`);
      }
      const verdict = findExcessiveAliasing(await readFile(path, 'utf8'));
      if (verdict !== undefined) {
        throw new BuildError(
          `${rel}: document ${verdict.document} contains excessive aliasing (${verdict.aliasCount} of its first ${verdict.decodeCount} ` +
            'decoded nodes come from aliases; refused before kustomize reads it, as Go\'s YAML decoder in Flux refuses it): remove the YAML anchors and aliases that expand it',
        );
      }
    }
  };
  await walk(root);
}

async function runKustomize(kustomize: string, dir: string, path: string, timeoutMs: number, allowRemote: boolean, limits: RenderLimits): Promise<string> {
  // --reorder none: Flux's kustomizer does not re-sort, so objects come out in resource order
  // (unless the kustomization sets sortOptions).
  const args = ['build', dir, '--load-restrictor', 'LoadRestrictionsNone', '--reorder', 'none'];
  // Without remote bases kustomize gets no PATH, so it cannot fall back to `git clone` for a
  // resource that looks local but is not (e.g. gitlab.com/org/repo).
  const env = allowRemote ? { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/' } : { PATH: '', HOME: '/nonexistent' };
  const result = await runLimited({ bin: kustomize, args, cwd: dir, env, timeoutMs, limits, subject: `kustomize build of path "${path}"` });
  if (result.ok) return result.stdout;
  switch (result.kind) {
    case 'spawn':
      throw new Error(`cannot run kustomize at ${kustomize}: ${result.message}`);
    case 'timeout':
      throw new BuildError(`kustomize build timed out after ${timeoutMs} ms for path "${path}"`);
    case 'failed': {
      const message = result.stderr
        .split('\n')
        .filter((line) => !line.startsWith('Flag --reorder has been deprecated'))
        .join('\n')
        .trim();
      throw new BuildError(`kustomize build failed for path "${path}": ${message || result.message}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// 4. Per object: substitution, then common metadata.

/**
 * How Flux reads an object after substitution: YAML 1.1 scalars (so a value `yes` or `on` is a
 * boolean, as in Go's yaml.v2) but without 1.1's sexagesimal numbers and timestamps, which
 * Go's YAML-to-JSON conversion leaves as strings.
 */
const YAML_11 = {
  version: '1.1' as const,
  customTags: (tags: Tags): Tags =>
    tags.filter((t) => typeof t !== 'object' || (t.format !== 'TIME' && t.tag !== 'tag:yaml.org,2002:timestamp')),
};

function postBuild(output: string, spec: KustomizationSpec, vars: Readonly<Record<string, string>>): BuildResult {
  const texts = output.split(/^---$\n?/m).filter((t) => t.trim() !== '');
  const labels = Object.entries(spec.commonMetadata?.labels ?? {});
  const annotations = Object.entries(spec.commonMetadata?.annotations ?? {});
  const docs = texts.map((text) => {
    const built = plainData(parseDocument(text));
    const id = checkObject(built, text);
    let object: Record<string, unknown> | undefined; // set when the text has to be rewritten
    if (spec.postBuild) {
      let substituted: string;
      try {
        substituted = substituteObject(text, vars);
      } catch (err) {
        if (err instanceof SubstitutionError) throw new BuildError(`post build failed for '${id}': envsubst error: ${err.message}`);
        throw err;
      }
      if (substituted !== text) object = parseSubstituted(substituted, id);
    }
    if (labels.length > 0 || annotations.length > 0) {
      object ??= built as Record<string, unknown>;
      const metadata = object.metadata as Record<string, unknown>;
      for (const [field, entries] of [['labels', labels], ['annotations', annotations]] as const) {
        if (entries.length === 0) continue;
        const current = isRecord(metadata[field]) ? metadata[field] : {};
        metadata[field] = { ...current, ...Object.fromEntries(entries) };
      }
    }
    return object ? stringify(object, { lineWidth: 0 }) : text.endsWith('\n') ? text : `${text}\n`;
  });
  return { yaml: docs.join('---\n'), objectCount: docs.length };
}

/** Flux's check on each built object; returns its id as Flux prints it: Kind.version.group/name. */
function checkObject(value: unknown, text: string): string {
  const meta = isRecord(value) && isRecord(value.metadata) ? value.metadata : undefined;
  const ok = (v: unknown): v is string => typeof v === 'string' && v !== '';
  if (!isRecord(value) || !ok(value.apiVersion) || !ok(value.kind) || !ok(meta?.name)) {
    throw new BuildError(`failed to decode Kubernetes apiVersion, kind and name from: ${text.slice(0, 300)}`);
  }
  const slash = value.apiVersion.indexOf('/');
  const group = slash < 0 ? '[noGrp]' : value.apiVersion.slice(0, slash);
  const version = value.apiVersion.slice(slash + 1);
  return `${value.kind}.${version}.${group}/${meta.name}`;
}

function parseSubstituted(text: string, id: string): Record<string, unknown> {
  const doc = parseDocument(text, YAML_11);
  const error = doc.errors[0];
  if (error) throw new BuildError(`post build failed for '${id}': the YAML does not parse after variable substitution: ${firstLine(error.message)}`);
  let value: unknown;
  try {
    value = doc.toJS();
  } catch (err) {
    throw new BuildError(`post build failed for '${id}': ${err instanceof Error ? err.message : String(err)}`);
  }
  const meta = isRecord(value) && isRecord(value.metadata) ? value.metadata : undefined;
  if (!isRecord(value) || typeof value.apiVersion !== 'string' || typeof value.kind !== 'string' || typeof meta?.name !== 'string' || meta.name === '') {
    throw new BuildError(`post build failed for '${id}': after variable substitution it is no longer an object with apiVersion, kind and metadata.name`);
  }
  return value;
}
