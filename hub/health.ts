// The hub's health, as /healthz and /readyz answer it: a list of problems, each a sentence
// (empty: healthy). A hub is unhealthy when its Temporal worker is not running, when nothing
// polls its task queue (or Temporal cannot be asked), when its gateway does not listen, and
// while it stops. The task-queue answer is cached briefly so probes do not hammer Temporal.
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';

/** Pollers on the hub's task queue, or why they could not be counted. */
export type PollerAnswer =
  | { readonly ok: true; readonly workflow: number; readonly activity: number }
  | { readonly ok: false; readonly error: string };

export interface TaskQueueProbeOptions {
  /** How long one answer is reused (default 2 s). */
  readonly cacheMs?: number;
  /** Deadline of each describeTaskQueue call (default 2 s). */
  readonly timeoutMs?: number;
}

/** Counts the pollers on a task queue with DescribeTaskQueue (workflow and activity queues). */
export class TaskQueueProbe {
  private cached: { at: number; answer: Promise<PollerAnswer> } | undefined;

  constructor(private readonly client: Client, readonly taskQueue: string, private readonly opts: TaskQueueProbeOptions = {}) {}

  pollers(): Promise<PollerAnswer> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < (this.opts.cacheMs ?? 2000)) return this.cached.answer;
    const answer = this.ask();
    this.cached = { at: now, answer };
    return answer;
  }

  private async ask(): Promise<PollerAnswer> {
    const types = proto.temporal.api.enums.v1.TaskQueueType;
    const deadline = Date.now() + (this.opts.timeoutMs ?? 2000);
    const count = async (taskQueueType: proto.temporal.api.enums.v1.TaskQueueType): Promise<number> => {
      const r = await this.client.withDeadline(deadline, () => this.client.workflowService.describeTaskQueue({
        namespace: this.client.options.namespace, taskQueue: { name: this.taskQueue }, taskQueueType,
      }));
      return r.pollers.length;
    };
    // Both calls settle before the answer: none is left retrying behind it.
    const [workflow, activity] = await Promise.allSettled([count(types.TASK_QUEUE_TYPE_WORKFLOW), count(types.TASK_QUEUE_TYPE_ACTIVITY)]);
    if (workflow.status === 'fulfilled' && activity.status === 'fulfilled') return { ok: true, workflow: workflow.value, activity: activity.value };
    const reason: unknown = workflow.status === 'rejected' ? workflow.reason : activity.status === 'rejected' ? activity.reason : undefined;
    return { ok: false, error: reason instanceof Error ? reason.message : String(reason) };
  }
}

export interface HubHealthInputs {
  /** The worker's state (Worker.getState()). */
  readonly workerState: () => string;
  readonly probe: Pick<TaskQueueProbe, 'taskQueue' | 'pollers'>;
  /** Temporal's address, for messages. */
  readonly temporalAddress: string;
  readonly gatewayListening: () => boolean;
  readonly stopping: () => boolean;
}

/** Everything that makes the hub unhealthy now; empty when it is healthy. */
export async function hubProblems(h: HubHealthInputs): Promise<string[]> {
  const problems: string[] = [];
  if (h.stopping()) problems.push('The hub is stopping.');
  const state = h.workerState();
  if (state !== 'RUNNING') problems.push(`The Temporal worker is ${state}, not RUNNING.`);
  if (!h.gatewayListening()) problems.push('The agent gateway is not listening.');
  const p = await h.probe.pollers();
  if (!p.ok) {
    problems.push(`Cannot reach Temporal at ${h.temporalAddress} to count the pollers on task queue ${h.probe.taskQueue}: ${p.error}`);
  } else if (p.workflow === 0 || p.activity === 0) {
    problems.push(`No worker polls task queue ${h.probe.taskQueue} (workflow pollers ${p.workflow}, activity pollers ${p.activity}).`);
  }
  return problems;
}
