// The git "session" shared by the activities that run git (GitRepository fetches, image
// update automation): credentials, environment, timeouts, error classification, and the
// persistent per-id checkouts with their locks.
//
// Safety rules kept here: credentials reach git only through the child's environment (never
// argv, never .git/config, never an error message); the remote URL is not persisted either
// (a checkout records only its hash); git runs without the user's global config, credential
// helpers or terminal prompts.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import { scrubber, scrubUrl, urlSecrets } from '../core/scrub.js';
import type { Destination } from './source-guard.js';

export type GitCredentials =
  | { readonly kind: 'basic'; readonly username: string; readonly password: string }
  | { readonly kind: 'bearer'; readonly token: string }
  | { readonly kind: 'ssh'; readonly identity: string; readonly knownHosts?: string };

/** SourceTooLarge: the checkout crossed limits.render.maxFiles / maxFileBytes (core/render-limits.ts) or the ignore-pattern caps (core/sourceignore.ts). */
/** SourcePolicyRefused: the URL's scheme or destination is outside the hub's source policy (core/source-policy.ts). */
export type GitSourceReason = 'GitOperationFailed' | 'RefNotFound' | 'InvalidRef' | 'IllegalPath' | 'AuthenticationFailed' | 'SourceTooLarge' | 'SourcePolicyRefused';

export class GitSourceError extends Error {
  override readonly name = 'GitSourceError';
  constructor(
    message: string,
    readonly reason: GitSourceReason,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------
// Input checks

/** Why `name` is not a valid git ref name (git check-ref-format, simplified), or undefined. */
export function refNameProblem(name: string): string | undefined {
  if (name === '') return 'empty name';
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(name)) return 'contains a space, control character or one of ~ ^ : ? * [ \\';
  if (name.startsWith('-') || name.startsWith('/') || name.endsWith('/') || name.endsWith('.')) {
    return 'must not start with "-" or "/", nor end with "/" or "."';
  }
  if (name.includes('..') || name.includes('//') || name.includes('@{') || name.endsWith('.lock')) {
    return 'must not contain "..", "//" or "@{", nor end with ".lock"';
  }
  return undefined;
}

export interface CheckedUrl {
  readonly url: string;
  /** Safe to show: any password in the URL replaced. */
  readonly display: string;
  /** Strings to scrub from every message: the URL's own password, if any. */
  readonly secrets: readonly string[];
}

export function checkedUrl(raw: string): CheckedUrl {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new GitSourceError(`invalid git URL "${scrubUrl(raw)}": want https://, ssh:// or git@host:path (http:// and file:// where the hub allows them)`, 'GitOperationFailed');
  }
  if (!['https:', 'http:', 'ssh:', 'file:', 'git:'].includes(parsed.protocol)) {
    // Never the URL as given: it may carry a password.
    throw new GitSourceError(`unsupported git URL scheme "${parsed.protocol}" in ${scrubUrl(raw)}: want https://, ssh:// or git@host:path (http:// and file:// where the hub allows them)`, 'GitOperationFailed');
  }
  const secrets = urlSecrets(raw);
  return { url: raw, display: scrubUrl(raw), secrets: secrets.flatMap((s) => [s, safeDecode(s)]) };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

// ---------------------------------------------------------------------------------------
// Running git

export interface Session {
  readonly git: SimpleGit;
  readonly url: CheckedUrl;
  readonly scrub: (text: string) => string;
  /** The timeout fired. */
  readonly timedOut: () => boolean;
  readonly timeoutSeconds: number;
  close(): Promise<void>;
}

/** Environment variables passed through to git (all else, including the user's GIT_*, is dropped). */
const PASSED_ENV = ['PATH', 'HOME', 'TMPDIR', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'ALL_PROXY'];

/**
 * What the source policy decided (activities/source-guard.ts checkDestination): the protocols
 * git may use at all (GIT_ALLOW_PROTOCOL, which also binds submodules and ext::), and the
 * checked address an http(s) remote's host is pinned to (http.curloptResolve), so that git
 * connects to the address that was checked. Redirects are never followed.
 */
export interface GitDestination {
  readonly destination: Destination;
  /** e.g. ['https', 'ssh']. */
  readonly allowProtocols: readonly string[];
}

export async function openSession(
  dir: string, url: CheckedUrl, credentials: GitCredentials | undefined, timeoutSeconds: number, checked: GitDestination,
): Promise<Session> {
  await mkdir(dir, { recursive: true });
  const secrets = [...url.secrets];
  const config: [string, string][] = [
    ['credential.helper', ''], // never ask a helper (or a person) for credentials
    ['advice.detachedHead', 'false'],
    ['gc.autoDetach', 'false'],
    // A redirect could lead to a host the policy was never asked about (git's default follows the first request's).
    ['http.followRedirects', 'false'],
  ];
  const pin = curlResolve(url.url, checked.destination);
  if (pin !== undefined) config.push(['http.curloptResolve', pin]);
  const env: Record<string, string> = {
    LC_ALL: 'C', LANG: 'C', GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_ALLOW_PROTOCOL: checked.allowProtocols.join(':'),
  };
  for (const key of PASSED_ENV) {
    for (const k of [key, key.toLowerCase()]) {
      const value = process.env[k];
      if (value !== undefined) env[k] = value;
    }
  }
  let sshDir: string | undefined;
  if (credentials?.kind === 'basic') {
    const encoded = Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64');
    config.push(['http.extraHeader', `Authorization: Basic ${encoded}`]);
    secrets.push(credentials.username, credentials.password, encoded);
  } else if (credentials?.kind === 'bearer') {
    config.push(['http.extraHeader', `Authorization: Bearer ${credentials.token}`]);
    secrets.push(credentials.token);
  } else if (credentials?.kind === 'ssh') {
    sshDir = await mkdtemp(join(tmpdir(), 'flotilla-ssh-'));
    const identity = join(sshDir, 'identity');
    const knownHosts = join(sshDir, 'known_hosts');
    await writeFile(identity, credentials.identity.endsWith('\n') ? credentials.identity : `${credentials.identity}\n`, { mode: 0o600 });
    await writeFile(knownHosts, credentials.knownHosts ?? '', { mode: 0o600 });
    const strict = credentials.knownHosts ? 'yes' : 'accept-new';
    env.GIT_SSH_COMMAND = [
      'ssh -F /dev/null',
      `-i ${shellQuote(identity)}`,
      '-o IdentitiesOnly=yes',
      `-o UserKnownHostsFile=${shellQuote(knownHosts)}`,
      `-o StrictHostKeyChecking=${strict}`,
      '-o BatchMode=yes',
    ].join(' ');
    secrets.push(...credentials.identity.split('\n').filter((line) => line.trim().length > 8 && !line.startsWith('-----')));
  }
  env.GIT_CONFIG_COUNT = String(config.length);
  config.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  });

  const abort = new AbortController();
  const seconds = timeoutSeconds > 0 ? timeoutSeconds : 60;
  const timer = setTimeout(() => {
    abort.abort();
  }, seconds * 1000);
  const git = simpleGit({
    baseDir: dir,
    abort: abort.signal,
    allowEnvironment: Object.keys(env).filter((k) => k.toUpperCase().startsWith('GIT_')),
    unsafe: {
      // Everything below is set by this file from validated values, never from user text.
      allowUnsafeConfigEnvCount: true,
      allowUnsafeCredentialHelper: true,
      allowUnsafeConfigPaths: true,
      allowUnsafeSshCommand: true,
    },
  }).env(env);
  return {
    git,
    url,
    scrub: scrubber(secrets),
    timedOut: () => abort.signal.aborted,
    timeoutSeconds: seconds,
    close: async () => {
      clearTimeout(timer);
      if (sshDir !== undefined) await rm(sshDir, { recursive: true, force: true });
    },
  };
}

/** `host:port:address` for curl's CURLOPT_RESOLVE, for an http(s) URL whose host was resolved and checked. */
function curlResolve(url: string, dest: Destination): string | undefined {
  if (dest.address === undefined || (dest.scheme !== 'http' && dest.scheme !== 'https')) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.hostname.startsWith('[')) return undefined; // a literal IPv6 address: nothing to resolve
  const port = parsed.port !== '' ? parsed.port : dest.scheme === 'https' ? '443' : '80';
  const address = dest.family === 6 ? `[${dest.address}]` : dest.address;
  return `${parsed.hostname}:${port}:${address}`;
}

export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Runs git; failures become GitSourceError with `what` and git's own (scrubbed) words. */
export async function run(session: Session, args: string[], what: string, refMissing: GitSourceReason = 'GitOperationFailed'): Promise<string> {
  try {
    return await session.git.raw(args);
  } catch (err) {
    throw gitFailure(session, err, what, refMissing);
  }
}

export function gitFailure(session: Session, err: unknown, what: string, refMissing: GitSourceReason): GitSourceError {
  if (session.timedOut()) {
    return new GitSourceError(`${what}: timed out after ${session.timeoutSeconds}s`, 'GitOperationFailed');
  }
  const text = session.scrub(gitMessage(errorText(err)));
  let reason: GitSourceReason = 'GitOperationFailed';
  if (AUTH_FAILURE.test(text)) reason = 'AuthenticationFailed';
  else if (REF_MISSING.test(text)) reason = refMissing;
  return new GitSourceError(`${what}: ${text}`, reason);
}

const AUTH_FAILURE =
  /authentication failed|could not read (username|password)|terminal prompts disabled|access denied|requested URL returned error: 40[13]|permission denied \(publickey|host key verification failed|no matching host key/i;
const REF_MISSING = /couldn't find remote ref|not our ref|unadvertised object|no such remote ref|remote ref does not exist/i;

/** git's stderr as one line: hints dropped, lines joined. */
export function gitMessage(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('hint:'));
  return lines.join('; ').slice(0, 2000) || 'git failed without a message';
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// ---------------------------------------------------------------------------------------
// Persistent checkouts

/** The per-id checkout: reused when it was made for the same URL, re-initialised otherwise. */
export async function ensureCheckout(session: Session, dir: string): Promise<void> {
  const marker = join(dir, '.git', 'flotilla-source');
  const wanted = createHash('sha256').update(session.url.url).digest('hex');
  let current = '';
  try {
    current = (await readFile(marker, 'utf8')).trim();
  } catch {
    // no marker: not one of our checkouts yet
  }
  if (current === wanted) return;
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await run(session, ['init', '--quiet', '--initial-branch=flotilla'], `cannot create the checkout of ${session.url.display}`);
  await writeFile(marker, `${wanted}\n`);
}

export async function isShallow(session: Session): Promise<boolean> {
  return (await run(session, ['rev-parse', '--is-shallow-repository'], 'cannot inspect the checkout')).trim() === 'true';
}

/** Readable and unique: `gitrepository_flux-system_podinfo-1a2b3c4d`. */
export function checkoutDirName(id: string): string {
  const readable = id.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^\.+/, '_').slice(0, 100);
  return `${readable}-${createHash('sha256').update(id).digest('hex').slice(0, 8)}`;
}

const locks = new Map<string, Promise<unknown>>();

/** One git operation at a time per checkout directory (a retried activity may overlap its first attempt). */
export async function withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const previous = locks.get(key) ?? Promise.resolve();
  const current = previous.catch(() => undefined).then(fn);
  locks.set(key, current);
  try {
    return await current;
  } finally {
    if (locks.get(key) === current) locks.delete(key);
  }
}
