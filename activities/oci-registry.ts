// The registry side of Flux's ImageRepository: list the tags of one image from an OCI
// distribution registry (GET /v2/<name>/tags/list, following Link rel="next" pages), with
// Docker's registry auth: Basic, or the Bearer token handshake with the challenge's realm.
// A plain async function; the hub wraps it as a Temporal activity. The parsers are exported
// for unit tests.
//
// Safety rules: credentials go only to the registry's own origin and to the token realm it
// names; no password or token ever appears in an error message (every message is scrubbed
// of them before it is thrown).

import { scrubber } from '../core/scrub.js';
import type { SourcePolicy } from '../core/source-policy.js';
import { policyFetch, SourcePolicyError } from './source-guard.js';

export type RegistryCredentials =
  | { readonly kind: 'basic'; readonly username: string; readonly password: string }
  /** A registry token, sent as is (dockerconfigjson's `registrytoken`). */
  | { readonly kind: 'bearer'; readonly token: string }
  /** An OAuth2 refresh token (dockerconfigjson's `identitytoken`), exchanged at the token realm. */
  | { readonly kind: 'identity'; readonly token: string };

export interface ImageName {
  /** host[:port]; Docker Hub's names are normalised to its API host registry-1.docker.io. */
  readonly registry: string;
  /** The repository path; Docker Hub's single names get `library/`. */
  readonly repository: string;
}

export type RegistryErrorReason =
  | 'InvalidImage'
  | 'AuthenticationFailed'
  | 'RepositoryNotFound'
  | 'RegistryUnreachable'
  | 'Timeout'
  | 'RegistryError'
  | 'SourcePolicyRefused';

export class RegistryError extends Error {
  override readonly name = 'RegistryError';
  constructor(message: string, readonly reason: RegistryErrorReason) {
    super(message);
  }
}

export const DOCKER_HUB_REGISTRY = 'registry-1.docker.io';
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);
const DEFAULT_PAGE_SIZE = 1000;
/** A registry that keeps sending "next" pages past this is broken (or hostile). */
export const MAX_PAGES = 1000;

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::([0-9]{1,5}))?$/;

/**
 * Parses Flux's ImageRepository spec.image: `[host[:port]/]path`, no scheme, tag or digest
 * (the policy picks the tag). Docker's rule decides whether the first component is a host:
 * it has a `.` or `:`, is `localhost`, or has upper case.
 */
export function parseImageName(image: string): ImageName {
  const invalid = (why: string): RegistryError => new RegistryError(`spec.image "${image}" ${why}`, 'InvalidImage');
  if (image === '' || image.trim() !== image) throw invalid('is empty or has surrounding spaces');
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(image)) throw invalid('must not contain a scheme: give host/path (spec.insecure selects plain http)');
  if (image.includes('@')) throw invalid('must not contain a digest; the policy picks the tag');
  const slash = image.indexOf('/');
  const first = slash === -1 ? '' : image.slice(0, slash);
  const hasHost = slash !== -1 && (first.includes('.') || first.includes(':') || first === 'localhost' || first.toLowerCase() !== first);
  let registry = hasHost ? first.toLowerCase() : 'docker.io';
  let repository = hasHost ? image.slice(slash + 1) : image;
  const last = repository.slice(repository.lastIndexOf('/') + 1);
  if (last.includes(':')) {
    throw invalid(`must not contain a tag ("${last.slice(last.indexOf(':') + 1)}"); the policy picks it`);
  }
  if (hasHost) {
    const m = HOST.exec(first);
    if (!m || (m[1] !== undefined && (Number(m[1]) < 1 || Number(m[1]) > 65535))) throw invalid(`has an invalid registry host "${first}"`);
  }
  if (repository === '' || !repository.split('/').every((c) => PATH_COMPONENT.test(c))) {
    throw invalid(`has an invalid repository path "${repository}": lower-case letters and digits, separated by ".", "_", "__" or "-", in "/"-separated components`);
  }
  if (DOCKER_HUB_ALIASES.has(registry)) {
    registry = DOCKER_HUB_REGISTRY;
    if (!repository.includes('/')) repository = `library/${repository}`;
  }
  if (registry.length + 1 + repository.length > 255) throw invalid('is longer than 255 characters');
  return { registry, repository };
}

/** The host a dockerconfigjson key or a registry name refers to, Docker Hub's aliases folded. */
function registryKey(raw: string): string {
  const host = raw.trim().replace(/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//, '').split('/')[0]?.toLowerCase() ?? '';
  return DOCKER_HUB_ALIASES.has(host) ? 'docker.io' : host;
}

/**
 * Flux's ImageRepository secretRef: a `kubernetes.io/dockerconfigjson` Secret (key
 * `.dockerconfigjson`, or the legacy `.dockercfg`), whose entry for `registry` holds
 * username+password, `auth` (base64 of user:password), `registrytoken` or `identitytoken`.
 * Plain `username` + `password` keys are accepted too. Errors name the secret, the key and
 * the host, never a credential.
 */
export function registryCredentialsFromSecret(secretName: string, data: Readonly<Record<string, string>>, registry: string): RegistryCredentials {
  const where = `secret "${secretName}"`;
  const key = data['.dockerconfigjson'] !== undefined ? '.dockerconfigjson' : data['.dockercfg'] !== undefined ? '.dockercfg' : undefined;
  if (key === undefined) {
    const has = (k: string): boolean => (data[k] ?? '') !== '';
    if (has('username') || has('password')) {
      const missing = has('username') ? 'password' : 'username';
      if (!has(missing)) throw new Error(`${where} has no "${missing}" (basic auth needs both "username" and "password")`);
      return { kind: 'basic', username: data.username ?? '', password: data.password ?? '' };
    }
    throw new Error(`${where} holds no registry credentials: expected a ".dockerconfigjson" key (a kubernetes.io/dockerconfigjson Secret) or "username" and "password"`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(data[key] ?? '');
  } catch {
    // JSON.parse's message quotes the input, which holds the credentials.
    throw new Error(`${where}: "${key}" is not valid JSON`);
  }
  const auths = key === '.dockercfg' ? parsed : isRecord(parsed) ? parsed.auths : undefined;
  if (!isRecord(auths)) throw new Error(`${where}: "${key}" has no "auths" object`);
  const wanted = registryKey(registry);
  const matching = Object.keys(auths).filter((k) => registryKey(k) === wanted);
  // The exact spelling first, then the aliases (e.g. https://index.docker.io/v1/ for docker.io).
  matching.sort((a, b) => Number(b === registry) - Number(a === registry));
  const host = wanted === 'docker.io' ? 'docker.io' : wanted;
  const entryKey = matching[0];
  if (entryKey === undefined) {
    const known = Object.keys(auths).map((k) => `"${k}"`).join(', ') || 'none';
    throw new Error(`${where}: "${key}" has no credentials for registry "${host}" (it has: ${known})`);
  }
  const entry = auths[entryKey];
  if (!isRecord(entry)) throw new Error(`${where}: "${key}" entry "${entryKey}" is not an object`);
  const str = (k: string): string => (typeof entry[k] === 'string' ? entry[k] : '');
  if (str('username') !== '' && str('password') !== '') return { kind: 'basic', username: str('username'), password: str('password') };
  if (str('auth') !== '') {
    const decoded = Buffer.from(str('auth'), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) throw new Error(`${where}: "${key}" entry "${entryKey}" has an "auth" that is not base64 of "username:password"`);
    return { kind: 'basic', username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (str('registrytoken') !== '') return { kind: 'bearer', token: str('registrytoken') };
  if (str('identitytoken') !== '') return { kind: 'identity', token: str('identitytoken') };
  throw new Error(`${where}: "${key}" entry "${entryKey}" has none of "username" and "password", "auth", "registrytoken" or "identitytoken"`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export interface AuthChallenge {
  /** Lower case: `basic`, `bearer`. */
  readonly scheme: string;
  /** Parameter names in lower case; quoted values unquoted. */
  readonly params: Readonly<Record<string, string>>;
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/**
 * Parses a WWW-Authenticate header (RFC 7235): one or more challenges, each a scheme and
 * comma-separated `name=value` parameters whose quoted values may hold commas and escapes.
 * A bare token starts a new challenge. (token68 credentials are not used by registries.)
 */
export function parseAuthChallenges(header: string): AuthChallenge[] {
  const out: { scheme: string; params: Record<string, string> }[] = [];
  let i = 0;
  const n = header.length;
  const skipSpace = (): void => { while (i < n && (header[i] === ' ' || header[i] === '\t')) i++; };
  const readToken = (): string => {
    const start = i;
    while (i < n && TCHAR.test(header.charAt(i))) i++;
    return header.slice(start, i);
  };
  while (i < n) {
    skipSpace();
    if (header[i] === ',') { i++; continue; }
    const token = readToken();
    if (token === '') { i++; continue; } // stray character: skip it
    skipSpace();
    const current = out[out.length - 1];
    if (header[i] !== '=' || current === undefined) {
      out.push({ scheme: token.toLowerCase(), params: {} });
      continue;
    }
    i++; // '='
    skipSpace();
    let value = '';
    if (header[i] === '"') {
      i++;
      while (i < n && header[i] !== '"') {
        if (header[i] === '\\' && i + 1 < n) i++;
        value += header.charAt(i);
        i++;
      }
      i++; // closing quote
    } else {
      // Lenient: some servers leave URLs unquoted.
      const start = i;
      while (i < n && header[i] !== ',' && header[i] !== ' ' && header[i] !== '\t') i++;
      value = header.slice(start, i);
    }
    current.params[token.toLowerCase()] = value;
  }
  return out;
}

/** The rel="next" target of a Link header, resolved against the page's URL; undefined when none. */
export function parseNextLink(header: string | null, pageUrl: string): string | undefined {
  if (header === null) return undefined;
  for (const m of header.matchAll(/<([^>]*)>((?:\s*;\s*[^;,]*)*)/g)) {
    const params = (m[2] ?? '').split(';').map((p) => p.trim()).filter((p) => p !== '');
    const isNext = params.some((p) => {
      const eq = p.indexOf('=');
      if (eq === -1 || p.slice(0, eq).trim().toLowerCase() !== 'rel') return false;
      return p.slice(eq + 1).trim().replace(/^"|"$/g, '').toLowerCase().split(/\s+/).includes('next');
    });
    if (isNext) return new URL(m[1] ?? '', pageUrl).toString();
  }
  return undefined;
}

export interface ListTagsInput {
  /** Flux's spec.image: host/path without tag or digest. */
  readonly image: string;
  readonly credentials?: RegistryCredentials;
  /** Plain http instead of https (Flux's spec.insecure). */
  readonly insecure: boolean;
  /** For the whole listing: every page and token request. */
  readonly timeoutSeconds: number;
  /** Tags per page (the `n` parameter); default 1000. */
  readonly pageSize?: number;
  /** The hub's source policy: every request (registry, token realm, redirects) is checked against it. */
  readonly policy: SourcePolicy;
  /** The object and field, for refusals, e.g. `ImageRepository/flux-system/app spec.image`. */
  readonly what?: string;
}

export interface ListTagsResult {
  /** In the registry's order, without duplicates. */
  readonly tags: string[];
  readonly pages: number;
  readonly registry: string;
  readonly repository: string;
}

/**
 * Lists every tag of `input.image`. Throws RegistryError with a reason; calls
 * `opts.heartbeat` after each page. `opts.signal` (e.g. the activity's cancellation signal)
 * aborts the listing and is rethrown as is.
 */
export async function listTags(input: ListTagsInput, opts: { heartbeat?: () => void; signal?: AbortSignal } = {}): Promise<ListTagsResult> {
  const name = parseImageName(input.image);
  const pageSize = input.pageSize ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(pageSize) || pageSize < 1) throw new RangeError(`pageSize must be a positive integer, got ${pageSize}`);
  if (!(input.timeoutSeconds > 0)) throw new RangeError(`timeoutSeconds must be positive, got ${input.timeoutSeconds}`);
  const timeout = AbortSignal.timeout(input.timeoutSeconds * 1000);
  const signal = opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout;
  const session = new RegistrySession(name, input, signal);
  try {
    const origin = new URL(`${input.insecure ? 'http' : 'https'}://${name.registry}`).origin;
    const tags: string[] = [];
    const seen = new Set<string>();
    const visited = new Set<string>();
    let url: string | undefined = `${origin}/v2/${name.repository}/tags/list?n=${pageSize}`;
    let pages = 0;
    while (url !== undefined) {
      if (visited.has(url)) throw new RegistryError(`registry ${name.registry} sent a "next" page link back to a page already read (${redactUrl(url)}) while listing tags of ${name.repository}`, 'RegistryError');
      if (pages >= MAX_PAGES) throw new RegistryError(`registry ${name.registry} sent more than ${MAX_PAGES} pages of tags for ${name.repository}; stopping (raise the page size?)`, 'RegistryError');
      visited.add(url);
      const res = await session.get(url);
      const body = await readJson(res, `registry ${name.registry}`);
      pages++;
      for (const tag of pageTags(body, name)) {
        if (!seen.has(tag)) { seen.add(tag); tags.push(tag); }
      }
      const next = parseNextLink(res.headers.get('link'), url);
      if (next !== undefined && new URL(next).origin !== origin) {
        throw new RegistryError(`registry ${name.registry} linked the next page of tags to another origin (${new URL(next).origin}); refusing to follow it`, 'RegistryError');
      }
      url = next;
      opts.heartbeat?.();
    }
    return { tags, pages, registry: name.registry, repository: name.repository };
  } catch (err) {
    if (timeout.aborted && !(opts.signal?.aborted ?? false)) {
      throw new RegistryError(`listing the tags of ${input.image} timed out after ${input.timeoutSeconds}s (registry ${name.registry})`, 'Timeout');
    }
    if (opts.signal?.aborted) throw err;
    if (err instanceof RegistryError) throw new RegistryError(session.scrub(err.message), err.reason);
    throw err;
  }
}

function pageTags(body: unknown, name: ImageName): string[] {
  const tags = isRecord(body) ? body.tags : undefined;
  if (tags === null) return []; // a repository without tags
  if (!Array.isArray(tags) || !tags.every((t): t is string => typeof t === 'string')) {
    throw new RegistryError(`registry ${name.registry} answered the tag list of ${name.repository} without a "tags" array of strings`, 'RegistryError');
  }
  return tags;
}

async function readJson(res: Response, source: string): Promise<unknown> {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    const where = res.url ? ` (${redactUrl(res.url)})` : '';
    throw new RegistryError(`${source} answered HTTP ${res.status} but not JSON${where}`, 'RegistryError');
  }
}

/** One listing's HTTP: the Authorization it earned from the first challenge is reused for the following pages. */
class RegistrySession {
  private authorization: string | undefined;
  private readonly secrets: string[] = [];

  constructor(private readonly name: ImageName, private readonly input: ListTagsInput, private readonly signal: AbortSignal) {
    const c = input.credentials;
    if (c?.kind === 'basic') this.secrets.push(c.username, c.password, basicAuth(c.username, c.password));
    else if (c !== undefined) this.secrets.push(c.token);
    if (c?.kind === 'bearer') this.authorization = `Bearer ${c.token}`;
  }

  /** Removes every credential this session knows of from `text` (core/scrub.ts). */
  scrub(text: string): string {
    return scrubber(this.secrets)(text);
  }

  /** GETs a registry URL, answering one 401 challenge; a refusal after that is AuthenticationFailed. */
  async get(url: string): Promise<Response> {
    const first = await this.send(url, this.authorization);
    if (first.status !== 401 && first.status !== 403) return this.checked(first);
    const challenge = first.headers.get('www-authenticate');
    if (first.status === 403 || challenge === null || this.input.credentials?.kind === 'bearer') {
      throw await this.refused(first);
    }
    await first.body?.cancel();
    this.authorization = await this.negotiate(challenge);
    const second = await this.send(url, this.authorization);
    if (second.status === 401 || second.status === 403) throw await this.refused(second);
    return this.checked(second);
  }

  private async checked(res: Response): Promise<Response> {
    if (res.ok) return res;
    const detail = await errorDetail(res);
    const image = `${this.name.registry}/${this.name.repository}`;
    if (res.status === 404 || detail.codes.includes('NAME_UNKNOWN')) {
      throw new RegistryError(`repository ${this.name.repository} not found on registry ${this.name.registry} (image ${image}${detail.text ? `: ${detail.text}` : ''})`, 'RepositoryNotFound');
    }
    throw new RegistryError(`registry ${this.name.registry} answered HTTP ${res.status} listing the tags of ${image}${detail.text ? `: ${detail.text}` : ''}`, 'RegistryError');
  }

  private async refused(res: Response): Promise<RegistryError> {
    const detail = await errorDetail(res);
    const what = `${this.name.registry}/${this.name.repository}`;
    const why = `HTTP ${res.status}${detail.text ? `: ${detail.text}` : ''}`;
    if (this.input.credentials === undefined) {
      return new RegistryError(`registry ${this.name.registry} refused anonymous access to ${what} (${why}): the repository is private or does not exist; give credentials (spec.secretRef)`, 'AuthenticationFailed');
    }
    return new RegistryError(`registry ${this.name.registry} refused the credentials for ${what} (${why})`, 'AuthenticationFailed');
  }

  /** The Authorization header that answers a WWW-Authenticate challenge. */
  private async negotiate(header: string): Promise<string> {
    const challenges = parseAuthChallenges(header);
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const creds = this.input.credentials;
    if (bearer !== undefined) return `Bearer ${await this.fetchToken(bearer)}`;
    if (challenges.some((c) => c.scheme === 'basic')) {
      if (creds?.kind === 'basic') return `Basic ${basicAuth(creds.username, creds.password)}`;
      const what = creds === undefined ? 'none were given (spec.secretRef)' : 'the secret holds a token, not a username and password';
      throw new RegistryError(`registry ${this.name.registry} asks for a username and password for ${this.name.repository}, but ${what}`, 'AuthenticationFailed');
    }
    const schemes = challenges.map((c) => c.scheme).join(', ') || 'none';
    throw new RegistryError(`registry ${this.name.registry} asks for an unsupported authentication scheme (${schemes}) for ${this.name.repository}`, 'AuthenticationFailed');
  }

  /** Docker's token handshake: GET (or, for an identity token, POST) the realm for a pull token. */
  private async fetchToken(challenge: AuthChallenge): Promise<string> {
    const realm = challenge.params.realm;
    let realmUrl: URL;
    try {
      realmUrl = new URL(realm ?? '');
      if (realmUrl.protocol !== 'https:' && realmUrl.protocol !== 'http:') throw new Error('not http(s)');
    } catch {
      throw new RegistryError(`registry ${this.name.registry} sent a Bearer challenge without a usable http(s) realm`, 'RegistryError');
    }
    const creds = this.input.credentials;
    if (creds !== undefined && !this.input.insecure && realmUrl.protocol !== 'https:') {
      throw new RegistryError(`registry ${this.name.registry} names a plain-http token realm (${realmUrl.origin}); refusing to send credentials there`, 'AuthenticationFailed');
    }
    const scope = challenge.params.scope ?? `repository:${this.name.repository}:pull`;
    const service = challenge.params.service;
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': USER_AGENT };
    let init: RequestInit;
    if (creds?.kind === 'identity') {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.token, client_id: 'flotilla', scope });
      if (service !== undefined) form.set('service', service);
      init = { method: 'POST', headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() };
    } else {
      if (service !== undefined) realmUrl.searchParams.append('service', service);
      for (const s of scope.split(' ').filter((x) => x !== '')) realmUrl.searchParams.append('scope', s);
      if (creds?.kind === 'basic') {
        realmUrl.searchParams.append('account', creds.username);
        headers.authorization = `Basic ${basicAuth(creds.username, creds.password)}`;
      }
      init = { method: 'GET', headers };
    }
    const realmHost = realmUrl.host;
    const res = await this.fetchOrThrow(realmUrl.toString(), init, `token service ${realmHost}`);
    if (res.status === 401 || res.status === 403) {
      const detail = await errorDetail(res);
      const who = creds === undefined ? 'anonymous access' : 'the credentials';
      throw new RegistryError(`token service ${realmHost} of registry ${this.name.registry} refused ${who} for ${this.name.repository} (HTTP ${res.status}${detail.text ? `: ${detail.text}` : ''})`, 'AuthenticationFailed');
    }
    if (!res.ok) {
      const detail = await errorDetail(res);
      throw new RegistryError(`token service ${realmHost} of registry ${this.name.registry} answered HTTP ${res.status}${detail.text ? `: ${detail.text}` : ''}`, 'RegistryError');
    }
    const body = await readJson(res, `token service ${realmHost}`);
    const token = isRecord(body) ? (typeof body.token === 'string' && body.token !== '' ? body.token : body.access_token) : undefined;
    if (typeof token !== 'string' || token === '') {
      throw new RegistryError(`token service ${realmHost} of registry ${this.name.registry} answered without a "token" or "access_token"`, 'RegistryError');
    }
    this.secrets.push(token);
    return token;
  }

  private send(url: string, authorization: string | undefined): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': USER_AGENT };
    if (authorization !== undefined) headers.authorization = authorization;
    return this.fetchOrThrow(url, { method: 'GET', headers }, `registry ${this.name.registry}`);
  }

  /** fetch, with network failures turned into RegistryUnreachable (aborts pass through for listTags to classify). */
  private async fetchOrThrow(url: string, init: RequestInit, what: string): Promise<Response> {
    try {
      const headers: Record<string, string> = {};
      new Headers(init.headers).forEach((value, key) => { headers[key] = value; });
      return await policyFetch(url, {
        policy: this.input.policy, use: 'oci', what: this.input.what ?? `spec.image ${this.input.image}`, headers, signal: this.signal,
        method: init.method ?? 'GET', ...(typeof init.body === 'string' ? { body: init.body } : {}),
      });
    } catch (err) {
      if (err instanceof SourcePolicyError) throw new RegistryError(err.message, 'SourcePolicyRefused');
      if (this.signal.aborted) throw err;
      const cause = err instanceof Error && err.cause instanceof Error ? err.cause : undefined;
      const code = cause && 'code' in cause && typeof cause.code === 'string' ? cause.code : undefined;
      const reason = code ? `${code}${NETWORK_HINTS[code] ? `: ${NETWORK_HINTS[code]}` : ''}` : (cause?.message ?? (err instanceof Error ? err.message : String(err)));
      const tls = code !== undefined && /SSL|TLS|CERT|EPROTO/.test(code);
      const hint = tls && !this.input.insecure ? '; if it serves plain http, set spec.insecure: true' : '';
      throw new RegistryError(`cannot reach ${what} at ${new URL(url).host} (${reason})${hint}`, 'RegistryUnreachable');
    }
  }
}

const USER_AGENT = 'flotilla-image-reflector';
const NETWORK_HINTS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'DNS lookup failed',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  UND_ERR_CONNECT_TIMEOUT: 'connect timed out',
};

function basicAuth(username: string, password: string): string {
  return Buffer.from(`${username}:${password}`).toString('base64');
}

/** A URL for messages: no query (upload states, tokens). */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

/** The registry's error JSON: `errors[].code/message` (distribution), or `details` (Docker Hub's token service). */
async function errorDetail(res: Response): Promise<{ readonly text: string; readonly codes: string[] }> {
  let body: unknown;
  try {
    body = JSON.parse(await res.text());
  } catch {
    return { text: '', codes: [] };
  }
  if (!isRecord(body)) return { text: '', codes: [] };
  const codes: string[] = [];
  const messages: string[] = [];
  if (Array.isArray(body.errors)) {
    for (const e of body.errors) {
      if (!isRecord(e)) continue;
      if (typeof e.code === 'string') codes.push(e.code);
      const m = typeof e.message === 'string' && e.message !== '' ? e.message : typeof e.code === 'string' ? e.code : '';
      if (m !== '') messages.push(m);
    }
  } else if (typeof body.details === 'string') {
    messages.push(body.details);
  }
  const text = messages.join('; ');
  return { text: text.length > 300 ? `${text.slice(0, 300)}…` : text, codes };
}
