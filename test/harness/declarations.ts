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

/** A GitRepository on branch main, as a tenant's or the platform's repository declares it. */
export const gitRepository = (name: string, namespace: string, url: string): Record<string, unknown> => ({
  apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name, namespace },
  spec: { url, interval: '1m', ref: { branch: 'main' } },
});

/** A pruning Kustomization of the GitRepository of the same name, path ./, with `spec` merged over. */
export const kustomization = (name: string, namespace: string, spec: Record<string, unknown>): Record<string, unknown> => ({
  apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name, namespace },
  spec: { interval: '1m', retryInterval: '5s', prune: true, sourceRef: { kind: 'GitRepository', name }, path: './', ...spec },
});
