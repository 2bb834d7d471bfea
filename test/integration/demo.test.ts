// The README's main command end to end: `demo.js --headless` in a fresh demo directory starts
// the whole system for real (Temporal, three clusters, the hub, three agents, git), rolls a new
// version out wave by wave, rolls a broken one back, and stops it all. The assertions read what
// the demo printed, in order (never how long it took), and check that no process it started
// is left behind.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../deploy/dev/binaries.js';

const demoMain = join(repoRoot, 'dist', 'deploy', 'dev', 'demo.js');
const dir = mkdtempSync(join(tmpdir(), 'flotilla-demo-'));
const started: { pid?: number } = {};

interface Run {
  readonly code: number | null;
  readonly output: string;
}

/** Runs the demo in its own process group (so that a hung run can be ended as a whole). */
function demo(...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [demoMain, ...args], {
      env: { ...process.env, FLOTILLA_DEMO_DIR: dir }, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    });
    started.pid = child.pid;
    let output = '';
    child.stdout.on('data', (b: Buffer) => { output += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { output += b.toString(); });
    child.on('error', reject);
    child.on('close', (code) => { resolve({ code, output }); });
  });
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
  rmSync(dir, { recursive: true, force: true });
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

  it('--headless: a rollout dev → staging → prod succeeds, a broken version is rolled back, and nothing is left running', { timeout: 15 * 60_000 }, async () => {
    const r = await demo('--headless');
    const out = r.output;
    assert.equal(r.code, 0, `the demo failed:\n${out}`);

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

    // Stopped: every process it started is gone.
    const stopped = /stopped (\d+) processes \(pids ([\d ]+)\)/.exec(out);
    assert.ok(stopped?.[1] !== undefined && stopped[2] !== undefined, 'the demo says what it stopped');
    const pids = stopped[2].trim().split(' ').map(Number);
    assert.ok(pids.length >= 3 * 4 + 2 + 1 + 3, `etcd, Temporal, 4 per cluster, the hub and 3 agents: ${pids.join(' ')}`);
    assert.deepEqual(pids.filter(alive), [], 'no process the demo started is alive');
    assert.deepEqual(processesIn(dir), [], 'no process runs from the demo directory');
  });
});
