// Golden files (test/fixtures/golden): expected output, committed; a change in what a command
// prints is a visible diff. FLOTILLA_UPDATE_GOLDEN=1 rewrites them (then review the diff).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('../../../test/fixtures/golden/', import.meta.url));

export function golden(name: string, actual: string): void {
  const file = join(dir, name);
  const update = process.env.FLOTILLA_UPDATE_GOLDEN === '1';
  if (update || !existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, actual);
    if (!update) assert.fail(`${file} did not exist; written now: review it and commit it`);
  }
  assert.equal(actual, readFileSync(file, 'utf8'), `${name} differs from its golden file (FLOTILLA_UPDATE_GOLDEN=1 to accept the new output)`);
}
