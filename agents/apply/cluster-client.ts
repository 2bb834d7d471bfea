// The agent's connection to its own API server. It uses @kubernetes/client-node for
// configuration, authentication, TLS and discovery, but sends manifests as they are (the
// typed model serializer would drop fields it does not know) and returns raw JSON.
// Every request passes a token bucket and a concurrency cap, and is counted; an observer (the
// agent's metrics) sees each request's verb and outcome, watches included.
import {
  ApiException,
  HttpMethod,
  KubeConfig,
  KubernetesObjectApi,
  ServerConfiguration,
  createConfiguration,
  wrapHttpLibrary,
  type KubernetesObject,
  type RequestContext,
  type ResponseContext,
} from '@kubernetes/client-node';
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
  async send(method: HttpMethod, path: string, query: Record<string, string>, body?: string, contentType?: string): Promise<unknown> {
    const ctx = this.configuration.baseServer.makeRequestContext(path, method);
    for (const [k, v] of Object.entries(query)) ctx.setQueryParam(k, v);
    ctx.setHeaderParam('Accept', 'application/json');
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
    } catch {
      return undefined; // the group/version itself is not served
    }
  }

  forgetDiscovery(): void {
    this.apiVersionResourceCache = {};
  }
}

export class ClusterClient {
  readonly stats: RequestStats = { requests: 0, writes: 0, dryRuns: 0, byMethod: {} };
  private readonly api: RawObjectApi;
  private readonly semaphore: Semaphore;
  private readonly auth: PooledAuthentication;
  private readonly namespacesReady = new Set<string>();

  constructor(readonly kubeConfig: KubeConfig, readonly limits: Limits = DEFAULT_LIMITS, private readonly observer?: RequestObserver) {
    this.auth = new PooledAuthentication(kubeConfig, limits.concurrency);
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    const bucket = new TokenBucket(limits.qps, limits.burst);
    const stats = this.stats;
    this.semaphore = new Semaphore(limits.concurrency);
    // The client's own HTTP library, wrapped to see each response (or failure to get one).
    const http = createConfiguration().httpApi;
    const observe = observer;
    this.api = new RawObjectApi(createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: this.auth },
      ...(observe ? {
        httpApi: wrapHttpLibrary({
          async send(ctx: RequestContext): Promise<ResponseContext> {
            try {
              const response = await http.send(ctx).toPromise();
              observe(ctx.getHttpMethod(), String(response.httpStatusCode));
              return response;
            } catch (err) {
              observe(ctx.getHttpMethod(), 'error');
              throw err;
            }
          },
        }),
      } : {}),
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
  }

  static fromKubeconfigFile(path: string, limits?: Limits): ClusterClient {
    const kc = new KubeConfig();
    kc.loadFromFile(path);
    return new ClusterClient(kc, limits);
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
    const v = await this.call(header, () => this.api.send(HttpMethod.GET, '/version', {}));
    return isRecord(v) && typeof v.gitVersion === 'string' ? v.gitVersion : '';
  }

  /** Closes pooled connections (idle keep-alive sockets would otherwise hold the process). */
  close(): void {
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
  isNamespaced(apiVersion: string, kind: string): Promise<boolean | undefined> {
    return this.api.isNamespaced(apiVersion, kind);
  }

  /** Call after CRDs were created: discovery must see their new kinds. */
  forgetDiscovery(): void {
    this.api.forgetDiscovery();
  }

  /** The live object, or undefined when it does not exist. */
  async get(obj: KubeObject): Promise<KubeObject | undefined> {
    try {
      return await this.call(obj, async () => this.api.send(HttpMethod.GET, await this.api.pathFor(obj, 'read'), {})) as KubeObject;
    } catch (err) {
      if (err instanceof KubeApiError && err.code === 404) return undefined;
      throw err;
    }
  }

  /** Server-side apply under Flotilla's field manager. */
  async apply(obj: KubeObject, opts: { dryRun?: boolean; force?: boolean } = {}): Promise<KubeObject> {
    const query: Record<string, string> = { fieldManager: FIELD_MANAGER, force: String(opts.force ?? false) };
    if (opts.dryRun) query.dryRun = 'All';
    return await this.call(obj, async () =>
      this.api.send(HttpMethod.PATCH, await this.api.pathFor(obj, 'read'), query, JSON.stringify(obj), 'application/apply-patch+yaml')) as KubeObject;
  }

  /** Deletes with background propagation; false when it was already gone. */
  async delete(obj: KubeObject): Promise<boolean> {
    try {
      await this.call(obj, async () => this.api.send(HttpMethod.DELETE, await this.api.pathFor(obj, 'read'), {},
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
    const list = await this.call(header, async () => this.api.send(HttpMethod.GET, await this.api.pathFor(header, 'list'), query));
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
    const groups = await this.call(discovery, () => this.api.send(HttpMethod.GET, '/apis', {}));
    const versions = ['v1'];
    if (isRecord(groups) && Array.isArray(groups.groups)) {
      for (const g of groups.groups) {
        if (isRecord(g) && isRecord(g.preferredVersion) && typeof g.preferredVersion.groupVersion === 'string') versions.push(g.preferredVersion.groupVersion);
      }
    }
    const lists = await Promise.all(versions.map(async (gv) => {
      const path = gv === 'v1' ? '/api/v1' : `/apis/${gv}`;
      try {
        return { gv, list: await this.call(discovery, () => this.api.send(HttpMethod.GET, path, {})) };
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
  if (err instanceof Error && err.message.startsWith('Unrecognized API version and kind')) {
    return new KubeApiError(404, 'NoKindMatch', `the cluster does not serve ${obj.kind} in ${obj.apiVersion}`);
  }
  if (err instanceof Error && err.message.startsWith('Failed to fetch resource metadata')) {
    return new KubeApiError(404, 'NoKindMatch', `the cluster does not serve ${obj.apiVersion} (needed for ${describeObject(obj)})`);
  }
  return err instanceof Error ? err : new Error(String(err));
}
