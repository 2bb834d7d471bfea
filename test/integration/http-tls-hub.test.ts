// The real hub process serving its HTTP API over HTTPS (http.tls.mode on, the hub's own
// certificate), with a real Temporal: it logs where its CA is, `flotilla --hub https://…
// --ca-file <that CA>` discovers Temporal through /api/v1/info and answers; without the CA it
// fails saying what to give. test/unit/http-tls.test.ts has the cases without a hub process.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot, hubToolFlags } from '../../deploy/dev/binaries.js';
import { freePorts } from '../../deploy/dev/ports.js';
import { ManagedProcess, waitFor } from '../../deploy/dev/processes.js';
import { useEnvironment } from '../harness/index.js';

const run = promisify(execFile);
/** Generous: a CLI process asking the hub, then Temporal, on a machine shared with other runs. */
const CALL_TIMEOUT_MS = 60_000;
const state: { dir: string; http: number; grpc: number; hub?: ManagedProcess } = { dir: '', http: 0, grpc: 0 };

const env = useEnvironment({ clusters: [], temporal: true }, {
  afterStart: async () => {
    state.dir = mkdtempSync(join(tmpdir(), 'flotilla-http-tls-hub-'));
    [state.grpc = 0, state.http = 0] = await freePorts(2);
  },
  beforeStop: async () => {
    await state.hub?.stop();
    if (process.env.FLOTILLA_KEEP_TEST_DIRS) console.log(`kept ${state.dir}`);
    else rmSync(state.dir, { recursive: true, force: true });
  },
});

async function flotilla(args: readonly string[], extraEnv: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(repoRoot, 'dist', 'cli', 'main.js'), ...args],
      { env: { PATH: process.env.PATH ?? '', HOME: state.dir, ...extraEnv }, timeout: CALL_TIMEOUT_MS });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('the hub process with HTTPS on', () => {
  it('serves its API over HTTPS with its own CA; flotilla --ca-file works through it, without the CA it does not', async () => {
    const temporal = env().temporalServer();
    const data = join(state.dir, 'hub');
    const log = join(state.dir, 'hub.log');
    state.hub = ManagedProcess.start({
      name: 'flotilla-hub', command: process.execPath, logFile: log,
      args: [join(repoRoot, 'dist', 'hub', 'main.js'), 'serve', ...hubToolFlags(), '--data-dir', data, '--listen', `127.0.0.1:${state.grpc}`,
        '--temporal', temporal.address, '--namespace', temporal.namespace, '--task-queue', 'http-tls-hub',
        '--http', `127.0.0.1:${state.http}`, '--http-tls', 'on', '--http-host', 'hub.test'],
    });
    // The worker bundles the workflows first: generous on a loaded machine.
    await waitFor('hub ready', () => Promise.resolve(readFileSync(log, 'utf8').includes('"hub ready"') ? true : undefined), { timeoutMs: 180_000, process: state.hub });
    const ready = readFileSync(log, 'utf8').split('\n').find((l) => l.includes('"hub ready"')) ?? '';
    const fields = JSON.parse(ready) as { http?: string; httpCa?: string };
    const url = `https://127.0.0.1:${state.http}`;
    assert.equal(fields.http, url, 'the hub logs its https URL');
    assert.equal(fields.httpCa, join(data, 'tls', 'hub.crt'), 'and where its CA is');

    const check = await flotilla(['--hub', url, '--ca-file', join(data, 'tls', 'hub.crt'), 'get', 'all']);
    assert.equal(check.code, 0, `flotilla get all over https: ${check.stderr}`);
    const env2 = await flotilla(['get', 'all'], { FLOTILLA_HUB: url, FLOTILLA_HUB_CA: join(data, 'tls', 'hub.crt') });
    assert.equal(env2.code, 0, `FLOTILLA_HUB + FLOTILLA_HUB_CA: ${env2.stderr}`);

    const untrusted = await flotilla(['--hub', url, 'get', 'all']);
    assert.equal(untrusted.code, 1);
    assert.match(untrusted.stderr, /cannot reach the hub API at https:\/\/127\.0\.0\.1:\d+ \(.*the hub's certificate does not chain to a trusted CA; pass --ca-file <pem> or set FLOTILLA_HUB_CA/);
    const plain = await flotilla(['cluster', 'list', '--hub', `http://127.0.0.1:${state.http}`]);
    assert.equal(plain.code, 1);
    assert.match(plain.stderr, /a hub serving HTTPS closes plain HTTP connections: is it https:\/\/127\.0\.0\.1:\d+\?/);
  });
});
