// The hub's activities for image automation: scan an ImageRepository's tags through the
// registry API (the list goes to the artifact store, not into a workflow history), pick an
// ImagePolicy's image from a stored list, find the ImagePolicies an ImageUpdateAutomation
// applies, and commit + push the updated setter markers to its GitRepository.
// Failures carry a reason as their type (the actor's condition reason); those a retry cannot
// fix are non-retryable. Credentials come from Secrets declared to the hub and never appear
// in a result or an error.
import { gitRepositoryId } from '../../api/git-repository.js';
import type { ImageActivities, ImagePolicyImage } from '../../api/image.js';
import { objectField, type SourcePolicy } from '../../core/source-policy.js';
import { clusterNamespace } from '../../core/declarations/scope.js';
import { join } from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { GitRepositoryDeclaration } from '../../core/declarations/types.js';
import { compileGoRegex, goMatch, type GoRegexp } from '../../core/go-regex.js';
import { CommitTemplateError, DEFAULT_COMMIT_TEMPLATE } from '../../core/image/message-template.js';
import { selectTag } from '../../core/image/policy.js';
import { infoEvent, failureEvent } from '../../core/notifications/hub-events.js';
import { matchesSelector } from '../../core/placement.js';
import type { ArtifactStore } from '../artifact-store.js';
import type { DataObjectStore } from '../data-objects.js';
import { DeclarationClient, NotFoundError } from '../declarations.js';
import type { EventSink } from '../events.js';
import { GitSourceError } from '../../activities/git-source.js';
import { secretGitCredentials } from './hub-activities.js';
import { updateImagesInGit } from '../../activities/image-update.js';
import { listTags, parseImageName, registryCredentialsFromSecret, RegistryError, type RegistryCredentials } from '../../activities/oci-registry.js';

export interface ImageActivityContext {
  readonly client: Client;
  readonly taskQueue: string;
  readonly artifacts: ArtifactStore;
  readonly data: DataObjectStore;
  /** The image update checkouts live under `<dataDir>/image-updates`. */
  readonly dataDir: string;
  readonly events?: EventSink;
  /** The hub's source policy (settings sources.*, docs/security.md). */
  readonly sourcePolicy: SourcePolicy;
}

/** What a scan stores: the image as written in the ImageRepository and every tag kept. */
interface StoredTags {
  readonly image: string;
  readonly tags: readonly string[];
}

/** Flux's lastScanResult.latestTags: the first 10 tags in reverse alphabetical order. */
const LATEST_TAGS = 10;
const FINAL_REGISTRY_ERRORS = new Set(['InvalidImage', 'AuthenticationFailed', 'RepositoryNotFound', 'SourcePolicyRefused']);

export function createImageActivities(ctx: ImageActivityContext): ImageActivities {
  const declarations = new DeclarationClient(ctx.client, ctx.taskQueue, ctx.data);
  const heartbeat = (): void => {
    try { Context.current().heartbeat(); } catch { /* outside an activity (tests) */ }
  };
  const failed = (id: string, failure: ApplicationFailure): ApplicationFailure => {
    const event = failureEvent(id, failure.type ?? 'ReconciliationFailed', failure.message, {}, Date.now());
    if (event) ctx.events?.record(event);
    return failure;
  };

  return {
    async scanImageRepository(input) {
      const { spec } = input;
      let credentials: RegistryCredentials | undefined;
      try {
        if (spec.secretRef !== undefined) {
          const secret = await ctx.data.get('Secret', input.namespace, spec.secretRef);
          if (!secret) throw new Error(`secret '${input.namespace}/${spec.secretRef}' not found (apply it to the hub: flotilla apply -f secret.yaml)`);
          credentials = registryCredentialsFromSecret(`${input.namespace}/${spec.secretRef}`, secret, parseImageName(spec.image).registry);
        }
      } catch (err) {
        const type = err instanceof RegistryError ? err.reason : 'AuthenticationFailed';
        throw failed(input.id, ApplicationFailure.create({ type, nonRetryable: true, message: errorMessage(err) }));
      }
      let tags: string[];
      try {
        const listed = await listTags(
          {
            image: spec.image, insecure: spec.insecure, timeoutSeconds: spec.timeoutSeconds, ...(credentials ? { credentials } : {}),
            policy: ctx.sourcePolicy, what: objectField(input.id, 'spec.image'),
          },
          { heartbeat },
        );
        tags = listed.tags;
      } catch (err) {
        if (err instanceof RegistryError) {
          throw failed(input.id, ApplicationFailure.create({ type: err.reason, nonRetryable: FINAL_REGISTRY_ERRORS.has(err.reason), message: err.message }));
        }
        throw err;
      }
      // Flux's filterOutTags: a tag matching (MatchString, unanchored) any expression is dropped.
      // parse.ts refused invalid expressions; Go's regexp (RE2) keeps this linear in the tags.
      const exclusions = spec.exclusionList.map((p) => compileGoRegex(p)).filter((re): re is GoRegexp => !(re instanceof Error));
      const kept = tags.filter((t) => !exclusions.some((re) => goMatch(re, t)));
      const stored: StoredTags = { image: spec.image, tags: kept };
      const tagsDigest = await ctx.artifacts.put(Buffer.from(JSON.stringify(stored)));
      return {
        image: spec.image, tagCount: kept.length, tagsDigest, excluded: tags.length - kept.length,
        latestTags: [...kept].sort((a, b) => (a < b ? 1 : a > b ? -1 : 0)).slice(0, LATEST_TAGS),
      };
    },

    async selectImage(input) {
      const stored = await readStoredTags(ctx.artifacts, input.tagsDigest);
      let selection;
      try {
        selection = selectTag(stored.tags, { ...input.policy, ...(input.filterTags ? { filterTags: input.filterTags } : {}) });
      } catch (err) {
        throw failed(input.id, ApplicationFailure.create({ type: 'InvalidPolicy', nonRetryable: true, message: errorMessage(err) }));
      }
      if ('none' in selection) return { none: selection.none, candidates: stored.tags.length };
      return { image: `${stored.image}:${selection.tag}`, tag: selection.tag, candidates: stored.tags.length };
    },

    async findImagePolicies(input) {
      const ids = (await declarations.list('ImagePolicy')).filter((id) => id.startsWith(`imagepolicy/${input.namespace}/`));
      const found: ImagePolicyImage[] = [];
      for (const id of ids) {
        try {
          const s = await declarations.status(id);
          if (s.kind !== 'ImagePolicy') continue;
          if (input.selector !== undefined && !matchesSelector(s.declaration.labels, input.selector)) continue;
          const { namespace, name } = s.declaration;
          // Setter markers name policies as the YAML does ("flux-system:app"), without the hub's scope.
          found.push({ policy: id, namespace: clusterNamespace(namespace), name, ...(s.status.latestImage !== undefined ? { image: s.status.latestImage } : {}) });
        } catch (err) {
          if (!(err instanceof NotFoundError)) throw err; // deleted meanwhile
        }
      }
      return found;
    },

    async pushImageUpdates(input) {
      const { spec } = input;
      const sourceId = gitRepositoryId(spec.sourceRef.namespace, spec.sourceRef.name);
      let source: GitRepositoryDeclaration;
      try {
        const s = await declarations.status(sourceId);
        if (s.declaration.kind !== 'GitRepository') throw new NotFoundError(`${sourceId} is not a GitRepository`);
        source = s.declaration;
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
        throw failed(input.id, ApplicationFailure.create({
          type: 'SourceNotFound', nonRetryable: true,
          message: `spec.sourceRef: GitRepository ${spec.sourceRef.namespace}/${spec.sourceRef.name} not found (apply it to the hub)`,
        }));
      }
      const { ref } = source.spec;
      // The branch the GitRepository follows; none when it follows a tag, a range, a ref name or a bare commit.
      const sourceBranch = ref.tag === undefined && ref.semver === undefined && ref.name === undefined ? ref.branch : undefined;
      const checkoutBranch = spec.checkoutBranch ?? sourceBranch;
      if (checkoutBranch === undefined) {
        throw failed(input.id, ApplicationFailure.create({
          type: 'InvalidRef', nonRetryable: true,
          message: `GitRepository ${sourceId.slice('gitrepository/'.length)} follows a tag, semver range, ref name or commit: set spec.git.checkout.ref.branch to the branch to update`,
        }));
      }
      const pushBranch = spec.pushBranch ?? checkoutBranch;
      let credentials;
      try {
        credentials = await secretGitCredentials(ctx.data, source.namespace, source.spec.secretRef);
      } catch (err) {
        if (err instanceof ApplicationFailure) throw failed(input.id, err);
        throw err;
      }
      // Heartbeats say the worker is alive (a single git step may take up to the GitRepository's
      // timeout): a killed hub's push is retried within the workflow's heartbeat timeout.
      const keepAlive = setInterval(heartbeat, 5_000);
      try {
        const result = await updateImagesInGit({
          id: input.id, url: source.spec.url, timeoutSeconds: source.spec.timeoutSeconds, checkoutBranch, pushBranch,
          path: spec.updatePath, author: spec.author, messageTemplate: spec.messageTemplate ?? DEFAULT_COMMIT_TEMPLATE,
          messageValues: spec.messageTemplateValues, automation: { namespace: clusterNamespace(input.namespace), name: input.name }, images: input.images,
          ...(credentials ? { credentials } : {}),
        }, { workDir: join(ctx.dataDir, 'image-updates'), heartbeat, policy: ctx.sourcePolicy });
        if (result.outcome === 'pushed' && result.commit !== undefined) {
          const event = infoEvent(input.id, 'Succeeded', `pushed commit '${result.commit.slice(0, 7)}' to branch '${pushBranch}'\n${result.message ?? ''}`.trim(), { revision: `${pushBranch}@sha1:${result.commit}` }, Date.now());
          if (event) ctx.events?.record(event);
        }
        return {
          outcome: result.outcome, branch: result.branch, baseCommit: result.baseCommit, attempts: result.attempts, followsSource: pushBranch === sourceBranch,
          ...(result.commit !== undefined ? { commit: result.commit } : {}),
          ...(result.message !== undefined ? { message: result.message } : {}),
          changes: result.changes.map((c) => ({ file: c.file, setter: c.setter, oldValue: c.oldValue, newValue: c.newValue })),
        };
      } catch (err) {
        if (err instanceof GitSourceError) {
          throw failed(input.id, ApplicationFailure.create({ type: err.reason, nonRetryable: err.reason !== 'GitOperationFailed', message: err.message }));
        }
        if (err instanceof CommitTemplateError) {
          throw failed(input.id, ApplicationFailure.create({ type: 'CommitTemplateError', nonRetryable: true, message: `spec.git.commit.messageTemplate: ${err.message}` }));
        }
        throw err;
      } finally {
        clearInterval(keepAlive);
      }
    },
  };
}

async function readStoredTags(artifacts: ArtifactStore, digest: string): Promise<StoredTags> {
  const data = await artifacts.get(digest);
  if (data === undefined) {
    throw ApplicationFailure.create({ type: 'ArtifactNotFound', nonRetryable: true, message: `the scanned tag list ${digest} is no longer stored; the next scan stores it again` });
  }
  return JSON.parse(data.toString('utf8')) as StoredTags;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
