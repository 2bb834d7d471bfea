import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Client, Connection } from '@temporalio/client';
import { freePort } from '../../deploy/dev/ports.js';
import { TaskQueueProbe, hubProblems, type HubHealthInputs, type PollerAnswer } from '../../hub/health.js';

function inputs(over: Partial<HubHealthInputs> & { answer?: PollerAnswer } = {}): HubHealthInputs {
  const answer = over.answer ?? { ok: true, workflow: 1, activity: 1 };
  return {
    workerState: () => 'RUNNING', temporalAddress: '127.0.0.1:7233', gatewayListening: () => true, stopping: () => false,
    probe: { taskQueue: 'flotilla-hub', pollers: () => Promise.resolve(answer) },
    ...over,
  };
}

describe('hub health', () => {
  it('healthy: worker running, pollers on both task queue types, gateway listening', async () => {
    assert.deepEqual(await hubProblems(inputs()), []);
  });

  it('names each problem in a sentence', async () => {
    assert.deepEqual(await hubProblems(inputs({ workerState: () => 'STOPPING', gatewayListening: () => false, stopping: () => true })), [
      'The hub is stopping.',
      'The Temporal worker is STOPPING, not RUNNING.',
      'The agent gateway is not listening.',
    ]);
    assert.deepEqual(await hubProblems(inputs({ answer: { ok: true, workflow: 2, activity: 0 } })), [
      'No worker polls task queue flotilla-hub (workflow pollers 2, activity pollers 0).',
    ]);
  });

  it('an unreachable Temporal is a problem naming the pollers, answered within the deadline and cached', async () => {
    const port = await freePort(); // nothing listens there
    const connection = Connection.lazy({ address: `127.0.0.1:${port}` });
    try {
      const probe = new TaskQueueProbe(new Client({ connection, namespace: 'default' }), 'flotilla-hub', { timeoutMs: 1000, cacheMs: 60_000 });
      const started = Date.now();
      const problems = await hubProblems(inputs({ probe, temporalAddress: `127.0.0.1:${port}` }));
      assert.ok(Date.now() - started < 5000, 'a short deadline');
      assert.equal(problems.length, 1);
      assert.match(problems[0] ?? '', new RegExp(`^Cannot reach Temporal at 127\\.0\\.0\\.1:${port} to count the pollers on task queue flotilla-hub: `));
      assert.strictEqual(probe.pollers(), probe.pollers(), 'one answer reused while fresh');
    } finally {
      await connection.close();
    }
  });
});
