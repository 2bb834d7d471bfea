// The foundation, proven against the real servers: two kube-apiserver clusters with
// controller-manager, scheduler and kwok, and a Temporal dev server.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { AppsV1Api, CoreV1Api, type V1Deployment } from '@kubernetes/client-node';
import { startEnvironment } from '../../deploy/dev/environment.js';
import { bin } from '../../deploy/dev/binaries.js';
import { startWorker, useEnvironment, type KubeCluster } from '../harness/index.js';
import * as activities from '../../activities/index.js';
import { environmentCheckWorkflow } from '../../workflows/index.js';

const run = promisify(execFile);
const env = useEnvironment({ clusters: ['alpha', 'beta'] });

function deployment(name: string, opts: { fail?: string } = {}): V1Deployment {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels },
    spec: {
      replicas: 2,
      progressDeadlineSeconds: 10,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels, annotations: opts.fail ? { 'sim.flotilla.dev/fail': opts.fail } : {} },
        spec: { containers: [{ name: 'app', image: `ghcr.io/stefanprodan/podinfo:6.14.1` }] },
      },
    },
  };
}

async function waitForCondition(
  apps: AppsV1Api, namespace: string, name: string, type: string, status: string, timeoutMs: number,
): Promise<V1Deployment> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await apps.readNamespacedDeployment({ name, namespace });
    if (d.status?.conditions?.some((c) => c.type === type && c.status === status)) return d;
    if (Date.now() > deadline) {
      assert.fail(`${namespace}/${name}: condition ${type}=${status} not reached; status: ${JSON.stringify(d.status)}`);
    }
    await sleep(250);
  }
}

async function createNamespace(core: CoreV1Api, name: string): Promise<void> {
  await core.createNamespace({ body: { metadata: { name } } });
}

describe('local clusters', () => {
  it('run a Deployment to Available through simulated pods in each cluster', async () => {
    await Promise.all(['alpha', 'beta'].map(async (name) => {
      const cluster = env().cluster(name);
      const kc = cluster.kubeConfig();
      const core = kc.makeApiClient(CoreV1Api);
      const apps = kc.makeApiClient(AppsV1Api);
      await createNamespace(core, 'smoke');
      await apps.createNamespacedDeployment({ namespace: 'smoke', body: deployment('web') });
      const d = await waitForCondition(apps, 'smoke', 'web', 'Available', 'True', 60_000);
      assert.equal(d.status?.availableReplicas, 2, `${name}: both replicas available`);
      const pods = await core.listNamespacedPod({ namespace: 'smoke', labelSelector: 'app=web' });
      assert.equal(pods.items.length, 2);
      for (const pod of pods.items) {
        assert.equal(pod.status?.phase, 'Running');
        assert.ok(pod.spec?.nodeName?.startsWith(`${name}-node-`), 'scheduled by kube-scheduler onto the kwok node');
      }
    }));
  });

  it('keeps a Deployment whose pods fail from becoming Available, and says why', async () => {
    const kc = env().cluster('alpha').kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    const apps = kc.makeApiClient(AppsV1Api);
    await createNamespace(core, 'broken');
    await apps.createNamespacedDeployment({ namespace: 'broken', body: deployment('web', { fail: 'ErrImagePull' }) });
    const d = await waitForCondition(apps, 'broken', 'web', 'Progressing', 'False', 60_000);
    const progressing = d.status?.conditions?.find((c) => c.type === 'Progressing');
    assert.equal(progressing?.reason, 'ProgressDeadlineExceeded');
    assert.ok(!d.status?.conditions?.some((c) => c.type === 'Available' && c.status === 'True'));
    assert.equal(d.status?.availableReplicas ?? 0, 0);
    let pods = await core.listNamespacedPod({ namespace: 'broken', labelSelector: 'app=web' });
    const deadline = Date.now() + 60_000;
    while (pods.items.some((p) => !p.status?.containerStatuses) && Date.now() < deadline) {
      await sleep(200); // kwok may not have reported every pod yet on a busy machine
      pods = await core.listNamespacedPod({ namespace: 'broken', labelSelector: 'app=web' });
    }
    assert.ok(pods.items.length > 0);
    for (const pod of pods.items) {
      const waiting = pod.status?.containerStatuses?.[0]?.state?.waiting;
      assert.equal(waiting?.reason, 'ErrImagePull', `pod ${pod.metadata?.name} reports the image pull failure`);
      assert.match(waiting.message ?? '', /podinfo:6\.14\.1/);
    }
  });

  it('is visible to an independent client (kubectl)', async () => {
    for (const name of ['alpha', 'beta']) {
      const cluster: KubeCluster = env().cluster(name);
      const { stdout } = await run(bin('kubectl'), [
        '--kubeconfig', cluster.kubeconfigPath, 'get', 'deployment', 'web', '-n', 'smoke', '-o', 'json',
      ]);
      const d = JSON.parse(stdout) as V1Deployment;
      assert.equal(d.metadata?.name, 'web');
      assert.equal(d.status?.availableReplicas, 2);
      const { stdout: version } = await run(bin('kubectl'), ['--kubeconfig', cluster.kubeconfigPath, 'version', '-o', 'json']);
      assert.match(version, /"gitVersion": "v1\.30\./);
    }
  });
});

describe('Temporal', () => {
  it('runs a workflow with an activity on the real dev server through a harness worker', async () => {
    const worker = await startWorker(env(), {
      taskQueue: 'infrastructure-test',
      workflowsPath: fileURLToPath(new URL('../../workflows/index.js', import.meta.url)),
      activities,
    });
    try {
      const targets = ['alpha', 'beta'].map((name) => ({ cluster: name, kubeconfigPath: env().cluster(name).kubeconfigPath }));
      const handle = await worker.client.workflow.start(environmentCheckWorkflow, {
        taskQueue: worker.taskQueue,
        workflowId: 'environment-check/test',
        args: [targets],
      });
      const result = await handle.result();
      assert.equal(result.allReady, true);
      assert.deepEqual(result.clusters.map((c) => c.cluster), ['alpha', 'beta']);
      for (const c of result.clusters) assert.match(c.gitVersion, /^v1\.30\./);
      // The activity really ran as a recorded step of the workflow's history.
      const history = await handle.fetchHistory();
      const scheduled = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes);
      assert.equal(scheduled.length, 2);
      assert.equal(scheduled[0]?.activityTaskScheduledEventAttributes?.activityType?.name, 'probeKubernetes');
    } finally {
      await worker.shutdown();
    }
  });
});

describe('environment lifecycle', () => {
  it('stops every process and removes its directory, so a second run starts clean', async () => {
    const second = await startEnvironment({ clusters: ['gamma'], temporal: true });
    const pids = [
      ...second.cluster('gamma').processes.map((p) => p.pid),
      second.etcd?.process.pid,
      second.temporalServer().process.pid,
    ].filter((pid): pid is number => pid !== undefined);
    assert.equal(pids.length, 6);
    // Different ports from the environment already running in this file: no clash.
    assert.notEqual(second.cluster('gamma').server, env().cluster('alpha').server);
    assert.notEqual(second.temporalServer().address, env().temporalServer().address);
    await second.stop();
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), `process ${pid} is gone`);
    assert.equal(existsSync(second.dir), false);
  });
});
