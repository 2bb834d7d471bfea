// What the agent keeps in its own cluster (namespace flotilla-system), so that a restarted
// agent carries on without the hub: its credential (a Secret), the last desired state and
// what it applied (a ConfigMap), and the artifacts of that state (ConfigMaps, by digest).
import type { ClusterClient } from './apply/cluster-client.js';
import type { KubeObject } from '../core/objects.js';
import { isRecord } from '../core/manifests.js';

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
  };
}

export interface AgentState {
  readonly desired: { readonly version: string; readonly deployments: readonly DesiredDeploymentWire[] };
  /** Deployment name -> generation applied successfully. */
  readonly applied: Readonly<Record<string, string>>;
}

const CREDENTIAL_SECRET = 'flotilla-agent-credential';
const STATE_CONFIGMAP = 'flotilla-agent-state';

export class AgentStateStore {
  constructor(private readonly client: ClusterClient, private readonly namespace: string) {}

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
    if (typeof data.state !== 'string') return { desired: { version: '0', deployments: [] }, applied: {} };
    return JSON.parse(data.state) as AgentState;
  }

  async save(state: AgentState): Promise<void> {
    await this.client.ensureNamespace(this.namespace);
    await this.client.apply({ ...this.header('ConfigMap', STATE_CONFIGMAP), data: { state: JSON.stringify(state) } }, { force: true });
  }

  async loadArtifact(digest: string): Promise<string | undefined> {
    const cm = await this.client.get(this.header('ConfigMap', artifactName(digest)));
    const data = cm && isRecord(cm.data) ? cm.data : {};
    return typeof data.manifests === 'string' ? data.manifests : undefined;
  }

  /** Keeps an artifact in the cluster (up to the ConfigMap size limit; larger ones stay in memory only). */
  async saveArtifact(digest: string, manifests: string): Promise<void> {
    if (manifests.length > 900_000) return;
    await this.client.ensureNamespace(this.namespace);
    await this.client.apply({ ...this.header('ConfigMap', artifactName(digest)), data: { manifests } }, { force: true });
  }

  private header(kind: string, name: string): KubeObject {
    return { apiVersion: 'v1', kind, metadata: { name, namespace: this.namespace, labels: { 'app.kubernetes.io/managed-by': 'flotilla-agent' } } };
  }
}

function artifactName(digest: string): string {
  return `flotilla-artifact-${digest.replace(/^sha256:/, '').slice(0, 40)}`;
}
