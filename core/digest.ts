// Content digests: artifacts are named by the sha256 of their exact bytes.
import { createHash } from 'node:crypto';

const DIGEST = /^sha256:[0-9a-f]{64}$/;

export function digestOf(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function isDigest(value: string): boolean {
  return DIGEST.test(value);
}

/** Throws, naming both digests, when `data` is not what `digest` promises. */
export function verifyDigest(data: Uint8Array | string, digest: string): void {
  if (!isDigest(digest)) throw new Error(`invalid digest "${digest}" (want sha256:<64 hex digits>)`);
  const actual = digestOf(data);
  if (actual !== digest) throw new Error(`artifact digest mismatch: expected ${digest}, got ${actual}; refusing to apply it`);
}
