// The agent's connection to its own API server. It uses @kubernetes/client-node for
// configuration, authentication, TLS and discovery, but sends manifests as they are (the
// typed model serializer would drop fields it does not know) and returns raw JSON.
// Every request passes a token bucket and a concurrency cap, and is counted; an observer (the
// agent's metrics) sees each request's verb and outcome, watches included. Transient failures
// (429, 5xx, dropped connections) are retried here, for every request but watches, within a
// bounded budget; what is still failing after it is a KubeApiError that isTransientError() knows.
import {
  ApiException,
  HttpMethod,
  KubeConfig,
  KubernetesObjectApi,
  ResponseContext as KubeResponseContext,
  ServerConfiguration,
  createConfiguration,
  wrapHttpLibrary,
  type KubernetesObject,
  type RequestContext,
  type ResponseContext,
} from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeObject, type KubeObject } from '../../core/objects.js';
import { isRecord } from '../../core/manifests.js';
import { DEFAULT_LIMITS, Semaphore, TokenBucket, type Limits } from './rate-limit.js';
import { PooledAuthentication } from './connection-pool.js';

export const FIELD_MANAGER = 'flotilla';

export interface RequestStats {
  requests: number;
  /** Requests that change stored state (not dry-run, not GET/LIST/WATCH). */
  writes: number;
  dryRuns: number;
  byMethod: Record<string, number>;
  /** Attempts sent again after a transient failure (requests counts each request once). */
  retries: number;
}

/**
 * How requests ride out transient API server failures: 429 (throttled), 500/502/503/504 and
 * connections that fail (refused, reset, hung up, timed out). Each retry waits an exponential,
 * jittered delay (or the server's Retry-After, in seconds, when it sends one).
 */
export interface RetryPolicy {
  /**
   * Longest time one request keeps retrying, counted from its first attempt and also from the
   * start of the current outage (the first transient failure since the last good answer): during
   * a long outage every request then gives up by this time instead of each waiting its own full
   * budget, so a 1,000-object apply reports "waiting for the API server" within this time too.
   */
  readonly budgetMs: number;
  /** First retry delay; doubles with every attempt, ±50 % jitter. */
  readonly baseDelayMs: number;
  /** Cap on one backoff delay (a server's Retry-After is honoured as sent, within the budget). */
  readonly maxDelayMs: number;
}

/**
 * 30 s: an API server restart or a leader change of its etcd takes seconds, a throttling burst
 * (API Priority and Fairness answers 429 with Retry-After: 1) less; much longer and the agent
 * would hold its apply (and the hub's view of it) on a server that is really down.
 */
export const DEFAULT_RETRY: RetryPolicy = { budgetMs: 30_000, baseDelayMs: 200, maxDelayMs: 5_000 };

/** HTTP statuses that say "try again later" rather than "this request is wrong". */
const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);
/**
 * A 500 is transient only when it says so: the API server also answers 500, every time, to a
 * server-side apply it cannot convert ("failed to create typed patch object ... expected
 * numeric, got string"), and that is the manifest's fault. Transient 500s name a timeout, etcd
 * or an unreachable backend, or come with a Retry-After.
 */
const TRANSIENT_500 = /timeout|timed out|deadline exceeded|etcdserver|too many requests|try again|unavailable|connection refused|connection reset|\bEOF\b/i;

function transientStatus(code: number, message: string, retryAfter?: string): boolean {
  if (!RETRYABLE_STATUS.has(code)) return false;
  return code !== 500 || retryAfter !== undefined || TRANSIENT_500.test(message);
}
/** Connection failures: the request may not have reached the server, or its answer was lost. */
const NETWORK_ERROR = /ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|socket hang up|network timeout/i;

/**
 * Did `err` come from the API server being unavailable (after the client's retries), rather
 * than from what was sent? Such a failure says nothing about the manifests.
 */
export function isTransientError(err: unknown): boolean {
  // Code 0: no HTTP answer at all (see toKubeApiError).
  if (err instanceof KubeApiError) return transientStatus(err.code, err.message) || err.code === 0;
  if (err instanceof ApiException) {
    const e = err as ApiException<unknown>;
    return transientStatus(e.code, typeof e.body === 'string' ? e.body : '', e.headers['retry-after']);
  }
  return isNetworkError(err);
}

/** Retry-After in ms: delta-seconds (what the API server sends) or an HTTP date. */
export function retryAfterMs(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function isNetworkError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  const cause = (err as { cause?: { code?: unknown } }).cause;
  return NETWORK_ERROR.test(`${typeof code === 'string' ? code : ''} ${typeof cause?.code === 'string' ? cause.code : ''} ${err.message}`);
}

/**
 * Sees every request sent to the API server: its verb (the HTTP method, or WATCH) and its
 * outcome (the HTTP status code, or "error" when no response came).
 */
export type RequestObserver = (verb: string, code: string) => void;

/** An error from the API server, with its HTTP status and Status message. */
export class KubeApiError extends Error {
  constructor(readonly code: number, readonly reason: string, message: string) {
    super(message);
    this.name = 'KubeApiError';
  }
}

class RawObjectApi extends KubernetesObjectApi {
  async send(method: HttpMethod, path: string, query: Record<string, string>, body?: string, contentType?: string, headers: Readonly<Record<string, string>> = {}): Promise<unknown> {
    const ctx = this.configuration.baseServer.makeRequestContext(path, method);
    for (const [k, v] of Object.entries(query)) ctx.setQueryParam(k, v);
    ctx.setHeaderParam('Accept', 'application/json');
    for (const [k, v] of Object.entries(headers)) ctx.setHeaderParam(k, v);
    if (body !== undefined) {
      ctx.setHeaderParam('Content-Type', contentType ?? 'application/json');
      ctx.setBody(body);
    }
    return this.requestPromise<KubernetesObject>(ctx);
  }

  protected override async processResponse<T extends KubernetesObject>(response: ResponseContext): Promise<T> {
    const text = await response.body.text();
    if (response.httpStatusCode >= 200 && response.httpStatusCode <= 299) return (text ? JSON.parse(text) : {}) as T;
    throw new ApiException(response.httpStatusCode, 'Unsuccessful HTTP Request', text, {});
  }

  pathFor(spec: KubeObject, action: 'read' | 'list' | 'create'): Promise<string> {
    // specUriPath fills in missing fields of its argument; give it a copy.
    return this.specUriPath({ apiVersion: spec.apiVersion, kind: spec.kind, metadata: { ...spec.metadata } }, action);
  }

  async isNamespaced(apiVersion: string, kind: string): Promise<boolean | undefined> {
    try {
      return (await this.resource(apiVersion, kind))?.namespaced;
    } catch (err) {
      // An API server that is unavailable has not said the group/version is not served.
      if (isTransientError(err)) throw err;
      return undefined; // the group/version itself is not served
    }
  }

  forgetDiscovery(): void {
    this.apiVersionResourceCache = {};
  }
}

/**
 * What a client and the clients impersonating through it share: the connection pool, the
 * token bucket and concurrency cap, discovery, and the request counts. One per cluster.
 */
interface SharedTransport {
  readonly api: RawObjectApi;
  readonly semaphore: Semaphore;
  readonly auth: PooledAuthentication;
  readonly stats: RequestStats;
}

/** A copy of `kc` whose current user impersonates `user` (for watches, which send their own requests). */
function impersonatingConfig(kc: KubeConfig, user: string): KubeConfig {
  const out = new KubeConfig();
  const current = kc.getCurrentUser();
  out.loadFromOptions({
    clusters: kc.getClusters(), contexts: kc.getContexts(), currentContext: kc.getCurrentContext(),
    users: kc.getUsers().map((u) => (u.name === current?.name ? { ...u, impersonateUser: user } : u)),
  });
  return out;
}

export class ClusterClient {
  readonly stats: RequestStats;
  private readonly api: RawObjectApi;
  private readonly semaphore: Semaphore;
  private readonly auth: PooledAuthentication;
  private readonly namespacesReady = new Set<string>();
  /** Sent with every request of this client (Impersonate-User when it impersonates). */
  private readonly headers: Readonly<Record<string, string>>;
  /** The user this client impersonates (system:serviceaccount:<ns>:<name>); undefined: the kubeconfig's own. */
  readonly impersonates: string | undefined;
  private readonly transport: SharedTransport;

  constructor(
    readonly kubeConfig: KubeConfig, readonly limits: Limits = DEFAULT_LIMITS, private readonly observer?: RequestObserver,
    opts: { retry?: Partial<RetryPolicy>; shared?: { transport: SharedTransport; impersonate: string } } = {},
  ) {
    this.impersonates = opts.shared?.impersonate;
    this.headers = this.impersonates === undefined ? {} : { 'Impersonate-User': this.impersonates };
    if (opts.shared) {
      this.transport = opts.shared.transport;
      ({ api: this.api, semaphore: this.semaphore, auth: this.auth, stats: this.stats } = this.transport);
      return;
    }
    this.stats = { requests: 0, writes: 0, dryRuns: 0, byMethod: {}, retries: 0 };
    this.auth = new PooledAuthentication(kubeConfig, limits.concurrency);
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    const bucket = new TokenBucket(limits.qps, limits.burst);
    const stats = this.stats;
    this.semaphore = new Semaphore(limits.concurrency);
    const retry: RetryPolicy = { ...DEFAULT_RETRY, ...opts.retry };
    /** When the current run of transient failures began (undefined after a good answer). */
    const outage: { since?: number } = {};
    // The client's own HTTP library, wrapped: every request (discovery included; watches use
    // their own fetch) passes here, so this is where each response is observed and where
    // transient failures are retried. All requests this client sends are idempotent (GET,
    // server-side apply PATCH, DELETE), so sending one again is safe; a POST would only be
    // retried when it cannot have been processed (429, connection refused).
    const http = createConfiguration().httpApi;
    const observe = observer;
    const sendOnce = async (ctx: RequestContext): Promise<{ response?: ResponseContext; error?: unknown }> => {
      try {
        const response = await http.send(ctx).toPromise();
        observe?.(ctx.getHttpMethod(), String(response.httpStatusCode));
        return { response };
      } catch (error) {
        observe?.(ctx.getHttpMethod(), 'error');
        return { error };
      }
    };
    const retryable = async (method: HttpMethod, r: { response?: ResponseContext; error?: unknown }): Promise<boolean> => {
      const idempotent = method !== HttpMethod.POST;
      const response = r.response;
      if (!response) return isNetworkError(r.error) && (idempotent || /ECONNREFUSED/.test(String((r.error as { code?: unknown }).code)));
      if (!RETRYABLE_STATUS.has(response.httpStatusCode) || !(idempotent || response.httpStatusCode === 429)) return false;
      if (response.httpStatusCode !== 500) return true;
      // A 500's body decides (TRANSIENT_500); it is read here and handed on unread-looking.
      const text = await response.body.text();
      r.response = new KubeResponseContext(500, response.headers, { text: () => Promise.resolve(text), binary: () => Promise.resolve(Buffer.from(text)) });
      return transientStatus(500, text, response.headers['retry-after']);
    };
    this.api = new RawObjectApi(createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: this.auth },
      httpApi: wrapHttpLibrary({
        async send(ctx: RequestContext): Promise<ResponseContext> {
          const started = Date.now();
          for (let attempt = 0; ; attempt++) {
            const r = await sendOnce(ctx);
            if (!(await retryable(ctx.getHttpMethod(), r))) {
              outage.since = undefined;
              if (r.response) return r.response;
              throw r.error;
            }
            const now = Date.now();
            outage.since ??= now;
            const deadline = Math.min(started, outage.since) + retry.budgetMs;
            const retryAfter = retryAfterMs(r.response?.headers['retry-after']);
            const backoff = retry.baseDelayMs * 2 ** Math.min(attempt, 20) * (0.5 + Math.random());
            // The server's Retry-After is honoured as sent (never below the base delay: 0 must not spin).
            const delay = retryAfter !== undefined ? Math.max(retry.baseDelayMs, retryAfter) : Math.min(retry.maxDelayMs, backoff);
            // Out of budget: the caller gets this last answer (or error) as it is.
            if (now + delay > deadline) {
              if (r.response) return r.response;
              throw r.error;
            }
            await r.response?.body.text().catch(() => undefined); // frees the connection
            stats.retries++;
            await sleep(delay);
            await bucket.take();
          }
        },
      }),
      promiseMiddleware: [{
        async pre(ctx: RequestContext): Promise<RequestContext> {
          await bucket.take();
          const method = ctx.getHttpMethod();
          stats.requests++;
          stats.byMethod[method] = (stats.byMethod[method] ?? 0) + 1;
          const dryRun = ctx.getUrl().includes('dryRun=All');
          if (dryRun) stats.dryRuns++;
          else if (method !== HttpMethod.GET && method !== HttpMethod.HEAD) stats.writes++;
          return ctx;
        },
        post: (ctx: ResponseContext) => Promise.resolve(ctx),
      }],
    }));
    this.transport = { api: this.api, semaphore: this.semaphore, auth: this.auth, stats: this.stats };
  }

  /**
   * A client that sends every request as `user` (Impersonate-User; the API server adds a
   * service account's groups itself), over this client's connections, rate limit and
   * discovery: impersonating costs no new TLS pool. Its requests count in the same stats.
   */
  impersonating(user: string): ClusterClient {
    return new ClusterClient(impersonatingConfig(this.kubeConfig, user), this.limits, this.observer, { shared: { transport: this.transport, impersonate: user } });
  }

  static fromKubeconfigFile(path: string, limits?: Limits, opts: { retry?: Partial<RetryPolicy> } = {}): ClusterClient {
    const kc = new KubeConfig();
    kc.loadFromFile(path);
    return new ClusterClient(kc, limits, undefined, opts);
  }

  /**
   * Counts a request made outside this client's API object (a watch, which
   * @kubernetes/client-node sends with its own fetch), for the observer.
   */
  observeRequest(verb: string, code: string): void {
    this.observer?.(verb, code);
  }

  /** The API server's version (GET /version). */
  async serverVersion(): Promise<string> {
    const header: KubeObject = { apiVersion: 'v1', kind: 'Version', metadata: { name: '' } };
    const v = await this.call(header, () => this.send(HttpMethod.GET, '/version', {}));
    return isRecord(v) && typeof v.gitVersion === 'string' ? v.gitVersion : '';
  }

  /** Closes pooled connections (idle keep-alive sockets would otherwise hold the process). */
  close(): void {
    if (this.impersonates !== undefined) return; // the pool belongs to the client it impersonates through
    this.auth.close();
  }

  /** Creates a Namespace unless it exists (once per namespace per client). */
  async ensureNamespace(name: string): Promise<void> {
    if (this.namespacesReady.has(name)) return;
    const ns: KubeObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name } };
    if (!(await this.get(ns))) await this.apply(ns);
    this.namespacesReady.add(name);
  }

  /** Is this kind namespaced? undefined when the cluster does not serve it. */
  async isNamespaced(apiVersion: string, kind: string): Promise<boolean | undefined> {
    const header: KubeObject = { apiVersion, kind, metadata: { name: '' } };
    try {
      return await this.api.isNamespaced(apiVersion, kind);
    } catch (err) {
      throw toKubeApiError(err, header);
    }
  }

  /** Call after CRDs were created: discovery must see their new kinds. */
  forgetDiscovery(): void {
    this.api.forgetDiscovery();
  }

  /** The live object, or undefined when it does not exist. */
  async get(obj: KubeObject): Promise<KubeObject | undefined> {
    try {
      return await this.call(obj, async () => this.send(HttpMethod.GET, await this.api.pathFor(obj, 'read'), {})) as KubeObject;
    } catch (err) {
      if (err instanceof KubeApiError && err.code === 404) return undefined;
      throw err;
    }
  }

  /**
   * Server-side apply under Flotilla's field manager: FIELD_MANAGER for the agent's own
   * objects, `flotilla:<deployment>` for a deployment's (agents/apply/ownership.ts).
   */
  async apply(obj: KubeObject, opts: { dryRun?: boolean; force?: boolean; fieldManager?: string } = {}): Promise<KubeObject> {
    const query: Record<string, string> = { fieldManager: opts.fieldManager ?? FIELD_MANAGER, force: String(opts.force ?? false) };
    if (opts.dryRun) query.dryRun = 'All';
    return await this.call(obj, async () =>
      this.send(HttpMethod.PATCH, await this.api.pathFor(obj, 'read'), query, JSON.stringify(obj), 'application/apply-patch+yaml')) as KubeObject;
  }

  /** A JSON patch (RFC 6902), e.g. of metadata.managedFields; returns the patched object. */
  async jsonPatch(obj: KubeObject, operations: readonly { op: string; path: string; value?: unknown }[], opts: { fieldManager?: string } = {}): Promise<KubeObject> {
    const query: Record<string, string> = { fieldManager: opts.fieldManager ?? FIELD_MANAGER };
    return await this.call(obj, async () =>
      this.send(HttpMethod.PATCH, await this.api.pathFor(obj, 'read'), query, JSON.stringify(operations), 'application/json-patch+json')) as KubeObject;
  }

  /** Deletes with background propagation; false when it was already gone. */
  async delete(obj: KubeObject): Promise<boolean> {
    try {
      await this.call(obj, async () => this.send(HttpMethod.DELETE, await this.api.pathFor(obj, 'read'), {},
        JSON.stringify({ kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' })));
      return true;
    } catch (err) {
      if (err instanceof KubeApiError && err.code === 404) return false;
      throw err;
    }
  }

  async list(apiVersion: string, kind: string, opts: { namespace?: string; labelSelector?: string } = {}): Promise<KubeObject[]> {
    const header: KubeObject = { apiVersion, kind, metadata: { name: '', ...(opts.namespace ? { namespace: opts.namespace } : {}) } };
    const query: Record<string, string> = {};
    if (opts.labelSelector) query.labelSelector = opts.labelSelector;
    const list = await this.call(header, async () => this.send(HttpMethod.GET, await this.api.pathFor(header, 'list'), query));
    const items = isRecord(list) && Array.isArray(list.items) ? list.items as KubeObject[] : [];
    // List items carry no apiVersion/kind; restore them for callers.
    return items.map((item) => ({ ...item, apiVersion, kind }));
  }

  /**
   * Every kind the API server serves, at each group's preferred version (what Helm's
   * .Capabilities.APIVersions needs). Subresources are left out.
   */
  async servedResources(): Promise<{ groupVersion: string; kind: string; namespaced: boolean }[]> {
    const discovery: KubeObject = { apiVersion: 'v1', kind: 'APIGroupList', metadata: { name: '' } };
    const groups = await this.call(discovery, () => this.send(HttpMethod.GET, '/apis', {}));
    const versions = ['v1'];
    if (isRecord(groups) && Array.isArray(groups.groups)) {
      for (const g of groups.groups) {
        if (isRecord(g) && isRecord(g.preferredVersion) && typeof g.preferredVersion.groupVersion === 'string') versions.push(g.preferredVersion.groupVersion);
      }
    }
    const lists = await Promise.all(versions.map(async (gv) => {
      const path = gv === 'v1' ? '/api/v1' : `/apis/${gv}`;
      try {
        return { gv, list: await this.call(discovery, () => this.send(HttpMethod.GET, path, {})) };
      } catch {
        return { gv, list: undefined }; // an aggregated API that is down must not hide the rest
      }
    }));
    const out: { groupVersion: string; kind: string; namespaced: boolean }[] = [];
    for (const { gv, list } of lists) {
      if (!isRecord(list) || !Array.isArray(list.resources)) continue;
      for (const r of list.resources) {
        if (isRecord(r) && typeof r.name === 'string' && !r.name.includes('/') && typeof r.kind === 'string') {
          out.push({ groupVersion: gv, kind: r.kind, namespaced: r.namespaced === true });
        }
      }
    }
    return out;
  }

  /** Collection path of a kind, e.g. /apis/apps/v1/namespaces/web/deployments (for watches). */
  listPath(apiVersion: string, kind: string, namespace?: string): Promise<string> {
    return this.api.pathFor({ apiVersion, kind, metadata: { name: '', ...(namespace ? { namespace } : {}) } }, 'list');
  }

  private send(method: HttpMethod, path: string, query: Record<string, string>, body?: string, contentType?: string): Promise<unknown> {
    return this.api.send(method, path, query, body, contentType, this.headers);
  }

  private async call<T>(obj: KubeObject, fn: () => Promise<T>): Promise<T> {
    try {
      return await this.semaphore.run(fn);
    } catch (err) {
      throw toKubeApiError(err, obj);
    }
  }
}

function toKubeApiError(err: unknown, obj: KubeObject): Error {
  if (err instanceof ApiException) {
    const code = (err as ApiException<unknown>).code;
    const body: unknown = (err as ApiException<unknown>).body;
    let message = `HTTP ${code}`;
    let reason = '';
    if (typeof body === 'string' && body) {
      try {
        const status = JSON.parse(body) as { message?: string; reason?: string };
        message = status.message ?? body;
        reason = status.reason ?? '';
      } catch {
        message = body;
      }
    }
    return new KubeApiError(code, reason, message);
  }
  // Discovery that failed on the way (its message starts like the "not served" one below).
  if (isNetworkError(err)) {
    return new KubeApiError(0, 'ServiceUnavailable', `the API server did not answer: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (err instanceof Error && err.message.startsWith('Unrecognized API version and kind')) {
    return new KubeApiError(404, 'NoKindMatch', `the cluster does not serve ${obj.kind} in ${obj.apiVersion}`);
  }
  if (err instanceof Error && err.message.startsWith('Failed to fetch resource metadata')) {
    return new KubeApiError(404, 'NoKindMatch', `the cluster does not serve ${obj.apiVersion} (needed for ${describeObject(obj)})`);
  }
  return err instanceof Error ? err : new Error(String(err));
}
