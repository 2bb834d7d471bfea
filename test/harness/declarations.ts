// Helpers of the declaration parsing tests: the only declaration of a valid text, the only
// error of an invalid one.
import assert from 'node:assert/strict';
import { formatDeclarationError, parseDeclarations, type DeclarationError, type ParsedDeclarations } from '../../core/declarations/parse.js';
import type { Declaration } from '../../core/declarations/types.js';

/** Parses text that must be valid (and, with `noWarnings`, warn about nothing) and returns its only declaration. */
export function one(text: string, opts: { readonly noWarnings?: boolean } = {}): Declaration {
  const r = parseDeclarations(text, 'x.yaml');
  assert.deepEqual(r.errors, []);
  if (opts.noWarnings) assert.deepEqual(r.warnings, []);
  assert.equal(r.declarations.length, 1);
  const [d] = r.declarations;
  assert.ok(d);
  return d;
}

export function onlyError(r: ParsedDeclarations): DeclarationError {
  assert.equal(r.errors.length, 1, `want one error, got: ${r.errors.map(formatDeclarationError).join(' | ')}`);
  const [e] = r.errors;
  assert.ok(e);
  return e;
}
