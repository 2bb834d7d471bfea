// The cluster actor on a real Temporal server: desired state through validated updates,
// pushed to the agent through an activity; connection and reports through signals.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import {
  agentConnectedSignal, clearDeploymentUpdate, clusterStatusQuery, clusterWorkflowId, deploymentReportSignal,
  setDeploymentUpdate, type DesiredDeployment, type DesiredState,
} from '../../api/cluster.js';
import { createDeliveryActivities } from '../../activities/agent-delivery.js';
import { digestOf } from '../../core/digest.js';
import { clusterWorkflow } from '../../workflows/cluster.js';
import { startWorker, useEnvironment } from '../harness/index.js';

const env = useEnvironment({ clusters: [], temporal: true });

const options = { prune: true, force: false, correctDrift: true, defaultNamespace: 'default', healthTimeoutSeconds: 60 };
const deployment = (name: string, generation: number): DesiredDeployment =>
  ({ name, generation, artifactDigest: digestOf(`${name}@${generation}`), options });

describe('cluster actor', () => {
  it('holds desired state, pushes every change once, and records connection and reports', async () => {
    const sent: DesiredState[] = [];
    const worker = await startWorker(env(), {
      taskQueue: 'cluster-actor-test',
      workflowsPath: fileURLToPath(new URL('../../workflows/index.js', import.meta.url)),
      activities: createDeliveryActivities({ sendDesiredState: (_cluster, desired) => { sent.push(desired); return true; } }),
    });
    try {
      const handle = await worker.client.workflow.start(clusterWorkflow, {
        taskQueue: worker.taskQueue, workflowId: clusterWorkflowId('alpha'), args: [{ name: 'alpha', labels: { env: 'prod' } }],
      });
      const v1 = await handle.executeUpdate(setDeploymentUpdate, { args: [deployment('kustomization/apps/web', 1)] });
      assert.equal(v1.version, 1);
      // Same entry again: idempotent, no new version, nothing pushed.
      const again = await handle.executeUpdate(setDeploymentUpdate, { args: [deployment('kustomization/apps/web', 1)] });
      assert.equal(again.version, 1);
      const v2 = await handle.executeUpdate(setDeploymentUpdate, { args: [deployment('helmrelease/db/pg', 3)] });
      assert.deepEqual(v2.deployments.map((d) => d.name), ['helmrelease/db/pg', 'kustomization/apps/web']);

      // Bad input is refused by the validator and leaves the state untouched.
      await assert.rejects(handle.executeUpdate(setDeploymentUpdate, { args: [{ ...deployment('x', 1), artifactDigest: 'md5:abc' }] }),
        (e: unknown) => e instanceof WorkflowUpdateFailedError && /artifactDigest must be sha256/.test(String(e.cause?.message)));
      await assert.rejects(handle.executeUpdate(setDeploymentUpdate, { args: [deployment('helmrelease/db/pg', 2)] }),
        (e: unknown) => e instanceof WorkflowUpdateFailedError && /older than the desired generation 3/.test(String(e.cause?.message)));

      const v3 = await handle.executeUpdate(clearDeploymentUpdate, { args: ['helmrelease/db/pg'] });
      assert.equal(v3.version, 3);

      await handle.signal(agentConnectedSignal, { at: 1000, agentVersion: '0.1.0', kubernetesVersion: 'v1.30.14', apiResources: 50 });
      await handle.signal(deploymentReportSignal, { name: 'kustomization/apps/web', generation: 1, phase: 'Ready', message: 'applied', counts: { created: 3 }, finishedAt: 2000 });
      await handle.signal(deploymentReportSignal, { name: 'kustomization/apps/web', generation: 0, phase: 'Ready', message: 'stale', counts: {}, finishedAt: 1500 });
      const status = await handle.query(clusterStatusQuery);
      assert.equal(status.connection, 'Connected');
      assert.equal(status.kubernetesVersion, 'v1.30.14');
      assert.deepEqual(status.labels, { env: 'prod' });
      assert.equal(status.reports.length, 1);
      assert.equal(status.reports[0]?.message, 'applied', 'an older generation does not replace the newer report');

      // Each version reached the agent once, in order (the push runs between updates,
      // so a burst may be coalesced into its newest version, never reordered).
      const versions = sent.map((s) => s.version);
      assert.deepEqual(versions, [...new Set(versions)].sort((a, b) => a - b));
      assert.equal(versions.at(-1), 3);
      const history = await handle.fetchHistory();
      const pushes = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'pushDesiredState');
      assert.equal(pushes.length, sent.length, 'every push is a visible step of the history');
      await handle.terminate('test done');
    } finally {
      await worker.shutdown();
    }
  });
});
