#!/usr/bin/env node
// `npm run demo`: the whole system on this machine, every part real, in the foreground. A
// Temporal dev server (with its Web UI), three Kubernetes clusters (dev, staging, prod), the
// hub and one agent per cluster as processes, a git repository holding a small fleet, and the
// `flotilla` CLI driving it: a progressive rollout wave by wave, then a broken version rolled
// back on its own. It is the README's main command, so it says at every step what it does,
// fails naming the step, and leaves nothing running when it ends (Ctrl-C, or --headless).
import { execFile, execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { RolloutStatus } from '../../api/rollout.js';
import { conditionOf, isReady } from '../../core/conditions.js';
import { bin, binaryPaths, cacheDir, repoRoot } from './binaries.js';
import { startEnvironment, type LocalEnvironment } from './environment.js';
import { LocalFleet, type CliResult } from './local-fleet.js';
import { freePort } from './ports.js';
import { waitFor } from './processes.js';

const run = promisify(execFile);

const usage = `usage: npm run demo [-- --headless]      (or: node dist/deploy/dev/demo.js [--headless])

The Flotilla fleet demo, with real components only:
  1. a Temporal dev server (with its Web UI) and three Kubernetes clusters, dev, staging and
     prod (real kube-apiserver, controller-manager and scheduler; kwok simulates the nodes);
  2. the hub (flotilla-hub serve) on a free port;
  3. an agent per cluster, registered with a one-time token from 'flotilla cluster token create'
     and labelled env=dev|staging|prod;
  4. a git repository with a small fleet (the podinfo app, the podinfo Helm chart, and Flux
     YAML: a GitRepository, a Kustomization with a three-wave rollout dev → staging → prod,
     a HelmRelease), applied with 'flotilla apply';
  5. a new app version committed and rolled out wave by wave;
  6. a broken version (its pods never start) rolled back automatically after the dev wave fails;
  7. the commands to explore the running demo yourself.
Then it keeps everything running until Ctrl-C (SIGINT) or SIGTERM and stops it all.

options:
  --headless   run steps 1-7, stop everything and exit: 0 when every step worked, 1 (naming
               the failed step) otherwise
  -h, --help   this help

environment:
  FLOTILLA_DEMO_DIR   where the demo keeps its data and logs (default ~/.cache/flotilla/demo);
                      wiped at every start`;

const demoDir = process.env.FLOTILLA_DEMO_DIR ?? join(cacheDir, 'demo');
const MARKER = '.flotilla-demo';
const CLUSTERS = ['dev', 'staging', 'prod'] as const;
const KUSTOMIZATION = 'kustomization/flux-system/podinfo';
const HELMRELEASE = 'helmrelease/flux-system/podinfo';
const IMAGE = 'ghcr.io/stefanprodan/podinfo';
/** The hub API's default address: `flotilla` finds a hub there without being told. */
const DEFAULT_HUB_HTTP_PORT = 7480;
/** Every step has a deadline (generous: a busy 2-core machine); waits inside it have shorter ones. */
const STEP_TIMEOUT_MS = 300_000;
const WAIT_TIMEOUT_MS = 150_000;
/** The example chart of this repository (examples/README.md), committed to the fleet repository. */
const podinfoChart = join(repoRoot, 'examples', 'podinfo', 'charts', 'podinfo');

const say = (line = ''): void => { console.log(line); };
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

class StepFailed extends Error {}

// ---- the fleet repository ------------------------------------------------------------------

/** A bare repository (what the hub fetches) and a work clone (where the demo commits). */
class FleetRepo {
  readonly bare: string;
  readonly work: string;

  constructor(dir: string) {
    this.bare = join(dir, 'fleet.git');
    this.work = join(dir, 'fleet');
    execFileSync('git', ['init', '-q', '--bare', '-b', 'main', this.bare]);
    mkdirSync(this.work, { recursive: true });
    this.git('init', '-q', '-b', 'main');
    // Local identity, so that commits work here for the person exploring the demo too.
    this.git('config', 'user.name', 'Flotilla Demo');
    this.git('config', 'user.email', 'demo@flotilla.dev');
    this.git('config', 'commit.gpgsign', 'false');
    this.git('remote', 'add', 'origin', this.bare);
  }

  get url(): string {
    return `file://${this.bare}`;
  }

  git(...args: string[]): string {
    return execFileSync('git', args, { cwd: this.work, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  }

  write(path: string, content: string): void {
    const file = join(this.work, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
  }

  /** Commits everything and pushes it to the bare repository; returns the commit. */
  commit(message: string): string {
    this.git('add', '-A');
    this.git('commit', '-q', '-m', message);
    this.git('push', '-q', 'origin', 'main');
    return this.git('rev-parse', 'HEAD');
  }
}

/** The podinfo app at `version`; `broken` pods never start (kwok's simulated ErrImagePull). */
function writeApp(repo: FleetRepo, version: string, broken = false): void {
  repo.write('apps/podinfo/kustomization.yaml', `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: podinfo
resources:
  - namespace.yaml
  - deployment.yaml
  - service.yaml
`);
  repo.write('apps/podinfo/namespace.yaml', `apiVersion: v1
kind: Namespace
metadata:
  name: podinfo
`);
  repo.write('apps/podinfo/deployment.yaml', `apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
  labels:
    app: podinfo
spec:
  replicas: 2
  selector:
    matchLabels:
      app: podinfo
  template:
    metadata:
      labels:
        app: podinfo
      annotations:
        app.flotilla.dev/version: "${version}"${broken ? `
        # kwok (the simulated nodes) keeps these pods Waiting with ErrImagePull: the
        # Deployment never becomes Available (README: "Failing pods on purpose").
        sim.flotilla.dev/fail: ErrImagePull` : ''}
    spec:
      containers:
        - name: podinfod
          image: ${IMAGE}:${version}
          command: ["./podinfo", "--port=9898", "--level=info"]
          ports:
            - name: http
              containerPort: 9898
          env:
            - name: PODINFO_UI_MESSAGE
              value: "podinfo ${version}, delivered by Flotilla"
`);
  repo.write('apps/podinfo/service.yaml', `apiVersion: v1
kind: Service
metadata:
  name: podinfo
spec:
  selector:
    app: podinfo
  ports:
    - name: http
      port: 9898
      targetPort: http
`);
}

/** Flux's YAML for the fleet, plus Flotilla's placement and rollout. */
function declarations(repo: FleetRepo): string {
  return `# The fleet's declarations: Flux's own YAML, plus Flotilla's spec.placement and spec.rollout.
# Applied with: flotilla apply -f clusters/declarations.yaml
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: fleet
  namespace: flux-system
spec:
  url: ${repo.url}
  interval: 1m
  ref:
    branch: main
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: podinfo
  namespace: flux-system
spec:
  interval: 10m
  sourceRef:
    kind: GitRepository
    name: fleet
  path: ./apps/podinfo
  prune: true
  wait: true
  timeout: 30s              # each wave's health timeout
  placement:
    clusters: [dev, staging, prod]
  rollout:
    onFailure: rollback
    waves:
      - name: dev
        clusterSelector: {matchLabels: {env: dev}}
        bakeTime: 10s
      - name: staging
        clusterSelector: {matchLabels: {env: staging}}
        bakeTime: 10s
      - name: prod
        clusterSelector: {matchLabels: {env: prod}}
        bakeTime: 10s
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: podinfo
  namespace: flux-system
spec:
  interval: 10m
  timeout: 2m
  releaseName: podinfo
  targetNamespace: podinfo-helm
  install:
    createNamespace: true
  chart:
    spec:
      chart: ./charts/podinfo
      sourceRef:
        kind: GitRepository
        name: fleet
  values:
    replicaCount: 1
    ui:
      message: "installed by Flotilla from the fleet repository's chart"
  placement:
    clusterSelector:
      matchExpressions:
        - {key: env, operator: In, values: [dev, staging, prod]}
`;
}

// ---- watching a rollout ----------------------------------------------------------------------

/** Names revisions (`main@sha1:<commit>`) after the app version the demo committed. */
class Versions {
  private readonly bySha = new Map<string, string>();

  add(sha: string, version: string): void {
    this.bySha.set(sha, version);
  }

  of(revision: string): string {
    if (!revision) return '-';
    const sha = /sha1:([0-9a-f]{40})/.exec(revision)?.[1];
    return sha ? (this.bySha.get(sha) ?? sha.slice(0, 7)) : revision;
  }

  /** Long revisions in a message, as "6.5.1 (abc1234)". */
  text(message: string): string {
    return message.replace(/\b[\w./-]+@sha1:([0-9a-f]{40})/g, (_m, sha: string) => `${this.bySha.get(sha) ?? 'commit'} (${sha.slice(0, 7)})`);
  }
}

/** One line: the rollout's phase, each wave's phase, and what each cluster runs. */
function stateLine(s: RolloutStatus, versions: Versions): string {
  const waves = s.waves.map((w) => `${w.name} ${w.phase}`).join(', ');
  const clusters = s.clusters.map((c) => {
    const note = c.phase === 'Updating' || c.phase === 'Failed' || c.phase.startsWith('Roll') ? ` (${c.phase})` : '';
    return `${c.cluster} ${versions.of(c.revision)}${note}`;
  }).join(', ');
  return `rollout ${s.phase} | waves: ${waves} | clusters: ${clusters}`;
}

/**
 * Follows the rollout of `commit` until it finishes, printing each new event and each change
 * of state (phases of the rollout and its waves, the revision each cluster runs).
 */
async function followRollout(fleet: LocalFleet, commit: string, versions: Versions, timeoutMs: number): Promise<RolloutStatus> {
  const seen = new Set<string>();
  const messages: string[] = [];
  let shown = '';
  let started: number | undefined;
  let result: RolloutStatus | undefined;
  const stamp = (at: number): string => `+${((at - (started ?? at)) / 1000).toFixed(1)}s`.padStart(7);
  await until(`the rollout of ${versions.of(`sha1:${commit}`)} (${commit.slice(0, 7)}) to finish`, async () => {
    const s = await fleet.declarations.rolloutStatus(KUSTOMIZATION);
    if (!s?.revision.endsWith(commit)) return { done: false, last: s ? `the latest rollout is of ${versions.of(s.revision)}, ${s.phase}` : 'no rollout yet' };
    started ??= s.startedAt;
    for (const e of s.events) {
      const key = `${e.at}|${e.type}|${e.message}`;
      if (seen.has(key)) continue;
      seen.add(key);
      // Later events often repeat an earlier one's message (the failure, in RollbackStarted and RolloutFinished).
      const earlier = messages.filter((m) => m.length > 60 && m !== e.message && e.message.includes(m)).sort((a, b) => b.length - a.length)[0];
      const text = earlier ? e.message.replace(earlier, `${earlier.slice(0, earlier.indexOf(':') + 1 || 30)} … (as above)`) : e.message;
      messages.push(e.message);
      say(`  ${stamp(e.at)}  ${e.type.padEnd(16)} ${versions.text(text)}`);
    }
    const line = stateLine(s, versions);
    if (line !== shown) {
      say(`  ${stamp(Date.now())}  ${line}`);
      shown = line;
    }
    result = s;
    return { done: s.finishedAt !== undefined, last: line };
  }, timeoutMs);
  if (!result) throw new Error('the rollout was not seen');
  return result;
}

// ---- the demo --------------------------------------------------------------------------------

interface Step {
  readonly number: number;
  readonly title: string;
}

class Demo {
  env: LocalEnvironment | undefined;
  fleet: LocalFleet | undefined;
  repo: FleetRepo | undefined;
  readonly versions = new Versions();
  private current: Step | undefined;
  private stopping: Promise<void> | undefined;
  private readonly startedAt = Date.now();

  constructor(readonly headless: boolean) {}

  /** Runs one step with a deadline; a failure or timeout names the step. */
  private async step(number: number, title: string, fn: () => Promise<void>, timeoutMs = STEP_TIMEOUT_MS): Promise<void> {
    this.current = { number, title };
    const started = Date.now();
    say();
    say(`== ${number}/7 ${title}`);
    const work = fn();
    work.catch(() => undefined); // observed by the race below; still running after a timeout
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => { reject(new StepFailed(`timed out after ${seconds(timeoutMs)}`)); }, timeoutMs);
    });
    try {
      await Promise.race([work, deadline]);
    } finally {
      clearTimeout(timer);
    }
    if (Date.now() - started >= 100) say(`   (${seconds(Date.now() - started)})`);
  }

  failedStep(): Step | undefined {
    return this.current;
  }

  private fleetOrThrow(): LocalFleet {
    if (!this.fleet) throw new Error('the fleet is not running');
    return this.fleet;
  }

  private repoOrThrow(): FleetRepo {
    if (!this.repo) throw new Error('the fleet repository does not exist');
    return this.repo;
  }

  /**
   * Runs a CLI command, echoing it (and its output) as a person would see it; fails unless it
   * exits `expect`. The promise is marked handled, so a command left running in the background
   * when a step fails does not crash the demo before it cleans up.
   */
  private cli(args: readonly string[], opts: { expect?: number; show?: boolean } = {}): Promise<CliResult> {
    const p = this.runCli(args, opts);
    p.catch(() => undefined);
    return p;
  }

  private async runCli(args: readonly string[], opts: { expect?: number; show?: boolean } = {}): Promise<CliResult> {
    const r = await this.fleetOrThrow().cli(...args);
    if (opts.show ?? true) {
      say(`  $ flotilla ${args.join(' ')}`);
      for (const line of r.stdout.trimEnd().split('\n')) if (line) say(`    ${line}`);
    }
    const expect = opts.expect ?? 0;
    if (r.code !== expect) {
      const tail = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-5).join('\n');
      throw new StepFailed(`flotilla ${args.join(' ')} exited ${r.code} (expected ${expect}):\n${tail}`);
    }
    return r;
  }

  async run(): Promise<void> {
    say('Flotilla fleet demo: Temporal, three Kubernetes clusters, the hub, an agent per cluster and git, all real.');
    say(`demo directory (data and logs): ${demoDir}`);

    await this.step(1, 'Temporal (with its Web UI) and clusters dev, staging, prod', async () => {
      prepareDemoDir();
      this.env = await startEnvironment({ clusters: CLUSTERS, temporal: true, temporalUi: true, dir: join(demoDir, 'env') });
      this.recordPids();
      const temporal = this.env.temporalServer();
      say(`  Temporal      ${temporal.address} (namespace ${temporal.namespace})`);
      if (temporal.uiUrl) say(`  Temporal UI   ${temporal.uiUrl}`);
      for (const name of CLUSTERS) {
        const c = this.env.cluster(name);
        say(`  cluster ${name.padEnd(8)} ${c.server}  (kube-apiserver, controller-manager, scheduler, kwok node)`);
      }
    }, 300_000);

    await this.step(2, 'the hub', async () => {
      if (!this.env) throw new Error('no environment');
      // The API on its default port when that is free, so that a plain `flotilla …` finds this hub.
      const httpPort = await portIsFree(DEFAULT_HUB_HTTP_PORT) ? DEFAULT_HUB_HTTP_PORT : await freePort();
      this.fleet = await LocalFleet.create(this.env, { dir: join(demoDir, 'fleet'), httpPort, heartbeatSeconds: 5, driftIntervalSeconds: 30 });
      const hub = await this.fleet.startHub();
      this.recordPids();
      say(`  flotilla-hub serve --data-dir ${this.fleet.hubData} --listen ${this.fleet.hubAddress} --http 127.0.0.1:${httpPort}  (pid ${hub.pid})`);
      say(`  agent gateway: gRPC over TLS on ${this.fleet.hubAddress}; HTTP API on ${this.fleet.hubUrl}; Temporal worker on task queue flotilla-hub`);
    });

    await this.step(3, 'an agent per cluster, registered with one-time tokens', async () => {
      const fleet = this.fleetOrThrow();
      for (const name of CLUSTERS) {
        say(`  $ flotilla cluster token create --hub-data ${fleet.hubData} --labels env=${name} --ttl 10m`);
        const agent = await fleet.startAgent(name, { env: name });
        this.recordPids();
        say(`    agent[${name}] registered with labels env=${name} and connected (pid ${agent.pid})`);
      }
      const list = await fleet.cli('cluster', 'list');
      say('  $ flotilla cluster list');
      for (const line of list.stdout.trimEnd().split('\n')) say(`    ${line}`);
    });

    await this.step(4, 'a fleet repository in git, applied with flotilla apply', async () => {
      this.repo = new FleetRepo(join(demoDir, 'git'));
      const repo = this.repo;
      writeApp(repo, '6.5.0');
      if (!existsSync(podinfoChart)) throw new Error(`the podinfo chart is missing: ${podinfoChart}`);
      cpSync(podinfoChart, join(repo.work, 'charts', 'podinfo'), { recursive: true });
      repo.write('clusters/declarations.yaml', declarations(repo));
      const first = repo.commit('podinfo 6.5.0, the podinfo chart, and the fleet declarations');
      this.versions.add(first, '6.5.0');
      say(`  git repository ${repo.url}, work clone ${repo.work}`);
      say(`    apps/podinfo/              Deployment + Service, image ${IMAGE}:6.5.0`);
      say('    charts/podinfo/            the podinfo Helm chart (a copy of examples/podinfo/charts/podinfo)');
      say('    clusters/declarations.yaml GitRepository fleet, Kustomization podinfo (rollout dev → staging → prod), HelmRelease podinfo');
      say(`  commit ${first.slice(0, 7)}  podinfo 6.5.0`);
      await this.cli(['apply', '-f', join(repo.work, 'clusters', 'declarations.yaml')]);
      say('  the first revision rolls out through the waves too:');
      say('  $ flotilla reconcile kustomization podinfo --with-source   (waits for the rollout; meanwhile the HelmRelease installs)');
      const reconcile = this.cli(['reconcile', 'kustomization', 'podinfo', '--with-source', '--timeout', '3m'], { show: false });
      const s = await followRollout(this.fleetOrThrow(), first, this.versions, WAIT_TIMEOUT_MS);
      if (s.phase !== 'Succeeded') throw new StepFailed(`the first rollout ended ${s.phase}: ${s.message}`);
      await reconcile;
      // Not concurrently with the one above: two reconciles of one source at once can wait on each other's request.
      await this.cli(['reconcile', 'helmrelease', 'podinfo', '--timeout', '3m'], { show: false });
      await this.waitReady(first);
      await this.showLive('6.5.0');
      await this.cli(['get', 'kustomizations', '-A']);
      await this.cli(['get', 'helmreleases', '-A']);
      await this.cli(['helm', 'history', 'podinfo', '--cluster', 'prod']);
    });

    await this.step(5, 'podinfo 6.5.1: commit, reconcile, and the rollout wave by wave', async () => {
      const repo = this.repoOrThrow();
      writeApp(repo, '6.5.1');
      const commit = repo.commit('podinfo 6.5.1');
      this.versions.add(commit, '6.5.1');
      say(`  commit ${commit.slice(0, 7)}  podinfo 6.5.1 (image ${IMAGE}:6.5.1, annotation app.flotilla.dev/version: "6.5.1")`);
      say('  $ flotilla reconcile kustomization podinfo --with-source   (waits for the rollout)');
      const reconcile = this.cli(['reconcile', 'kustomization', 'podinfo', '--with-source', '--timeout', '3m'], { show: false });
      const s = await followRollout(this.fleetOrThrow(), commit, this.versions, WAIT_TIMEOUT_MS);
      if (s.phase !== 'Succeeded') throw new StepFailed(`the rollout of 6.5.1 ended ${s.phase}: ${s.message}`);
      say(`  rollout Succeeded: 6.5.1 reached ${s.waves.map((w) => w.name).join(' → ')}, each wave healthy for its ${s.waves[0]?.bakeSeconds ?? 0}s bake before the next`);
      await reconcile;
      await this.waitReady(commit);
      await this.showLive('6.5.1');
    });

    await this.step(6, 'a broken version: the dev wave fails its health check and is rolled back', async () => {
      const repo = this.repoOrThrow();
      writeApp(repo, '6.5.2', true);
      const commit = repo.commit('podinfo 6.5.2 (broken: its pods never start)');
      this.versions.add(commit, '6.5.2');
      say(`  commit ${commit.slice(0, 7)}  podinfo 6.5.2 with the pod annotation sim.flotilla.dev/fail: ErrImagePull`);
      say('  $ flotilla reconcile kustomization podinfo --with-source   (exits 1: the rollout fails)');
      const reconcile = this.cli(['reconcile', 'kustomization', 'podinfo', '--with-source', '--timeout', '3m'], { show: false, expect: 1 });
      const s = await followRollout(this.fleetOrThrow(), commit, this.versions, WAIT_TIMEOUT_MS);
      if (s.phase !== 'RolledBack') throw new StepFailed(`the rollout of the broken 6.5.2 ended ${s.phase}, not RolledBack: ${s.message}`);
      const [dev, ...later] = s.waves;
      if (dev?.phase !== 'Failed' || later.some((w) => w.phase !== 'Skipped')) {
        throw new StepFailed(`expected wave dev Failed and the later waves Skipped, got ${s.waves.map((w) => `${w.name} ${w.phase}`).join(', ')}`);
      }
      say(`  rollout RolledBack: dev went back to 6.5.1; ${later.map((w) => w.name).join(' and ')} were never touched`);
      await reconcile;
      say('  the reconcile exited 1, as it should: the Kustomization is not Ready');
      const k = await this.fleetOrThrow().declarations.status(KUSTOMIZATION);
      if (k.kind !== 'Kustomization') throw new Error(`${KUSTOMIZATION} is not a Kustomization`);
      const ready = conditionOf(k.status.conditions, 'Ready');
      say(`  ${KUSTOMIZATION}: Ready=${ready?.status ?? 'Unknown'} ${ready?.reason ?? ''}: ${this.versions.text(ready?.message ?? '')}`);
      if (ready?.reason !== 'RolloutFailed') throw new StepFailed(`expected the Kustomization to report RolloutFailed, got ${ready?.reason ?? 'no Ready condition'}`);
      await this.showLive('6.5.1');
      await this.cli(['get', 'kustomizations', '-A']);
    });

    await this.step(7, 'explore it yourself', () => {
      this.printNext();
      return Promise.resolve();
    });
    say();
    say(`demo finished in ${seconds(Date.now() - this.startedAt)}.`);
  }

  /** Kustomization Ready at `commit` on every cluster, HelmRelease Ready on every cluster. */
  private async waitReady(commit: string, timeoutMs = WAIT_TIMEOUT_MS): Promise<void> {
    const fleet = this.fleetOrThrow();
    const ready = (conditions: Parameters<typeof conditionOf>[0]): string => {
      const c = conditionOf(conditions, 'Ready');
      return c ? `Ready=${c.status} ${c.reason}: ${this.versions.text(c.message)}` : 'no Ready condition yet';
    };
    await until(`${KUSTOMIZATION} Ready at ${commit.slice(0, 7)} on ${CLUSTERS.join(', ')}`, async () => {
      const s = await fleet.declarations.status(KUSTOMIZATION);
      if (s.kind !== 'Kustomization') return { done: false, last: s.kind };
      const everywhere = CLUSTERS.every((c) => s.status.clusters.some((x) => x.cluster === c && x.ready === 'True' && x.revision.endsWith(commit)));
      return { done: isReady(s.status.conditions) && s.status.lastAppliedRevision.endsWith(commit) && everywhere, last: ready(s.status.conditions) };
    }, timeoutMs);
    await until(`${HELMRELEASE} Ready on ${CLUSTERS.join(', ')}`, async () => {
      const s = await fleet.declarations.status(HELMRELEASE);
      if (s.kind !== 'HelmRelease') return { done: false, last: s.kind };
      const everywhere = CLUSTERS.every((c) => s.status.clusters.some((x) => x.cluster === c && x.ready === 'True'));
      return { done: isReady(s.status.conditions) && everywhere, last: `${ready(s.status.conditions)}; clusters: ${s.status.clusters.map((c) => `${c.cluster} ${c.ready} ${c.reason}`).join(', ')}` };
    }, timeoutMs);
  }

  /** What the clusters' API servers say, independently of Flotilla (kubectl). */
  private async showLive(version: string): Promise<void> {
    const env = this.env;
    if (!env) throw new Error('no environment');
    const found: string[] = [];
    for (const name of CLUSTERS) {
      const { stdout } = await run(bin('kubectl'), ['--kubeconfig', env.cluster(name).kubeconfigPath, '-n', 'podinfo', 'get', 'deployment', 'podinfo',
        '-o', 'jsonpath={.spec.template.spec.containers[0].image} {.status.availableReplicas}/{.spec.replicas}']);
      const [image = '', available = ''] = stdout.trim().split(' ');
      found.push(`${name} ${image.replace(`${IMAGE}:`, 'podinfo:')} (${available} available)`);
      if (image !== `${IMAGE}:${version}`) throw new StepFailed(`cluster ${name} runs ${image}, expected ${IMAGE}:${version}`);
    }
    say(`  kubectl get deployment podinfo -n podinfo, per cluster: ${found.join(', ')}`);
  }

  private printNext(): void {
    const env = this.env;
    const fleet = this.fleetOrThrow();
    const repo = this.repoOrThrow();
    if (!env) throw new Error('no environment');
    const temporal = env.temporalServer();
    const cli = 'node dist/cli/main.js';
    const kubectl = bin('kubectl');
    say(`  The dashboard (fleet grid, live rollouts, histories): ${fleet.hubUrl}/ui/`);
    say(`    to approve or abort from it, sign in with the token in ${join(fleet.hubData, 'api-token')}`);
    say(`    metrics for Prometheus: ${fleet.hubUrl}/metrics`);
    say(`  In another terminal, from ${repoRoot}:`);
    say(`    export FLOTILLA_HUB=${fleet.hubUrl} FLOTILLA_TEMPORAL=${temporal.address} FLOTILLA_TEMPORAL_NAMESPACE=${temporal.namespace} FLOTILLA_HUB_DATA=${fleet.hubData}`);
    if (fleet.httpPort === DEFAULT_HUB_HTTP_PORT) say(`    (flotilla also finds this hub without them: its API is on the default ${fleet.hubUrl})`);
    say(`    ${cli} get all                                  # clusters, sources, Kustomizations, HelmReleases, rollouts`);
    say(`    ${cli} get kustomizations -A`);
    say(`    ${cli} rollout status kustomization podinfo     # waves, clusters, events of the last rollout`);
    say(`    ${cli} history kustomization/podinfo            # its timeline, read from the Temporal histories`);
    say(`    ${cli} explain kustomization/podinfo --cluster prod # why prod is not at the latest revision`);
    say(`    ${cli} helm history podinfo --cluster prod`);
    say(`    ${cli} check                                    # hub, Temporal, worker, agents`);
    say(`    ${cli} events --watch                           # what happens, as it happens`);
    say('  Fix the broken version (a revert is the same build as 6.5.1, which every cluster runs already):');
    say(`    git -C ${repo.work} revert --no-edit HEAD && git -C ${repo.work} push -q origin main`);
    say(`    ${cli} reconcile kustomization podinfo --with-source`);
    say('  Or roll out a change of your own (the GitRepository also polls every minute by itself):');
    say(`    $EDITOR ${join(repo.work, 'apps', 'podinfo', 'deployment.yaml')}`);
    say(`    git -C ${repo.work} commit -qam "my change" && git -C ${repo.work} push -q origin main`);
    say(`    ${cli} reconcile kustomization podinfo --with-source     # waits for the rollout, wave by wave`);
    say('  The clusters, with kubectl:');
    for (const name of CLUSTERS) say(`    KUBECONFIG=${env.cluster(name).kubeconfigPath} ${kubectl} get deploy,pods -A`);
    if (temporal.uiUrl) {
      say(`  The Temporal UI (rollout/kustomization/flux-system/podinfo, kustomization/…, cluster/prod, helmrelease/…):`);
      say(`    ${temporal.uiUrl}/namespaces/${temporal.namespace}/workflows`);
    }
    say(`  Logs: hub and agents in ${fleet.dir}, Temporal and clusters in ${env.dir}`);
  }

  /** Every process the demo runs (also in pids.json, for whoever must clean up after a killed demo). */
  private pids(): { name: string; pid: number }[] {
    const env = this.env;
    const out: { name: string; pid: number }[] = [];
    if (env?.temporal) out.push({ name: 'temporal', pid: env.temporal.process.pid });
    if (env?.etcd) out.push({ name: 'etcd', pid: env.etcd.process.pid });
    for (const c of env?.clusters.values() ?? []) for (const p of c.processes) out.push({ name: p.spec.name, pid: p.pid });
    out.push(...(this.fleet?.processes() ?? []));
    return out;
  }

  private recordPids(): void {
    writeFileSync(join(demoDir, 'pids.json'), JSON.stringify(this.pids(), null, 2));
  }

  /** Stops agents, hub and environment (once, however often it is asked). */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const pids = this.pids();
      if (!this.env && !this.fleet) return;
      say();
      say('stopping the agents, the hub, the clusters and Temporal…');
      try { await this.fleet?.stop(); } catch (err) { say(`  stopping the fleet: ${message(err)}`); }
      try { await this.env?.stop(); } catch (err) { say(`  stopping the environment: ${message(err)}`); }
      const left = pids.filter((p) => alive(p.pid));
      for (const p of left) signalGroup(p.pid, 'SIGKILL');
      say(`stopped ${pids.length} processes (pids ${pids.map((p) => p.pid).join(' ')})${left.length > 0 ? `; killed ${left.length} that did not stop: ${left.map((p) => p.name).join(', ')}` : ''}.`);
      const pidFile = join(demoDir, 'demo.pid');
      if (existsSync(pidFile) && readFileSync(pidFile, 'utf8') === String(process.pid)) rmSync(pidFile);
    })();
    return this.stopping;
  }
}

// ---- the demo directory and leftovers ----------------------------------------------------------

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => { resolve(false); });
    server.listen(port, '127.0.0.1', () => { server.close(() => { resolve(true); }); });
  });
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try { process.kill(-pid, signal); } catch { try { process.kill(pid, signal); } catch { /* gone */ } }
}

function commandLine(pid: number): string {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' '); } catch { return ''; }
}

/**
 * Processes a previous demo in this directory started and could not stop (it was killed with
 * SIGKILL): our own programs (the hub and agents from dist/, the binaries from the cache, etcd)
 * whose command line names this directory. Nothing else, e.g. an editor open on a file here.
 */
function leftoverProcesses(): number[] {
  const ours = [join(repoRoot, 'dist'), cacheDir, binaryPaths().etcd];
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmd = commandLine(Number(entry));
    if (cmd.includes(demoDir) && ours.some((o) => cmd.includes(o))) pids.push(Number(entry));
  }
  return pids;
}

/**
 * Makes the demo directory fresh: refuses while another demo runs in it, ends the processes a
 * killed demo left, and wipes it, but only when it is a demo directory (or empty).
 */
function prepareDemoDir(): void {
  if (existsSync(demoDir)) {
    const entries = readdirSync(demoDir);
    if (entries.length > 0 && !entries.includes(MARKER)) {
      throw new StepFailed(`${demoDir} is not empty and not a Flotilla demo directory; set FLOTILLA_DEMO_DIR to another directory`);
    }
    const pidFile = join(demoDir, 'demo.pid');
    if (existsSync(pidFile)) {
      const other = Number(readFileSync(pidFile, 'utf8'));
      if (other !== process.pid && alive(other) && commandLine(other).includes('demo')) {
        throw new StepFailed(`another demo (pid ${other}) is running in ${demoDir}; stop it first (Ctrl-C there, or kill ${other})`);
      }
    }
    const leftovers = leftoverProcesses();
    for (const pid of leftovers) signalGroup(pid, 'SIGKILL');
    if (leftovers.length > 0) say(`  ended ${leftovers.length} processes a previous demo left running here (it was killed before it could stop them)`);
    rmSync(demoDir, { recursive: true, force: true });
  }
  mkdirSync(demoDir, { recursive: true });
  writeFileSync(join(demoDir, MARKER), 'A Flotilla demo directory: `npm run demo` wipes it at every start.\n');
  writeFileSync(join(demoDir, 'demo.pid'), String(process.pid));
}

/** Polls `check` until done; on timeout, the error says what was last seen. */
async function until(what: string, check: () => Promise<{ done: boolean; last: string }>, timeoutMs: number): Promise<void> {
  let last = 'nothing yet';
  try {
    await waitFor(what, async () => {
      const r = await check();
      last = r.last;
      return r.done ? true : undefined;
    }, { timeoutMs, intervalMs: 500 });
  } catch (err) {
    throw new StepFailed(`${message(err)}; last seen: ${last}`);
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args.includes('-h') || args.includes('--help')) {
    say(usage);
    return 0;
  }
  const unknown = args.filter((a) => a !== '--headless');
  if (unknown.length > 0) {
    console.error(`demo: unknown option ${unknown.join(' ')}\n\n${usage}`);
    return 2;
  }
  const demo = new Demo(args.includes('--headless'));

  // Our own signal handling instead of processes.ts's kill-on-signal: a graceful stop of the
  // agents, hub and environment. A second signal exits at once (processes.ts's exit hook
  // still kills every process group that is left).
  const signals: { interrupted: boolean; wake?: () => void } = { interrupted: false };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.removeAllListeners(signal);
    process.on(signal, () => {
      if (signals.interrupted) process.exit(130);
      signals.interrupted = true;
      if (signals.wake) { signals.wake(); return; }
      say(`\n${signal}: stopping the demo (again to exit at once)`);
      void demo.stop().then(() => process.exit(130));
    });
  }

  try {
    await demo.run();
  } catch (err) {
    if (signals.interrupted) return new Promise<number>(() => undefined); // the signal handler exits
    const step = demo.failedStep();
    console.error(`\ndemo failed at step ${step ? `${step.number} (${step.title})` : '?'}: ${message(err)}`);
    console.error(`logs: ${demoDir}`);
    await demo.stop();
    return 1;
  }
  if (!demo.headless && !signals.interrupted) {
    say();
    say('Everything keeps running. Press Ctrl-C to stop the demo.');
    await new Promise<void>((resolve) => { signals.wake = resolve; });
  }
  await demo.stop();
  return 0;
}

main().then((code) => { process.exit(code); }, (err: unknown) => {
  console.error(`demo: ${message(err)}`);
  process.exit(1);
});
