// The time-skipping test server (installed by scripts/install-infra.sh, never downloaded by
// the SDK) runs workflows whose timers span days in moments.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { bin } from '../../deploy/dev/binaries.js';
import { longTimerWorkflow } from '../fixtures/workflows/timers.js';

describe('time-skipping test server', () => {
  it('completes a workflow that sleeps 30 days', async () => {
    Runtime.install({ logger: new DefaultLogger('WARN') });
    const env = await TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path: bin('temporalTestServer') } },
    });
    try {
      const worker = await Worker.create({
        connection: env.nativeConnection,
        taskQueue: 'time-skipping',
        workflowsPath: fileURLToPath(new URL('../fixtures/workflows/timers.js', import.meta.url)),
      });
      const handle = await env.client.workflow.start(longTimerWorkflow, {
        taskQueue: 'time-skipping', workflowId: 'long-timer', args: [30],
      });
      const result = await worker.runUntil(handle.result());
      assert.equal(result.days, 30);
      const history = await handle.fetchHistory();
      const fired = (history.events ?? []).filter((e) => e.timerFiredEventAttributes);
      assert.equal(fired.length, 1, 'the 30-day timer really fired (time was skipped, not the timer)');
    } finally {
      await env.teardown();
    }
  });
});
