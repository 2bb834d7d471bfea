// Helm charts, the IO part, for Flux's HelmRepository / HelmChart / HelmRelease:
//   - fetchHelmIndex: GET <repo>/index.yaml (basic auth, size cap, timeout) and parse it;
//   - fetchChart: download a chart version's .tgz, check it against the index's digest and
//     keep it in the hub's content-addressed ArtifactStore;
//   - packageChartDirectory: `helm package` a chart directory from a git source;
//   - renderChart: `helm template` a chart .tgz with the real helm binary, then split the
//     output into release objects and hooks (core/helm-chart.ts).
// helm runs with a clean environment (its own HOME and HELM_* dirs, no kubeconfig, no PATH)
// in a temp dir that is removed afterwards: values may hold secrets.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Parser, type ReadEntry } from 'tar';
import { parse } from 'yaml';
import { digestOf } from '../core/digest.js';
import { parseHelmIndex, splitHooks, type HelmChartVersion, type HelmHook, type HelmIndex, type SkippedHook } from '../core/helm-chart.js';
import { isRecord, parseManifests } from '../core/manifests.js';
import type { KubeObject } from '../core/objects.js';
import { DEFAULT_RENDER_LIMITS, RenderLimitError, type RenderLimits } from '../core/render-limits.js';
import { runLimited } from './limited-exec.js';
import { inflate } from './tarball.js';
import { scrubber, scrubUrl } from '../core/scrub.js';
import type { SourcePolicy } from '../core/source-policy.js';
import { policyFetch, sameOrigin, SourcePolicyError } from './source-guard.js';

/** The repository's index could not be fetched or read (Flux's reason: IndexationFailed). */
export class HelmRepositoryError extends Error {
  override readonly name = 'HelmRepositoryError';
  constructor(
    readonly reason: 'IndexationFailed',
    message: string,
  ) {
    super(message);
  }
}

/** A chart could not be downloaded, verified or packaged (Flux's reasons). */
export class HelmChartError extends Error {
  override readonly name = 'HelmChartError';
  constructor(
    readonly reason: 'ChartPullError' | 'ChartPackageError',
    message: string,
  ) {
    super(message);
  }
}

/** `helm template` refused the chart or its values; the message carries helm's own error. */
export class ChartRenderError extends Error {
  override readonly name = 'ChartRenderError';
}

export interface BasicAuth {
  readonly username: string;
  readonly password: string;
}

export interface DownloadOptions {
  /** The hub's source policy: checked for the URL, its address and every redirect. */
  readonly policy: SourcePolicy;
  /** The object and field the URL came from, for refusals (default "Helm repository URL"). */
  readonly what?: string;
  /** Default 60 s (Flux's default HelmRepository timeout). */
  readonly timeoutMs?: number;
  /** Default 50 MiB for an index, 10 MiB for a chart (Flux's defaults). */
  readonly maxBytes?: number;
}

const DEFAULT_TIMEOUT_MS = 60_000;
const MAX_INDEX_BYTES = 50 * 2 ** 20;
const MAX_CHART_BYTES = 10 * 2 ** 20;
const HELM_TIMEOUT_MS = 5 * 60_000;
/** How much of helm's stderr an error message keeps. */
const MAX_MESSAGE_CHARS = 4000;

// ---------------------------------------------------------------------------------------------
// Downloads.

/** Fetches and parses `<url>/index.yaml`; digest is the sha256 of its bytes (the HelmRepository's revision). */
export async function fetchHelmIndex(url: string, auth: BasicAuth | undefined, opts: DownloadOptions): Promise<{ index: HelmIndex; digest: string }> {
  const fail = (message: string): HelmRepositoryError => new HelmRepositoryError('IndexationFailed', message);
  const indexUrl = indexUrlOf(url, fail);
  const what = `Helm repository index ${redact(indexUrl)}`;
  const data = await download(indexUrl, what, auth, opts, opts.maxBytes ?? MAX_INDEX_BYTES, fail);
  let index: HelmIndex;
  try {
    index = parseHelmIndex(data.toString('utf8'), redact(indexUrl));
  } catch (err) {
    throw fail(err instanceof Error ? err.message : String(err));
  }
  return { index, digest: digestOf(data) };
}

/** The index URL of a repository URL: its path with `/index.yaml` appended (query kept). */
function indexUrlOf(repoUrl: string, fail: (message: string) => Error): URL {
  const url = httpUrl(repoUrl, 'Helm repository URL', fail);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/index.yaml`;
  return url;
}

/** Where fetchChart keeps a chart: a content-addressed store (the hub's ArtifactStore is one); put returns the digest. */
export interface ChartArtifacts {
  put(data: Uint8Array): Promise<string>;
}

/**
 * Downloads one chart version (the first of its urls, as Helm does; a relative one is
 * resolved against the repository URL), verifies it against the index's sha256 digest when
 * the index gives one, and stores it. Credentials go only to the repository's own scheme and
 * host (Helm's default, without --pass-credentials).
 */
export async function fetchChart(
  chart: Pick<HelmChartVersion, 'urls' | 'digest'> & { readonly name?: string; readonly version?: string },
  repoUrl: string,
  artifacts: ChartArtifacts,
  opts: DownloadOptions & { readonly auth?: BasicAuth },
): Promise<{ artifactDigest: string }> {
  const fail = (message: string): HelmChartError => new HelmChartError('ChartPullError', message);
  const label = chart.name !== undefined ? `chart ${chart.name}${chart.version !== undefined ? `-${chart.version}` : ''}` : 'chart';
  const first = chart.urls[0];
  if (first === undefined) throw fail(`${label} has no download URL in the repository index`);
  const repo = httpUrl(repoUrl, 'Helm repository URL', fail);
  const url = httpUrl(chartUrl(first, repo, label, fail), `download URL of ${label}`, fail);
  const expected = chart.digest === undefined ? undefined : indexDigest(chart.digest, label, fail);

  // One rule for every source fetch (activities/source-guard.ts): credentials only to the repository's origin.
  const what = `${label} from ${redact(url)}`;
  const data = await download(url, what, sameOrigin(url, repo) ? opts.auth : undefined, { ...opts, what: `${opts.what ?? 'Helm repository'} (${label} download URL)` },
    opts.maxBytes ?? MAX_CHART_BYTES, fail);
  const actual = digestOf(data);
  if (expected !== undefined && actual !== expected) {
    throw fail(`${what} has digest ${actual}, but the repository index says ${expected}; refusing it`);
  }
  if (data[0] !== 0x1f || data[1] !== 0x8b) throw fail(`${what} is not a gzipped chart archive`);
  return { artifactDigest: await artifacts.put(data) };
}

/**
 * A chart URL from the index, resolved as Helm resolves it: relative to the repository URL
 * taken as a directory; a relative URL without a query gets the repository URL's query
 * (some repositories authenticate with a signed query string).
 */
function chartUrl(ref: string, repo: URL, label: string, fail: (message: string) => Error): string {
  const base = new URL(repo.href);
  if (!base.pathname.endsWith('/')) base.pathname = `${base.pathname}/`;
  let url: URL;
  try {
    url = new URL(ref, base);
  } catch {
    throw fail(`${label} has an invalid download URL "${redactText(ref)}"`);
  }
  const relative = !/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(ref);
  if (relative && url.search === '') url.search = base.search;
  return url.href;
}

/** The index's digest (hex, as `helm repo index` writes it) in our sha256:<hex> form. */
function indexDigest(digest: string, label: string, fail: (message: string) => Error): string {
  const hex = digest.trim().toLowerCase().replace(/^sha256:/, '');
  if (!/^[0-9a-f]{64}$/.test(hex)) throw fail(`the repository index gives ${label} an invalid digest "${digest}" (want a sha256)`);
  return `sha256:${hex}`;
}

function httpUrl(text: string, what: string, fail: (message: string) => Error): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw fail(`invalid ${what} "${redactText(text)}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw fail(`${what} ${redact(url)} is not http(s); OCI repositories are not supported here`);
  }
  if (url.username !== '' || url.password !== '') {
    throw fail(`${what} ${redact(url)} embeds credentials; give them as a secret (basic auth) instead`);
  }
  return url;
}

/** The URL without credentials, for messages (core/scrub.ts). */
function redact(url: URL): string {
  return scrubUrl(url);
}

function redactText(text: string): string {
  return scrubUrl(text);
}

/** GET with a timeout and a size cap; every failure is `fail(...)` naming `what`, never the credentials. */
async function download(
  url: URL,
  what: string,
  auth: BasicAuth | undefined,
  opts: DownloadOptions,
  maxBytes: number,
  fail: (message: string) => Error,
): Promise<Buffer> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const headers: Record<string, string> = { 'User-Agent': 'flotilla' };
  const secrets: string[] = [];
  if (auth) {
    const encoded = Buffer.from(`${auth.username}:${auth.password}`, 'utf8').toString('base64');
    headers.Authorization = `Basic ${encoded}`;
    secrets.push(auth.username, auth.password, encoded);
  }
  const clean = scrubber(secrets);
  const signal = AbortSignal.timeout(timeoutMs);
  const timedOut = (): Error => fail(`failed to fetch ${what}: timed out after ${timeoutMs} ms`);
  let response: Response;
  try {
    // Redirects are followed by policyFetch: each hop checked, the Authorization header kept for the first origin only.
    response = await policyFetch(url, { policy: opts.policy, use: 'helm', what: opts.what ?? 'Helm repository URL', headers, signal });
  } catch (err) {
    if (err instanceof SourcePolicyError) throw fail(clean(err.message));
    if (signal.aborted) throw timedOut();
    throw fail(clean(`failed to fetch ${what}: ${networkReason(err)}`));
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => undefined);
    const hint = response.status === 401 || response.status === 403
      ? auth ? ' (the credentials were refused)' : ' (the repository needs credentials)'
      : '';
    throw fail(`failed to fetch ${what}: ${response.status} ${response.statusText}${hint}`.trimEnd());
  }
  const length = Number(response.headers.get('content-length') ?? NaN);
  const tooLarge = (): Error => fail(`failed to fetch ${what}: larger than the ${maxBytes} bytes allowed`);
  if (length > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  if (!response.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    // Leaving the loop early (too large) cancels the stream.
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength;
      if (size > maxBytes) throw tooLarge();
      chunks.push(Buffer.from(chunk));
    }
  } catch (err) {
    if (err instanceof HelmRepositoryError || err instanceof HelmChartError) throw err;
    if (signal.aborted) throw timedOut();
    throw fail(`failed to fetch ${what}: ${networkReason(err)}`);
  }
  return Buffer.concat(chunks);
}

/** undici's "fetch failed" hides the reason in `cause` (ECONNREFUSED, ENOTFOUND, a TLS error...). */
function networkReason(err: unknown): string {
  const cause = err instanceof Error ? err.cause : undefined;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code !== undefined && !cause.message.includes(code) ? `${code}: ${cause.message}` : cause.message;
  }
  return err instanceof Error ? err.message : String(err);
}

// ---------------------------------------------------------------------------------------------
// Running helm.

interface HelmRun {
  readonly helm: string;
  readonly args: readonly string[];
  /** A temp dir of the caller's: helm's HOME and HELM_* dirs go there. */
  readonly workDir: string;
  readonly timeoutMs: number;
  readonly limits: RenderLimits;
  /** Names the render in a limit error. */
  readonly subject: string;
}

type HelmResult = { ok: true; stdout: string } | { ok: false; timedOut: boolean; message: string };

/**
 * Runs helm under the render limits (activities/limited-exec.ts: a memory, CPU and output
 * breach throws RenderLimitError); a failure comes back with helm's stderr, cleaned of its
 * "--debug" hint and of workDir.
 */
async function runHelm({ helm, args, workDir, timeoutMs, limits, subject }: HelmRun): Promise<HelmResult> {
  const env = {
    HOME: workDir,
    HELM_CACHE_HOME: join(workDir, '.cache'),
    HELM_CONFIG_HOME: join(workDir, '.config'),
    HELM_DATA_HOME: join(workDir, '.data'),
    KUBECONFIG: '/dev/null',
    PATH: '',
  };
  const result = await runLimited({ bin: helm, args, cwd: workDir, env, timeoutMs, limits, subject });
  if (result.ok) return result;
  if (result.kind === 'spawn') throw new Error(`cannot run helm at ${helm}: ${result.message}`);
  const message = result.stderr
    .split('\n')
    .filter((line) => !line.startsWith('Use --debug flag'))
    .join('\n')
    .replaceAll(`${workDir}/`, '')
    .trim();
  return { ok: false, timedOut: result.kind === 'timeout', message: truncate(message || result.message) };
}

function truncate(text: string): string {
  return text.length > MAX_MESSAGE_CHARS ? `${text.slice(0, MAX_MESSAGE_CHARS)}…` : text;
}

async function withTempDir<T>(use: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'flotilla-helm-')); // mode 0700
  try {
    return await use(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * `helm package` of a chart directory (a chart from a git source), returning the .tgz bytes.
 * `version` overrides Chart.yaml's version, as Flux's reconcileStrategy Revision does.
 * Dependencies are not built: a chart whose charts/ lacks a declared dependency fails.
 */
export async function packageChartDirectory(
  dir: string,
  opts: { readonly version?: string; readonly timeoutMs?: number; readonly helmBin: string; readonly limits?: RenderLimits },
): Promise<Buffer> {
  const helm = opts.helmBin;
  return withTempDir(async (workDir) => {
    const out = join(workDir, 'out');
    const args = ['package', `--destination=${out}`, ...(opts.version !== undefined ? [`--version=${opts.version}`] : []), '--', dir];
    const result = await runHelm({
      helm, args, workDir, timeoutMs: opts.timeoutMs ?? HELM_TIMEOUT_MS, limits: opts.limits ?? DEFAULT_RENDER_LIMITS, subject: `helm package of ${dir}`,
    });
    if (!result.ok) {
      const why = result.timedOut ? `timed out after ${opts.timeoutMs ?? HELM_TIMEOUT_MS} ms` : result.message;
      throw new HelmChartError('ChartPackageError', `helm package failed for ${dir}: ${why}`);
    }
    const archives = (await readdir(out)).filter((name) => name.endsWith('.tgz'));
    const archive = archives[0];
    if (archive === undefined || archives.length > 1) {
      throw new HelmChartError('ChartPackageError', `helm package wrote ${archives.length} archives for ${dir}; expected one`);
    }
    return readFile(join(out, archive));
  });
}

// ---------------------------------------------------------------------------------------------
// Rendering.

export interface ChartMetadata {
  readonly name: string;
  readonly version: string;
  readonly appVersion?: string;
}

export interface RenderOptions {
  readonly releaseName: string;
  readonly namespace: string;
  /** The release's values (already merged from the HelmRelease's values and valuesFrom). */
  readonly values: Readonly<Record<string, unknown>>;
  /** .Capabilities.KubeVersion, e.g. "1.30.14"; helm's built-in default is old (v1.20.0): pass the cluster's. */
  readonly kubeVersion?: string;
  /** Added to .Capabilities.APIVersions: "group/version" or "group/version/Kind". */
  readonly apiVersions?: readonly string[];
  /** .Release.IsUpgrade instead of .Release.IsInstall. */
  readonly isUpgrade?: boolean;
  /** Include the chart's crds/ directory. */
  readonly includeCrds: boolean;
  /** Default 5 min (Flux's default HelmRelease timeout). */
  readonly timeoutMs?: number;
  /** The hub's caps (limits.render.*, limits.untar.*); default DEFAULT_RENDER_LIMITS. */
  readonly limits?: RenderLimits;
  /** The helm binary to run (the hub's tools.helm). */
  readonly helmBin: string;
}

export interface RenderedChart {
  /** The release's objects, in helm's output order; namespaces as the chart wrote them. */
  readonly resources: KubeObject[];
  readonly hooks: HelmHook[];
  /** Objects with a helm.sh/hook Helm does not know; Helm drops them, so do we. */
  readonly skippedHooks: SkippedHook[];
  readonly chart: ChartMetadata;
}

/** Renders a chart .tgz with `helm template` and splits the output into resources and hooks. */
export async function renderChart(chartTgz: Buffer, opts: RenderOptions): Promise<RenderedChart> {
  const limits = opts.limits ?? DEFAULT_RENDER_LIMITS;
  const chart = await readChartMetadata(chartTgz, limits);
  const label = `${chart.name}-${chart.version}`;
  for (const v of opts.apiVersions ?? []) {
    // helm reads each --api-versions value as a comma-separated list.
    if (!/^[A-Za-z0-9.-]+(\/[A-Za-z0-9.-]+){0,2}$/.test(v)) {
      throw new ChartRenderError(`invalid API version "${v}" for chart ${label} (want group/version or group/version/Kind)`);
    }
  }
  const helm = opts.helmBin;
  const timeoutMs = opts.timeoutMs ?? HELM_TIMEOUT_MS;
  const output = await withTempDir(async (workDir) => {
    const chartPath = join(workDir, 'chart.tgz');
    const valuesPath = join(workDir, 'values.json');
    await writeFile(chartPath, chartTgz, { mode: 0o600 });
    // JSON, not YAML: helm reads YAML 1.1, where an unquoted `yes` or `on` would be a boolean.
    await writeFile(valuesPath, JSON.stringify(opts.values), { mode: 0o600 });
    const args = [
      'template',
      `--namespace=${opts.namespace}`,
      `--values=${valuesPath}`,
      ...(opts.kubeVersion !== undefined ? [`--kube-version=${opts.kubeVersion}`] : []),
      ...(opts.apiVersions ?? []).map((v) => `--api-versions=${v}`),
      ...(opts.isUpgrade === true ? ['--is-upgrade'] : []),
      ...(opts.includeCrds ? ['--include-crds'] : []),
      '--',
      opts.releaseName,
      chartPath,
    ];
    const result = await runHelm({ helm, args, workDir, timeoutMs, limits, subject: `helm template of chart ${label}` });
    if (!result.ok) {
      throw new ChartRenderError(`helm template failed for chart ${label}: ${result.timedOut ? `timed out after ${timeoutMs} ms` : result.message}`);
    }
    return result.stdout;
  });

  // The output is already within limits.render.maxBytes (runHelm's buffer), which bounds what the
  // parse holds; the object count is judged here against the hub's own limits.render.maxObjects
  // (the parse's default is only that setting's default).
  const parsed = parseManifests(output, label, {
    maxBytes: limits.maxBytes, maxObjects: Number.MAX_SAFE_INTEGER,
    bytesHint: 'a helm template may output (limits.render.maxBytes)', objectsHint: 'a helm template may output (limits.render.maxObjects)',
  });
  if (parsed.objects.length > limits.maxObjects) {
    throw new RenderLimitError('maxObjects', limits.maxObjects, `helm template of chart ${label}`, `it rendered ${parsed.objects.length} objects`);
  }
  if (parsed.errors.length > 0) {
    const problems = parsed.errors.slice(0, 3).map((e) => `${e.object ?? e.source}: ${e.message}`).join('; ');
    throw new ChartRenderError(`chart ${label} rendered invalid manifests: ${problems}`);
  }
  const split = splitHooks(parsed.objects.map((o) => o.object));
  return { resources: split.resources, hooks: split.hooks, skippedHooks: split.skipped, chart };
}

const MAX_CHART_YAML_BYTES = 1024 * 1024;

/** Name, version and appVersion from the Chart.yaml at the top of a chart archive. */
export async function readChartMetadata(chartTgz: Buffer, limits: RenderLimits = DEFAULT_RENDER_LIMITS): Promise<ChartMetadata> {
  const isChartYaml = (path: string): boolean => /^(\.\/)?[^/]+\/Chart\.yaml$/.test(path);
  let text: string | undefined;
  const parser = new Parser({ strict: true, filter: isChartYaml });
  const state = { settled: false };
  const done = new Promise<void>((resolve, reject) => {
    parser.on('error', (err: Error) => { state.settled = true; reject(err); });
    parser.on('end', () => { state.settled = true; resolve(); });
  });
  let entries = 0;
  parser.on('entry', (entry: ReadEntry) => {
    if (++entries > limits.untarMaxEntries) {
      parser.abort(new RenderLimitError('untarMaxEntries', limits.untarMaxEntries, 'chart archive', `it has more than ${limits.untarMaxEntries} entries`));
    }
    if (text !== undefined || entry.size > MAX_CHART_YAML_BYTES) {
      entry.resume();
      return;
    }
    const chunks: Buffer[] = [];
    entry.on('data', (chunk: Buffer) => chunks.push(chunk));
    entry.on('end', () => {
      text ??= Buffer.concat(chunks).toString('utf8');
    });
  });
  // Inflated in steps, counted: a chart bomb is refused while it is read (activities/tarball.ts).
  done.catch(() => undefined); // awaited below, after the stream: never an unhandled rejection meanwhile
  const streamed = inflate(chartTgz, parser, limits, () => state.settled);
  try {
    await streamed;
    await done;
  } catch (err) {
    if (err instanceof RenderLimitError) throw err;
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof RenderLimitError) throw cause;
    throw new ChartRenderError(`not a Helm chart archive: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (text === undefined) throw new ChartRenderError('not a Helm chart archive: no <chart>/Chart.yaml in it');
  let doc: unknown;
  try {
    // failsafe: every scalar a string, so `appVersion: 1.10` stays "1.10".
    doc = parse(text, { schema: 'failsafe' });
  } catch (err) {
    throw new ChartRenderError(`the chart's Chart.yaml is not valid YAML: ${err instanceof Error ? err.message.split('\n')[0] ?? '' : String(err)}`);
  }
  const field = (key: string): string | undefined => {
    const value = isRecord(doc) ? doc[key] : undefined;
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
  const name = field('name');
  const version = field('version');
  if (name === undefined || version === undefined) throw new ChartRenderError('the chart\'s Chart.yaml has no name or version');
  const appVersion = field('appVersion');
  return { name, version, ...(appVersion !== undefined ? { appVersion } : {}) };
}
