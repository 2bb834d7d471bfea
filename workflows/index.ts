// Every workflow the hub's worker serves. The worker bundles this file.
export { environmentCheckWorkflow } from './environment-check.js';
export { clusterWorkflow } from './cluster.js';
export { gitRepositoryWorkflow } from './git-repository.js';
export { kustomizationWorkflow } from './kustomization.js';
export { helmRepositoryWorkflow } from './helm-repository.js';
export { helmReleaseWorkflow } from './helm-release.js';
export { rolloutWorkflow } from './rollout.js';
export { notificationsWorkflow } from './notifications.js';
export { imageRepositoryWorkflow } from './image-repository.js';
export { imagePolicyWorkflow } from './image-policy.js';
export { imageUpdateAutomationWorkflow } from './image-update-automation.js';
