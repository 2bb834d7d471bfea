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
