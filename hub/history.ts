// `flotilla history`: a declaration's timeline, decoded from the Temporal histories of its
// actor workflow (every run, across continue-as-new) and of the rollouts it started. Nothing
// is journaled for this: the workflow history already records every signal the actor got,
// every activity it ran (with inputs, results, attempts, failures) and every child it
// started, so the timeline is a reading of the same events `temporal workflow show` prints.
import type { Client, QueryDefinition } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import proto from '@temporalio/proto';
import { gitRepositoryStatusQuery } from '../api/git-repository.js';
import { imagePolicyStatusQuery, imageUpdateStatusQuery } from '../api/image.js';
import { formatDuration } from '../core/declarations/duration.js';
import { OWNED_BY_ANNOTATION } from '../core/declarations/scope.js';
import { describeDigest, revisionMatches, shortRevision } from '../core/revision.js';

const { temporal } = proto;
type IHistory = proto.temporal.api.history.v1.IHistory;
type IHistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;
type IPayloads = proto.temporal.api.common.v1.IPayloads;
const EventType = temporal.api.enums.v1.EventType;

/** One line of a timeline. `type` follows Flux's event reasons where one exists. */
export interface HistoryEntry {
  /** ms since epoch (the Temporal event's time) */
  readonly at: number;
  readonly type: string;
  readonly message: string;
  readonly cluster?: string;
  /** The source revision (or chart version) the entry is about, when known. */
  readonly revision?: string;
  readonly durationMs?: number;
  /** Who sent it (an operator's reason/name, or the Temporal client identity). */
  readonly by?: string;
  readonly workflowId: string;
  readonly runId: string;
  readonly eventId: number;
}

export type RunStatus = 'Running' | 'Completed' | 'ContinuedAsNew' | 'Failed' | 'Terminated' | 'Canceled' | 'TimedOut';

export interface RunInfo {
  readonly workflowId: string;
  readonly runId: string;
  readonly workflowType: string;
  readonly startedAt: number;
  readonly closedAt?: number;
  readonly status: RunStatus;
  /** The run this one continued (continue-as-new), if any. */
  readonly continuedFrom?: string;
  readonly events: number;
}

export interface Timeline {
  readonly id: string;
  /** The actor's runs, oldest first, then the rollouts' runs, oldest first. */
  readonly runs: readonly RunInfo[];
  /** Oldest first. */
  readonly entries: readonly HistoryEntry[];
}

export interface ChildRun {
  readonly workflowId: string;
  readonly runId: string;
}

/**
 * What decoding carries from one run to the next: which artifact digest is which revision,
 * and what each cluster holds, so an agent's report for generation 4 can say which revision
 * it applied, even when the delivery happened in an earlier run.
 */
export class DecodeContext {
  readonly revisionOfDigest = new Map<string, string>();
  /** `${cluster} ${deployment} ${generation}` → when delivered and what */
  readonly delivered = new Map<string, { at: number; revision?: string }>();
  readonly chartOfDigest = new Map<string, string>();
  /** Last source revision announced, to show only changes. */
  lastAnnounced = '';
  /** Rollout step seq → action, per rollout run. */
  readonly steps = new Map<string, 'advance' | 'revert'>();
  /** The Kustomization whose build declared the declaration last (its owned-by annotation), '' when applied directly. */
  owner = '';
}

export interface DecodedRun {
  readonly run: RunInfo;
  readonly entries: HistoryEntry[];
}

type Json = Record<string, unknown>;

function payloads(p: IPayloads | null | undefined): unknown[] {
  return (p?.payloads ?? []).map((x) => {
    try {
      return defaultPayloadConverter.fromPayload(x);
    } catch {
      return undefined;
    }
  });
}

function first(p: IPayloads | null | undefined): Json {
  const v = payloads(p)[0];
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Json : {};
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

function obj(v: unknown): Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Json : {};
}

function timeOf(e: IHistoryEvent): number {
  const t = e.eventTime;
  if (!t) return 0;
  return Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
}

const CLOSE_STATUS: ReadonlyMap<number, RunStatus> = new Map([
  [EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, 'Completed'],
  [EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW, 'ContinuedAsNew'],
  [EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED, 'Failed'],
  [EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED, 'Terminated'],
  [EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED, 'Canceled'],
  [EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT, 'TimedOut'],
]);

function countsText(counts: Json): string {
  return `${num(counts.created)} created, ${num(counts.configured)} configured, ${num(counts.unchanged)} unchanged, ${num(counts.pruned)} pruned`;
}

/** The part of a deployment name after its owner id (`/namespace`, `/hook-pre-install`…), for Helm's auxiliary deployments. */
function deploymentPart(owner: string, name: string): string {
  return name.startsWith(`${owner}/`) ? name.slice(owner.length + 1) : '';
}

/** Decodes one run of an actor or rollout workflow into timeline entries. */
export function decodeRun(workflowId: string, runId: string, history: IHistory, ctx: DecodeContext = new DecodeContext()): DecodedRun {
  const events = history.events ?? [];
  const entries: HistoryEntry[] = [];
  const scheduled = new Map<number, Scheduled>();
  const attempts = new Map<number, number>();
  const add: Add = (e, entry) => {
    entries.push({ at: timeOf(e), workflowId, runId, eventId: Number(e.eventId ?? 0), ...entry });
  };
  let workflowType = '';
  let startedAt = 0;
  let closedAt: number | undefined;
  let status: RunStatus = 'Running';
  let continuedFrom: string | undefined;

  for (const e of events) {
    const t = e.eventType ?? 0;
    const closing = CLOSE_STATUS.get(t);
    if (closing) { status = closing; closedAt = timeOf(e); }
    switch (t) {
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED: {
        const a = e.workflowExecutionStartedEventAttributes ?? {};
        workflowType = a.workflowType?.name ?? '';
        startedAt = timeOf(e);
        continuedFrom = a.continuedExecutionRunId || undefined;
        if (workflowType === 'rolloutWorkflow') break; // its RolloutStarted event says more
        add(e, continuedFrom
          ? { type: 'ContinuedAsNew', message: `actor continued as new (previous run ${continuedFrom})` }
          : { type: 'Created', message: 'actor started' });
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: {
        const a = e.workflowExecutionSignaledEventAttributes ?? {};
        decodeSignal(e, a.signalName ?? '', payloads(a.input), a.identity ?? '', ctx, add, workflowId, runId);
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: {
        const a = e.workflowExecutionUpdateAcceptedEventAttributes ?? {};
        const name = a.acceptedRequest?.input?.name ?? '';
        const args = payloads(a.acceptedRequest?.input?.args);
        const identity = a.acceptedRequest?.meta?.identity ?? '';
        if (name === 'clearDeployment') add(e, { type: 'DesiredStateChanged', message: `${str(args[0])} removed` });
        else decodeUpdate(e, name, obj(args[0]), identity, add);
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: {
        const a = e.activityTaskScheduledEventAttributes ?? {};
        scheduled.set(Number(e.eventId ?? 0), { type: a.activityType?.name ?? '', input: payloads(a.input)[0], at: timeOf(e) });
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED: {
        const a = e.activityTaskStartedEventAttributes ?? {};
        attempts.set(Number(a.scheduledEventId ?? 0), a.attempt ?? 1);
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: {
        const a = e.activityTaskCompletedEventAttributes ?? {};
        const id = Number(a.scheduledEventId ?? 0);
        const s = scheduled.get(id);
        if (s) decodeActivity(e, s, { ok: true, result: payloads(a.result)[0] }, attempts.get(id) ?? 1, ctx, add, workflowId);
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
      case EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: {
        const a = e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes ?? {};
        const id = Number(a.scheduledEventId ?? 0);
        const s = scheduled.get(id);
        const message = a.failure?.message ?? (t === EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT ? 'timed out' : 'failed');
        if (s) decodeActivity(e, s, { ok: false, message }, attempts.get(id) ?? 1, ctx, add, workflowId);
        break;
      }
      case EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED: {
        const a = e.signalExternalWorkflowExecutionInitiatedEventAttributes ?? {};
        if (a.signalName === 'rolloutStep') {
          const step = first(a.input);
          const action = step.action === 'revert' ? 'revert' : 'advance';
          ctx.steps.set(`${runId} ${num(step.seq)}`, action);
          const clusters = Array.isArray(step.clusters) ? step.clusters.map(str) : [];
          add(e, action === 'advance'
            ? { type: 'BatchStarted', message: `advancing ${clusters.join(', ')}` }
            : { type: 'RollbackStep', message: `reverting ${clusters.join(', ')}` });
        }
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: {
        if (workflowType === 'rolloutWorkflow') break; // RolloutFinished says it
        add(e, { type: 'Finished', message: 'actor finished (declaration deleted)' });
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
        add(e, { type: 'WorkflowFailed', message: e.workflowExecutionFailedEventAttributes?.failure?.message || 'workflow failed' });
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
        add(e, { type: 'WorkflowTerminated', message: e.workflowExecutionTerminatedEventAttributes?.reason || 'workflow terminated' });
        break;
      default:
        break;
    }
  }
  const run: RunInfo = {
    workflowId, runId, workflowType, startedAt, status, events: events.length,
    ...(closedAt === undefined ? {} : { closedAt }), ...(continuedFrom ? { continuedFrom } : {}),
  };
  return { run, entries };
}

/** `at` defaults to the event's time. */
type Add = (e: IHistoryEvent, entry: Omit<HistoryEntry, 'at' | 'workflowId' | 'runId' | 'eventId'> & { readonly at?: number }) => void;
interface Scheduled {
  readonly type: string;
  readonly input: unknown;
  readonly at: number;
}

function decodeSignal(e: IHistoryEvent, name: string, args: unknown[], identity: string, ctx: DecodeContext, add: Add, owner: string, runId: string): void {
  const arg = obj(args[0]);
  const by = identity ? { by: identity } : {};
  switch (name) {
    case 'spec': {
      // An adopted declaration is sent by the hub's worker (its identity is a process id on
      // the hub): the Kustomization whose build declared it (the last of its owned-by
      // annotation) is who changed it.
      const chain = str(obj(arg.annotations)[OWNED_BY_ANNOTATION]);
      ctx.owner = chain.split(',').at(-1) ?? '';
      if (ctx.owner) add(e, { type: 'SpecChanged', message: `declaration adopted from its build (${str(arg.apiVersion)})`, by: ctx.owner });
      else add(e, { type: 'SpecChanged', message: `declaration applied (${str(arg.apiVersion)})`, ...by });
      break;
    }
    case 'reconcile':
      add(e, { type: 'ReconcileRequested', message: `reconcile requested at ${str(args[0])}`, ...by });
      break;
    case 'suspend':
      add(e, args[0] === true
        ? { type: 'Suspended', message: 'suspended (flotilla suspend)', ...by }
        : { type: 'Resumed', message: 'resumed (flotilla resume)', ...by });
      break;
    case 'delete':
      // The owner prunes what left its build, but an operator may delete it too: both are possible.
      add(e, { type: 'DeleteRequested', message: `declaration deleted${ctx.owner ? ` (adopted by ${ctx.owner}: gone from its build, or deleted by hand)` : ''}`, ...by });
      break;
    case 'sourceArtifact': {
      const revision = str(arg.revision);
      if (revision === ctx.lastAnnounced) break; // re-announcements on subscribe say nothing new
      ctx.lastAnnounced = revision;
      add(e, { type: 'NewArtifact', revision, message: `${str(arg.source)} at ${shortRevision(revision)}` });
      break;
    }
    case 'dependencyStatus': {
      add(e, { type: arg.ready === true ? 'DependencyReady' : 'DependencyNotReady', message: `${str(arg.id)} ${arg.ready === true ? 'is ready' : 'is not ready'}${arg.deleted === true ? ' (deleted)' : ''}` });
      break;
    }
    case 'clusterReport': {
      const cluster = str(arg.cluster);
      const report = obj(arg.report);
      const phase = str(report.phase);
      if (phase === 'APPLYING') break;
      const deployment = str(report.name);
      const generation = num(report.generation);
      const delivered = ctx.delivered.get(`${cluster} ${deployment} ${generation}`);
      const part = deploymentPart(owner, deployment);
      const what = part ? ` (${part})` : '';
      const revision = delivered?.revision ? { revision: delivered.revision } : {};
      const duration = delivered && num(report.finishedAt) > 0 ? { durationMs: num(report.finishedAt) - delivered.at } : {};
      const counts = obj(report.counts);
      if (phase === 'READY') {
        add(e, { type: 'Applied', cluster, ...revision, ...duration, message: `generation ${generation}${what}: ${countsText(counts)}; healthy` });
      } else if (phase === 'UNHEALTHY') {
        add(e, { type: 'HealthCheckFailed', cluster, ...revision, ...duration, message: `generation ${generation}${what}: ${str(report.message)}` });
      } else if (phase === 'DELETED') {
        add(e, { type: 'Pruned', cluster, message: `removed from the cluster${what}: ${str(report.message)}` });
      } else {
        add(e, { type: phase === 'INVALID' ? 'ValidationFailed' : 'ApplyFailed', cluster, ...revision, message: `generation ${generation}${what}: ${str(report.message)}` });
      }
      break;
    }
    case 'rolloutStepResult': {
      const seq = num(arg.seq);
      const action = ctx.steps.get(`${runId} ${seq}`) ?? 'advance';
      const cluster = str(arg.cluster);
      const revision = str(arg.revision);
      const ok = arg.ok === true;
      if (action === 'revert') {
        add(e, { type: ok ? 'ClusterRolledBack' : 'ClusterRollbackFailed', cluster, ...(revision ? { revision } : {}), message: ok ? `back to ${shortRevision(revision) || 'nothing (removed)'}` : str(arg.message) });
      } else {
        add(e, { type: ok ? 'ClusterUpdated' : 'ClusterUpdateFailed', cluster, ...(revision ? { revision } : {}), message: str(arg.message) });
      }
      break;
    }
    case 'rolloutHealth': {
      if (arg.ok !== true) add(e, { type: 'HealthCheckFailed', cluster: str(arg.cluster), message: `during bake: ${str(arg.message)}` });
      break;
    }
    case 'rolloutSupersede':
      add(e, { type: 'SupersedeRequested', revision: str(arg.revision), message: `a newer revision ${shortRevision(str(arg.revision))} waits; finishing this wave` });
      break;
    case 'rolloutStop':
      add(e, { type: 'RolloutStopped', message: str(arg.reason) });
      break;
    case 'rolloutFinished':
      break; // the rollout's own RolloutFinished entry says it
    // A cluster actor's history (`flotilla history cluster/<name>`).
    case 'agentConnected':
      add(e, { type: 'AgentConnected', message: `agent ${str(arg.agentVersion)} connected (Kubernetes ${str(arg.kubernetesVersion)}, ${num(arg.apiResources)} API resources)` });
      break;
    case 'agentDisconnected':
      add(e, { type: arg.unreachable === true ? 'AgentUnreachable' : 'AgentDisconnected', message: arg.unreachable === true ? 'agent missed its heartbeats' : 'agent closed its stream' });
      break;
    case 'deploymentReport': {
      const phase = str(arg.phase);
      if (phase === 'APPLYING') break;
      add(e, { type: phase === 'READY' ? 'Applied' : phase === 'DELETED' ? 'Pruned' : phase === 'UNHEALTHY' ? 'HealthCheckFailed' : 'ApplyFailed',
        message: `${str(arg.name)} generation ${num(arg.generation)}: ${str(arg.message)}` });
      break;
    }
    default:
      break;
  }
}

const UPDATE_TYPES: Readonly<Record<string, string>> = {
  rolloutApprove: 'ApproveRequested', rolloutPause: 'PauseRequested', rolloutResume: 'ResumeRequested',
  rolloutAbort: 'AbortRequested', rolloutRetry: 'RetryRequested',
};

function decodeUpdate(e: IHistoryEvent, name: string, arg: Json, identity: string, add: Add): void {
  const by = str(arg.by) || identity;
  const reason = str(arg.reason);
  if (name === 'helmRollback') {
    const to = num(arg.toRevision);
    add(e, { type: 'RollbackRequested', cluster: str(arg.cluster), message: `helm rollback requested${to ? ` to revision ${to}` : ''}`, ...(by ? { by } : {}) });
    return;
  }
  if (name === 'setDeployment' || name === 'upsertDeployment') {
    const owner = str(arg.owner) || str(arg.name);
    add(e, { type: 'DesiredStateChanged', message: `${str(arg.name)}${owner !== str(arg.name) ? ` (from ${owner})` : ''} → ${describeDigest(str(arg.artifactDigest))}` });
    return;
  }
  const type = UPDATE_TYPES[name];
  // The rollout records Approved/Paused/… itself, with the same `by`; the request is kept for who asked.
  if (type) add(e, { type, message: `${name.replace(/^rollout/, '').toLowerCase()} requested${reason ? `: ${reason}` : ''}`, ...(by ? { by } : {}) });
}

function decodeActivity(
  e: IHistoryEvent, s: Scheduled,
  outcome: { ok: true; result: unknown } | { ok: false; message: string },
  attempt: number, ctx: DecodeContext, add: Add, owner: string,
): void {
  const input = obj(s.input);
  const durationMs = Math.max(0, timeOf(e) - s.at);
  const retries = attempt > 1 ? ` after ${attempt} attempts` : '';
  const result = outcome.ok ? obj(outcome.result) : {};
  switch (s.type) {
    case 'fetchGitSource':
    case 'fetchHelmRepository': {
      if (!outcome.ok) { add(e, { type: 'ArtifactFailed', durationMs, message: `fetch failed${retries}: ${outcome.message}` }); break; }
      if (result.changed === false) break;
      add(e, { type: 'NewArtifact', revision: str(result.revision), durationMs, message: `fetched ${shortRevision(str(result.revision))}: ${num(result.fileCount)} files, ${num(result.bytes)} bytes${retries}` });
      break;
    }
    case 'buildKustomization': {
      const revision = str(input.revision);
      if (!outcome.ok) { add(e, { type: 'BuildFailed', revision, durationMs, message: `${outcome.message}${retries}` }); break; }
      const digest = str(result.artifactDigest);
      const again = ctx.revisionOfDigest.get(digest) === revision;
      ctx.revisionOfDigest.set(digest, revision);
      if (again) break; // an interval reconcile of the same build: nothing new
      const declarations = obj(result.declarations);
      const adopted = declarations.count === undefined ? '' : `, ${num(declarations.count)} Flux objects for the hub`;
      const skipped = result.skipped === undefined ? '' : `, ${num(result.skipped)} skipped`;
      add(e, { type: 'Built', revision, durationMs, message: `${num(result.objectCount)} objects${adopted}${skipped}${result.cached === true ? ' (cached)' : ''}${retries}` });
      break;
    }
    case 'applyHubDeclarations': {
      if (!outcome.ok) { add(e, { type: 'AdoptFailed', durationMs, message: `${outcome.message}${retries}` }); break; }
      const ids = Array.isArray(result.declarations) ? result.declarations.length : 0;
      add(e, {
        type: 'Adopted', durationMs,
        message: `${ids} hub declarations: ${num(result.created)} created, ${num(result.configured)} configured, ${num(result.unchanged)} unchanged, ${num(result.deleted)} deleted${retries}`,
      });
      break;
    }
    case 'prepareChart': {
      if (!outcome.ok) { add(e, { type: 'ChartPullFailed', durationMs, message: `${str(input.chart)}@${str(input.version)}: ${outcome.message}${retries}` }); break; }
      const version = str(result.chartVersion);
      const digest = str(result.chartDigest);
      if (ctx.chartOfDigest.get(digest) === version) break;
      ctx.chartOfDigest.set(digest, version);
      add(e, { type: 'ChartPulled', revision: version, durationMs, message: `chart ${str(result.chartName)} ${version} for "${str(input.version)}"${retries}` });
      break;
    }
    case 'renderRelease': {
      const cluster = str(input.cluster);
      const version = ctx.chartOfDigest.get(str(input.chartDigest)) ?? '';
      if (!outcome.ok) { add(e, { type: 'RenderFailed', cluster, revision: version, durationMs, message: `${outcome.message}${retries}` }); break; }
      const digest = str(result.artifactDigest);
      if (version) ctx.revisionOfDigest.set(digest, version);
      break; // the delivery that follows says it, when something changed
    }
    case 'setClusterDeployment': {
      const cluster = str(input.cluster);
      const deployment = str(input.name);
      const revision = ctx.revisionOfDigest.get(str(input.artifactDigest));
      if (!outcome.ok) { add(e, { type: 'DeliveryFailed', cluster, ...(revision ? { revision } : {}), message: `${outcome.message}${retries}` }); break; }
      const generation = num(result.generation);
      ctx.delivered.set(`${cluster} ${deployment} ${generation}`, { at: timeOf(e), ...(revision ? { revision } : {}) });
      if (result.changed !== true) break;
      const part = deploymentPart(owner, deployment);
      add(e, { type: 'Delivered', cluster, ...(revision ? { revision } : {}), message: `generation ${generation}${part ? ` (${part})` : ''} sent to the agent${retries}` });
      break;
    }
    case 'clearClusterDeployment': {
      const cluster = str(input.cluster);
      if (!outcome.ok) { add(e, { type: 'DeliveryFailed', cluster, message: `removal failed: ${outcome.message}${retries}` }); break; }
      const part = deploymentPart(owner, str(input.name));
      add(e, { type: 'Removed', cluster, message: `removed${part ? ` (${part})` : ''} from the cluster's desired state` });
      break;
    }
    case 'recordRolloutEvents': {
      const list: unknown[] = Array.isArray(s.input) ? s.input : [];
      for (const ev of list) {
        const r = obj(ev);
        add(e, {
          ...(num(r.at) > 0 ? { at: num(r.at) } : {}),
          type: str(r.type), revision: str(r.revision), message: `${str(r.wave) ? `[${str(r.wave)}] ` : ''}${str(r.message)}`,
          ...(str(r.by) ? { by: str(r.by) } : {}),
        });
      }
      break;
    }
    case 'scanImageRepository': {
      if (!outcome.ok) { add(e, { type: 'ScanFailed', durationMs, message: `scan failed${retries}: ${outcome.message}` }); break; }
      const digest = str(result.tagsDigest);
      if (ctx.lastAnnounced === digest) break; // the same tags as the last scan
      ctx.lastAnnounced = digest;
      const latest = (Array.isArray(result.latestTags) ? result.latestTags : []).slice(0, 3).map(str).join(', ');
      add(e, { type: 'ImageScanned', durationMs, message: `found ${num(result.tagCount)} tags${latest ? ` (latest: ${latest})` : ''}${retries}` });
      break;
    }
    case 'selectImage': {
      if (!outcome.ok) { add(e, { type: 'PolicyFailed', message: outcome.message }); break; }
      const picked = result.image === undefined ? `none: ${str(result.none)}` : str(result.image);
      if (ctx.lastAnnounced === picked) break;
      ctx.lastAnnounced = picked;
      add(e, result.image === undefined
        ? { type: 'NoMatchingTag', message: `no tag of ${num(result.candidates)} matches the policy: ${str(result.none)}` }
        : { type: 'ImageSelected', message: `selected ${str(result.image)} out of ${num(result.candidates)} tags` });
      break;
    }
    case 'findImagePolicies': {
      if (!outcome.ok) break; // retried; the push that follows says what happened
      const list: unknown[] = Array.isArray(outcome.result) ? outcome.result : [];
      const images = list.map(obj).filter((p) => p.image !== undefined).map((p) => `${str(p.name)} → ${str(p.image)}`).sort().join(', ');
      if (ctx.lastAnnounced === images) break;
      ctx.lastAnnounced = images;
      add(e, { type: 'PoliciesObserved', message: images === '' ? 'no ImagePolicy has an image yet' : images });
      break;
    }
    case 'pushImageUpdates': {
      if (!outcome.ok) { add(e, { type: 'CommitFailed', durationMs, message: `${outcome.message}${retries}` }); break; }
      if (result.outcome !== 'pushed') break;
      const changes: unknown[] = Array.isArray(result.changes) ? result.changes : [];
      const files = [...new Set(changes.map((c) => str(obj(c).file)))];
      const what = changes.map(obj).map((c) => `${str(c.oldValue)} → ${str(c.newValue)}`);
      const races = num(result.attempts) > 1 ? ` after ${num(result.attempts) - 1} concurrent push(es)` : '';
      add(e, {
        type: 'Committed', revision: `${str(result.branch)}@sha1:${str(result.commit)}`, durationMs,
        message: `pushed to ${str(result.branch)}${races}: ${[...new Set(what)].join(', ')} in ${files.join(', ')}${retries}`,
      });
      break;
    }
    case 'runAnalysisCheck': {
      if (!outcome.ok) { add(e, { type: 'AnalysisFailed', durationMs, message: outcome.message }); break; }
      if (result.ok === false) add(e, { type: 'AnalysisFailed', durationMs, message: str(result.message) });
      break;
    }
    default:
      break;
  }
}

export interface TimelineOptions {
  /** Runs that closed before this (ms since epoch) are not fetched. */
  readonly since?: number;
  /** At most this many actor runs, newest first (default 100). */
  readonly maxRuns?: number;
  /**
   * An ImageUpdateAutomation's timeline also shows the scans, policy decisions and rollouts
   * behind its commits (default true; `flotilla events` turns it off, as it lists those actors itself).
   */
  readonly related?: boolean;
}

/** Decodes an actor's runs (oldest first) and the rollouts they started into one timeline. */
export function decodeTimeline(id: string, runs: readonly { readonly runId: string; readonly history: IHistory }[],
  rollouts: readonly { readonly workflowId: string; readonly runId: string; readonly history: IHistory }[] = []): Timeline {
  const ctx = new DecodeContext();
  const decoded = runs.map((r) => decodeRun(id, r.runId, r.history, ctx));
  const children = rollouts.map((r) => decodeRun(r.workflowId, r.runId, r.history, ctx));
  const entries = [...decoded, ...children].flatMap((d) => d.entries)
    .sort((a, b) => a.at - b.at || (a.workflowId === b.workflowId ? a.eventId - b.eventId : 0));
  return { id, runs: [...decoded, ...children].map((d) => d.run), entries };
}

/** The run a history continued (continue-as-new), read from its first event. */
function continuedFrom(history: IHistory): string | undefined {
  return history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
}

function startedAt(history: IHistory): number {
  const e = history.events?.[0];
  return e ? timeOf(e) : 0;
}

/** The child workflow runs (rollouts) a history started. */
function childRuns(history: IHistory): ChildRun[] {
  return (history.events ?? []).flatMap((e) => {
    const child = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
    return child?.workflowId && child.runId ? [{ workflowId: child.workflowId, runId: child.runId }] : [];
  });
}

/**
 * Fetches the actor `id`'s runs, walking back through continue-as-new from the latest run,
 * and every rollout run those runs started, then decodes them into one timeline.
 */
export async function fetchTimeline(client: Client, id: string, opts: TimelineOptions = {}): Promise<Timeline> {
  const own = await fetchActorTimeline(client, id, opts);
  if (!id.startsWith('imageupdateautomation/') || opts.related === false) return own;
  const related = await imageAutomationRelated(client, id, own, opts);
  return { ...own, entries: [...own.entries, ...related].sort((a, b) => a.at - b.at || (a.workflowId === b.workflowId ? a.eventId - b.eventId : 0)) };
}

/** Entry types of the actors behind an automation's commits that its timeline shows. */
const SCAN_TYPES = new Set(['ImageScanned', 'ScanFailed']);
const POLICY_TYPES = new Set(['ImageSelected', 'NoMatchingTag', 'PolicyFailed']);

/**
 * An ImageUpdateAutomation's story goes through other actors: the ImageRepositories' scans and
 * the ImagePolicies' decisions that led to its commits, then the GitRepository's fetch of each
 * commit and what its Kustomizations and HelmReleases did with it (builds, deliveries,
 * rollouts). Their entries are merged in, each message prefixed with the actor it comes from.
 */
async function imageAutomationRelated(client: Client, id: string, own: Timeline, opts: TimelineOptions): Promise<HistoryEntry[]> {
  const query = async <T>(workflowId: string, def: QueryDefinition<T>): Promise<T | undefined> => {
    try {
      return await client.workflow.getHandle(workflowId).query(def);
    } catch {
      return undefined; // deleted, or not started: nothing to add
    }
  };
  const automation = await query(id, imageUpdateStatusQuery);
  if (automation === undefined) return [];
  const pushed = own.entries.filter((e) => e.type === 'Committed' && e.revision !== undefined).map((e) => e.revision ?? '');
  const policies = Object.keys(automation.observedPolicies).map((p) => `imagepolicy/${p}`);
  const repositories = new Set<string>();
  for (const p of policies) {
    const s = await query(p, imagePolicyStatusQuery);
    if (s) repositories.add(s.repository);
  }
  const source = await query(automation.source, gitRepositoryStatusQuery);
  const deployers = source?.subscribers.filter((sub) => sub.startsWith('kustomization/') || sub.startsWith('helmrelease/')) ?? [];
  const about = (e: HistoryEntry): boolean => e.revision !== undefined && pushed.some((r) => revisionMatches(e.revision ?? '', r));
  const pick: [string, (e: HistoryEntry) => boolean][] = [
    ...[...repositories].map((r): [string, (e: HistoryEntry) => boolean] => [r, (e) => SCAN_TYPES.has(e.type)]),
    ...policies.map((p): [string, (e: HistoryEntry) => boolean] => [p, (e) => POLICY_TYPES.has(e.type)]),
    ...(pushed.length > 0 ? [automation.source, ...deployers].map((d): [string, (e: HistoryEntry) => boolean] => [d, about]) : []),
  ];
  const entries: HistoryEntry[] = [];
  for (const [workflowId, keep] of pick) {
    let t: Timeline;
    try {
      t = await fetchActorTimeline(client, workflowId, opts);
    } catch {
      continue;
    }
    const [kind = '', , name = ''] = workflowId.split('/');
    entries.push(...t.entries.filter(keep).map((e) => ({ ...e, message: `${kind}/${name}: ${e.message}` })));
  }
  return entries;
}

async function fetchActorTimeline(client: Client, id: string, opts: TimelineOptions): Promise<Timeline> {
  const latest = await client.workflow.getHandle(id).describe();
  const runs: { runId: string; history: IHistory }[] = [];
  let runId: string | undefined = latest.runId;
  while (runId && runs.length < (opts.maxRuns ?? 100)) {
    const history = await client.workflow.getHandle(id, runId).fetchHistory();
    runs.unshift({ runId, history });
    if (opts.since !== undefined && startedAt(history) < opts.since) break;
    runId = continuedFrom(history);
  }
  const rollouts: { workflowId: string; runId: string; history: IHistory }[] = [];
  for (const c of runs.flatMap((r) => childRuns(r.history))) {
    try {
      rollouts.push({ ...c, history: await client.workflow.getHandle(c.workflowId, c.runId).fetchHistory() });
    } catch {
      // Past the namespace's retention: the owner's own entries still tell the story.
    }
  }
  return decodeTimeline(id, runs, rollouts);
}

/** An entry's message for people: revisions shortened, with its duration and who sent it. */
export function entryMessage(e: HistoryEntry): string {
  const extras = [
    ...(e.durationMs !== undefined && e.durationMs >= 1000 ? [`in ${formatDuration(e.durationMs)}`] : []),
    ...(e.by ? [`by ${e.by}`] : []),
  ];
  return `${shortRevision(e.message)}${extras.length ? ` (${extras.join(', ')})` : ''}`;
}

const FAILURE = /Failed|Unreachable|RolledBack|RollbackStarted|ClusterRollback/;

/** Entries people should see in red: failures, unreachable agents, rollbacks. */
export function isFailureEntry(type: string): boolean {
  return FAILURE.test(type);
}

/** The Temporal Web UI's page for one workflow run's history. */
export function temporalRunUrl(ui: string, namespace: string, workflowId: string, runId: string): string {
  return `${ui.replace(/\/$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}/${runId}/history`;
}

/** Entries at or after `since` (ms), about `cluster` (or no cluster in particular), and about a revision matching `revision`. */
export function filterEntries(entries: readonly HistoryEntry[], opts: { readonly cluster?: string; readonly revision?: string }, since: number | undefined): HistoryEntry[] {
  return entries.filter((e) =>
    (since === undefined || e.at >= since)
    && (opts.cluster === undefined || e.cluster === undefined || e.cluster === opts.cluster)
    && (opts.revision === undefined || (e.revision !== undefined && revisionMatches(e.revision, opts.revision))));
}
