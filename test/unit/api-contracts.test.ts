// The hub starts and finds actors by workflow type name (api/*.ts *_WORKFLOW_TYPE), never by
// importing workflows/. These names must be those the worker registers: the names of the
// functions workflows/index.ts exports. The assignments below check at compile time that each
// exported workflow has the signature its contract declares (ClusterWorkflow, …).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CLUSTER_WORKFLOW_TYPE, clusterWorkflowId, type ClusterWorkflow } from '../../api/cluster.js';
import { GIT_REPOSITORY_WORKFLOW_TYPE, gitRepositoryId, type GitRepositoryWorkflow } from '../../api/git-repository.js';
import { HELM_RELEASE_WORKFLOW_TYPE, helmReleaseId, type HelmReleaseWorkflow } from '../../api/helm-release.js';
import { HELM_REPOSITORY_WORKFLOW_TYPE, helmRepositoryId, type HelmRepositoryWorkflow } from '../../api/helm-repository.js';
import {
  IMAGE_POLICY_WORKFLOW_TYPE, IMAGE_REPOSITORY_WORKFLOW_TYPE, IMAGE_UPDATE_AUTOMATION_WORKFLOW_TYPE, imagePolicyId, imageRepositoryId,
  imageUpdateAutomationId, type ImagePolicyWorkflow, type ImageRepositoryWorkflow, type ImageUpdateAutomationWorkflow,
} from '../../api/image.js';
import { KUSTOMIZATION_WORKFLOW_TYPE, kustomizationId, type KustomizationWorkflow } from '../../api/kustomization.js';
import { NOTIFICATIONS_WORKFLOW_TYPE, type NotificationsWorkflow } from '../../api/notifications.js';
import { ROLLOUT_WORKFLOW_TYPE, rolloutWorkflowId, type RolloutWorkflow } from '../../api/rollout.js';
import { declarationId, type ActorDeclaration } from '../../core/declarations/types.js';
import { ACTOR_WORKFLOW_TYPES } from '../../hub/declarations.js';
import * as workflows from '../../workflows/index.js';

const signatures: {
  readonly cluster: ClusterWorkflow; readonly gitRepository: GitRepositoryWorkflow; readonly kustomization: KustomizationWorkflow;
  readonly helmRepository: HelmRepositoryWorkflow; readonly helmRelease: HelmReleaseWorkflow; readonly rollout: RolloutWorkflow;
  readonly notifications: NotificationsWorkflow; readonly imageRepository: ImageRepositoryWorkflow;
  readonly imagePolicy: ImagePolicyWorkflow; readonly imageUpdateAutomation: ImageUpdateAutomationWorkflow;
} = {
  cluster: workflows.clusterWorkflow, gitRepository: workflows.gitRepositoryWorkflow, kustomization: workflows.kustomizationWorkflow,
  helmRepository: workflows.helmRepositoryWorkflow, helmRelease: workflows.helmReleaseWorkflow, rollout: workflows.rolloutWorkflow,
  notifications: workflows.notificationsWorkflow, imageRepository: workflows.imageRepositoryWorkflow,
  imagePolicy: workflows.imagePolicyWorkflow, imageUpdateAutomation: workflows.imageUpdateAutomationWorkflow,
};

const typeNames: Readonly<Record<keyof typeof signatures, string>> = {
  cluster: CLUSTER_WORKFLOW_TYPE, gitRepository: GIT_REPOSITORY_WORKFLOW_TYPE, kustomization: KUSTOMIZATION_WORKFLOW_TYPE,
  helmRepository: HELM_REPOSITORY_WORKFLOW_TYPE, helmRelease: HELM_RELEASE_WORKFLOW_TYPE, rollout: ROLLOUT_WORKFLOW_TYPE,
  notifications: NOTIFICATIONS_WORKFLOW_TYPE, imageRepository: IMAGE_REPOSITORY_WORKFLOW_TYPE,
  imagePolicy: IMAGE_POLICY_WORKFLOW_TYPE, imageUpdateAutomation: IMAGE_UPDATE_AUTOMATION_WORKFLOW_TYPE,
};

describe('api/ workflow type names are the registered workflows', () => {
  for (const [key, name] of Object.entries(typeNames)) {
    it(`${key}: ${name}`, () => {
      const exported: unknown = new Map<string, unknown>(Object.entries(workflows)).get(name);
      assert.equal(typeof exported, 'function', `workflows/index.ts exports no ${name}`);
      assert.equal(signatures[key as keyof typeof signatures].name, name);
    });
  }

  it('every exported workflow but the dev environment check has a contract', () => {
    const named = new Set(Object.values(typeNames));
    assert.deepEqual(Object.keys(workflows).filter((n) => !named.has(n)), ['environmentCheckWorkflow']);
  });

  it("the hub's kind → workflow type table names them", () => {
    for (const name of Object.values(ACTOR_WORKFLOW_TYPES)) assert.ok(Object.values(typeNames).includes(name), name);
  });
});

describe('api/ id functions', () => {
  it('a declaration actor id is its declarationId', () => {
    const cases: readonly [ActorDeclaration['kind'], (ns: string, name: string) => string][] = [
      ['GitRepository', gitRepositoryId], ['Kustomization', kustomizationId], ['HelmRepository', helmRepositoryId],
      ['HelmRelease', helmReleaseId], ['ImageRepository', imageRepositoryId], ['ImagePolicy', imagePolicyId],
      ['ImageUpdateAutomation', imageUpdateAutomationId],
    ];
    for (const [kind, id] of cases) assert.equal(id('apps', 'web'), declarationId({ kind, namespace: 'apps', name: 'web' }));
    assert.equal(kustomizationId('flux-system@prod', 'apps'), 'kustomization/flux-system@prod/apps');
  });

  it('cluster and rollout ids keep their recorded shape', () => {
    assert.equal(clusterWorkflowId('prod-1'), 'cluster/prod-1');
    assert.equal(rolloutWorkflowId('helmrelease/apps/web'), 'rollout/helmrelease/apps/web');
  });
});
