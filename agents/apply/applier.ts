// The apply engine: one deployment (name, generation, objects) onto one cluster, the way
// Flux's kustomize-controller does it. Validate by server-side dry-run, apply in two stages
// (cluster-wide prerequisites, then the rest), skip what is unchanged, record the
// inventory in the cluster, prune what left the set, report drift.
import { createHash } from 'node:crypto';
import { applyStages, isCrd } from '../../core/apply-order.js';
import { changedPaths, containsManifest } from '../../core/drift.js';
import { inventoryOf } from '../../core/inventory.js';
import { isRecord } from '../../core/manifests.js';
import { describeObject, groupOf, objectId, type KubeObject } from '../../core/objects.js';
import { KubeApiError, type ClusterClient, type RequestStats } from './cluster-client.js';
import { InventoryStore, type StoredEntry, type StoredInventory } from './inventory-store.js';
import { pruneStale, type PruneResult } from './prune.js';
import { mapLimited } from './rate-limit.js';
import { waitForCrds } from './health.js';

export const DEPLOYMENT_ANNOTATION = 'flotilla.dev/deployment';
/** Groups (kind + namespace) of at least this many objects are read with one LIST. */
const LIST_THRESHOLD = 4;
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';

export interface Deployment {
  /** Stable name, e.g. "kustomization/apps/podinfo". */
  readonly name: string;
  readonly generation: number;
  readonly objects: readonly KubeObject[];
}

export interface ApplyOptions {
  /** Delete objects that left the set (default true). */
  readonly prune?: boolean;
  /** Take ownership of fields other managers own (default false). */
  readonly force?: boolean;
  /** Revert changes made behind Flotilla's back (default true). */
  readonly correctDrift?: boolean;
  /** Namespace for namespaced objects that name none (default "default"). */
  readonly defaultNamespace?: string;
}

export type Action = 'created' | 'configured' | 'unchanged' | 'skipped';

export interface ObjectResult {
  readonly id: string;
  readonly object: string;
  readonly action: Action;
  /** Fields changed behind Flotilla's back (or "deleted"), when drift was found. */
  readonly drift?: readonly string[];
  /** The object as the API server returned it after apply (or the live one if unchanged). */
  readonly live?: KubeObject;
}

export interface ObjectError {
  readonly object: string;
  readonly message: string;
}

export interface ApplyReport {
  readonly deployment: string;
  readonly generation: number;
  /** Applied: all objects applied. Invalid: validation failed, nothing (more) applied. */
  readonly phase: 'Applied' | 'Invalid';
  readonly objects: readonly ObjectResult[];
  readonly pruned: readonly PruneResult[];
  readonly errors: readonly ObjectError[];
  readonly counts: Readonly<Record<Action | 'pruned', number>>;
}

interface Planned {
  readonly object: KubeObject;
  readonly id: string;
  readonly digest: string;
}

export class Applier {
  readonly inventories: InventoryStore;

  constructor(private readonly client: ClusterClient, opts: { agentNamespace?: string } = {}) {
    this.inventories = new InventoryStore(client, opts.agentNamespace);
  }

  /** Requests this applier's client has sent (reads, dry-runs, writes). */
  get stats(): RequestStats {
    return this.client.stats;
  }

  async apply(deployment: Deployment, opts: ApplyOptions = {}): Promise<ApplyReport> {
    const prune = opts.prune ?? true;
    const previous = await this.inventories.load(deployment.name);

    // 1. Shape every object: scope, namespace, ownership marks. Unknown kinds are errors
    //    unless a CRD in this same set defines them.
    const { planned, errors, dependsOnSet } = await this.plan(deployment, opts.defaultNamespace ?? 'default');
    if (errors.length > 0) return this.report(deployment, 'Invalid', [], [], errors);

    // 2. Record intent first: a crash after applying anything must not leave objects that
    //    no inventory knows (they could never be pruned).
    const next = this.storedInventory(deployment, planned);
    const pending: StoredInventory = previous
      ? { ...next, entries: mergeEntries(previous.entries, next.entries) }
      : next;
    const stages = applyStages(planned.map((p) => ({ ...p, kind: p.object.kind, metadata: p.object.metadata })));
    const results: ObjectResult[] = [];

    // 3. Validate everything that can be validated now: all but the objects whose namespace
    //    or CRD this very set creates. Any error: nothing is applied.
    const later = stages.rest.filter((p) => dependsOnSet(p.object));
    const now = [...stages.prerequisites, ...stages.rest.filter((p) => !dependsOnSet(p.object))];
    const lastDigests = new Map(previous?.entries.map((e) => [e.id, e.digest]) ?? []);
    const first = await this.dryRunAll(now, lastDigests, opts);
    if (first.errors.length > 0) return this.report(deployment, 'Invalid', [], [], first.errors);
    const prerequisiteIds = new Set(stages.prerequisites.map((p) => p.id));
    let stored = previous;
    const record = async (inv: StoredInventory): Promise<void> => {
      // An unchanged re-apply must not write, not even its inventory.
      if (JSON.stringify(inv) === JSON.stringify(stored)) return;
      await this.inventories.save(inv);
      stored = inv;
    };
    await record(pending);

    // 4. Prerequisites (CRDs, Namespaces, ClusterRoles...), then wait for CRDs.
    results.push(...await this.applyChanged(first.checked.filter((c) => prerequisiteIds.has(c.planned.id)), previous, opts));
    const crds = stages.prerequisites.filter((p) => isCrd(p.object)).map((p) => p.object);
    if (crds.length > 0) {
      await waitForCrds(this.client, crds, 60_000);
      this.client.forgetDiscovery();
    }

    // 5. Everything else; objects that needed this set's prerequisites are validated now.
    const second = await this.dryRunAll(later, lastDigests, opts);
    if (second.errors.length > 0) return this.report(deployment, 'Invalid', results, [], second.errors);
    const rest = [...first.checked.filter((c) => !prerequisiteIds.has(c.planned.id)), ...second.checked];
    results.push(...await this.applyChanged(rest, previous, opts));

    // 6. Prune what left the set, then record the new inventory.
    const pruned = prune && previous ? await pruneStale(this.client, previous, next, deployment.name) : [];
    await record(next);
    return this.report(deployment, 'Applied', results, pruned, []);
  }

  /** Removes a deployment: its objects (when prune is on) and its inventory. */
  async delete(name: string, opts: { prune?: boolean } = {}): Promise<PruneResult[]> {
    const previous = await this.inventories.load(name);
    if (!previous) return [];
    const empty: StoredInventory = { deployment: name, generation: previous.generation, entries: [] };
    const pruned = (opts.prune ?? true) ? await pruneStale(this.client, previous, empty, name) : [];
    await this.inventories.remove(name);
    return pruned;
  }

  private async plan(deployment: Deployment, defaultNamespace: string): Promise<{
    planned: Planned[];
    errors: ObjectError[];
    /** Does this object need a Namespace or CRD that the set itself creates? */
    dependsOnSet: (o: KubeObject) => boolean;
  }> {
    const errors: ObjectError[] = [];
    const planned: Planned[] = [];
    const seen = new Set<string>();
    const crdKinds = new Map<string, boolean>(); // "group/Kind" -> namespaced, for CRDs in the set
    for (const o of deployment.objects) {
      if (!isCrd(o)) continue;
      const spec = isRecord(o.spec) ? o.spec : {};
      const names = isRecord(spec.names) ? spec.names : {};
      if (typeof spec.group === 'string' && typeof names.kind === 'string') {
        crdKinds.set(`${spec.group}/${names.kind}`, spec.scope !== 'Cluster');
      }
    }
    const setNamespaces = new Set(deployment.objects.filter((o) => o.kind === 'Namespace' && o.apiVersion === 'v1').map((o) => o.metadata.name));
    for (const ns of [...setNamespaces]) {
      // A Namespace of the set that already exists is no reason to postpone validation.
      if (await this.client.get({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } })) setNamespaces.delete(ns);
    }
    const scopes = new Map<string, boolean | undefined>();
    for (const original of deployment.objects) {
      const key = `${original.apiVersion}/${original.kind}`;
      if (!scopes.has(key)) scopes.set(key, await this.client.isNamespaced(original.apiVersion, original.kind));
    }
    for (const original of deployment.objects) {
      const object = structuredClone(original);
      const served = scopes.get(`${object.apiVersion}/${object.kind}`);
      const namespaced = served ?? crdKinds.get(`${groupOf(object.apiVersion)}/${object.kind}`);
      if (namespaced === undefined) {
        errors.push({
          object: describeObject(object),
          message: `the cluster does not serve kind ${object.kind} in ${object.apiVersion}, and no CustomResourceDefinition in this set defines it`,
        });
        continue;
      }
      if (namespaced) object.metadata.namespace ??= defaultNamespace;
      else delete object.metadata.namespace;
      const id = objectId(object);
      if (seen.has(id)) {
        errors.push({ object: describeObject(object), message: 'appears more than once in the set' });
        continue;
      }
      seen.add(id);
      object.metadata.labels = { ...object.metadata.labels, [MANAGED_BY_LABEL]: 'flotilla' };
      object.metadata.annotations = { ...object.metadata.annotations, [DEPLOYMENT_ANNOTATION]: deployment.name };
      planned.push({ object, id, digest: digestOf(object) });
    }
    const dependsOnSet = (o: KubeObject): boolean =>
      (o.metadata.namespace !== undefined && setNamespaces.has(o.metadata.namespace))
      || (scopes.get(`${o.apiVersion}/${o.kind}`) === undefined && crdKinds.has(`${groupOf(o.apiVersion)}/${o.kind}`));
    return { planned, errors, dependsOnSet };
  }

  /**
   * Server-side dry-run of `objects`, next to their live state.
   *
   * Skipped for an object whose manifest is the one last applied and whose live state
   * still holds every field of it: nothing would change, so nothing is sent. Anything else
   * (new, edited manifest, drift) goes through the dry-run.
   *
   * A field conflict on an object this deployment already manages means someone changed
   * our fields behind our back (kubectl edit/patch/scale): that is drift, and correcting it
   * takes the fields back, so it is dry-run (and later applied) with force. On objects we
   * do not manage yet, conflicts are errors unless the caller asked for force.
   */
  private async dryRunAll(objects: readonly Planned[], lastDigests: ReadonlyMap<string, string>, opts: ApplyOptions): Promise<{ checked: Checked[]; errors: ObjectError[] }> {
    const errors: ObjectError[] = [];
    const force = opts.force ?? false;
    const liveState = await this.readLive(objects);
    const checked = await mapLimited(objects, this.client.limits.concurrency, async (p): Promise<Checked | undefined> => {
      try {
        const live = liveState.has(p.id) ? liveState.get(p.id) : await this.client.get(p.object);
        if (live && lastDigests.get(p.id) === p.digest && containsManifest(p.object, live)) {
          return { planned: p, live, dry: live, force: false };
        }
        const dry = await this.client.apply(p.object, { dryRun: true, force }).then(
          (d) => ({ d, forced: force }),
          async (err: unknown) => {
            if (!(err instanceof KubeApiError && err.code === 409 && lastDigests.has(p.id))) throw err;
            return { d: await this.client.apply(p.object, { dryRun: true, force: true }), forced: true };
          });
        return { planned: p, live, dry: dry.d, force: dry.forced };
      } catch (err) {
        errors.push({ object: describeObject(p.object), message: errorMessage(err) });
        return undefined;
      }
    });
    return { checked: checked.filter((c): c is Checked => c !== undefined), errors };
  }

  /**
   * Live state of many objects at once: one LIST per kind and namespace with several
   * objects (absent ids map to undefined). Small groups are left to per-object GETs.
   */
  private async readLive(objects: readonly Planned[]): Promise<Map<string, KubeObject | undefined>> {
    const groups = new Map<string, Planned[]>();
    for (const p of objects) {
      const key = `${p.object.apiVersion}|${p.object.kind}|${p.object.metadata.namespace ?? ''}`;
      groups.set(key, [...(groups.get(key) ?? []), p]);
    }
    const live = new Map<string, KubeObject | undefined>();
    await mapLimited([...groups.values()].filter((g) => g.length >= LIST_THRESHOLD), this.client.limits.concurrency, async (group) => {
      const first = group[0];
      if (!first) return;
      const { apiVersion, kind, metadata } = first.object;
      let items: KubeObject[];
      try {
        items = await this.client.list(apiVersion, kind, metadata.namespace ? { namespace: metadata.namespace } : {});
      } catch {
        return; // e.g. the namespace or kind does not exist yet: per-object reads will say why
      }
      const byId = new Map(items.map((i) => [objectId(i), i]));
      for (const p of group) live.set(p.id, byId.get(p.id));
    });
    return live;
  }

  private async applyChanged(checked: readonly Checked[], previous: StoredInventory | undefined, opts: ApplyOptions): Promise<ObjectResult[]> {
    const lastDigest = new Map(previous?.entries.map((e) => [e.id, e.digest]) ?? []);
    return mapLimited(checked, this.client.limits.concurrency, async ({ planned, live, dry, force }): Promise<ObjectResult> => {
      const base = { id: planned.id, object: describeObject(planned.object) };
      const unchangedManifest = lastDigest.get(planned.id) === planned.digest;
      if (!live) {
        const applied = await this.client.apply(planned.object, { force: opts.force ?? false });
        // Deleted behind our back while its manifest stayed the same: that is drift too.
        return { ...base, action: 'created', live: applied, ...(unchangedManifest ? { drift: ['deleted'] } : {}) };
      }
      const diff = changedPaths(dry, live);
      if (diff.length === 0) {
        return { ...base, action: 'unchanged', live };
      }
      const drift = unchangedManifest ? diff : undefined;
      if (drift && opts.correctDrift === false) return { ...base, action: 'skipped', drift, live };
      const applied = await this.client.apply(planned.object, { force });
      return { ...base, action: 'configured', live: applied, ...(drift ? { drift } : {}) };
    });
  }

  private storedInventory(deployment: Deployment, planned: readonly Planned[]): StoredInventory {
    const inv = inventoryOf(deployment.name, deployment.generation, planned.map((p) => p.object));
    const digests = new Map(planned.map((p) => [p.id, p.digest]));
    return { ...inv, entries: inv.entries.map((e) => ({ ...e, digest: digests.get(e.id) ?? '' })) };
  }

  private report(deployment: Deployment, phase: ApplyReport['phase'], objects: ObjectResult[], pruned: PruneResult[], errors: ObjectError[]): ApplyReport {
    const counts = { created: 0, configured: 0, unchanged: 0, skipped: 0, pruned: 0 };
    for (const o of objects) counts[o.action]++;
    counts.pruned = pruned.filter((p) => p.action === 'deleted').length;
    return { deployment: deployment.name, generation: deployment.generation, phase, objects, pruned, errors, counts };
  }
}

interface Checked {
  readonly planned: Planned;
  readonly live: KubeObject | undefined;
  readonly dry: KubeObject;
  /** Apply with force: asked for, or taking back fields of a managed object. */
  readonly force: boolean;
}

function mergeEntries(a: readonly StoredEntry[], b: readonly StoredEntry[]): StoredEntry[] {
  const byId = new Map(a.map((e) => [e.id, e]));
  for (const e of b) byId.set(e.id, e);
  return [...byId.values()].sort((x, y) => x.id.localeCompare(y.id));
}

function digestOf(obj: KubeObject): string {
  return createHash('sha256').update(JSON.stringify(obj)).digest('hex');
}

export function errorMessage(err: unknown): string {
  if (err instanceof KubeApiError) return err.message;
  return err instanceof Error ? err.message : String(err);
}
