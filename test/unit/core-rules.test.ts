import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyStages, pruneOrder } from '../../core/apply-order.js';
import { changedPaths } from '../../core/drift.js';
import { inventoryOf, staleEntries, entryObject } from '../../core/inventory.js';
import { assessHealth } from '../../core/kstatus.js';
import { objectId, parseObjectId, type KubeObject } from '../../core/objects.js';

const obj = (apiVersion: string, kind: string, name: string, namespace?: string, extra: Record<string, unknown> = {}): KubeObject =>
  ({ apiVersion, kind, metadata: namespace ? { name, namespace } : { name }, ...extra });

describe('object ids', () => {
  it('use Flux inventory format and round-trip', () => {
    const d = obj('apps/v1', 'Deployment', 'web', 'apps');
    assert.equal(objectId(d), 'apps_web_apps_Deployment');
    assert.equal(objectId(obj('v1', 'Namespace', 'apps')), '_apps__Namespace');
    assert.deepEqual(parseObjectId('apps_web_apps_Deployment'), { namespace: 'apps', name: 'web', group: 'apps', kind: 'Deployment' });
  });
});

describe('apply order', () => {
  const set = [
    obj('apps/v1', 'Deployment', 'web', 'apps'),
    obj('example.com/v1', 'Widget', 'w', 'apps'),
    obj('v1', 'ConfigMap', 'cfg', 'apps'),
    obj('v1', 'Namespace', 'apps'),
    obj('apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'widgets.example.com'),
    obj('rbac.authorization.k8s.io/v1', 'ClusterRole', 'reader'),
    obj('v1', 'ServiceAccount', 'sa', 'apps'),
  ];
  it('puts CRDs, Namespaces and cluster roles in the first stage', () => {
    const s = applyStages(set);
    assert.deepEqual(s.prerequisites.map((o) => o.kind), ['CustomResourceDefinition', 'Namespace', 'ClusterRole']);
    assert.deepEqual(s.rest.map((o) => o.kind), ['ServiceAccount', 'ConfigMap', 'Deployment', 'Widget']);
  });
  it('prunes in reverse: custom resources before CRDs, contents before their Namespace', () => {
    const order = pruneOrder(set).map((o) => o.kind);
    assert.ok(order.indexOf('Widget') < order.indexOf('CustomResourceDefinition'));
    assert.ok(order.indexOf('Deployment') < order.indexOf('Namespace'));
    assert.equal(order.at(-1), 'CustomResourceDefinition');
  });
});

describe('inventory', () => {
  it('lists what left the set', () => {
    const prev = inventoryOf('d', 1, [obj('v1', 'ConfigMap', 'a', 'n'), obj('v1', 'ConfigMap', 'b', 'n')]);
    const next = inventoryOf('d', 2, [obj('v1', 'ConfigMap', 'b', 'n'), obj('v1', 'ConfigMap', 'c', 'n')]);
    const stale = staleEntries(prev, next);
    assert.deepEqual(stale.map((e) => e.id), ['n_a__ConfigMap']);
    assert.deepEqual(entryObject(stale[0] ?? { id: '', apiVersion: '' }), obj('v1', 'ConfigMap', 'a', 'n'));
    assert.deepEqual(staleEntries(undefined, next), []);
  });
});

describe('drift', () => {
  it('ignores server-owned fields and names the changed ones', () => {
    const desired = { ...obj('v1', 'ConfigMap', 'a', 'n'), data: { k: 'v', x: '1' } } as Record<string, unknown>;
    const live = { ...obj('v1', 'ConfigMap', 'a', 'n'), data: { k: 'edited', x: '1' } } as Record<string, unknown>;
    (live.metadata as Record<string, unknown>).resourceVersion = '42';
    (live.metadata as Record<string, unknown>).managedFields = [{ manager: 'kubectl' }];
    assert.deepEqual(changedPaths(desired, live), ['data.k']);
    assert.deepEqual(changedPaths(desired, { ...desired, status: { phase: 'x' } }), []);
  });
});

describe('kstatus', () => {
  const cases: [string, unknown, string, string?][] = [
    ['missing object', undefined, 'NotFound'],
    ['deployment rolled out', { kind: 'Deployment', metadata: { generation: 2 }, spec: { replicas: 2 },
      status: { observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 2 } }, 'Current'],
    ['deployment generation not observed', { kind: 'Deployment', metadata: { generation: 3 }, spec: {},
      status: { observedGeneration: 2 } }, 'InProgress', 'GenerationNotObserved'],
    ['deployment rolling', { kind: 'Deployment', metadata: { generation: 1 }, spec: { replicas: 3 },
      status: { observedGeneration: 1, replicas: 3, updatedReplicas: 3, availableReplicas: 1 } }, 'InProgress', 'RolloutInProgress'],
    ['deployment past deadline', { kind: 'Deployment', metadata: { generation: 1 }, spec: { replicas: 1 },
      status: { observedGeneration: 1, conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'too slow' }] } },
    'Failed', 'ProgressDeadlineExceeded'],
    ['statefulset ready', { kind: 'StatefulSet', spec: { replicas: 1 }, status: { readyReplicas: 1, currentRevision: 'a', updateRevision: 'a' } }, 'Current'],
    ['statefulset updating', { kind: 'StatefulSet', spec: { replicas: 1 }, status: { readyReplicas: 1, currentRevision: 'a', updateRevision: 'b' } }, 'InProgress'],
    ['daemonset partial', { kind: 'DaemonSet', status: { desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 2 } }, 'InProgress'],
    ['replicaset failure', { kind: 'ReplicaSet', spec: { replicas: 1 }, status: { conditions: [{ type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate' }] } }, 'Failed', 'FailedCreate'],
    ['job complete', { kind: 'Job', status: { conditions: [{ type: 'Complete', status: 'True' }] } }, 'Current'],
    ['job failed', { kind: 'Job', status: { conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded' }] } }, 'Failed', 'BackoffLimitExceeded'],
    ['pod image pull', { kind: 'Pod', status: { phase: 'Pending', containerStatuses: [{ name: 'app', state: { waiting: { reason: 'ErrImagePull', message: 'no such image' } } }] } }, 'Failed', 'ErrImagePull'],
    ['pod ready', { kind: 'Pod', status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } }, 'Current'],
    ['pvc pending', { kind: 'PersistentVolumeClaim', status: { phase: 'Pending' } }, 'InProgress'],
    ['clusterip service', { kind: 'Service', spec: { type: 'ClusterIP' } }, 'Current'],
    ['lb without address', { kind: 'Service', spec: { type: 'LoadBalancer' }, status: {} }, 'InProgress'],
    ['crd established', { kind: 'CustomResourceDefinition', status: { conditions: [{ type: 'Established', status: 'True' }] } }, 'Current'],
    ['crd names rejected', { kind: 'CustomResourceDefinition', status: { conditions: [{ type: 'NamesAccepted', status: 'False', reason: 'Conflict' }] } }, 'Failed', 'Conflict'],
    ['custom ready', { kind: 'Widget', status: { conditions: [{ type: 'Ready', status: 'True' }] } }, 'Current'],
    ['custom not ready', { kind: 'Widget', status: { conditions: [{ type: 'Ready', status: 'False', reason: 'Waiting' }] } }, 'InProgress', 'Waiting'],
    ['custom stalled', { kind: 'Widget', status: { conditions: [{ type: 'Stalled', status: 'True', reason: 'Broken' }] } }, 'Failed', 'Broken'],
    ['configmap', { kind: 'ConfigMap', data: {} }, 'Current'],
    ['terminating', { kind: 'ConfigMap', metadata: { deletionTimestamp: '2026-01-01T00:00:00Z' } }, 'InProgress', 'Terminating'],
  ];
  for (const [name, input, status, reason] of cases) {
    it(name, () => {
      const h = assessHealth(input);
      assert.equal(h.status, status, h.message);
      if (reason) assert.equal(h.reason, reason);
    });
  }
});
