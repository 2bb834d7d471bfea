// The docs say which test shows each rule (docs/security.md, reliability.md, gitops.md…). A
// renamed or deleted test file must not leave a citation pointing at nothing: every
// test/<dir>/<file>.ts a document names exists.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const documents = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f))];

describe('the test files the documentation cites exist', () => {
  for (const doc of documents) {
    it(doc, () => {
      const text = readFileSync(join(root, doc), 'utf8');
      const cited = [...new Set(text.match(/test\/(?:unit|integration|harness)\/[\w.-]+\.ts/g) ?? [])];
      const missing = cited.filter((p) => !existsSync(join(root, p)));
      assert.deepEqual(missing, [], `${doc} cites test files that do not exist`);
    });
  }
  it('docs/security.md cites tests at all (the check reads the right tree)', () => {
    const text = readFileSync(join(root, 'docs/security.md'), 'utf8');
    assert.ok((text.match(/test\/(?:unit|integration)\/[\w.-]+\.ts/g) ?? []).length > 20);
  });
});
