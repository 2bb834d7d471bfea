// A large fleet as the dashboard sees it (a FleetSnapshot), made up in memory: N clusters,
// M Kustomizations placed by label, one of them mid-rollout, some clusters behind, failing or
// unreachable. For the dashboard's unit tests and its render benchmark (200 × 50); the
// statuses have the same types the hub's actors answer with.
import type { ClusterStatus, DesiredDeployment, ReportSummary } from '../../api/cluster.js';
import type { ClusterDeploymentStatus } from '../../api/kustomization.js';
import type { RolloutStatus } from '../../api/rollout.js';
import { parseDeclarationObject } from '../../core/declarations/parse.js';
import type { KustomizationDeclaration } from '../../core/declarations/types.js';
import type { ActorStatus } from '../../hub/declarations.js';
import type { FleetSnapshot } from '../../hub/fleet-view.js';

function kustomization(name: string, env: string | undefined, rollout: boolean): KustomizationDeclaration {
  const d = parseDeclarationObject({
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name, namespace: 'flux-system' },
    spec: {
      interval: '10m', prune: true, path: `./apps/${name}`, sourceRef: { kind: 'GitRepository', name: 'fleet' },
      ...(env ? { placement: { clusterSelector: { matchLabels: { env } } } } : {}),
      ...(rollout ? { rollout: { waves: [
        { name: 'canary', clusterSelector: { matchLabels: { ring: '0' } }, bakeTime: '5m' },
        { name: 'rest', clusterSelector: { matchLabels: { ring: '1' } }, approval: true },
      ] } } : {}),
    },
  }, 'synthetic.yaml');
  if (Array.isArray(d) || d.kind !== 'Kustomization') throw new Error(`synthetic Kustomization ${name} did not parse: ${JSON.stringify(d)}`);
  return d;
}

const rev = (n: number): string => `main@sha1:${n.toString(16).padStart(8, '0')}${'0'.repeat(32)}`;

export function syntheticFleet(clusterCount: number, deploymentCount: number, now = Date.now()): FleetSnapshot {
  const envOf = (i: number): string => (i % 10 === 0 ? 'staging' : 'prod');
  const clusters: ClusterStatus[] = Array.from({ length: clusterCount }, (_, i) => ({
    name: `cluster-${String(i).padStart(3, '0')}`,
    labels: { env: envOf(i), region: ['eu-west', 'us-east', 'ap-south'][i % 3] ?? 'eu-west', ring: i < 5 ? '0' : '1' },
    connection: i % 97 === 13 ? 'Unreachable' : 'Connected', connectionSince: now - 3_600_000 - i * 1000,
    agentVersion: '0.1.0', kubernetesVersion: 'v1.30.14', apiResources: 60, desired: { version: 1, deployments: [] }, reports: [],
  }));
  // Each cluster's record on the hub: the deployments it is to run and its agent's last reports.
  const desired = new Map<string, DesiredDeployment[]>(clusters.map((c) => [c.name, []]));
  const reports = new Map<string, ReportSummary[]>(clusters.map((c) => [c.name, []]));
  const declarations: ActorStatus[] = [];
  const rollouts = new Map<string, RolloutStatus>();
  for (let d = 0; d < deploymentCount; d++) {
    const name = `app-${String(d).padStart(2, '0')}`;
    const env = d % 5 === 4 ? 'staging' : undefined;
    const rolling = d === 0;
    const declaration = kustomization(name, env, rolling);
    const id = `kustomization/flux-system/${name}`;
    const latest = rev(1000 + d);
    const placed = clusters.filter((c) => env === undefined || c.labels.env === env).map((c) => c.name);
    const perCluster: ClusterDeploymentStatus[] = placed.map((cluster, i) => {
      const behind = rolling && i >= 5;
      const failing = d % 7 === 3 && i % 11 === 5;
      const message = failing ? 'Deployment/app/web: InProgress 0/2 replicas available (ErrImagePull)' : 'applied: 0 created, 0 configured, 12 unchanged, 0 pruned';
      desired.get(cluster)?.push({
        name: id, owner: id, generation: 3, artifactDigest: `sha256:${'a'.repeat(64)}`,
        options: { prune: true, force: false, correctDrift: true, defaultNamespace: 'default', healthTimeoutSeconds: 300 },
      });
      reports.get(cluster)?.push({ name: id, generation: 3, phase: failing ? 'UNHEALTHY' : 'READY', message, counts: { objects: 12, unchanged: 12 }, finishedAt: now - 60_000 });
      return {
        cluster, ready: failing ? 'False' : 'True', reason: failing ? 'HealthCheckFailed' : 'ReconciliationSucceeded',
        message: failing ? 'Deployment app/web: 0/2 replicas available (ErrImagePull)' : 'Applied revision', generation: 3,
        revision: behind ? rev(999 + d) : latest, artifactDigest: `sha256:${'a'.repeat(64)}`,
        counts: { objects: 12, created: 0, configured: 0, unchanged: 12, pruned: 0, drifted: i % 31 === 7 ? 1 : 0 }, updatedAt: now - 60_000,
      };
    });
    declarations.push({
      kind: 'Kustomization', declaration,
      status: {
        id, generation: 1, observedGeneration: 1, suspended: false, suspendedByCli: false, lastHandledReconcileAt: '', lastReconciledAt: now - 60_000,
        conditions: [{ type: 'Ready', status: 'True', reason: 'ReconciliationSucceeded', message: `Applied revision: ${latest}`, lastTransitionTime: now - 60_000 }],
        source: 'gitrepository/flux-system/fleet', sourceRevision: latest, lastAppliedRevision: latest, lastAttemptedRevision: latest,
        lastBuild: { revision: latest, artifactDigest: `sha256:${'a'.repeat(64)}`, objectCount: 12 },
        placed, clusters: perCluster, declarations: [],
        ...(rolling ? { rollout: { id: `rollout/${id}`, revision: latest, target: `sha256:${'a'.repeat(64)}`, phase: 'Progressing', message: 'waiting for approval of wave rest', updatedAt: now - 10_000 } } : {}),
      },
    });
    if (rolling) {
      const canary = placed.slice(0, 5);
      const rest = placed.slice(5);
      rollouts.set(id, {
        id: `rollout/${id}`, owner: id, ownerKind: 'Kustomization', revision: latest, target: `sha256:${'a'.repeat(64)}`,
        phase: 'WaitingApproval', message: 'waiting for approval of wave rest', paused: false, currentWave: 1,
        waves: [
          { name: 'canary', clusters: canary, batches: [canary], phase: 'Succeeded', approval: false, bakeSeconds: 300, maxFailures: 0, failures: 0, startedAt: now - 400_000, finishedAt: now - 10_000, message: 'healthy' },
          { name: 'rest', clusters: rest, batches: [rest], phase: 'WaitingApproval', approval: true, bakeSeconds: 0, maxFailures: 0, failures: 0, message: 'waiting for approval' },
        ],
        clusters: placed.map((c, i) => ({ cluster: c, wave: i < 5 ? 'canary' : 'rest', phase: i < 5 ? 'Healthy' : 'Pending', revision: i < 5 ? latest : rev(999 + d), previousRevision: rev(999 + d), message: '', updatedAt: now - 10_000 })),
        unselected: [], onFailure: 'rollback',
        events: [{ at: now - 400_000, type: 'RolloutStarted', message: `rolling out ${latest}` }, { at: now - 10_000, type: 'GateWaiting', wave: 'rest', message: 'wave rest waits for approval' }],
        startedAt: now - 400_000,
      });
    }
  }
  const withRecords = clusters.map((c) => ({
    ...c, desired: { version: 1, deployments: desired.get(c.name) ?? [] }, reports: (reports.get(c.name) ?? []).sort((a, b) => a.name.localeCompare(b.name)),
  }));
  return { takenAt: now, tookMs: 0, clusters: withRecords, declarations, rollouts };
}
