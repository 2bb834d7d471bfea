// What the agent keeps in its own cluster (namespace flotilla-system), so that a restarted
// agent carries on without the hub: its credential (a Secret), the last desired state and
// what it applied (a ConfigMap), and the artifacts of that state (by digest, in a ConfigMap; at
// most those of the desired state and a few more). An artifact holding a Secret is cached in a
// Secret only with cacheSecretArtifacts (its Role must then cover every Secret of the namespace);
// by default it stays in the agent's memory and is fetched from the hub again after a restart.
import type { ClusterClient } from './apply/cluster-client.js';
import type { KubeObject } from '../core/objects.js';
import { isRecord, parseManifests } from '../core/manifests.js';
import type { LogFn } from '../core/log.js';

export interface DesiredDeploymentWire {
  readonly name: string;
  /** Decimal string (uint64 on the wire). */
  readonly generation: string;
  readonly artifactDigest: string;
  readonly options: {
    readonly prune: boolean;
    readonly force: boolean;
    readonly correctDrift: boolean;
    readonly defaultNamespace: string;
    readonly healthTimeoutSeconds: number;
    /** Absent in states saved before these options existed: false / 0. */
    readonly allowEmpty?: boolean;
    readonly maxPrunePercent?: number;
    /** `<namespace>/<name>` of the ServiceAccount to impersonate; absent or empty: the agent's own identity. */
    readonly impersonate?: string;
  };
}

export interface AgentState {
  readonly desired: {
    readonly version: string;
    readonly deployments: readonly DesiredDeploymentWire[];
    /** The epoch of the hub record that made this state (agents/desired-state-guard.ts); absent before epochs. */
    readonly epoch?: string;
  };
  /** Deployment name -> generation applied successfully. */
  readonly applied: Readonly<Record<string, string>>;
  /**
   * Deployment name -> its prune option when last applied: what removing it from the desired
   * state does (prune: false leaves its objects running, as Flux does). Absent: prune.
   */
  readonly pruneOnRemoval?: Readonly<Record<string, boolean>>;
}

const CREDENTIAL_SECRET = 'flotilla-agent-credential';
const STATE_CONFIGMAP = 'flotilla-agent-state';

const ARTIFACT_PREFIX = 'flotilla-artifact-';
/** When an artifact was cached (ms since epoch): eviction drops the oldest first. */
const SAVED_AT_ANNOTATION = 'flotilla.dev/saved-at';
const DIGEST_ANNOTATION = 'flotilla.dev/artifact-digest';

/**
 * Artifacts larger than this (UTF-8 bytes) are not cached in the cluster: a ConfigMap's data, and
 * a Secret's decoded data, are limited to 1 MiB, and the object around it counts too. Such an
 * artifact stays in the agent's memory only and is downloaded from the hub again after a
 * restart (so a restarted agent cannot re-apply it while the hub is away).
 */
export const MAX_CACHED_ARTIFACT_BYTES = 900_000;
/**
 * Artifacts kept besides those the desired state references, newest first (in the cluster and
 * in the agent's memory): the previous generations, for a quick step back.
 */
export const RETAINED_UNREFERENCED_ARTIFACTS = 2;

/**
 * True when the manifests hold a Secret (its data must not sit in a ConfigMap that anyone who
 * may read ConfigMaps can read). Manifests that do not parse count as holding one when the text
 * says kind Secret: better a Secret too many than Secret data in a ConfigMap.
 */
export function holdsSecret(manifests: string): boolean {
  const parsed = parseManifests(manifests, 'artifact');
  if (parsed.objects.some((o) => o.object.kind === 'Secret' && o.object.apiVersion === 'v1')) return true;
  return parsed.errors.length > 0 && /["']?kind["']?\s*:\s*["']?Secret\b/.test(manifests);
}

/** What tidyArtifacts did, for the log and tests. */
export interface TidyResult {
  /**
   * ConfigMaps of older agents holding a Secret: moved to a Secret, or deleted (when too large,
   * or without cacheSecretArtifacts: never left in a ConfigMap).
   */
  readonly migrated: readonly string[];
  /** Artifacts evicted (object names). */
  readonly evicted: readonly string[];
}

export interface AgentStateStoreOptions {
  /**
   * Cache artifacts that hold a Secret in Secrets of the namespace (default false). RBAC cannot
   * grant Secrets by name prefix, so this needs get, list, create, update, patch and delete on
   * every Secret of the namespace. false: such an artifact is not written to the cluster at all
   * (kept in the agent's memory, fetched from the hub again after a restart), and no Secret but
   * the credential is ever read, listed or deleted.
   */
  readonly cacheSecretArtifacts?: boolean;
}

export class AgentStateStore {
  /** The desired-state version whose artifacts were last tidied (save() tidies once per version). */
  private tidiedVersion: string | undefined;
  private readonly cacheSecretArtifacts: boolean;

  constructor(private readonly client: ClusterClient, private readonly namespace: string, private readonly log?: LogFn, opts: AgentStateStoreOptions = {}) {
    this.cacheSecretArtifacts = opts.cacheSecretArtifacts ?? false;
  }

  async loadCredential(): Promise<string | undefined> {
    const secret = await this.client.get(this.header('Secret', CREDENTIAL_SECRET));
    const data = secret && isRecord(secret.data) ? secret.data : {};
    return typeof data.credential === 'string' ? Buffer.from(data.credential, 'base64').toString('utf8') : undefined;
  }

  async saveCredential(credential: string): Promise<void> {
    await this.client.ensureNamespace(this.namespace);
    await this.client.apply({ ...this.header('Secret', CREDENTIAL_SECRET), type: 'Opaque', data: { credential: Buffer.from(credential).toString('base64') } }, { force: true });
  }

  async load(): Promise<AgentState> {
    const cm = await this.client.get(this.header('ConfigMap', STATE_CONFIGMAP));
    const data = cm && isRecord(cm.data) ? cm.data : {};
    const state: AgentState = typeof data.state === 'string' ? JSON.parse(data.state) as AgentState : { desired: { version: '0', deployments: [] }, applied: {} };
    // At start: moves artifacts older agents cached in ConfigMaps with Secrets in them, and
    // evicts what the desired state no longer needs.
    await this.tidyQuietly(state);
    return state;
  }

  /** Saves the state; the first save of each desired-state version evicts artifacts it no longer needs. */
  async save(state: AgentState): Promise<void> {
    await this.client.ensureNamespace(this.namespace);
    await this.client.apply({ ...this.header('ConfigMap', STATE_CONFIGMAP), data: { state: JSON.stringify(state) } }, { force: true });
    if (state.desired.version !== this.tidiedVersion) await this.tidyQuietly(state);
  }

  /**
   * An artifact cached in the cluster, from its ConfigMap or (with cacheSecretArtifacts) its
   * Secret; undefined when not cached.
   */
  async loadArtifact(digest: string): Promise<string | undefined> {
    const cm = await this.client.get(this.header('ConfigMap', artifactName(digest)));
    const data = cm && isRecord(cm.data) ? cm.data : {};
    if (typeof data.manifests === 'string') return data.manifests;
    if (!this.cacheSecretArtifacts) return undefined;
    const secret = await this.client.get(this.header('Secret', artifactName(digest)));
    const secretData = secret && isRecord(secret.data) ? secret.data : {};
    return typeof secretData.manifests === 'string' ? Buffer.from(secretData.manifests, 'base64').toString('utf8') : undefined;
  }

  /**
   * Keeps an artifact in the cluster: in a ConfigMap, or when it holds a Secret in a Secret (type
   * Opaque) with cacheSecretArtifacts and not at all without; not at all when larger than
   * MAX_CACHED_ARTIFACT_BYTES. Returns where it went.
   */
  async saveArtifact(digest: string, manifests: string): Promise<'Secret' | 'ConfigMap' | undefined> {
    if (Buffer.byteLength(manifests, 'utf8') > MAX_CACHED_ARTIFACT_BYTES) return undefined;
    const kind = holdsSecret(manifests) ? 'Secret' : 'ConfigMap';
    if (kind === 'Secret' && !this.cacheSecretArtifacts) {
      this.log?.('artifact holds a Secret: kept in memory only (cacheSecretArtifacts is off)', { digest }, 'debug');
      return undefined;
    }
    try {
      await this.client.ensureNamespace(this.namespace);
      await this.client.apply(this.artifactObject(kind, artifactName(digest), manifests, { [DIGEST_ANNOTATION]: digest, [SAVED_AT_ANNOTATION]: String(Date.now()) }), { force: true });
    } catch (err) {
      // A cache: the artifact is applied all the same, and downloaded again after a restart.
      // (An agent whose Role predates artifact Secrets may not create them.)
      this.log?.('cannot cache the artifact in the cluster', { digest, kind, error: err instanceof Error ? err.message : String(err) }, 'warn');
      return undefined;
    }
    return kind;
  }

  /**
   * Keeps the artifacts `referenced` needs and the RETAINED_UNREFERENCED_ARTIFACTS newest others,
   * deletes the rest; first moves each artifact ConfigMap holding a Secret (cached by agents
   * before artifacts with Secrets went to Secrets) to a Secret, or without cacheSecretArtifacts
   * deletes it. Without cacheSecretArtifacts Secrets are neither listed nor deleted (the Role
   * does not allow it): artifact Secrets left from when it was on stay until deleted by hand.
   */
  async tidyArtifacts(referenced: Iterable<string>): Promise<TidyResult> {
    const keep = new Set([...referenced].map(artifactName));
    const selector = 'app.kubernetes.io/managed-by=flotilla-agent';
    const [configMaps, secrets] = await Promise.all([
      this.client.list('v1', 'ConfigMap', { namespace: this.namespace, labelSelector: selector }),
      this.cacheSecretArtifacts ? this.client.list('v1', 'Secret', { namespace: this.namespace, labelSelector: selector }) : Promise.resolve<KubeObject[]>([]),
    ]);
    const cached = [...configMaps, ...secrets].filter((o) => o.metadata.name.startsWith(ARTIFACT_PREFIX));
    const migrated: string[] = [];
    const entries: { kind: string; name: string; savedAt: number }[] = [];
    for (const o of cached) {
      const annotations = o.metadata.annotations ?? {};
      const created = o.metadata.creationTimestamp;
      const savedAt = Number(annotations[SAVED_AT_ANNOTATION] ?? (typeof created === 'string' ? Date.parse(created) : 0)) || 0;
      const manifests = o.kind === 'ConfigMap' && isRecord(o.data) && typeof o.data.manifests === 'string' ? o.data.manifests : undefined;
      if (manifests !== undefined && holdsSecret(manifests)) {
        if (this.cacheSecretArtifacts && Buffer.byteLength(manifests, 'utf8') <= MAX_CACHED_ARTIFACT_BYTES) {
          await this.client.apply(this.artifactObject('Secret', o.metadata.name, manifests, { ...annotations, [SAVED_AT_ANNOTATION]: String(savedAt) }), { force: true });
          entries.push({ kind: 'Secret', name: o.metadata.name, savedAt });
        }
        await this.client.delete(this.header('ConfigMap', o.metadata.name));
        migrated.push(o.metadata.name);
        continue;
      }
      entries.push({ kind: o.kind, name: o.metadata.name, savedAt });
    }
    // One entry per name: a digest cached as both (a migration that stopped half-way) counts once.
    const unreferenced = [...new Map(entries.filter((e) => !keep.has(e.name)).map((e) => [e.name, e])).values()]
      .sort((a, b) => b.savedAt - a.savedAt);
    const evicted: string[] = [];
    for (const e of unreferenced.slice(RETAINED_UNREFERENCED_ARTIFACTS)) {
      for (const kind of ['ConfigMap', 'Secret']) { // Secret entries only with cacheSecretArtifacts
        if (entries.some((x) => x.name === e.name && x.kind === kind)) await this.client.delete(this.header(kind, e.name));
      }
      evicted.push(e.name);
    }
    return { migrated, evicted };
  }

  /** Tidying is housekeeping: its failure (the API server, RBAC) is logged, never fails a save. */
  private async tidyQuietly(state: AgentState): Promise<void> {
    try {
      const result = await this.tidyArtifacts(state.desired.deployments.map((d) => d.artifactDigest));
      this.tidiedVersion = state.desired.version;
      if (result.migrated.length > 0 || result.evicted.length > 0) this.log?.('cached artifacts tidied', { migrated: result.migrated, evicted: result.evicted });
    } catch (err) {
      this.log?.('cannot tidy the cached artifacts', { error: err instanceof Error ? err.message : String(err) }, 'warn');
    }
  }

  private artifactObject(kind: 'Secret' | 'ConfigMap', name: string, manifests: string, annotations: Record<string, string>): KubeObject {
    const header = this.header(kind, name);
    const metadata = { ...header.metadata, annotations };
    return kind === 'Secret'
      ? { ...header, metadata, type: 'Opaque', data: { manifests: Buffer.from(manifests, 'utf8').toString('base64') } }
      : { ...header, metadata, data: { manifests } };
  }

  private header(kind: string, name: string): KubeObject {
    return { apiVersion: 'v1', kind, metadata: { name, namespace: this.namespace, labels: { 'app.kubernetes.io/managed-by': 'flotilla-agent' } } };
  }
}

function artifactName(digest: string): string {
  return `${ARTIFACT_PREFIX}${digest.replace(/^sha256:/, '').slice(0, 40)}`;
}

/**
 * The agent's artifacts in memory, bounded like those in the cluster: the ones `referenced`
 * (the desired state's digests, asked at each use) and the RETAINED_UNREFERENCED_ARTIFACTS most
 * recently used others.
 */
export class ArtifactCache {
  /** Map order is recency: each use moves an entry to the end. */
  private readonly entries = new Map<string, string>();

  constructor(private readonly referenced: () => Iterable<string>, private readonly retained = RETAINED_UNREFERENCED_ARTIFACTS) {}

  get(digest: string): string | undefined {
    const text = this.entries.get(digest);
    if (text !== undefined) {
      this.entries.delete(digest);
      this.entries.set(digest, text);
    }
    this.evict();
    return text;
  }

  set(digest: string, text: string): this {
    this.entries.delete(digest);
    this.entries.set(digest, text);
    this.evict();
    return this;
  }

  get size(): number {
    return this.entries.size;
  }

  has(digest: string): boolean {
    return this.entries.has(digest);
  }

  private evict(): void {
    const keep = new Set(this.referenced());
    const others = [...this.entries.keys()].filter((d) => !keep.has(d)); // oldest first
    for (const d of others.slice(0, Math.max(0, others.length - this.retained))) this.entries.delete(d);
  }
}
