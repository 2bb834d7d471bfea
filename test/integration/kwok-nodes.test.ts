// The simulated nodes stay alive as long as the cluster runs (tracker issue #30, point 5):
// kwok renews each node's Lease like a kubelet, so the controller-manager's node lifecycle
// controller never marks the node NotReady, and Deployments stay Available. Proven with a
// controller-manager whose --node-monitor-grace-period is 30 s instead of the environment's
// default, over three grace periods, rather than by waiting out the default. Then kwok is
// killed for longer than the grace period, so the node really goes NotReady and its pods are
// marked not ready; once kwok is back, both the node and the pods become Ready again, while a
// pod failing on purpose (sim.flotilla.dev/fail) stays failed throughout.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AppsV1Api, CoordinationV1Api, CoreV1Api,
  type V1Deployment, type V1Node, type V1Pod,
} from '@kubernetes/client-node';
import { ManagedProcess } from '../../deploy/dev/processes.js';
import { NODE_LEASE_DURATION_SECONDS } from '../../deploy/dev/kube-cluster.js';
import { useEnvironment } from '../harness/index.js';

const GRACE_SECONDS = 30;
const CLUSTER = 'lively';
const NODE = `${CLUSTER}-node-0`;
const NS = 'steady';
const FAIL_ANNOTATION = 'sim.flotilla.dev/fail';

const env = useEnvironment({ clusters: [CLUSTER], temporal: false, nodeMonitorGracePeriodSeconds: GRACE_SECONDS });

function deployment(name: string, fail?: string): V1Deployment {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels, annotations: fail !== undefined ? { [FAIL_ANNOTATION]: fail } : {} },
        spec: { containers: [{ name: 'app', image: 'ghcr.io/stefanprodan/podinfo:6.14.1' }] },
      },
    },
  };
}

interface Clients { core: CoreV1Api; apps: AppsV1Api; coordination: CoordinationV1Api }

function clients(): Clients {
  const kc = env().cluster(CLUSTER).kubeConfig();
  return { core: kc.makeApiClient(CoreV1Api), apps: kc.makeApiClient(AppsV1Api), coordination: kc.makeApiClient(CoordinationV1Api) };
}

function nodeReady(node: V1Node): string | undefined {
  return node.status?.conditions?.find((c) => c.type === 'Ready')?.status;
}

function podReady(pod: V1Pod): string | undefined {
  return pod.status?.conditions?.find((c) => c.type === 'Ready')?.status;
}

async function onlyPod(core: CoreV1Api, app: string): Promise<V1Pod> {
  const pods = await core.listNamespacedPod({ namespace: NS, labelSelector: `app=${app}` });
  const live = pods.items.filter((p) => !p.metadata?.deletionTimestamp);
  assert.equal(live.length, 1, `one ${app} pod: ${live.map((p) => p.metadata?.name).join(', ')}`);
  return live[0] as V1Pod;
}

async function leaseRenewTime(coordination: CoordinationV1Api): Promise<number> {
  const lease = await coordination.readNamespacedLease({ name: NODE, namespace: 'kube-node-lease' });
  const renew = lease.spec?.renewTime;
  assert.ok(renew, `Lease kube-node-lease/${NODE} has a renewTime`);
  return new Date(renew).getTime();
}

/** Polls `check` every 500 ms until it returns true; fails with `describe()` after timeoutMs. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs: number, describeState: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what} not reached within ${timeoutMs / 1000} s; ${await describeState()}`);
    await sleep(500);
  }
}

async function nodeNotReadyEvents(core: CoreV1Api): Promise<number> {
  const events = await core.listEventForAllNamespaces({ fieldSelector: `involvedObject.kind=Node,involvedObject.name=${NODE},reason=NodeNotReady` });
  return events.items.length;
}

describe('kwok nodes', () => {
  it('stay Ready for three grace periods: the Lease is renewed, a Deployment stays 1/1, a failing pod stays failed', { timeout: 300_000 }, async () => {
    const cluster = env().cluster(CLUSTER);
    const cm = cluster.processes.find((p) => p.spec.name.startsWith('kube-controller-manager'));
    assert.ok(cm?.spec.args.includes(`--node-monitor-grace-period=${GRACE_SECONDS}s`), 'the controller-manager runs with the short grace period');
    const kwok = cluster.processes.find((p) => p.spec.name.startsWith('kwok'));
    assert.ok(kwok?.spec.args.includes(`--node-lease-duration-seconds=${NODE_LEASE_DURATION_SECONDS}`), 'kwok renews node Leases');

    const { core, apps, coordination } = clients();
    await core.createNamespace({ body: { metadata: { name: NS } } });
    await apps.createNamespacedDeployment({ namespace: NS, body: deployment('web') });
    await apps.createNamespacedDeployment({ namespace: NS, body: deployment('broken', 'ErrImagePull') });
    const describeApps = async (): Promise<string> => {
      const [web, broken] = await Promise.all(['web', 'broken'].map((name) => apps.readNamespacedDeployment({ name, namespace: NS })));
      return `web: ${JSON.stringify(web?.status)}; broken: ${JSON.stringify(broken?.status)}`;
    };
    await until('web 1/1 available', async () => {
      const d = await apps.readNamespacedDeployment({ name: 'web', namespace: NS });
      return d.status?.availableReplicas === 1;
    }, 60_000, describeApps);
    await until('the broken pod reported as ErrImagePull', async () => {
      const pods = await core.listNamespacedPod({ namespace: NS, labelSelector: 'app=broken' });
      return pods.items.some((p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'ErrImagePull');
    }, 60_000, describeApps);
    const webPodBefore = await onlyPod(core, 'web');
    const webReadySince = webPodBefore.status?.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime;

    // Watch for 3 grace periods, sampling every 2 s.
    const started = Date.now();
    const renewTimes = new Set<number>();
    const violations: string[] = [];
    while (Date.now() - started < 3 * GRACE_SECONDS * 1000) {
      const at = `${((Date.now() - started) / 1000).toFixed(0)} s`;
      const [node, web, brokenPod, renew] = await Promise.all([
        core.readNode({ name: NODE }),
        apps.readNamespacedDeployment({ name: 'web', namespace: NS }),
        onlyPod(core, 'broken'),
        leaseRenewTime(coordination),
      ]);
      renewTimes.add(renew);
      if (nodeReady(node) !== 'True') violations.push(`${at}: node Ready=${nodeReady(node)}`);
      if (web.status?.availableReplicas !== 1 || web.status.readyReplicas !== 1) {
        violations.push(`${at}: web ${web.status?.readyReplicas ?? 0} ready, ${web.status?.availableReplicas ?? 0} available`);
      }
      if (podReady(brokenPod) !== 'False') violations.push(`${at}: broken pod Ready=${podReady(brokenPod)}`);
      await sleep(2000);
    }
    const waitedSeconds = (Date.now() - started) / 1000;

    const node = await core.readNode({ name: NODE });
    const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
    const heartbeat = ready?.lastHeartbeatTime ? new Date(ready.lastHeartbeatTime).getTime() : 0;
    const renews = [...renewTimes].sort((a, b) => a - b);
    const gaps = renews.slice(1).map((t, i) => (t - (renews[i] ?? t)) / 1000);
    const lastRenewAge = (Date.now() - (renews.at(-1) ?? 0)) / 1000;
    console.log(`kwok-nodes: grace ${GRACE_SECONDS} s, watched ${waitedSeconds.toFixed(1)} s; node Ready=${ready?.status} (${ready?.reason}), `
      + `Ready heartbeat ${((Date.now() - heartbeat) / 1000).toFixed(0)} s old; ${renews.length} Lease renewals seen, `
      + `gaps ${gaps.map((g) => g.toFixed(1)).join('/')} s, last ${lastRenewAge.toFixed(1)} s ago: `
      + renews.map((t) => new Date(t).toISOString().slice(11, 23)).join(' '));

    assert.deepEqual(violations, [], 'node Ready, web 1/1 and the broken pod not ready at every sample');
    assert.equal(ready?.status, 'True');
    assert.equal(await nodeNotReadyEvents(core), 0, 'the node lifecycle controller never saw the node NotReady');
    // The Lease, not the Ready condition, kept the node alive: the condition's heartbeat is
    // refreshed only every ~10 minutes, so it is older than the grace period by now.
    assert.ok(Date.now() - heartbeat > GRACE_SECONDS * 1000, 'the Ready condition heartbeat alone would have expired');
    assert.ok(renews.length >= 6, `the Lease was renewed repeatedly (${renews.length} distinct renewTimes in ${waitedSeconds.toFixed(0)} s)`);
    assert.ok(Math.max(...gaps) < GRACE_SECONDS, `no gap between renewals reached the grace period (${gaps.join(', ')})`);
    assert.ok(lastRenewAge < GRACE_SECONDS, `renewed ${lastRenewAge.toFixed(1)} s ago`);

    const web = await apps.readNamespacedDeployment({ name: 'web', namespace: NS });
    assert.equal(web.status?.availableReplicas, 1, 'web is still 1/1 available');
    const webPodAfter = await onlyPod(core, 'web');
    assert.equal(webPodAfter.metadata?.uid, webPodBefore.metadata?.uid, 'the same web pod (never evicted)');
    assert.deepEqual(
      webPodAfter.status?.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime, webReadySince,
      'the web pod never lost readiness',
    );
    const broken = await apps.readNamespacedDeployment({ name: 'broken', namespace: NS });
    assert.equal(broken.status?.availableReplicas ?? 0, 0, 'broken stays 0/1');
    const brokenPod = await onlyPod(core, 'broken');
    assert.equal(podReady(brokenPod), 'False');
    assert.equal(brokenPod.status?.containerStatuses?.[0]?.state?.waiting?.reason, 'ErrImagePull');
  });

  it('come back Ready, with their pods, after kwok was gone longer than the grace period; a failing pod stays failed', { timeout: 300_000 }, async () => {
    const cluster = env().cluster(CLUSTER);
    const { core, apps } = clients();
    const kwok = cluster.processes.find((p) => p.spec.name.startsWith('kwok'));
    assert.ok(kwok);
    const describeState = async (): Promise<string> => {
      const [node, web, brokenPod] = await Promise.all([
        core.readNode({ name: NODE }), onlyPod(core, 'web'), onlyPod(core, 'broken'),
      ]);
      return `node Ready=${nodeReady(node)} taints=${JSON.stringify(node.spec?.taints ?? [])}; web pod Ready=${podReady(web)}; broken pod Ready=${podReady(brokenPod)}`;
    };

    // No heartbeats at all: the node lifecycle controller marks the node NotReady (Unknown)
    // after the grace period, and every pod on it not ready.
    const killedAt = Date.now();
    await kwok.kill();
    await until('node NotReady and the web pod not ready', async () => {
      const [node, web] = await Promise.all([core.readNode({ name: NODE }), onlyPod(core, 'web')]);
      return nodeReady(node) !== 'True' && podReady(web) === 'False';
    }, (GRACE_SECONDS + 60) * 1000, describeState);
    const notReadyAfter = (Date.now() - killedAt) / 1000;
    const unavailable = await apps.readNamespacedDeployment({ name: 'web', namespace: NS });
    assert.equal(unavailable.status?.availableReplicas ?? 0, 0, 'web lost its availability with the node');
    // (Also shows that the first test's "no NodeNotReady event" query finds such events.)
    await until('a NodeNotReady event', async () => (await nodeNotReadyEvents(core)) > 0, 30_000, describeState);

    // kwok again (a new identity: it takes the node's Lease over once the old one expired).
    const restarted = ManagedProcess.start(kwok.spec);
    try {
      const restartedAt = Date.now();
      await until('node Ready, web 1/1 available again', async () => {
        const [node, web] = await Promise.all([core.readNode({ name: NODE }), apps.readNamespacedDeployment({ name: 'web', namespace: NS })]);
        return nodeReady(node) === 'True' && web.status?.availableReplicas === 1;
      }, (NODE_LEASE_DURATION_SECONDS + 90) * 1000, describeState);
      const recoveredAfter = (Date.now() - restartedAt) / 1000;
      restarted.assertRunning();
      console.log(`kwok-nodes: kwok killed; node NotReady and pods not ready after ${notReadyAfter.toFixed(1)} s; `
        + `after kwok's restart node Ready and web 1/1 again in ${recoveredAfter.toFixed(1)} s`);

      const webPod = await onlyPod(core, 'web');
      assert.equal(podReady(webPod), 'True', 'the web pod is Ready again');
      assert.equal(webPod.status?.phase, 'Running');
      // The failing pod was marked not ready too (it already was) and must not be revived.
      await sleep(5000);
      const brokenPod = await onlyPod(core, 'broken');
      assert.equal(podReady(brokenPod), 'False', 'the broken pod stays not ready');
      assert.equal(brokenPod.status?.containerStatuses?.[0]?.state?.waiting?.reason, 'ErrImagePull');
      const broken = await apps.readNamespacedDeployment({ name: 'broken', namespace: NS });
      assert.equal(broken.status?.availableReplicas ?? 0, 0, 'broken stays 0/1');
    } finally {
      await restarted.stop();
    }
  });
});
