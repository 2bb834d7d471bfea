// Replay of recorded workflow histories against the current workflow code (STYLE rule 8):
// a change that alters the commands a workflow issues for an old history fails here,
// before it can break running actors. Histories are recorded from the end-to-end tests.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';

const { temporal } = proto;
import { Worker } from '@temporalio/worker';
import { quietWorkerLogs } from './index.js';

export const HISTORIES_DIR = fileURLToPath(new URL('../../../test/fixtures/histories/', import.meta.url));
const workflowsPath = fileURLToPath(new URL('../../workflows/index.js', import.meta.url));

/** Replays one history; throws DeterminismViolationError (or the workflow's error) on mismatch. */
export async function replay(history: unknown, workflowId: string): Promise<void> {
  quietWorkerLogs();
  await Worker.runReplayHistory({ workflowsPath, replayName: `replay-${workflowId}` }, history, workflowId);
}

/** Fetches the current history of each workflow, replays it, and (when asked) records it as a fixture. */
export async function replayLive(client: Client, workflowIds: readonly string[], record = process.env.FLOTILLA_RECORD_HISTORIES === '1'): Promise<void> {
  for (const id of workflowIds) {
    const history = await client.workflow.getHandle(id).fetchHistory();
    try {
      await replay(history, id);
    } catch (err) {
      // Keep the history that failed, to replay and read it after the test's servers are gone.
      const saved = join(tmpdir(), `flotilla-replay-failure-${id.replaceAll('/', '_')}.binpb`);
      writeFileSync(saved, temporal.api.history.v1.History.encode(history).finish());
      throw new Error(`${id}: ${err instanceof Error ? err.message : String(err)} (history saved to ${saved})`, { cause: err });
    }
    // Binary protobuf: exact, and independent of the JSON mapping's protobufjs instance.
    if (record) writeFileSync(join(HISTORIES_DIR, `${id.replaceAll('/', '_')}.binpb`), temporal.api.history.v1.History.encode(history).finish());
  }
}

/** The recorded fixtures: file name → parsed history. */
export function recordedHistories(): { name: string; workflowId: string; history: unknown }[] {
  return readdirSync(HISTORIES_DIR).filter((f) => f.endsWith('.binpb')).sort().map((name) => ({
    name,
    workflowId: name.replace(/\.binpb$/, '').replaceAll('_', '/'),
    history: temporal.api.history.v1.History.decode(readFileSync(join(HISTORIES_DIR, name))),
  }));
}
