// Git reference rules of Flux's GitRepository, without any IO (workflow code may import
// this): which field of spec.ref wins, which tag a semver range picks, and the revision
// string an artifact is named by (`main@sha1:<commit>`, `v1.2.0@sha1:<commit>`, `sha1:<commit>`).
import semver from 'semver';
import type { GitRef } from './declarations/types.js';

/** What a GitRef asks for, after Flux's precedence: commit > name > semver > tag > branch. */
export type GitRefKind =
  | { readonly kind: 'commit'; readonly commit: string; readonly branch?: string }
  | { readonly kind: 'name'; readonly name: string }
  | { readonly kind: 'semver'; readonly range: string }
  | { readonly kind: 'tag'; readonly tag: string }
  | { readonly kind: 'branch'; readonly branch: string };

/** Throws when no field is set (the parser defaults an empty ref to branch "master"). */
export function gitRefKind(ref: GitRef): GitRefKind {
  if (ref.commit) return ref.branch ? { kind: 'commit', commit: ref.commit, branch: ref.branch } : { kind: 'commit', commit: ref.commit };
  if (ref.name) return { kind: 'name', name: ref.name };
  if (ref.semver) return { kind: 'semver', range: ref.semver };
  if (ref.tag) return { kind: 'tag', tag: ref.tag };
  if (ref.branch) return { kind: 'branch', branch: ref.branch };
  throw new Error('git ref is empty: set one of branch, tag, semver, name or commit');
}

/** For messages: `branch "main"`, `semver range ">=1.0.0"`, `commit "abc…" in branch "main"`. */
export function describeGitRef(ref: GitRef): string {
  const k = gitRefKind(ref);
  switch (k.kind) {
    case 'commit':
      return k.branch === undefined ? `commit "${k.commit}"` : `commit "${k.commit}" in branch "${k.branch}"`;
    case 'name':
      return `ref "${k.name}"`;
    case 'semver':
      return `semver range "${k.range}"`;
    case 'tag':
      return `tag "${k.tag}"`;
    case 'branch':
      return `branch "${k.branch}"`;
  }
}

/**
 * The highest tag whose version satisfies `range`. Tags may carry a leading `v`; tags that
 * are not semver are ignored; prereleases match only when the range names a prerelease of
 * the same version (the `semver` package's rule). Throws on an invalid range.
 */
export function selectSemverTag(tags: readonly string[], range: string): string | undefined {
  if (semver.validRange(range) === null) {
    throw new Error(`invalid semver range "${range}": not a valid range (examples: ">=1.0.0 <2.0.0", "^1.2", "1.x")`);
  }
  let best: { tag: string; version: semver.SemVer } | undefined;
  for (const tag of tags) {
    const version = semver.parse(tag);
    if (version === null || !semver.satisfies(version, range)) continue;
    const order = best === undefined ? 1 : semver.compareBuild(version, best.version);
    // Equal versions (v1.0.0 and 1.0.0): the lexically greater tag wins, so the pick never depends on order.
    if (best === undefined || order > 0 || (order === 0 && tag > best.tag)) best = { tag, version };
  }
  return best?.tag;
}

/**
 * Flux's revision string: `<branch>@sha1:<commit>`, `<tag>@sha1:<commit>` (also for semver,
 * with the selected tag in `resolved.tag`), `<refname>@sha1:<commit>`, or `sha1:<commit>`
 * for a commit alone. A 64-digit commit (SHA-256 repository) gets `sha256:`.
 */
export function formatRevision(ref: GitRef, resolved: { readonly commit: string; readonly tag?: string }): string {
  const hash = `${resolved.commit.length === 64 ? 'sha256' : 'sha1'}:${resolved.commit}`;
  const k = gitRefKind(ref);
  switch (k.kind) {
    case 'commit':
      return k.branch === undefined ? hash : `${k.branch}@${hash}`;
    case 'name':
      return `${k.name}@${hash}`;
    case 'semver':
      if (resolved.tag === undefined) throw new Error(`a semver ref needs the selected tag to format its revision`);
      return `${resolved.tag}@${hash}`;
    case 'tag':
      return `${k.tag}@${hash}`;
    case 'branch':
      return `${k.branch}@${hash}`;
  }
}
