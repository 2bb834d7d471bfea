// The hub's activities for the declaration actors: cluster placement and desired state
// (through the cluster actors), git fetches, kustomize builds and the hub's own
// declarations. Created by the hub process around its Temporal client and data directory.
// Failed fetches and builds, and new artifacts, are also recorded as events for notifications
// (each retry records again: the notifications throttle drops the duplicates).
import { clearDeploymentUpdate, clusterWorkflowId, upsertDeploymentUpdate, type ClusterDeploymentActivities } from '../../api/cluster.js';
import { sourceArtifactSignal, type SourceNewsActivities } from '../../api/actor.js';
import { gitRepositoryStatusQuery, type GitRepositoryActivities } from '../../api/git-repository.js';
import { helmRepositoryStatusQuery } from '../../api/helm-repository.js';
import type { BuildKustomizationInput, BuildKustomizationResult, KustomizationActivities } from '../../api/kustomization.js';
import { declarationRefusals, type SourcePolicy } from '../../core/source-policy.js';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Context, ApplicationFailure } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { formatDeclarationError } from '../../core/declarations/parse.js';
import { objectsYaml, splitBuild } from '../../core/declarations/adopt.js';
import type { AdoptionContext } from '../../core/declarations/scope.js';
import { declarationId, isDataDeclaration, type KustomizationSpec } from '../../core/declarations/types.js';
import { digestOf } from '../../core/digest.js';
import { failureEvent, infoEvent } from '../../core/notifications/hub-events.js';
import type { ArtifactStore } from '../artifact-store.js';
import type { DataObjectStore } from '../data-objects.js';
import { DeclarationClient, NotFoundError, type ActorStatus } from '../declarations.js';
import type { EventSink } from '../events.js';
import { TemporalFleet } from '../fleet.js';
import type { RegistrationStore } from '../registration.js';
import { fetchGitRepository, gitCredentialsFromSecret, GitSourceError, type GitCredentials } from '../../activities/git-source.js';
import { BuildError, buildKustomization } from '../../activities/kustomize-build.js';
import { RenderLimitError } from '../../core/render-limits.js';
import type { EngineConfig } from '../../activities/limited-exec.js';
import { SourceTrees } from '../../activities/source-trees.js';
import { mapLimited, Semaphore } from '../../core/concurrency.js';

export interface HubActivityContext {
  readonly client: Client;
  readonly taskQueue: string;
  readonly registration: RegistrationStore;
  readonly artifacts: ArtifactStore;
  readonly data: DataObjectStore;
  /** Where git checkouts and the build cache live (the hub's data directory). */
  readonly dataDir: string;
  /** Where events for notifications go (none: not recorded). */
  readonly events?: EventSink;
  /** The kustomize and helm binaries (tools.*) and what one source or render may cost (limits.render.*, limits.untar.*). */
  readonly engines: EngineConfig;
  /** The hub's source policy (settings sources.*, docs/security.md). */
  readonly sourcePolicy: SourcePolicy;
}

/**
 * The git credentials of a GitRepository's secretRef (a Secret declared to the hub), or
 * undefined without one. A missing or unusable Secret is a non-retryable AuthenticationFailed.
 */
export async function secretGitCredentials(data: DataObjectStore, namespace: string, secretRef: string | undefined): Promise<GitCredentials | undefined> {
  if (secretRef === undefined) return undefined;
  const secret = await data.get('Secret', namespace, secretRef);
  if (!secret) {
    throw ApplicationFailure.create({ type: 'AuthenticationFailed', nonRetryable: true, message: `secret '${namespace}/${secretRef}' not found (apply it to the hub: flotilla apply -f secret.yaml)` });
  }
  try {
    return gitCredentialsFromSecret(`${namespace}/${secretRef}`, secret);
  } catch (err) {
    throw ApplicationFailure.create({ type: 'AuthenticationFailed', nonRetryable: true, message: errorMessage(err) });
  }
}

/** What the declaration actors call on the hub (contracts in api/cluster.ts, git-repository.ts, kustomization.ts). */
export type HubActivities = ClusterDeploymentActivities & GitRepositoryActivities & KustomizationActivities & SourceNewsActivities;

/** How many subscribers tellSubscribers signals at once. */
const TELL_CONCURRENCY = 16;

export function createHubActivities(ctx: HubActivityContext): HubActivities {
  // Extracted sources and the builds' workspaces: one filesystem, so a workspace links the source's files.
  const sourceTrees = new SourceTrees(join(ctx.dataDir, 'cache'));
  // kustomize runs one per core: 100 builds started at once all finish late (they share the
  // cores); in turn, the first Kustomizations apply while the rest still build.
  const builds = new Semaphore(availableParallelism());
  const fleet = new TemporalFleet(ctx.client, ctx.taskQueue, ctx.registration);
  const { limits } = ctx.engines;
  const declarations = new DeclarationClient(ctx.client, ctx.taskQueue, ctx.data);
  const heartbeat = (): void => {
    try { Context.current().heartbeat(); } catch { /* outside an activity (tests) */ }
  };
  /** Records an error event about `id` and returns the failure to throw. */
  const failed = (id: string, failure: ApplicationFailure, metadata: Record<string, string> = {}, hide?: string): ApplicationFailure => {
    // A temporary directory in a message would make every attempt a new notification.
    const message = hide === undefined ? failure.message : failure.message.split(hide).join('.');
    const event = failureEvent(id, failure.type ?? 'ReconciliationFailed', message, metadata, Date.now());
    if (event) ctx.events?.record(event);
    return failure;
  };

  return {
    async tellSubscribers({ subscribers, event }) {
      const missing: string[] = [];
      await mapLimited(subscribers, TELL_CONCURRENCY, async (subscriber) => {
        try {
          await ctx.client.workflow.getHandle(subscriber).signal(sourceArtifactSignal, event);
        } catch (err) {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
          missing.push(subscriber);
        }
        heartbeat();
      });
      return { missing: missing.sort() };
    },

    async sourceArtifactOf({ source }) {
      const handle = ctx.client.workflow.getHandle(source);
      try {
        const artifact = source.startsWith('gitrepository/') ? (await handle.query(gitRepositoryStatusQuery)).artifact
          : source.startsWith('helmrepository/') ? (await handle.query(helmRepositoryStatusQuery)).artifact : undefined;
        return artifact ? { source, revision: artifact.revision, artifactDigest: artifact.artifactDigest } : undefined;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return undefined;
        throw err;
      }
    },

    async listClusters() {
      return (await ctx.registration.clusters())
        .filter((c) => c.revokedAt === undefined)
        .map((c) => ({ name: c.name, labels: c.labels }));
    },

    async setClusterDeployment(input) {
      // The cluster actor may not exist yet (agent never connected): ensure it is started.
      await fleet.ensureStarted(input.cluster);
      // One update: the actor assigns the generation, so a retried activity cannot bump it twice.
      return ctx.client.workflow.getHandle(clusterWorkflowId(input.cluster)).executeUpdate(upsertDeploymentUpdate, {
        args: [{
          name: input.name, owner: input.owner, artifactDigest: input.artifactDigest, options: input.options,
          ...(input.attempt !== undefined ? { attempt: input.attempt } : {}),
        }],
      });
    },

    async clearClusterDeployment(input) {
      await fleet.ensureStarted(input.cluster);
      await ctx.client.workflow.getHandle(clusterWorkflowId(input.cluster)).executeUpdate(clearDeploymentUpdate, { args: [input.name] });
    },

    async fetchGitSource(input) {
      let credentials: GitCredentials | undefined;
      try {
        credentials = await secretGitCredentials(ctx.data, input.namespace, input.spec.secretRef);
      } catch (err) {
        if (err instanceof ApplicationFailure) throw failed(input.id, err);
        throw err;
      }
      try {
        const result = await fetchGitRepository(
          { id: input.id, spec: input.spec, includes: input.includes, ...(credentials ? { credentials } : {}),
            ...(input.lastRevision !== undefined ? { lastRevision: input.lastRevision } : {}),
            ...(input.lastArtifactDigest !== undefined ? { lastArtifactDigest: input.lastArtifactDigest } : {}) },
          { workDir: join(ctx.dataDir, 'sources'), artifacts: ctx.artifacts, heartbeat, limits, policy: ctx.sourcePolicy },
        );
        if (result.changed) {
          const event = infoEvent(input.id, 'NewArtifact', `stored artifact for revision '${result.revision}'`, { revision: result.revision }, Date.now());
          if (event) ctx.events?.record(event);
        }
        return { revision: result.revision, artifactDigest: result.artifactDigest, fileCount: result.fileCount, bytes: result.bytes, changed: result.changed };
      } catch (err) {
        if (err instanceof GitSourceError) {
          throw failed(input.id, ApplicationFailure.create({ type: err.reason, message: err.message, nonRetryable: err.reason !== 'GitOperationFailed' }));
        }
        throw err;
      }
    },

    async buildKustomization(input) {
      let vars: Record<string, string>;
      try {
        vars = await substitutionVariables(input.spec, input.namespace, ctx.data);
      } catch (err) {
        if (err instanceof ApplicationFailure) throw failed(input.id, err, { revision: input.revision });
        throw err;
      }
      const built = await buildCached(input, vars);
      if (!input.adoption || input.adoption.hubOnly) return built;
      return splitForClusters(input.id, input.revision, input.adoption, built);
    },

    async applyHubDeclarations(input) {
      const adoption = input.adoption ?? { owner: input.owner, ownerChain: [], placement: { clusters: [], hub: true }, hubOnly: true, keep: {} };
      let text = '';
      if (input.artifactDigest !== undefined) {
        const stored = await ctx.artifacts.get(input.artifactDigest);
        if (!stored) throw ApplicationFailure.create({ type: 'ArtifactNotFound', message: `build artifact ${input.artifactDigest} is missing from the artifact store` });
        text = stored.toString('utf8');
      }
      const split = splitBuild(text, `build of ${input.owner}`, adoption);
      if (split.errors.length > 0) {
        // All or nothing, as Flux validates a whole build before applying any of it.
        throw failed(input.owner, ApplicationFailure.create({ type: 'InvalidDeclarations', nonRetryable: true, message: split.errors.map(formatDeclarationError).join('; ') }));
      }
      const conflicts = await adoptionConflicts(split.declarations.map((d) => declarationId(d)), input.owner);
      if (conflicts.length > 0) {
        throw failed(input.owner, ApplicationFailure.create({ type: 'InvalidDeclarations', nonRetryable: true, message: conflicts.join('; ') }));
      }
      // The source policy, before anything is applied (a refused source leaves what runs untouched).
      const refused = declarationRefusals(split.declarations, ctx.sourcePolicy);
      if (refused.length > 0) {
        throw failed(input.owner, ApplicationFailure.create({ type: 'SourcePolicyRefused', nonRetryable: true, message: refused.join('; ') }));
      }
      const counts = { created: 0, configured: 0, unchanged: 0, deleted: 0 };
      const ids: string[] = [];
      for (const d of split.declarations) {
        counts[await declarations.apply(d)] += 1;
        ids.push(declarationId(d));
        heartbeat();
      }
      if (input.prune) {
        for (const gone of input.previous.filter((id) => !ids.includes(id))) {
          if (await deleteIfOwned(gone, input.owner)) counts.deleted += 1;
        }
      }
      return { declarations: ids.sort(), ...counts };
    },

    async deleteHubDeclarations(input) {
      for (const id of input.ids) await deleteIfOwned(id, input.owner);
    },

    async declarationsNotReady(input) {
      const problems: string[] = [];
      for (const id of input.ids) {
        let s: ActorStatus;
        try {
          s = await declarations.status(id);
        } catch (err) {
          if (err instanceof NotFoundError) { problems.push(`${id}: not found`); continue; }
          throw err;
        }
        if (s.kind !== 'Kustomization' && s.kind !== 'HelmRelease') continue;
        const ready = s.status.conditions.find((c) => c.type === 'Ready');
        const readyOn = new Set(s.status.clusters.filter((c) => c.ready === 'True').map((c) => c.cluster));
        const missing = input.clusters.filter((c) => !readyOn.has(c));
        if (s.status.observedGeneration !== s.status.generation) problems.push(`${id}: reconciling generation ${s.status.generation}`);
        else if (ready?.status !== 'True') problems.push(`${id}: ${ready?.message ?? 'not reconciled yet'}`);
        else if (missing.length > 0) problems.push(`${id}: not ready on ${missing.join(', ')}`);
      }
      return problems;
    },
  };

  /**
   * Declarations another Kustomization has adopted and still declares: adopting them too would
   * hand them back and forth on every reconcile, so the build is refused, naming both.
   */
  async function adoptionConflicts(ids: readonly string[], owner: string): Promise<string[]> {
    const conflicts: string[] = [];
    for (const id of ids) {
      const current = await declarations.ownedBy(id);
      if (current === undefined || current === '' || current === owner) continue;
      if (!(await declarations.adoptedBy(current))?.declarations.includes(id)) continue;
      conflicts.push(`${id} is already declared by ${current} (each object may be declared by one Kustomization: remove it from one of the two paths)`);
    }
    return conflicts;
  }

  /** Deletes an adopted declaration unless another Kustomization has adopted it since (Flux checks ownership the same way). */
  async function deleteIfOwned(id: string, owner: string | undefined): Promise<boolean> {
    const current = await declarations.ownedBy(id);
    if (current === undefined) return false;
    if (owner !== undefined && current !== '' && current !== owner) return false;
    return declarations.delete(id);
  }

  /** The kustomize build, cached by source digest + build fields + variables. */
  async function buildCached(input: BuildKustomizationInput, vars: Record<string, string>): Promise<BuildKustomizationResult> {
    const key = digestOf(JSON.stringify({ source: input.sourceDigest, build: buildFields(input.spec), vars: digestOf(JSON.stringify(vars)) }));
    const cacheFile = join(ctx.dataDir, 'builds', `${key.slice('sha256:'.length)}.json`);
    const cached = await readCache(cacheFile);
    if (cached && await ctx.artifacts.has(cached.artifactDigest)) return { ...cached, cached: true };

    const load = async (): Promise<Buffer> => {
      const source = await ctx.artifacts.get(input.sourceDigest);
      if (!source) throw ApplicationFailure.create({ type: 'ArtifactNotFound', message: `source artifact ${input.sourceDigest} of revision ${input.revision} is missing from the artifact store` });
      return source;
    };
    try {
      // One extraction of the source serves every Kustomization built from it (activities/source-trees.ts).
      const built = await sourceTrees.use(input.sourceDigest, load, limits, (root) => builds.run(() => {
        heartbeat();
        return buildKustomization(root, input.spec, vars, { limits, kustomizeBin: ctx.engines.kustomizeBin, sourceChecked: true, workDir: sourceTrees.workDir });
      }));
      const artifactDigest = await ctx.artifacts.put(built.yaml);
      await mkdir(join(ctx.dataDir, 'builds'), { recursive: true });
      await writeFile(cacheFile, JSON.stringify({ artifactDigest, objectCount: built.objectCount }));
      return { artifactDigest, objectCount: built.objectCount, cached: false };
    } catch (err) {
      if (err instanceof BuildError || err instanceof RenderLimitError) throw failed(input.id, ApplicationFailure.create({ type: 'BuildFailed', nonRetryable: true, message: err.message }), { revision: input.revision });
      throw err;
    }
  }

  /**
   * Splits a build into what the agents apply and what the hub adopts. A build without Flux
   * objects (or Flux's own controllers) goes to the clusters whole, unchanged. An invalid Flux
   * object or a declaration cycle fails the build: nothing of it is applied.
   */
  async function splitForClusters(
    id: string, revision: string, adoption: AdoptionContext, built: BuildKustomizationResult,
  ): Promise<BuildKustomizationResult> {
    const text = await ctx.artifacts.get(built.artifactDigest);
    if (!text) throw ApplicationFailure.create({ type: 'ArtifactNotFound', message: `build artifact ${built.artifactDigest} is missing from the artifact store` });
    const split = splitBuild(text.toString('utf8'), `build of ${id}`, adoption);
    if (split.errors.length > 0) {
      throw failed(id, ApplicationFailure.create({ type: 'BuildFailed', nonRetryable: true, message: split.errors.map(formatDeclarationError).join('; ') }), { revision });
    }
    const fluxObjects = split.declarations.filter((d) => !isDataDeclaration(d)).length;
    if (fluxObjects === 0 && split.skipped.length === 0) return built;
    // Checked here too, so a conflicting build touches no cluster (applyHubDeclarations checks again).
    const conflicts = fluxObjects === 0 ? [] : await adoptionConflicts(split.declarations.map((d) => declarationId(d)), id);
    if (conflicts.length > 0) throw failed(id, ApplicationFailure.create({ type: 'BuildFailed', nonRetryable: true, message: conflicts.join('; ') }), { revision });
    const artifactDigest = await ctx.artifacts.put(objectsYaml(split.objects));
    return {
      artifactDigest, objectCount: split.objects.length, cached: built.cached,
      ...(fluxObjects > 0 ? { declarations: { artifactDigest: built.artifactDigest, count: split.declarations.length } } : {}),
      skipped: split.skipped.length,
      ...(split.notices.length > 0 ? { notices: split.notices } : {}),
    };
  }
}

/** The Kustomization fields that change a build (interval, placement and the like do not). */
function buildFields(spec: KustomizationSpec): unknown {
  return {
    path: spec.path, targetNamespace: spec.targetNamespace, namePrefix: spec.namePrefix, nameSuffix: spec.nameSuffix,
    patches: spec.patches, images: spec.images, commonMetadata: spec.commonMetadata, postBuild: spec.postBuild,
  };
}

/** postBuild.substituteFrom values (in order), then postBuild.substitute over them, as Flux merges them. */
async function substitutionVariables(spec: KustomizationSpec, namespace: string, data: DataObjectStore): Promise<Record<string, string>> {
  const vars: Record<string, string> = {};
  for (const from of spec.postBuild?.substituteFrom ?? []) {
    const values = await data.get(from.kind, namespace, from.name);
    if (!values) {
      if (from.optional) continue;
      throw ApplicationFailure.create({ type: 'BuildFailed', nonRetryable: true, message: `postBuild.substituteFrom: ${from.kind} '${namespace}/${from.name}' not found (apply it to the hub, or mark it optional: true)` });
    }
    Object.assign(vars, values);
  }
  return Object.assign(vars, spec.postBuild?.substitute ?? {});
}

async function readCache(file: string): Promise<{ artifactDigest: string; objectCount: number } | undefined> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as { artifactDigest?: unknown; objectCount?: unknown };
    if (typeof parsed.artifactDigest === 'string' && typeof parsed.objectCount === 'number') return { artifactDigest: parsed.artifactDigest, objectCount: parsed.objectCount };
    return undefined;
  } catch {
    return undefined;
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
