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
import { forbiddenMessage } from '../../core/tenancy.js';
import { KubeApiError, isTransientError, type ClusterClient, type RequestStats } from './cluster-client.js';
import { InventoryStore, type StoredEntry, type StoredInventory } from './inventory-store.js';
import { pruneStale, type PruneResult } from './prune.js';
import { mapLimited } from './rate-limit.js';
import { waitForCrds } from './health.js';
import {
  BUILTIN_REPLICAS, FightTracker, describeFight, IGNORE_FIELDS_ANNOTATION, LEGACY_FIELD_MANAGER, appliedFieldsOf, changedByOthers, crdReplicasPath,
  fieldManagerFor, holdFields, hpaTargets, isBuiltinGroup, isTargeted, isUnder, parseIgnoreFields, transferOwnership,
  type FieldPath, type Fight,
} from './ownership.js';

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
  /** A set with no objects may replace a non-empty inventory (default false: refused). */
  readonly allowEmpty?: boolean;
  /** Refuse a set that would prune more than this percent of the inventory at once (0: no limit). */
  readonly maxPrunePercent?: number;
  /**
   * The user to apply, prune and read as (system:serviceaccount:<ns>:<name>, core/tenancy.ts);
   * undefined: the agent's own identity. The inventory stays the agent's own bookkeeping.
   */
  readonly impersonate?: string;
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
  /** Fields another manager keeps changing back, no longer re-applied (ownership.ts). */
  readonly fights?: readonly Fight[];
}

export interface ObjectError {
  readonly object: string;
  readonly message: string;
}

export interface ApplyReport {
  readonly deployment: string;
  readonly generation: number;
  /**
   * Applied: all objects applied. Invalid: validation failed, nothing (more) applied.
   * Transient: the API server was unavailable (429, 5xx, no answer) beyond the client's retry
   * budget; nothing was decided about the manifests, and the same apply should be tried again
   * soon. `errors` then says what could not be reached.
   */
  readonly phase: 'Applied' | 'Invalid' | 'Transient';
  readonly objects: readonly ObjectResult[];
  readonly pruned: readonly PruneResult[];
  readonly errors: readonly ObjectError[];
  readonly counts: Readonly<Record<Action | 'pruned', number>>;
}

interface Planned {
  readonly object: KubeObject;
  readonly id: string;
  readonly digest: string;
  /** Fields named by the flotilla.dev/ignore-fields annotation. */
  readonly ignored: readonly FieldPath[];
}

/** What one apply of one deployment knows besides its objects. */
interface Round {
  readonly deployment: string;
  /** Who reads and writes the deployment's objects: the agent, or the account it impersonates. */
  readonly client: ClusterClient;
  /** Its field manager, `flotilla:<deployment>` (ownership.ts). */
  readonly manager: string;
  /** HorizontalPodAutoscalers in the set itself (they may not exist yet). */
  readonly setHpas: readonly KubeObject[];
  /** Other deployments' inventories read for conflict checks, by name (once per apply). */
  readonly inventories: Map<string, Promise<ReadonlySet<string> | undefined>>;
}

export class Applier {
  readonly inventories: InventoryStore;
  /** Fields lost to another manager's repeated changes, per deployment and object. */
  private readonly fights = new FightTracker();
  /**
   * Objects each deployment was refused because another deployment declares them
   * (deployment -> object id -> the deployment that has it). When that one drops the object,
   * prune leaves it for the refused deployment to take over instead of deleting it.
   */
  private readonly claims = new Map<string, Map<string, string>>();

  constructor(private readonly client: ClusterClient, opts: { agentNamespace?: string } = {}) {
    this.inventories = new InventoryStore(client, opts.agentNamespace);
  }

  /** Requests this applier's client has sent (reads, dry-runs, writes). */
  get stats(): RequestStats {
    return this.client.stats;
  }

  async apply(deployment: Deployment, opts: ApplyOptions = {}): Promise<ApplyReport> {
    try {
      return await this.applySet(deployment, opts);
    } catch (err) {
      // Any step may meet an API server that stays unavailable (reading the inventory,
      // discovery, a write): that is no verdict on the manifests, unlike other exceptions.
      if (!isTransientError(err)) throw withIdentity(err, opts.impersonate);
      return this.report(deployment, 'Transient', [], [], [{ object: 'API server', message: errorMessage(err) }]);
    }
  }

  private async applySet(deployment: Deployment, opts: ApplyOptions): Promise<ApplyReport> {
    const prune = opts.prune ?? true;
    const previous = await this.inventories.load(deployment.name);
    this.claims.delete(deployment.name); // refreshed by this apply's conflict checks
    // 0. Whose rights: a tenant's objects are read, validated, applied and pruned as its
    //    ServiceAccount (Flux's impersonation), so the API server's RBAC, not the agent's
    //    ClusterRole, decides what a tenant's repository may touch. The inventory and the
    //    agent's other bookkeeping stay on the agent's own identity.
    const client = opts.impersonate !== undefined ? this.client.impersonating(opts.impersonate) : this.client;

    // 1. Shape every object: scope, namespace, ownership marks. Unknown kinds are errors
    //    unless a CRD in this same set defines them.
    const { planned, errors, dependsOnSet } = await this.plan(deployment, opts.defaultNamespace ?? 'default', client);
    if (errors.length > 0) return this.report(deployment, 'Invalid', [], [], errors);

    // 1b. A render that would delete (nearly) everything is far more often a broken build
    //     (a wrong path, a bad merge, a missing overlay) than an intent: refused, nothing
    //     touched, unless the declaration opted in.
    const refused = prune && previous ? suspiciousPrune(previous, planned.map((p) => p.id), opts) : undefined;
    if (refused) return this.report(deployment, 'Invalid', [], [], [{ object: `deployment ${deployment.name}`, message: refused }]);

    // 2. Record intent first: a crash after applying anything must not leave objects that
    //    no inventory knows (they could never be pruned).
    const next = this.storedInventory(deployment, planned, opts.impersonate);
    const pending: StoredInventory = previous
      ? { ...next, entries: mergeEntries(previous.entries, next.entries) }
      : next;
    const stages = applyStages(planned.map((p) => ({ ...p, kind: p.object.kind, metadata: p.object.metadata })));
    const results: ObjectResult[] = [];
    const round: Round = {
      deployment: deployment.name, client, manager: fieldManagerFor(deployment.name), inventories: new Map(),
      setHpas: planned.map((p) => p.object).filter((o) => o.kind === 'HorizontalPodAutoscaler' && groupOf(o.apiVersion) === 'autoscaling'),
    };

    // 3. Validate everything that can be validated now: all but the objects whose namespace
    //    or CRD this very set creates. Any error: nothing is applied. An object another
    //    deployment still declares is such an error; ownership moves from Flotilla's old
    //    manager first; fields left to others (ignored, under an HPA, fought over) are held.
    const later = stages.rest.filter((p) => dependsOnSet(p.object));
    const now = [...stages.prerequisites, ...stages.rest.filter((p) => !dependsOnSet(p.object))];
    const lastDigests = new Map(previous?.entries.map((e) => [e.id, e.digest]) ?? []);
    const first = await this.dryRunAll(now, lastDigests, opts, round);
    // An unavailable API server wins over validation errors: nothing is rolled back for it.
    if (first.transient.length > 0) return this.report(deployment, 'Transient', [], [], first.transient);
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
    results.push(...await this.applyChanged(first.checked.filter((c) => prerequisiteIds.has(c.planned.id)), previous, opts, round));
    const crds = stages.prerequisites.filter((p) => isCrd(p.object)).map((p) => p.object);
    if (crds.length > 0) {
      await waitForCrds(client, crds, 60_000);
      client.forgetDiscovery();
    }

    // 5. Everything else; objects that needed this set's prerequisites are validated now.
    const second = await this.dryRunAll(later, lastDigests, opts, round);
    if (second.transient.length > 0) return this.report(deployment, 'Transient', results, [], second.transient);
    if (second.errors.length > 0) return this.report(deployment, 'Invalid', results, [], second.errors);
    const rest = [...first.checked.filter((c) => !prerequisiteIds.has(c.planned.id)), ...second.checked];
    results.push(...await this.applyChanged(rest, previous, opts, round));

    // 6. Prune what left the set (but not what another deployment waits to take over), then
    //    record the new inventory.
    const pruned = prune && previous ? await pruneStale(client, previous, next, deployment.name, (id) => this.claimant(id, deployment.name)) : [];
    await record(next);
    return this.report(deployment, 'Applied', results, pruned, []);
  }

  /** Removes a deployment: its objects (when prune is on) and its inventory. */
  async delete(name: string, opts: { prune?: boolean } = {}): Promise<PruneResult[]> {
    this.claims.delete(name);
    this.fights.forget(`${name}\n`);
    const previous = await this.inventories.load(name);
    if (!previous) return [];
    const empty: StoredInventory = { deployment: name, generation: previous.generation, entries: [] };
    // Pruned as the identity that applied them (recorded with the inventory), as Flux's
    // finalizer deletes with the Kustomization's impersonated client.
    const client = previous.impersonate !== undefined ? this.client.impersonating(previous.impersonate) : this.client;
    let pruned: PruneResult[] = [];
    try {
      pruned = (opts.prune ?? true) ? await pruneStale(client, previous, empty, name, (id) => this.claimant(id, name)) : [];
    } catch (err) {
      throw withIdentity(err, previous.impersonate);
    }
    await this.inventories.remove(name);
    return pruned;
  }

  private async plan(deployment: Deployment, defaultNamespace: string, client: ClusterClient): Promise<{
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
      // A Namespace of the set that already exists is no reason to postpone validation. An
      // identity that may not read it finds out when the Namespace itself is validated.
      const exists = await client.get({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }).catch((err: unknown) => {
        if (err instanceof KubeApiError && err.code === 403) return undefined;
        throw err;
      });
      if (exists) setNamespaces.delete(ns);
    }
    const scopes = new Map<string, boolean | undefined>();
    for (const original of deployment.objects) {
      const key = `${original.apiVersion}/${original.kind}`;
      if (!scopes.has(key)) scopes.set(key, await client.isNamespaced(original.apiVersion, original.kind));
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
      const ignoreFields: unknown = object.metadata.annotations?.[IGNORE_FIELDS_ANNOTATION];
      const ignored = typeof ignoreFields === 'string' ? parseIgnoreFields(ignoreFields)
        : { paths: [], errors: ignoreFields === undefined ? [] : ['must be a string of comma-separated field paths'] };
      if (ignored.errors.length > 0) {
        errors.push({ object: describeObject(object), message: `annotation ${IGNORE_FIELDS_ANNOTATION}: ${ignored.errors.join('; ')}` });
        continue;
      }
      object.metadata.labels = { ...object.metadata.labels, [MANAGED_BY_LABEL]: 'flotilla' };
      object.metadata.annotations = { ...object.metadata.annotations, [DEPLOYMENT_ANNOTATION]: deployment.name };
      planned.push({ object, id, digest: digestOf(object), ignored: ignored.paths });
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
   * do not manage yet, conflicts are errors unless the caller asked for force. Force never
   * touches fields left to co-controllers: those are held (left out of what is sent, or sent
   * with their live value) before the dry-run, so they cannot conflict (ownership.ts):
   * fields the manifest's flotilla.dev/ignore-fields names, spec.replicas of a workload an
   * HPA scales, and fields another manager has won by a fight.
   *
   * An object whose flotilla.dev/deployment annotation names another deployment that still
   * lists it in its inventory is an error naming that deployment, so the whole set is
   * Invalid and nothing of it is applied. That is how Flux fails a Kustomization whose
   * server-side apply reports a field conflict, and it keeps the first deployment's object
   * as it is: forcing (even with opts.force) would make the two flip it on every round.
   */
  private async dryRunAll(objects: readonly Planned[], lastDigests: ReadonlyMap<string, string>, opts: ApplyOptions, round: Round): Promise<{ checked: Checked[]; errors: ObjectError[]; transient: ObjectError[] }> {
    const errors: ObjectError[] = [];
    /** Objects the API server could not be asked about (it stayed unavailable): not errors of theirs. */
    const transient: ObjectError[] = [];
    const force = opts.force ?? false;
    const client = round.client;
    const liveState = await this.readLive(objects, client);
    const scaled = await this.replicasUnderHpa(objects, round);
    const checked = await mapLimited(objects, client.limits.concurrency, async (p): Promise<Checked | undefined> => {
      // Once the server is known to be unavailable, asking it about every other object would
      // only add requests: this dry-run ends as transient anyway.
      if (transient.length > 0) return undefined;
      try {
        let live = liveState.has(p.id) ? liveState.get(p.id) : await client.get(p.object);
        const sameManifest = lastDigests.get(p.id) === p.digest;
        let payload = p.object;
        let held: FieldPath[] = [];
        let fights: Fight[] = [];
        if (live) {
          const owner = live.metadata.annotations?.[DEPLOYMENT_ANNOTATION];
          if (owner !== undefined && owner !== round.deployment && await this.declares(owner, p.id, round)) {
            const claims = this.claims.get(round.deployment) ?? new Map<string, string>();
            this.claims.set(round.deployment, claims.set(p.id, owner));
            errors.push({ object: describeObject(p.object), message: `is managed by deployment ${owner}; remove it from one of them` });
            return undefined;
          }
          live = await this.takeOwnership(live, owner, round);
          // Held fields are never re-asserted once the object exists (on create, all is sent).
          const replicas = scaled.get(p.id);
          held = [...p.ignored, ...(replicas ? [replicas] : [])];
          const ours = appliedFieldsOf(live, round.manager);
          const key = `${round.deployment}\n${p.id}`;
          fights = sameManifest && opts.correctDrift !== false
            ? this.fights.observe(key, p.digest, String(live.metadata.resourceVersion), changedByOthers(holdFields(p.object, live, held, ours), live, round.manager))
            : this.fights.active(key, p.digest);
          held = [...held, ...fights.map((f) => f.path)];
          payload = holdFields(p.object, live, held, ours);
        }
        if (live && sameManifest && containsManifest(payload, live)) {
          return { planned: p, payload, held, fights, live, dry: live, force: false };
        }
        const manager = round.manager;
        const dry = await client.apply(payload, { dryRun: true, force, fieldManager: manager }).then(
          (d) => ({ d, forced: force }),
          async (err: unknown) => {
            if (!(err instanceof KubeApiError && err.code === 409 && lastDigests.has(p.id))) throw err;
            return { d: await client.apply(payload, { dryRun: true, force: true, fieldManager: manager }), forced: true };
          });
        return { planned: p, payload, held, fights, live, dry: dry.d, force: dry.forced };
      } catch (err) {
        (isTransientError(err) ? transient : errors).push({ object: describeObject(p.object), message: errorMessage(withIdentity(err, client.impersonates)) });
        return undefined;
      }
    });
    return { checked: checked.filter((c): c is Checked => c !== undefined), errors, transient };
  }

  /** Does deployment `name`'s inventory in the cluster list object `id`? (Read once per apply.) */
  private async declares(name: string, id: string, round: Round): Promise<boolean> {
    let ids = round.inventories.get(name);
    if (!ids) {
      ids = this.inventories.load(name).then((inv) => (inv ? new Set(inv.entries.map((e) => e.id)) : undefined));
      round.inventories.set(name, ids);
    }
    return (await ids)?.has(id) ?? false;
  }

  /** The deployment that was refused object `id` because `owner` declared it, if any. */
  private claimant(id: string, owner: string): string | undefined {
    for (const [deployment, ids] of this.claims) {
      if (deployment !== owner && ids.get(id) === owner) return deployment;
    }
    return undefined;
  }

  /**
   * Moves to this deployment's manager what Flotilla's old managers own of a live object it
   * may take: the single `flotilla` manager of earlier versions (objects annotated as this
   * deployment's, or handed over), and the manager of the deployment that handed it over
   * (annotated as another's that no longer lists it; declares() said so). Objects without
   * the annotation (the agent's own state, objects nobody applied with Flotilla) are left
   * alone. Returns the object as it is afterwards.
   */
  private async takeOwnership(live: KubeObject, owner: string | undefined, round: Round): Promise<KubeObject> {
    if (owner === undefined) return live;
    const from = owner === round.deployment ? [LEGACY_FIELD_MANAGER] : [LEGACY_FIELD_MANAGER, fieldManagerFor(owner)];
    let current = live;
    for (let attempt = 0; ; attempt++) {
      const entries = transferOwnership(current, from, round.manager);
      if (!entries) return current;
      try {
        // The test makes a concurrent change fail the patch instead of being overwritten.
        return await round.client.jsonPatch(current, [
          { op: 'test', path: '/metadata/resourceVersion', value: current.metadata.resourceVersion },
          { op: 'replace', path: '/metadata/managedFields', value: entries },
        ], { fieldManager: round.manager });
      } catch (err) {
        if (attempt > 0 || !(err instanceof KubeApiError && (err.code === 409 || err.code === 422))) throw err;
        const again = await round.client.get(current);
        if (!again) throw err;
        current = again;
      }
    }
  }

  /**
   * spec.replicas (or a custom resource's scale specReplicasPath) of each object that a
   * HorizontalPodAutoscaler in the cluster, or in the set, scales: the HPA owns that number,
   * so it is held (never re-asserted, not drift) — what Flux users do by hand by removing
   * replicas from manifests, and Argo CD's ignoreDifferences is used for. One LIST of HPAs
   * per namespace holding a scalable object; an unreadable list (RBAC, an old cluster)
   * means no HPA.
   */
  private async replicasUnderHpa(objects: readonly Planned[], round: Round): Promise<Map<string, FieldPath>> {
    const out = new Map<string, FieldPath>();
    const candidates = objects.filter((p) => {
      const group = groupOf(p.object.apiVersion);
      return p.object.metadata.namespace !== undefined && (BUILTIN_REPLICAS.has(`${group}/${p.object.kind}`) || !isBuiltinGroup(group));
    });
    if (candidates.length === 0) return out;
    const namespaces = [...new Set(candidates.map((p) => p.object.metadata.namespace ?? ''))];
    const listed = await mapLimited(namespaces, round.client.limits.concurrency, (namespace) =>
      round.client.list('autoscaling/v2', 'HorizontalPodAutoscaler', { namespace }).catch(() => []));
    const targets = hpaTargets([...listed.flat(), ...round.setHpas]);
    let crds: Promise<KubeObject[]> | undefined;
    for (const p of candidates) {
      if (!isTargeted(p.object, targets)) continue;
      const group = groupOf(p.object.apiVersion);
      let path = BUILTIN_REPLICAS.get(`${group}/${p.object.kind}`);
      if (!path) {
        crds ??= round.client.list('apiextensions.k8s.io/v1', 'CustomResourceDefinition').catch(() => []);
        const crd = (await crds).find((c) => isRecord(c.spec) && c.spec.group === group && isRecord(c.spec.names) && c.spec.names.kind === p.object.kind);
        path = crd ? crdReplicasPath(crd, p.object.apiVersion) : undefined;
      }
      if (path) out.set(p.id, path);
    }
    return out;
  }

  /**
   * Live state of many objects at once: one LIST per kind and namespace with several
   * objects (absent ids map to undefined). Small groups are left to per-object GETs.
   */
  private async readLive(objects: readonly Planned[], client: ClusterClient): Promise<Map<string, KubeObject | undefined>> {
    const groups = new Map<string, Planned[]>();
    for (const p of objects) {
      const key = `${p.object.apiVersion}|${p.object.kind}|${p.object.metadata.namespace ?? ''}`;
      groups.set(key, [...(groups.get(key) ?? []), p]);
    }
    const live = new Map<string, KubeObject | undefined>();
    await mapLimited([...groups.values()].filter((g) => g.length >= LIST_THRESHOLD), client.limits.concurrency, async (group) => {
      const first = group[0];
      if (!first) return;
      const { apiVersion, kind, metadata } = first.object;
      let items: KubeObject[];
      try {
        items = await client.list(apiVersion, kind, metadata.namespace ? { namespace: metadata.namespace } : {});
      } catch {
        return; // e.g. the namespace or kind does not exist yet: per-object reads will say why
      }
      const byId = new Map(items.map((i) => [objectId(i), i]));
      for (const p of group) live.set(p.id, byId.get(p.id));
    });
    return live;
  }

  private async applyChanged(checked: readonly Checked[], previous: StoredInventory | undefined, opts: ApplyOptions, round: Round): Promise<ObjectResult[]> {
    const lastDigest = new Map(previous?.entries.map((e) => [e.id, e.digest]) ?? []);
    const client = round.client;
    return mapLimited(checked, client.limits.concurrency, async ({ planned, payload, held, fights, live, dry, force }): Promise<ObjectResult> => {
      const base = { id: planned.id, object: describeObject(planned.object), ...(fights.length > 0 ? { fights } : {}) };
      const unchangedManifest = lastDigest.get(planned.id) === planned.digest;
      if (!live) {
        const applied = await client.apply(payload, { force: opts.force ?? false, fieldManager: round.manager });
        // Deleted behind our back while its manifest stayed the same: that is drift too.
        return { ...base, action: 'created', live: applied, ...(unchangedManifest ? { drift: ['deleted'] } : {}) };
      }
      // Held fields are someone else's to set: never drift.
      const diff = changedPaths(dry, live).filter((path) => !isUnder(path, held));
      if (diff.length === 0) {
        return { ...base, action: 'unchanged', live };
      }
      const drift = unchangedManifest ? diff : undefined;
      if (drift && opts.correctDrift === false) return { ...base, action: 'skipped', drift, live };
      const applied = await client.apply(payload, { force, fieldManager: round.manager });
      return { ...base, action: 'configured', live: applied, ...(drift ? { drift } : {}) };
    });
  }

  private storedInventory(deployment: Deployment, planned: readonly Planned[], impersonate: string | undefined): StoredInventory {
    const inv = inventoryOf(deployment.name, deployment.generation, planned.map((p) => p.object));
    const digests = new Map(planned.map((p) => [p.id, p.digest]));
    return { ...inv, entries: inv.entries.map((e) => ({ ...e, digest: digests.get(e.id) ?? '' })), ...(impersonate !== undefined ? { impersonate } : {}) };
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
  /** What is sent: the manifest object, with held fields left to their owners. */
  readonly payload: KubeObject;
  /** Fields not re-asserted (ignored, under an HPA, fought over): not drift either. */
  readonly held: readonly FieldPath[];
  readonly fights: readonly Fight[];
  readonly live: KubeObject | undefined;
  readonly dry: KubeObject;
  /** Apply with force: asked for, or taking back fields of a managed object. */
  readonly force: boolean;
}

/**
 * Why a set must not replace the inventory `previous` (undefined: it may): it is empty while
 * the inventory is not (unless allowEmpty), or it would prune more than maxPrunePercent of it.
 */
export function suspiciousPrune(previous: StoredInventory, nextIds: readonly string[], opts: Pick<ApplyOptions, 'allowEmpty' | 'maxPrunePercent'>): string | undefined {
  const had = previous.entries.length;
  if (had === 0) return undefined;
  if (nextIds.length === 0 && opts.allowEmpty !== true) {
    return `refused: the render has no objects, and the last one applied here had ${had}; applying it would delete them all. `
      + 'If that is intended, annotate the declaration with flotilla.dev/allow-empty: "true"';
  }
  const next = new Set(nextIds);
  const gone = previous.entries.filter((e) => !next.has(e.id)).length;
  const limit = opts.maxPrunePercent ?? 0;
  if (limit > 0 && nextIds.length > 0 && gone * 100 > limit * had) {
    return `refused: the render would prune ${gone} of the ${had} objects applied here (${Math.round(gone * 100 / had)}%), `
      + `more than flotilla.dev/max-prune: "${limit}%" allows; raise or remove the annotation if that is intended`;
  }
  return undefined;
}

function mergeEntries(a: readonly StoredEntry[], b: readonly StoredEntry[]): StoredEntry[] {
  const byId = new Map(a.map((e) => [e.id, e]));
  for (const e of b) byId.set(e.id, e);
  return [...byId.values()].sort((x, y) => x.id.localeCompare(y.id));
}

function digestOf(obj: KubeObject): string {
  return createHash('sha256').update(JSON.stringify(obj)).digest('hex');
}

/**
 * One line per fight of the report's objects (only those declared by this apply when
 * `onlyNew`): "ConfigMap/ns/x: fight over data.level with manager kubectl-edit: stopped re-applying".
 */
export function fightNotes(report: Pick<ApplyReport, 'objects'>, onlyNew = false): string[] {
  return report.objects.flatMap((o) => (o.fights ?? []).filter((f) => !onlyNew || f.new).map((f) => `${o.object}: ${describeFight(f)}`));
}

/** A 403 met while impersonating, said with the account it was denied for (core/tenancy.ts). */
function withIdentity(err: unknown, user: string | undefined): unknown {
  if (user === undefined || !(err instanceof KubeApiError) || err.code !== 403) return err;
  return new KubeApiError(403, err.reason, forbiddenMessage(user, err.message));
}

export function errorMessage(err: unknown): string {
  if (err instanceof KubeApiError) return err.message;
  return err instanceof Error ? err.message : String(err);
}
