// `flotilla build <path>` and `flotilla check --pre <dir>`: what the hub will adopt, apply and
// skip for a path of a checked-out Flux repository, worked out the way the hub does it and
// without a cluster, Temporal or a hub:
//   - the path is taken as `flotilla bootstrap --path <path> [--cluster <name>]` would take it:
//     the root is the Kustomization flux-system/flux-system (scoped to the cluster) built from
//     the GitRepository flux-system;
//   - the working tree is packed with the GitRepository's ignore rules (VCS files, Flux's
//     default exclusions, .sourceignore) and extracted to a fresh temp dir, as the hub
//     extracts its source artifact;
//   - each build is the hub's own (activities/kustomize-build.ts, the real kustomize), split
//     with the hub's own splitBuild (core/declarations/adopt.ts);
//   - every adopted Kustomization whose source is the same repository is built in turn, with
//     its own spec and variables (postBuild.substitute, and substituteFrom looked up in the
//     ConfigMaps and Secrets adopted so far), breadth first, at most MAX_DEPTH deep.
// Nothing here talks to the network.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { loadSourceIgnoreFilter } from '../activities/git-source.js';
import { buildKustomization } from '../activities/kustomize-build.js';
import { executableOnPath } from '../activities/limited-exec.js';
import { extractTarball, packTree } from '../activities/tarball.js';
import { splitBuild, type SkippedObject } from '../core/declarations/adopt.js';
import { formatDeclarationError, parseDeclarationObject, type DeclarationError } from '../core/declarations/parse.js';
import { adoptionContext, BOOTSTRAP_ANNOTATION, ownersOf, scopeDeclaration } from '../core/declarations/scope.js';
import { declarationId, isDataDeclaration, type Declaration, type KustomizationDeclaration } from '../core/declarations/types.js';
import { describeObject } from '../core/objects.js';
import { CommandFailed, UsageError, type GlobalOptions } from './gitops.js';
import { paint, printStructured } from './output.js';

/** Kustomizations nested deeper than this are not built (the hub has no such limit; a chain this long is a mistake). */
export const MAX_DEPTH = 20;

/** The names `flotilla bootstrap` gives its GitRepository and Kustomization (Flux's own). */
const BOOTSTRAP_NAME = 'flux-system';

export interface RepositoryOptions {
  /** A directory inside the repository (relative to the current directory or absolute). */
  readonly path: string;
  /** The scope, as `flotilla bootstrap --cluster <name>`; unscoped (every cluster) without it. */
  readonly cluster?: string;
  /** Default: the nearest ancestor of path holding .git, else the current directory. */
  readonly repoRoot?: string;
  /** Default: FLOTILLA_KUSTOMIZE, else kustomize on PATH. */
  readonly kustomize?: string;
}

/** An error or warning about one object (or the build), without the file: the Kustomization says where. */
export interface Finding {
  readonly object?: string;
  readonly field?: string;
  readonly message: string;
}

export interface KustomizationReport {
  /** The hub's id: kustomization/flux-system@staging/apps. */
  readonly id: string;
  /** flux-system@staging/apps */
  readonly name: string;
  readonly path: string;
  /** The Kustomizations that own it, outermost first (none for the root). */
  readonly ownedBy: readonly string[];
  /** False when it is not built here; notBuilt says why. */
  readonly built: boolean;
  readonly notBuilt?: string;
  /** Hub declarations, Kind/namespace/name (ConfigMaps and Secrets are in applied too). */
  readonly adopted: string[];
  /** Objects for the placed clusters, Kind/namespace/name. */
  readonly applied: string[];
  readonly skipped: SkippedObject[];
  readonly notices: string[];
  readonly warnings: Finding[];
  readonly errors: Finding[];
}

export interface RepositoryReport {
  readonly repoRoot: string;
  /** The path relative to the repository root, as bootstrap's --path. */
  readonly path: string;
  readonly cluster?: string;
  readonly kustomize: { readonly path: string; readonly version: string };
  readonly kustomizations: readonly KustomizationReport[];
  readonly summary: {
    readonly kustomizations: number; readonly notBuilt: number; readonly adopted: number; readonly applied: number;
    readonly skipped: number; readonly warnings: number; readonly errors: number;
  };
}

// ---------------------------------------------------------------------------------------
// The commands

export async function buildCommand(opts: RepositoryOptions, g: GlobalOptions): Promise<void> {
  const report = await analyzeRepository(opts, await locateKustomize(opts.kustomize));
  if (g.output !== 'table') printStructured(g.output, report);
  else for (const line of reportLines(report)) console.log(line);
  failOnErrors(report);
}

interface CheckResult {
  readonly name: string;
  readonly ok: boolean;
  readonly message: string;
  readonly notices?: readonly string[];
  readonly warnings?: readonly string[];
  readonly errors?: readonly string[];
}

/** Like `flux check --pre`: can the hub build this path, and what would it say about it. */
export async function checkPreCommand(opts: RepositoryOptions, g: GlobalOptions): Promise<void> {
  const results: CheckResult[] = [];
  const print = (r: CheckResult): void => {
    results.push(r);
    if (g.output !== 'table') return;
    console.log(`${r.ok ? paint('green', '✔') : paint('red', '✗')} ${r.name}: ${r.message}`);
    for (const n of r.notices ?? []) console.log(`    notice: ${n}`);
    for (const w of r.warnings ?? []) console.log(`    ${paint('yellow', 'warning')}: ${w}`);
    for (const e of r.errors ?? []) console.log(`    ${paint('red', 'error')}: ${e}`);
  };
  const finish = (): void => {
    if (g.output !== 'table') printStructured(g.output, results);
    const failed = results.filter((r) => !r.ok);
    if (failed.length > 0) throw new CommandFailed(`${failed.length} check${failed.length === 1 ? '' : 's'} failed: ${failed.map((f) => f.name).join(', ')}`);
  };

  let kustomize: Kustomize;
  try {
    kustomize = await locateKustomize(opts.kustomize);
    print({ name: 'kustomize', ok: true, message: `${kustomize.version} (${kustomize.path})` });
  } catch (err) {
    print({ name: 'kustomize', ok: false, message: errorMessage(err) });
    finish();
    return;
  }
  let report: RepositoryReport;
  try {
    report = await analyzeRepository(opts, kustomize);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    print({ name: 'repository', ok: false, message: errorMessage(err) });
    finish();
    return;
  }
  print({ name: 'repository', ok: true, message: `${report.repoRoot}, path ${report.path}${report.cluster !== undefined ? ` for cluster ${report.cluster}` : ' for every cluster'}` });
  for (const k of report.kustomizations) {
    const counts = `${k.adopted.length} adopted, ${k.applied.length} applied, ${k.skipped.length} skipped`;
    print({
      name: `Kustomization ${k.name}`,
      ok: k.errors.length === 0,
      message: !k.built ? `not built here (${k.notBuilt ?? ''})`
        : k.errors.length === 0 ? `path ${k.path} builds: ${counts}` : `path ${k.path}: ${plural(k.errors.length, 'error')}`,
      ...(k.notices.length > 0 ? { notices: k.notices } : {}),
      ...(k.warnings.length > 0 ? { warnings: k.warnings.map(formatFinding) } : {}),
      ...(k.errors.length > 0 ? { errors: k.errors.map(formatFinding) } : {}),
    });
  }
  const s = report.summary;
  print({
    name: 'errors', ok: s.errors === 0,
    message: s.errors === 0 ? `none (${plural(s.kustomizations, 'Kustomization')} built, ${plural(s.warnings, 'warning')})` : `${s.errors} in ${plural(report.kustomizations.filter((k) => k.errors.length > 0).length, 'Kustomization')}`,
  });
  finish();
}

function failOnErrors(report: RepositoryReport): void {
  const failed = report.kustomizations.filter((k) => k.errors.length > 0);
  if (failed.length > 0) {
    throw new CommandFailed(`${plural(report.summary.errors, 'error')} in ${failed.map((k) => `Kustomization ${k.name}`).join(', ')}`);
  }
}

/** The table form: a header per Kustomization, one line per object, then the summary. */
export function reportLines(report: RepositoryReport): string[] {
  const lines: string[] = [];
  const line = (verb: string, text: string): void => { lines.push(`  ${verb}${' '.repeat(Math.max(1, 8 - verb.length))}${text}`); };
  for (const k of report.kustomizations) {
    if (!k.built) {
      lines.push(`Kustomization ${k.name}  not built here (${k.notBuilt ?? ''})`);
    } else {
      lines.push(`Kustomization ${k.name}  path ${k.path}`);
      for (const a of k.adopted) line('adopt', a);
      for (const a of k.applied) line('apply', a);
      for (const s of k.skipped) line('skip', `${s.object}  (${s.reason})`);
    }
    for (const n of k.notices) line('notice', n);
    for (const w of k.warnings) lines.push(`  ${paint('yellow', 'warn')}    ${formatFinding(w)}`);
    for (const e of k.errors) lines.push(`  ${paint('red', 'error')}   ${formatFinding(e)}`);
  }
  const s = report.summary;
  const summary = [
    plural(s.kustomizations, 'Kustomization') + ' built', ...(s.notBuilt > 0 ? [`${s.notBuilt} not built here`] : []),
    `${s.adopted} adopted`, `${s.applied} applied`, `${s.skipped} skipped`, plural(s.warnings, 'warning'), plural(s.errors, 'error'),
  ].join(', ');
  lines.push(s.errors > 0 ? paint('red', summary) : summary);
  return lines;
}

export function formatFinding(f: Finding): string {
  return [f.object, f.field, f.message].filter((p) => p !== undefined && p !== '').join(': ');
}

// ---------------------------------------------------------------------------------------
// The analysis

export interface Kustomize {
  readonly path: string;
  readonly version: string;
}

/**
 * The kustomize binary: --kustomize, else FLOTILLA_KUSTOMIZE (as for the hub's tools.kustomize),
 * else kustomize on PATH, as `flux build` finds it; with its version.
 */
export async function locateKustomize(explicit?: string): Promise<Kustomize> {
  const fromEnv = process.env.FLOTILLA_KUSTOMIZE;
  const named = explicit ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : undefined);
  const path = named !== undefined ? resolve(named) : executableOnPath('kustomize');
  if (path === undefined) throw new CommandFailed('kustomize not found on PATH: install kustomize, give --kustomize <path>, or set FLOTILLA_KUSTOMIZE');
  const version = await new Promise<string>((resolveVersion, reject) => {
    execFile(path, ['version'], { timeout: 10_000, encoding: 'utf8' }, (error, stdout) => {
      if (error) reject(new CommandFailed(`cannot run kustomize at ${path}: ${error.message}`));
      else resolveVersion(stdout.trim().split('\n')[0] ?? '');
    });
  });
  return { path, version };
}

/** The Kustomization `flotilla bootstrap --path <path> [--cluster <cluster>]` declares (scoped). */
export function bootstrapKustomization(path: string, cluster: string | undefined): KustomizationDeclaration {
  const parsed = parseDeclarationObject({
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization',
    metadata: { name: BOOTSTRAP_NAME, namespace: BOOTSTRAP_NAME, annotations: { [BOOTSTRAP_ANNOTATION]: 'true' } },
    spec: {
      interval: '10m', path, prune: true, sourceRef: { kind: 'GitRepository', name: BOOTSTRAP_NAME },
      ...(cluster !== undefined ? { placement: { clusters: [cluster] } } : {}),
    },
  }, 'bootstrap');
  if (Array.isArray(parsed)) throw new UsageError(parsed.map(formatDeclarationError).join('; '));
  const scoped = scopeDeclaration(parsed, cluster);
  if (scoped.kind !== 'Kustomization') throw new Error(`bootstrap declared a ${scoped.kind}`);
  return scoped;
}

/** The nearest directory from `dir` up that holds .git. */
function gitRoot(dir: string): string | undefined {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, '.git'))) return d;
    if (dirname(d) === d) return undefined;
  }
}

function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/** Builds the path and every Kustomization it leads to, as the hub would; see the file's comment. */
export async function analyzeRepository(opts: RepositoryOptions, kustomize: Kustomize): Promise<RepositoryReport> {
  if (opts.cluster !== undefined && (opts.cluster === '' || /[@/\s]/.test(opts.cluster))) {
    throw new UsageError(`--cluster must be a cluster name, got "${opts.cluster}"`);
  }
  // With --repo-root, <path> is relative to the repository root (as bootstrap's --path is);
  // without it, to the current directory. An absolute <path> is taken as it is.
  const givenRoot = opts.repoRoot !== undefined ? resolve(opts.repoRoot) : undefined;
  const target = givenRoot !== undefined ? resolve(givenRoot, opts.path) : resolve(opts.path);
  const info = await stat(target).catch(() => undefined);
  if (!info?.isDirectory()) throw new UsageError(`${opts.path} is not a directory${givenRoot !== undefined ? ` of the repository ${givenRoot}` : ''}`);
  const repoRoot = givenRoot ?? gitRoot(target) ?? process.cwd();
  if (!isInside(repoRoot, target)) throw new UsageError(`${opts.path} is not inside the repository ${repoRoot}${opts.repoRoot === undefined ? ' (give --repo-root)' : ''}`);
  const path = relative(repoRoot, target).split(sep).join('/') || '.';

  // The source artifact, as the GitRepository would pack it (no spec.ignore on bootstrap's).
  let tarball: Buffer;
  try {
    tarball = (await packTree(repoRoot, { filter: await loadSourceIgnoreFilter(repoRoot) })).data;
  } catch (err) {
    throw new CommandFailed(`cannot pack ${repoRoot} as the GitRepository would: ${errorMessage(err)}`);
  }

  const root = bootstrapKustomization(path, opts.cluster);
  const rootSource = root.spec.sourceRef;
  const rootSourceId = declarationId({ kind: 'GitRepository', namespace: rootSource.namespace, name: rootSource.name });
  const reports: KustomizationReport[] = [];
  const byId = new Map<string, KustomizationReport>();
  /** Every adopted declaration, by id, with the Kustomization that adopted it first. */
  const adopted = new Map<string, { readonly declaration: Declaration; readonly by: string }>();
  const queue: { readonly k: KustomizationDeclaration; readonly depth: number }[] = [{ k: root, depth: 0 }];

  for (let i = 0; i < queue.length; i++) {
    const item = queue[i];
    if (item === undefined) continue;
    const { k, depth } = item;
    const id = declarationId(k);
    const source = k.spec.sourceRef;
    const sameSource = source.namespace === rootSource.namespace && source.name === rootSource.name;
    const report: KustomizationReport = {
      id, name: `${k.namespace}/${k.name}`, path: k.spec.path, ownedBy: ownersOf(k), built: sameSource,
      ...(sameSource ? {} : { notBuilt: `source GitRepository/${source.namespace}/${source.name}` }),
      adopted: [], applied: [], skipped: [], notices: [], warnings: [], errors: [],
    };
    reports.push(report);
    byId.set(id, report);
    if (!sameSource) continue;
    if (k.spec.suspend) report.notices.push('spec.suspend is true: the hub adopts it but builds nothing until it is resumed (shown as it would build)');

    const vars = substitutionVariables(k, adopted, report);
    let yaml: string;
    const dir = await mkdtemp(join(tmpdir(), 'flotilla-build-'));
    try {
      await extractTarball(tarball, dir);
      yaml = (await buildKustomization(dir, k.spec, vars, { kustomizeBin: kustomize.path, sourceName: repoRoot })).yaml;
    } catch (err) {
      // kustomize names files in the temp copy; name them in the repository instead.
      const real = await realpath(dir).catch(() => dir);
      report.errors.push({ message: errorMessage(err).split(real).join(repoRoot).split(dir).join(repoRoot) });
      continue;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }

    const ctx = adoptionContext(k);
    const split = splitBuild(yaml, `build of ${id}`, ctx);
    report.skipped.push(...split.skipped);
    report.notices.push(...split.notices);
    report.warnings.push(...split.warnings.map(finding));
    report.errors.push(...split.errors.map(finding));
    report.applied.push(...split.objects.map(describeObject));
    if (split.errors.length > 0) {
      report.notices.push('the hub applies nothing of a build with errors (its Kustomizations are still built here, to find every problem at once)');
    }
    for (const d of split.declarations) {
      const did = declarationId(d);
      const what = `${d.kind}/${d.namespace}/${d.name}`;
      report.adopted.push(what);
      if (did === rootSourceId) {
        report.warnings.push({ object: what, message: 'replaces the GitRepository flotilla bootstrap declared (its url and ref): only the bootstrap Kustomization\'s build may repeat it unchanged' });
      }
      const first = adopted.get(did);
      if (first !== undefined) {
        report.warnings.push({ object: what, message: `also declared by ${first.by}: on the hub each of the two takes it over when it reconciles; declare it once` });
        continue;
      }
      adopted.set(did, { declaration: d, by: id });
      if (d.kind !== 'Kustomization') continue;
      if (depth + 1 > MAX_DEPTH) {
        report.errors.push({ object: what, message: `Kustomizations nested more than ${MAX_DEPTH} deep; not built here` });
        continue;
      }
      queue.push({ k: d, depth: depth + 1 });
    }
  }

  checkReferences(byId, adopted, new Set([declarationId(root), rootSourceId]), path);
  const built = reports.filter((k) => k.built);
  const count = (f: (k: KustomizationReport) => number): number => reports.reduce((n, k) => n + f(k), 0);
  return {
    repoRoot, path, ...(opts.cluster !== undefined ? { cluster: opts.cluster } : {}),
    kustomize, kustomizations: reports,
    summary: {
      kustomizations: built.length, notBuilt: reports.length - built.length,
      adopted: count((k) => k.adopted.length), applied: count((k) => k.applied.length), skipped: count((k) => k.skipped.length),
      warnings: count((k) => k.warnings.length), errors: count((k) => k.errors.length),
    },
  };
}

/**
 * postBuild.substituteFrom (in order, from the ConfigMaps and Secrets adopted so far in the
 * Kustomization's namespace), then postBuild.substitute over them, as the hub merges them.
 * A missing non-optional one stalls the Kustomization on the hub, unless it reaches the hub
 * some other way (`flotilla apply`): a warning here, with the hub's message.
 */
function substitutionVariables(
  k: KustomizationDeclaration, adopted: ReadonlyMap<string, { readonly declaration: Declaration }>, report: KustomizationReport,
): Record<string, string> {
  const vars: Record<string, string> = {};
  (k.spec.postBuild?.substituteFrom ?? []).forEach((from, i) => {
    const found = adopted.get(declarationId({ kind: from.kind, namespace: k.namespace, name: from.name }))?.declaration;
    if (found === undefined || !isDataDeclaration(found)) {
      if (from.optional) return;
      report.warnings.push({
        object: `Kustomization/${k.namespace}/${k.name}`, field: `spec.postBuild.substituteFrom[${i}]`,
        message: `not declared under this path: unless it is applied to the hub some other way, the hub stalls the Kustomization with `
          + `"postBuild.substituteFrom: ${from.kind} '${k.namespace}/${from.name}' not found (apply it to the hub, or mark it optional: true)"`,
      });
      return;
    }
    Object.assign(vars, found.spec.data);
  });
  return Object.assign(vars, k.spec.postBuild?.substitute ?? {});
}

/**
 * References to hub objects no build declares: a Kustomization's source and dependsOn, a
 * HelmRelease's chart source and dependsOn. They must reach the hub some other way, or the
 * hub keeps the object waiting; a warning on the Kustomization that adopted it.
 */
function checkReferences(
  byId: ReadonlyMap<string, KustomizationReport>,
  adopted: ReadonlyMap<string, { readonly declaration: Declaration; readonly by: string }>, known: ReadonlySet<string>, path: string,
): void {
  const declared = (kind: Declaration['kind'], ref: { readonly namespace: string; readonly name: string }): boolean => {
    const id = declarationId({ kind, namespace: ref.namespace, name: ref.name });
    return known.has(id) || adopted.has(id);
  };
  for (const { declaration: d, by } of adopted.values()) {
    const report = byId.get(by);
    if (report === undefined) continue;
    const missing: { field: string; what: string }[] = [];
    const check = (field: string, kind: Declaration['kind'], ref: { readonly namespace: string; readonly name: string }): void => {
      if (!declared(kind, ref)) missing.push({ field, what: `${kind}/${ref.namespace}/${ref.name}` });
    };
    if (d.kind === 'Kustomization') {
      check('spec.sourceRef', 'GitRepository', d.spec.sourceRef);
      d.spec.dependsOn.forEach((ref, i) => { check(`spec.dependsOn[${i}]`, 'Kustomization', ref); });
    } else if (d.kind === 'HelmRelease') {
      check('spec.chart.spec.sourceRef', d.spec.chart.sourceRef.kind, d.spec.chart.sourceRef);
      d.spec.dependsOn.forEach((ref, i) => { check(`spec.dependsOn[${i}]`, 'HelmRelease', ref); });
    }
    for (const m of missing) {
      report.warnings.push({
        object: `${d.kind}/${d.namespace}/${d.name}`, field: m.field,
        message: `${m.what} is not declared under ${path}: unless it reaches the hub some other way, the hub keeps this waiting for it`,
      });
    }
  }
}

/** A split's error or warning (splitBuild names objects as the hub keys them), without the file. */
function finding(e: DeclarationError): Finding {
  const object = e.object ?? (e.document !== undefined ? `document ${e.document}` : undefined);
  return { ...(object !== undefined ? { object } : {}), ...(e.field !== undefined ? { field: e.field } : {}), message: e.message };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
