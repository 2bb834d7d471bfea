// Revisions as people read them: Flux's `<ref>@sha1:<40 hex>` shortened to 8 hex digits
// (and `sha256:<64 hex>` digests to 12), everything else (chart versions) unchanged.
export function shortRevision(revision: string): string {
  return revision
    .replace(/(sha1:[0-9a-f]{8})[0-9a-f]{32}\b/g, '$1')
    .replace(/(sha256:[0-9a-f]{12})[0-9a-f]{52}\b/g, '$1');
}

/** True when `revision` is the one a user means by `wanted` (a full revision, a ref, or a commit prefix of 4+ digits). */
export function revisionMatches(revision: string, wanted: string): boolean {
  if (wanted === '' || revision === wanted) return true;
  const sha = /sha1:([0-9a-f]+)/.exec(revision)?.[1] ?? '';
  if (/^[0-9a-f]{4,40}$/.test(wanted) && sha.startsWith(wanted)) return true;
  return revision.startsWith(wanted);
}

/** The sha256 of no bytes at all: the artifact of a build that produced no objects. */
export const EMPTY_DIGEST = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** An artifact digest for people: shortened, and said to be empty when it is the digest of nothing. */
export function describeDigest(digest: string): string {
  return digest === EMPTY_DIGEST ? `${shortRevision(digest)} (empty build: no objects)` : shortRevision(digest);
}
