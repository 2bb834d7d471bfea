// The README's main command end to end, the way a new user runs it: the repository is
// cloned into an empty directory (only committed files, nothing of its own beside it), and
// `npm run demo -- --headless` (scripts/demo.sh) runs there. It installs what is missing
// (nothing: the infrastructure cache ~/.cache/flotilla is shared and the clone gets this
// checkout's node_modules as hard links), compiles the clone, then starts the whole system
// for real (Temporal, three clusters, the hub, three agents, git), rolls a new version out
// wave by wave, rolls a broken one back, and stops it all. The assertions read what the demo
// printed, in order (never how long it took), and check that no process it started is left
// behind.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../../deploy/dev/binaries.js';

const run = promisify(execFile);
const demoMain = join(repoRoot, 'dist', 'deploy', 'dev', 'demo.js');
/** Empty at first: the fresh clone (`flotilla/`) and the demo's data directory (`demo/`). */
const root = mkdtempSync(join(tmpdir(), 'flotilla-demo-'));
const clone = join(root, 'flotilla');
const dir = join(root, 'demo');
mkdirSync(dir);
const started: { pid?: number } = {};

interface Run {
  readonly code: number | null;
  readonly output: string;
}

/** Runs `command` in its own process group (so that a hung run can be ended as a whole). */
function runGroup(command: string, args: readonly string[], cwd: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd, env: { ...process.env, FLOTILLA_DEMO_DIR: dir }, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    });
    started.pid = child.pid;
    let output = '';
    child.stdout.on('data', (b: Buffer) => { output += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { output += b.toString(); });
    child.on('error', reject);
    child.on('close', (code) => { resolve({ code, output }); });
  });
}

/** This checkout's built demo (for its command line only). */
function demo(...args: string[]): Promise<Run> {
  return runGroup(process.execPath, [demoMain, ...args], repoRoot);
}

/**
 * A fresh clone of this repository's HEAD (the committed files only, as CI and a new user
 * get them), with this checkout's node_modules hard-linked in (copied when hard links cannot
 * cross to the temporary directory): `npm ci` would only install the same packages again. Its package marker is a fresh copy, newer than the clone's
 * package-lock.json, so that setup.sh sees the packages as installed.
 */
async function freshClone(): Promise<void> {
  const marker = join(repoRoot, 'node_modules', '.package-lock.json');
  assert.ok(existsSync(marker), `${repoRoot}/node_modules is not installed (run npm run setup first)`);
  await run('git', ['clone', '--quiet', repoRoot, clone]);
  try {
    await run('cp', ['-al', join(repoRoot, 'node_modules'), join(clone, 'node_modules')]);
  } catch {
    // Hard links need one file system (a tmpfs TMPDIR is another): copy instead.
    rmSync(join(clone, 'node_modules'), { recursive: true, force: true });
    await run('cp', ['-a', '--reflink=auto', join(repoRoot, 'node_modules'), join(clone, 'node_modules')]);
  }
  rmSync(join(clone, 'node_modules', '.package-lock.json'));
  copyFileSync(marker, join(clone, 'node_modules', '.package-lock.json'));
}

/** `npm run demo -- <args>` in the clone: what that script runs. */
function demoInClone(...args: string[]): Promise<Run> {
  return runGroup('bash', ['scripts/demo.sh', ...args], clone);
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

/** Processes whose command line names the demo directory (every one the demo starts does). */
function processesIn(directory: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmd.includes(directory)) found.push(`${entry}: ${cmd.slice(0, 160)}`);
    } catch { /* gone meanwhile */ }
  }
  return found;
}

/** The text of step `n` ("== n/7 …" up to the next step). */
function step(output: string, n: number): string {
  const start = output.indexOf(`== ${n}/7 `);
  assert.ok(start >= 0, `step ${n} was reached`);
  const end = output.indexOf(`== ${n + 1}/7 `, start);
  return output.slice(start, end < 0 ? undefined : end);
}

/** Asserts that each pattern matches, each after the previous one; returns their positions. */
function inOrder(text: string, patterns: readonly RegExp[]): number[] {
  const at: number[] = [];
  let from = 0;
  for (const p of patterns) {
    const i = text.slice(from).search(p);
    assert.ok(i >= 0, `${String(p)} after ${String(patterns[at.length - 1] ?? 'the start')} in:\n${text}`);
    at.push(from + i);
    from += i + 1;
  }
  return at;
}

after(() => {
  // Only if the run itself failed to clean up: its process group, then what pids.json names.
  if (started.pid !== undefined && alive(started.pid)) {
    try { process.kill(-started.pid, 'SIGKILL'); } catch { /* gone */ }
  }
  const pidsFile = join(dir, 'pids.json');
  if (existsSync(pidsFile)) {
    for (const p of JSON.parse(readFileSync(pidsFile, 'utf8')) as { pid: number }[]) {
      if (processesIn(dir).some((line) => line.startsWith(`${p.pid}:`))) {
        try { process.kill(-p.pid, 'SIGKILL'); } catch { /* gone */ }
      }
    }
  }
  rmSync(root, { recursive: true, force: true });
});

describe('the fleet demo (npm run demo)', () => {
  it('--help describes the demo and its --headless mode', async () => {
    const r = await demo('--help');
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /three Kubernetes clusters, dev, staging and\s+prod/);
    assert.match(r.output, /--headless/);
    const bad = await demo('--nonsense');
    assert.equal(bad.code, 2);
    assert.match(bad.output, /unknown option --nonsense/);
  });

  it('--headless, in a fresh clone: a rollout dev → staging → prod succeeds, a broken version is rolled back, and nothing is left running', { timeout: 20 * 60_000 }, async () => {
    await freshClone();
    // Nothing of the clone's own is beside it: the demo reads only what the repository holds.
    assert.deepEqual(readdirSync(root).sort(), ['demo', 'flotilla']);
    assert.equal(existsSync(join(clone, '..', 'shared')), false, 'no ../shared beside the clone');
    assert.ok(existsSync(join(clone, 'examples', 'podinfo', 'charts', 'podinfo', 'Chart.yaml')),
      'examples/podinfo/charts/podinfo is in the clone (this test runs what HEAD holds: commit your changes first)');
    const r = await demoInClone('--headless');
    const out = r.output;
    assert.equal(r.code, 0, `the demo failed:\n${out}`);

    // 0: setup found everything installed, then the clone was compiled.
    const before = out.slice(0, out.indexOf('== 1/7 '));
    assert.doesNotMatch(before, /setup: npm (ci|install)/, 'the hard-linked node_modules count as installed');
    inOrder(before, [/install-infra: ready/, /demo: building/]);
    assert.ok(existsSync(join(clone, 'dist', 'deploy', 'dev', 'demo.js')), 'the clone was built');

    // 1-3: the environment, the hub, the agents with their labels.
    assert.match(step(out, 1), /Temporal UI +http:\/\/127\.0\.0\.1:\d+/);
    for (const c of ['dev', 'staging', 'prod']) assert.match(step(out, 1), new RegExp(`cluster ${c} +https://127\\.0\\.0\\.1:\\d+`));
    assert.match(step(out, 2), /flotilla-hub serve --data-dir \S+ --listen 127\.0\.0\.1:\d+/);
    for (const c of ['dev', 'staging', 'prod']) {
      assert.match(step(out, 3), new RegExp(`agent\\[${c}\\] registered with labels env=${c} and connected`));
      assert.match(step(out, 3), new RegExp(`^ +${c} +registered .*env=${c}$`, 'm'), 'flotilla cluster list shows it');
    }

    // 4: applied, the first revision everywhere, the HelmRelease installed.
    const four = step(out, 4);
    assert.match(four, /GitRepository\/flux-system\/fleet created/);
    assert.match(four, /Kustomization\/flux-system\/podinfo created/);
    assert.match(four, /HelmRelease\/flux-system\/podinfo created/);
    assert.match(four, /dev podinfo:6\.5\.0 .*staging podinfo:6\.5\.0 .*prod podinfo:6\.5\.0/);
    assert.match(four, /podinfo +charts\/podinfo@\S+ +false +3\/3 +True/);
    assert.match(four, /1 +\S+ +deployed +podinfo-\S+/, 'helm history on prod');

    // 5: 6.5.1 reaches each wave in order, then the rollout succeeds with every cluster at 6.5.1.
    const five = step(out, 5);
    inOrder(five, [
      /RolloutStarted +rolling out 6\.5\.1/,
      /WaveStarted +wave dev started/, /rollout \w+ \| waves: dev \w+.*\| clusters: dev 6\.5\.1, staging 6\.5\.0, prod 6\.5\.0/, /WaveSucceeded +wave dev succeeded/,
      /WaveStarted +wave staging started/, /clusters: dev 6\.5\.1, staging 6\.5\.1, prod 6\.5\.0/, /WaveSucceeded +wave staging succeeded/,
      /WaveStarted +wave prod started/, /WaveSucceeded +wave prod succeeded/,
      /RolloutFinished +Succeeded/,
      /rollout Succeeded \| waves: dev Succeeded, staging Succeeded, prod Succeeded \| clusters: dev 6\.5\.1, staging 6\.5\.1, prod 6\.5\.1/,
      /dev podinfo:6\.5\.1 .*staging podinfo:6\.5\.1 .*prod podinfo:6\.5\.1/,
    ]);

    // 6: the broken 6.5.2 fails in dev, dev goes back, staging and prod are never touched.
    const six = step(out, 6);
    inOrder(six, [
      /RolloutStarted +rolling out 6\.5\.2/,
      /WaveStarted +wave dev started/,
      /WaveFailed +wave dev failed: .*ErrImagePull/,
      /RollbackStarted .*rolling back 1 cluster \(dev\)/,
      /RolloutFinished +RolledBack/,
      /rollout RolledBack \| waves: dev Failed, staging Skipped, prod Skipped \| clusters: dev 6\.5\.1 \(RolledBack\), staging 6\.5\.1, prod 6\.5\.1/,
      /Ready=False RolloutFailed/,
      /dev podinfo:6\.5\.1 .*staging podinfo:6\.5\.1 .*prod podinfo:6\.5\.1/,
    ]);
    assert.doesNotMatch(six, /WaveStarted +wave (staging|prod)/);

    // 7: how to reach the running demo.
    const seven = step(out, 7);
    assert.match(seven, /export FLOTILLA_HUB=http:\/\/127\.0\.0\.1:\d+ FLOTILLA_TEMPORAL=127\.0\.0\.1:\d+ FLOTILLA_TEMPORAL_NAMESPACE=default FLOTILLA_HUB_DATA=\S+/);
    assert.match(seven, /node dist\/cli\/main\.js helm history podinfo --cluster prod/);
    assert.match(seven, /KUBECONFIG=\S+\/clusters\/prod\/kubeconfig \S+kubectl get/);
    assert.match(seven, /http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows/);
    assert.ok(seven.includes(`from ${clone}:`), 'the demo ran from the clone');

    // Stopped: every process it started is gone.
    const stopped = /stopped (\d+) processes \(pids ([\d ]+)\)/.exec(out);
    assert.ok(stopped?.[1] !== undefined && stopped[2] !== undefined, 'the demo says what it stopped');
    const pids = stopped[2].trim().split(' ').map(Number);
    assert.ok(pids.length >= 3 * 4 + 2 + 1 + 3, `etcd, Temporal, 4 per cluster, the hub and 3 agents: ${pids.join(' ')}`);
    assert.deepEqual(pids.filter(alive), [], 'no process the demo started is alive');
    assert.deepEqual(processesIn(dir), [], 'no process runs from the demo directory');
  });
});
