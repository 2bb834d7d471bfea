// The hub's workflow code as one prebuilt bundle. Given `workflowsPath`, the Temporal worker
// runs webpack inside the hub at start-up, and the hub keeps what webpack allocated: measured
// here, an idle worker holds 332 MiB that way and 191 MiB when it loads a prebuilt bundle. So
// the hub bundles in a short-lived child process (`node workflow-bundle.js <out>`), once per
// version of the workflow code — the file name carries a digest of the compiled workflow,
// core and api modules and of the SDK's version, so a bundle never outlives the code it was
// built from — and the worker loads the file.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const distRoot = fileURLToPath(new URL('..', import.meta.url));
const workflowsPath = join(distRoot, 'workflows', 'index.js');

/** Digest of everything a bundle is built from: the compiled modules workflows may import, and the SDK. */
function codeDigest(): string {
  const hash = createHash('sha256');
  for (const dir of ['workflows', 'core', 'api']) {
    const root = join(distRoot, dir);
    const files = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js')).sort();
    for (const f of files) hash.update(`${dir}/${f}\0`).update(readFileSync(join(root, f))).update('\0');
  }
  const sdk = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.resolve('@temporalio/workflow'))), '..', 'package.json'), 'utf8')) as { version?: string };
  hash.update(`@temporalio/workflow@${sdk.version ?? '?'}`);
  return hash.digest('hex').slice(0, 16);
}

/** The bundle for the current code in `dir` (built there first when missing); its path. */
export async function workflowBundle(dir: string): Promise<string> {
  const path = join(dir, `workflows-${codeDigest()}.js`);
  if (existsSync(path)) return path;
  await mkdir(dir, { recursive: true });
  const staging = `${path}.${String(process.pid)}.tmp`;
  await promisify(execFile)(process.execPath, [fileURLToPath(import.meta.url), staging], { maxBuffer: 64 * 1024 * 1024 });
  await rename(staging, path);
  return path;
}

// The child: bundles and writes the file.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = process.argv[2];
  if (out === undefined) throw new Error('usage: node workflow-bundle.js <out-file>');
  const { bundleWorkflowCode } = await import('@temporalio/worker');
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: (m: string) => { console.error(m); } } });
  await writeFile(out, code);
}
