// The time-skipping test server (installed by scripts/install-infra.sh, never downloaded by
// the SDK) runs workflows whose timers span days in moments.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { agentConnectedSignal, clusterStatusQuery, clusterWorkflowId, setDeploymentUpdate } from '../../api/cluster.js';
import { bin } from '../../deploy/dev/binaries.js';
import { createDeliveryActivities } from '../../activities/agent-delivery.js';
import { digestOf } from '../../core/digest.js';
import { clusterWorkflow } from '../../workflows/cluster.js';
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

describe('cluster actor with several hubs (time-skipping)', () => {
  it('pushes through the agent\'s hub; a hub that never takes them: through the next hub, or the agent is Unreachable', async () => {
    Runtime.install({ logger: new DefaultLogger('WARN') });
    const env = await TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path: bin('temporalTestServer') } },
    });
    const sent: { cluster: string; version: number }[] = [];
    const deliveredTo = (cluster: string): boolean => sent.some((s) => s.cluster === cluster);
    const delivery = createDeliveryActivities({ sendDesiredState: (cluster, desired) => { sent.push({ cluster, version: desired.version }); return true; } });
    try {
      // The shared queue's worker has no delivery of its own here: only the live hub's queue delivers.
      const shared = await Worker.create({
        connection: env.nativeConnection, taskQueue: 'fleet',
        workflowsPath: fileURLToPath(new URL('../../workflows/index.js', import.meta.url)), activities: {},
      });
      const alive = await Worker.create({ connection: env.nativeConnection, taskQueue: 'fleet/hub/alive', activities: delivery });
      const options = { prune: true, force: false, correctDrift: true, defaultNamespace: 'default', healthTimeoutSeconds: 0 };
      const connected = (hub: string) => ({ at: 1, agentVersion: '0.1.0', kubernetesVersion: 'v1.30.14', apiResources: 1, hub });
      await alive.runUntil(shared.runUntil(async () => {
        const start = (name: string) => env.client.workflow.start(clusterWorkflow, { taskQueue: 'fleet', workflowId: clusterWorkflowId(name), args: [{ name, labels: {} }] });
        // alpha's hub dies with a push on its queue; alpha's agent then says Hello to the live hub.
        const alpha = await start('alpha');
        await alpha.signal(agentConnectedSignal, connected('fleet/hub/dead'));
        await alpha.executeUpdate(setDeploymentUpdate, { args: [{ name: 'kustomization/apps/web', generation: 1, artifactDigest: digestOf('web@1'), options }] });
        await env.sleep('12 seconds');
        assert.deepEqual(sent, [], 'nothing delivered through the dead hub');
        await alpha.signal(agentConnectedSignal, connected('fleet/hub/alive'));
        await env.sleep('2 seconds');
        assert.deepEqual(sent, [{ cluster: 'alpha', version: 1 }], 'pushed again, through the hub the agent moved to');
        // beta's agent went down with its hub: after a few pushes nobody took, it is Unreachable.
        const beta = await start('beta');
        await beta.signal(agentConnectedSignal, connected('fleet/hub/dead'));
        await beta.executeUpdate(setDeploymentUpdate, { args: [{ name: 'kustomization/apps/web', generation: 1, artifactDigest: digestOf('web@1'), options }] });
        await env.sleep('2 minutes');
        const status = await beta.query(clusterStatusQuery);
        assert.equal(status.connection, 'Unreachable');
        const history = await beta.fetchHistory();
        const pushes = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.taskQueue?.name === 'fleet/hub/dead');
        assert.equal(pushes.length, 4, 'tried four times, then stopped');
        assert.ok(!deliveredTo('beta'));
        await alpha.terminate('done');
        await beta.terminate('done');
      }));
    } finally {
      await env.teardown();
    }
  });
});
