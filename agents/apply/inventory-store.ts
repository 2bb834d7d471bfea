// The agent keeps each deployment's inventory in its own cluster, in a ConfigMap in the
// agent's namespace, so that a restarted agent still knows what it applied (and can prune).
import type { Inventory, InventoryEntry } from '../../core/inventory.js';
import { isRecord } from '../../core/manifests.js';
import type { KubeObject } from '../../core/objects.js';
import type { ClusterClient } from './cluster-client.js';
import { createHash } from 'node:crypto';

export const AGENT_NAMESPACE = 'flotilla-system';
const INVENTORY_LABEL = 'flotilla.dev/inventory';

/** An inventory entry plus the digest of the manifest last applied for it (drift detection). */
export interface StoredEntry extends InventoryEntry {
  readonly digest: string;
}

export interface StoredInventory extends Inventory {
  readonly entries: readonly StoredEntry[];
  /** The user the objects were applied as (system:serviceaccount:<ns>:<name>): they are pruned as it too. Absent: the agent. */
  readonly impersonate?: string;
}

/** ConfigMap names are DNS subdomains; deployment names may hold '/' and capitals. */
export function inventoryName(deployment: string): string {
  const readable = deployment.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40);
  const hash = createHash('sha256').update(deployment).digest('hex').slice(0, 10);
  return `inventory-${readable}-${hash}`;
}

export class InventoryStore {
  constructor(private readonly client: ClusterClient, readonly namespace = AGENT_NAMESPACE) {}

  async load(deployment: string): Promise<StoredInventory | undefined> {
    const cm = await this.client.get(this.header(deployment));
    if (!cm) return undefined;
    const data = isRecord(cm.data) ? cm.data : {};
    const raw = data.inventory;
    if (typeof raw !== 'string') return undefined;
    const parsed = JSON.parse(raw) as StoredInventory;
    return parsed;
  }

  async save(inventory: StoredInventory): Promise<void> {
    await this.client.ensureNamespace(this.namespace);
    const cm: KubeObject = {
      ...this.header(inventory.deployment),
      data: { inventory: JSON.stringify(inventory) },
    };
    cm.metadata.labels = { [INVENTORY_LABEL]: 'true', 'app.kubernetes.io/managed-by': 'flotilla' };
    cm.metadata.annotations = { 'flotilla.dev/deployment': inventory.deployment };
    await this.client.apply(cm, { force: true });
  }

  async remove(deployment: string): Promise<void> {
    await this.client.delete(this.header(deployment));
  }

  /** Names of every deployment with an inventory in this cluster. */
  async deployments(): Promise<string[]> {
    const list = await this.client.list('v1', 'ConfigMap', { namespace: this.namespace, labelSelector: `${INVENTORY_LABEL}=true` });
    return list.map((cm) => cm.metadata.annotations?.['flotilla.dev/deployment']).filter((d): d is string => d !== undefined);
  }

  private header(deployment: string): KubeObject {
    return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: inventoryName(deployment), namespace: this.namespace } };
  }
}
