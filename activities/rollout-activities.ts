// Activities of the rollout workflow: the analysis gate's HTTP check, and the rollout's
// events, which go to the hub's log and to an append-only journal in the data directory
// (`<data>/events.jsonl`) that `flotilla events` reads, and, as events on the rollout's owner,
// to notifications (the hub's event sink).
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { RolloutActivities } from '../api/rollout.js';
import { idFields, type LogFn } from '../core/log.js';
import { rolloutEvent } from '../core/notifications/hub-events.js';
import type { FlotillaEvent } from '../core/notifications/event.js';
import { Context } from '@temporalio/activity';
import { objectField, type SourcePolicy } from '../core/source-policy.js';
import { runAnalysisCheck } from './analysis.js';

/** Where rollout events go for notifications (the hub's EventRecorder in hub/events.ts is one). */
export interface RolloutEventSink {
  record(event: FlotillaEvent): void;
}

export interface RolloutActivityContext {
  readonly eventsFile: string;
  readonly log?: LogFn;
  /** Notifications: each rollout event becomes an event on its owner. */
  readonly events?: RolloutEventSink;
  /** Where analysis checks may be sent (settings sources.*, as sources). */
  readonly policy: SourcePolicy;
}

export function createRolloutActivities(ctx: RolloutActivityContext): RolloutActivities {
  return {
    runAnalysisCheck(check) {
      // The rollout workflow's id is rollout/<owner id> (api/rollout.ts rolloutWorkflowId): the owner declares the URL.
      const workflowId = Context.current().info.workflowExecution?.workflowId ?? '';
      const owner = workflowId.startsWith('rollout/') ? workflowId.slice('rollout/'.length) : workflowId;
      return runAnalysisCheck(check, { policy: ctx.policy, what: objectField(owner, 'spec.rollout.analysis.url') });
    },
    async recordRolloutEvents(events) {
      if (events.length === 0) return;
      await mkdir(dirname(ctx.eventsFile), { recursive: true });
      await appendFile(ctx.eventsFile, events.map((e) => `${JSON.stringify({ kind: 'RolloutEvent', ...e })}\n`).join(''));
      for (const e of events) {
        ctx.log?.(`rollout ${e.type}: ${e.message}`, { ...idFields(e.owner), rollout: e.rollout, owner: e.owner, revision: e.revision, wave: e.wave, by: e.by },
          FAILURES.has(e.type) ? 'warn' : 'info');
        const event = rolloutEvent(e, e.at);
        if (event) ctx.events?.record(event);
      }
    },
  };
}

const FAILURES = new Set(['WaveFailed', 'AnalysisFailed', 'RollbackStarted']);
