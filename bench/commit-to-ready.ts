// Benchmark "commit-to-ready": how long from a git commit until the Kustomization is Ready at
// that commit, with `flotilla reconcile kustomization <name> --with-source` as the trigger,
// on 1 and then 3 clusters. Real parts: a git repository on disk, a `flotilla-hub serve`
// process on a Temporal dev server, one `flotilla-agent` process per local cluster.
// Each commit changes a ConfigMap and the Deployment's pod template (a real rollout; wait:
// true waits for it). Figures: the CLI's wall time (what an operator sees) and the time the
// status was first seen Ready at the commit (polled every 100 ms).
// `--commits N` is a smoke run: N commits per phase, nothing recorded.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { kustomizationStatusQuery, type KustomizationStatus } from '../api/kustomization.js';
import { isReady } from '../core/conditions.js';
import { startEnvironment, type LocalEnvironment } from '../deploy/dev/environment.js';
import { waitFor } from '../deploy/dev/processes.js';
import { TestFleet } from '../test/harness/fleet.js';
import { configMap, GitRepo } from '../test/harness/git.js';
import { median, percentile, recordResults } from './record.js';

const CLUSTERS = ['bench-1', 'bench-2', 'bench-3'];
const NAME = 'commit-bench';
const ID = `kustomization/flux-system/${NAME}`;
const NAMESPACE = 'commit-bench';
const ANNOTATION = 'bench.flotilla.dev/version';
const POLL_MS = 100;

interface Sample {
  readonly version: number;
  readonly commit: string;
  /** `flotilla reconcile ... --with-source` wall time, from just before the commit. */
  readonly cliSeconds: number;
  /** First time the status was seen Ready at the commit (100 ms polling). */
  readonly statusSeconds: number;
  /** When the actor set Ready at the commit, by the hub's workflow clock (status.lastReconciledAt). */
  readonly hubReadySeconds: number;
  /** The slowest status query of this sample's poll, in ms (bounds the polling error). */
  readonly maxQueryMs: number;
  /** The revision the CLI's final line reported as applied; not the commit when the CLI returned early. */
  readonly cliRevision: string;
  /** The CLI's progress lines. */
  readonly cliOutput: string;
}

function writeApp(repo: GitRepo, version: number): void {
  repo.writeObjects('app/namespace.yaml', [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } }])
    .writeObjects('app/config.yaml', [
      configMap('settings', NAMESPACE, { version: String(version) }),
      configMap('static', NAMESPACE, { greeting: 'hello' }),
    ])
    .writeObjects('app/deployment.yaml', [{
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: NAMESPACE },
      spec: {
        replicas: 1, selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' }, annotations: { [ANNOTATION]: String(version) } },
          spec: { containers: [{ name: 'web', image: 'ghcr.io/stefanprodan/podinfo:6.14.1', ports: [{ containerPort: 9898 }] }] },
        },
      },
    }]);
}

function declarations(repoUrl: string, clusters: readonly string[]): string {
  return [
    {
      apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'bench', namespace: 'flux-system' },
      spec: { url: repoUrl, interval: '10m', ref: { branch: 'main' } },
    },
    {
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name: NAME, namespace: 'flux-system' },
      spec: {
        interval: '10m', prune: true, wait: true, timeout: '2m', path: './app',
        sourceRef: { kind: 'GitRepository', name: 'bench' }, placement: { clusters },
      },
    },
  ].map((o) => stringify(o)).join('---\n');
}

async function apply(fleet: TestFleet, file: string, content: string): Promise<void> {
  writeFileSync(file, content);
  const r = await fleet.cli('apply', '-f', file);
  if (r.code !== 0) throw new Error(`flotilla apply failed: ${r.stderr}`);
}

async function status(fleet: TestFleet): Promise<KustomizationStatus> {
  return fleet.client.workflow.getHandle(ID).query(kustomizationStatusQuery);
}

function readyAt(s: KustomizationStatus, revision: string, clusters: number): boolean {
  return isReady(s.conditions) && s.lastAppliedRevision === revision && s.placed.length === clusters
    && s.clusters.every((c) => c.ready === 'True' && c.revision === revision);
}

/** Checks, outside the timing, that every placed cluster really rolled out `version`. */
async function verifyRollout(env: LocalEnvironment, clusters: readonly string[], version: number): Promise<void> {
  for (const cluster of clusters) {
    const kc = env.cluster(cluster).kubeConfig();
    const d = await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: 'web', namespace: NAMESPACE });
    const cm = await kc.makeApiClient(CoreV1Api).readNamespacedConfigMap({ name: 'settings', namespace: NAMESPACE });
    const ok = d.spec?.template.metadata?.annotations?.[ANNOTATION] === String(version)
      && d.status?.observedGeneration === d.metadata?.generation
      && d.status?.updatedReplicas === 1 && d.status.availableReplicas === 1
      && cm.data?.version === String(version);
    if (!ok) throw new Error(`${cluster}: version ${version} not rolled out: ${JSON.stringify({ annotations: d.spec?.template.metadata?.annotations, status: d.status, data: cm.data })}`);
  }
}

async function measure(fleet: TestFleet, repo: GitRepo, version: number, clusters: readonly string[]): Promise<Sample> {
  writeApp(repo, version);
  const t0 = performance.now();
  const commit = repo.commit(`v${version}`);
  const revision = `main@sha1:${commit}`;
  const t0Epoch = Date.now();
  const watch = { stop: false, seenAt: undefined as number | undefined, hubReadyAt: 0, maxQueryMs: 0 };
  const poll = (async (): Promise<void> => {
    while (!watch.stop) {
      const sent = performance.now();
      try {
        const s = await status(fleet);
        watch.maxQueryMs = Math.max(watch.maxQueryMs, performance.now() - sent);
        if (readyAt(s, revision, clusters.length)) {
          watch.seenAt = performance.now();
          watch.hubReadyAt = s.lastReconciledAt;
          return;
        }
      } catch { /* a query can fail while the actor continues as new; poll again */ }
      await sleep(POLL_MS);
    }
  })();
  const r = await fleet.cli('reconcile', 'kustomization', NAME, '--with-source', '--timeout', '3m');
  const cliAt = performance.now();
  if (r.code !== 0) {
    watch.stop = true;
    await poll;
    throw new Error(`flotilla reconcile exited ${r.code} at version ${version}:\n${r.stderr}`);
  }
  await Promise.race([poll, sleep(10_000)]);
  watch.stop = true;
  await poll;
  if (watch.seenAt === undefined) {
    throw new Error(`the CLI exited 0 but ${ID} was not Ready at ${revision} within 10 s after: ${JSON.stringify(await status(fleet))}`);
  }
  const reported = [...r.stderr.matchAll(/Applied revision: (\S+)/g)].at(-1)?.[1] ?? '';
  return { version, commit, cliSeconds: (cliAt - t0) / 1000, statusSeconds: (watch.seenAt - t0) / 1000,
    hubReadySeconds: (watch.hubReadyAt - t0Epoch) / 1000, maxQueryMs: Math.round(watch.maxQueryMs), cliRevision: reported, cliOutput: r.stderr.trim() };
}

async function phase(fleet: TestFleet, repo: GitRepo, clusters: readonly string[], first: number, commits: number): Promise<Sample[]> {
  const samples: Sample[] = [];
  for (let i = 0; i < commits; i++) {
    const s = await measure(fleet, repo, first + i, clusters);
    await verifyRollout(fleet.env, clusters, s.version);
    const early = s.cliRevision === `main@sha1:${s.commit}` ? '' : ` (the CLI returned reporting ${s.cliRevision || 'no revision'}, not the commit)`;
    console.log(`${clusters.length} cluster(s), commit ${i + 1}/${commits} (${s.commit.slice(0, 8)}): CLI ${s.cliSeconds.toFixed(2)} s, status Ready seen at ${s.statusSeconds.toFixed(2)} s (set by the hub at ${s.hubReadySeconds.toFixed(2)} s; slowest status query ${s.maxQueryMs} ms)${early}`);
    if (early) console.log(s.cliOutput.replace(/^/gm, '    '));
    samples.push(s);
    await sleep(1000);
  }
  return samples;
}

interface Summary { n: number; p50: number; p90: number; statusP50: number; statusP90: number; hubP50: number; hubP90: number; early: number }

function summarize(samples: readonly Sample[]): Summary {
  const cli = samples.map((s) => s.cliSeconds);
  const seen = samples.map((s) => s.statusSeconds);
  const hub = samples.map((s) => s.hubReadySeconds);
  return {
    n: samples.length, p50: median(cli), p90: percentile(cli, 90), statusP50: median(seen), statusP90: percentile(seen, 90),
    hubP50: median(hub), hubP90: percentile(hub, 90),
    early: samples.filter((s) => s.cliRevision !== `main@sha1:${s.commit}`).length,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { commits: { type: 'string' } }, strict: true });
  const smoke = values.commits !== undefined;
  const commits = smoke ? Number(values.commits) : 20;
  if (!Number.isInteger(commits) || commits < 1) throw new Error(`--commits must be a positive integer, got "${values.commits ?? ''}"`);

  const work = mkdtempSync(join(tmpdir(), 'flotilla-bench-commit-'));
  const env = await startEnvironment({ clusters: CLUSTERS, temporal: true });
  let fleet: TestFleet | undefined;
  try {
    fleet = await TestFleet.create(env);
    await fleet.startHub();
    for (const c of CLUSTERS) await fleet.startAgent(c);
    const repo = new GitRepo(join(work, 'repo'));
    const declFile = join(work, 'declarations.yaml');
    const one = CLUSTERS.slice(0, 1);

    // Warm-up (not measured): the first deployment on one cluster.
    writeApp(repo, 0);
    const initial = repo.commit('v0');
    await apply(fleet, declFile, declarations(repo.url, one));
    const r = await fleet.cli('reconcile', 'kustomization', NAME, '--with-source', '--timeout', '3m');
    if (r.code !== 0) throw new Error(`first reconcile failed: ${r.stderr}`);
    await fleet.waitForReadyAt(ID, `main@sha1:${initial}`);
    const oneCluster = await phase(fleet, repo, one, 1, commits);

    // Placement widened to 3 clusters; wait until all three run the current commit.
    await apply(fleet, declFile, declarations(repo.url, CLUSTERS));
    const head = `main@sha1:${repo.git('rev-parse', 'HEAD')}`;
    const f = fleet;
    await waitFor(`${ID} Ready on ${CLUSTERS.length} clusters`, async () => (readyAt(await status(f), head, CLUSTERS.length) ? true : undefined),
      { timeoutMs: 180_000, intervalMs: 300 });
    const threeClusters = await phase(fleet, repo, CLUSTERS, 1 + commits, commits);

    const s1 = summarize(oneCluster);
    const s3 = summarize(threeClusters);
    const figures = {
      commits,
      p50Seconds1Cluster: s1.p50, p90Seconds1Cluster: s1.p90,
      p50Seconds3Clusters: s3.p50, p90Seconds3Clusters: s3.p90,
      statusObservedP50Seconds1Cluster: s1.statusP50, statusObservedP90Seconds1Cluster: s1.statusP90,
      statusObservedP50Seconds3Clusters: s3.statusP50, statusObservedP90Seconds3Clusters: s3.statusP90,
      hubReadyP50Seconds1Cluster: s1.hubP50, hubReadyP90Seconds1Cluster: s1.hubP90,
      hubReadyP50Seconds3Clusters: s3.hubP50, hubReadyP90Seconds3Clusters: s3.hubP90,
      cliReturnedBeforeCommitReady1Cluster: s1.early, cliReturnedBeforeCommitReady3Clusters: s3.early,
      samples1Cluster: oneCluster.map(({ cliOutput: _, ...rest }) => rest), samples3Clusters: threeClusters.map(({ cliOutput: _, ...rest }) => rest),
    };
    const t = (n: number): string => `${n.toFixed(2)} s`;
    for (const [label, s] of [['1 cluster ', s1], ['3 clusters', s3]] as const) {
      console.log(`${label} (n=${s.n}): CLI p50 ${t(s.p50)}, p90 ${t(s.p90)}; status seen p50 ${t(s.statusP50)}, p90 ${t(s.statusP90)}; set by the hub p50 ${t(s.hubP50)}, p90 ${t(s.hubP90)}; CLI returned before the commit was Ready: ${s.early}/${s.n}`);
    }
    if (smoke) {
      console.log('smoke run (--commits): nothing recorded');
      return;
    }
    recordResults('commit-to-ready', figures, [
      `A git commit (a ConfigMap value and the Deployment's pod template annotation change, so the Deployment really rolls out) until the Kustomization (interval 10m, prune, wait: true, timeout 2m; a Namespace, 2 ConfigMaps and a 1-replica Deployment) is Ready at that commit. Trigger: \`flotilla reconcile kustomization ${NAME} --with-source\` right after the commit. ${commits} commits per row, one after the other; real \`flotilla-hub serve\` and one \`flotilla-agent\` process per local cluster (kube-apiserver + controllers + kwok), Temporal dev server on the same machine.`,
      '',
      '| placement | n | CLI wall time p50 | CLI p90 | status seen Ready p50 | status p90 | Ready set by the hub p50 | hub p90 | CLI returned before the commit was Ready |',
      '|---|---|---|---|---|---|---|---|---|',
      `| 1 cluster | ${s1.n} | ${t(s1.p50)} | ${t(s1.p90)} | ${t(s1.statusP50)} | ${t(s1.statusP90)} | ${t(s1.hubP50)} | ${t(s1.hubP90)} | ${s1.early} |`,
      `| 3 clusters | ${s3.n} | ${t(s3.p50)} | ${t(s3.p90)} | ${t(s3.statusP50)} | ${t(s3.statusP90)} | ${t(s3.hubP50)} | ${t(s3.hubP90)} | ${s3.early} |`,
      '',
      'The figure is the CLI wall time (what an operator sees: Node start, Temporal connection, the GitRepository\'s fetch, then the Kustomization\'s reconcile, the CLI polling status every 500 ms). "Status seen Ready" is when a 100 ms poll of the actor\'s status first showed Ready at the commit on every placed cluster (includes the query\'s own latency); "Ready set by the hub" is the actor\'s lastReconciledAt (its workflow clock, same machine) for that reconcile. "CLI returned before the commit was Ready": runs where the CLI exited 0 reporting an earlier revision as applied (its reconcile request overtook the GitRepository\'s notification of the new revision); in those runs the CLI time understates commit-to-ready and the status time is the true one.',
    ].join('\n'));
  } finally {
    await fleet?.stop();
    await env.stop();
    if (process.env.FLOTILLA_KEEP_TEST_DIRS) console.log(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
