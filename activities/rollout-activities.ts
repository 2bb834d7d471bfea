// Activities of the rollout workflow: the analysis gate's HTTP check, and the rollout's
// events, which go to the hub's log and to an append-only journal in the data directory
// (`<data>/events.jsonl`) that notifications and `flotilla events` read.
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AnalysisVerdict } from '../core/analysis.js';
import type { AnalysisCheck } from '../core/declarations/types.js';
import type { RolloutEvent } from '../workflows/messages.js';
import { runAnalysisCheck } from './analysis.js';

export interface RolloutEventRecord extends RolloutEvent {
  /** The rollout's workflow id and the declaration it rolls out. */
  readonly rollout: string;
  readonly owner: string;
  readonly revision: string;
}

export interface RolloutActivities {
  runAnalysisCheck(check: AnalysisCheck): Promise<AnalysisVerdict>;
  recordRolloutEvents(events: readonly RolloutEventRecord[]): Promise<void>;
}

export interface RolloutActivityContext {
  readonly eventsFile: string;
  readonly log?: (message: string, fields?: Record<string, unknown>) => void;
}

export function createRolloutActivities(ctx: RolloutActivityContext): RolloutActivities {
  return {
    runAnalysisCheck,
    async recordRolloutEvents(events) {
      if (events.length === 0) return;
      await mkdir(dirname(ctx.eventsFile), { recursive: true });
      await appendFile(ctx.eventsFile, events.map((e) => `${JSON.stringify({ kind: 'RolloutEvent', ...e })}\n`).join(''));
      for (const e of events) ctx.log?.(`rollout ${e.type}: ${e.message}`, { rollout: e.rollout, owner: e.owner, revision: e.revision, wave: e.wave, by: e.by });
    },
  };
}
