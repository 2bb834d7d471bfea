// Prune: delete what left a deployment's set, in reverse apply order, and only what this
// deployment created. Objects annotated to opt out are kept.
import { pruneOrder } from '../../core/apply-order.js';
import { entryObject, staleEntries, type Inventory } from '../../core/inventory.js';
import { describeId } from '../../core/objects.js';
import type { ClusterClient } from './cluster-client.js';

/** Flux's opt-out annotation, honoured as is, and Flotilla's own. */
export const PRUNE_OPT_OUT: ReadonlyMap<string, string> = new Map([
  ['kustomize.toolkit.fluxcd.io/prune', 'disabled'],
  ['flotilla.dev/prune', 'disabled'],
]);

export interface PruneResult {
  readonly id: string;
  readonly object: string;
  readonly action: 'deleted' | 'skipped';
  /** Why it was skipped: gone already, opted out, or owned by someone else. */
  readonly reason?: string;
}

/**
 * `handedOver` names the deployment an object goes to, when another deployment declares it
 * and was refused it while this one still did (agents/apply/applier.ts): such an object is
 * left for that deployment to take over, not deleted and recreated.
 */
export async function pruneStale(client: ClusterClient, previous: Inventory, next: Inventory, deployment: string,
  handedOver: (id: string) => string | undefined = () => undefined): Promise<PruneResult[]> {
  const stale = staleEntries(previous, next).map((e) => ({ entry: e, object: entryObject(e) }));
  const ordered = pruneOrder(stale.map((s) => ({ ...s, kind: s.object.kind, metadata: s.object.metadata })));
  const results: PruneResult[] = [];
  // Sequential: order matters (a Namespace's contents before the Namespace).
  for (const { entry, object } of ordered) {
    const base = { id: entry.id, object: describeId(entry.id) };
    const live = await client.get(object);
    if (!live) {
      results.push({ ...base, action: 'skipped', reason: 'already gone' });
      continue;
    }
    const annotations = live.metadata.annotations ?? {};
    const optOut = [...PRUNE_OPT_OUT].find(([key, value]) => annotations[key] === value);
    if (optOut) {
      results.push({ ...base, action: 'skipped', reason: `annotated ${optOut[0]}: ${optOut[1]}` });
      continue;
    }
    const owner = annotations['flotilla.dev/deployment'];
    if (owner !== deployment) {
      results.push({ ...base, action: 'skipped', reason: owner ? `owned by deployment ${owner}` : 'not created by Flotilla' });
      continue;
    }
    const heir = handedOver(entry.id);
    if (heir !== undefined) {
      results.push({ ...base, action: 'skipped', reason: `handed over to deployment ${heir}` });
      continue;
    }
    await client.delete(object);
    results.push({ ...base, action: 'deleted' });
  }
  return results;
}
