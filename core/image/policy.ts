// Tag selection of Flux's ImagePolicy (image.toolkit.fluxcd.io/v1beta2), without IO: which
// tag of a scanned ImageRepository a policy picks. Follows image-reflector-controller's
// internal/policy: filterTags first (pattern + extract), then semver / alphabetical / numerical
// over the extracted values, answering with the original tag.
import semver from 'semver';
import { compileGoRegex, goExpand, goFindSubmatch } from '../go-regex.js';

export type SortOrder = 'asc' | 'desc';

export interface TagFilter {
  /** Go regexp (core/go-regex.ts); unanchored, like Go's FindStringSubmatch. */
  readonly pattern: string;
  /** Go Regexp.Expand template (`$ts`, `${ts}`, `$1`; goExpand); what the policy compares. */
  readonly extract?: string;
}

export type ImagePolicyChoice = (
  | { readonly semver: { readonly range: string } }
  | { readonly alphabetical: { readonly order: SortOrder } }
  | { readonly numerical: { readonly order: SortOrder } }
) & { readonly filterTags?: TagFilter };

export type TagSelection = { readonly tag: string } | { readonly none: string };

interface Candidate {
  /** The value compared: the tag, or what `extract` made of it. */
  readonly key: string;
  readonly tag: string;
}

/**
 * The tag `policy` selects out of `tags`, or why none qualifies. Throws (naming the field)
 * when the policy itself is invalid: a bad semver range, regexp or order.
 */
export function selectTag(tags: readonly string[], policy: ImagePolicyChoice): TagSelection {
  // Validate the whole policy before looking at tags, so a bad policy fails even on an empty repository.
  const filter = policy.filterTags === undefined ? undefined : compileFilter(policy.filterTags);
  const rule = compileRule(policy);
  if (tags.length === 0) return { none: 'the image repository has no tags' };

  const candidates = filter === undefined ? tags.map((tag) => ({ key: tag, tag })) : filter(tags);
  const filtered = filter === undefined ? '' : ` matching spec.filterTags.pattern "${policy.filterTags?.pattern ?? ''}"`;
  if (candidates.length === 0) {
    return { none: `no tag out of ${tags.length} matches spec.filterTags.pattern "${policy.filterTags?.pattern ?? ''}"` };
  }
  const best = rule.pick(candidates);
  if (best === undefined) return { none: `no tag out of ${candidates.length}${filtered} ${rule.unmet(candidates)}` };
  return { tag: best.tag };
}

interface Rule {
  pick(candidates: readonly Candidate[]): Candidate | undefined;
  /** Completes "no tag out of N …" when pick found nothing. */
  unmet(candidates: readonly Candidate[]): string;
}

function compileRule(policy: ImagePolicyChoice): Rule {
  if ('semver' in policy) return semverRule(policy.semver.range);
  if ('alphabetical' in policy) {
    const order = checkOrder(policy.alphabetical.order, 'spec.policy.alphabetical.order');
    return {
      // Code-unit order, as Go's sort.Strings for ASCII tags. "asc": the latest is the highest.
      pick: (cs) => extreme(cs, (a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0), order),
      unmet: () => 'can be ordered',
    };
  }
  if ('numerical' in policy) {
    const order = checkOrder(policy.numerical.order, 'spec.policy.numerical.order');
    return {
      pick: (cs) => {
        const numbers = cs.flatMap((c) => {
          const n = parseNumber(c.key);
          return n === undefined ? [] : [{ c, n }];
        });
        return extreme(numbers, (a, b) => a.n - b.n || compareKeys(a.c, b.c), order)?.c;
      },
      unmet: () => 'is a number',
    };
  }
  throw new Error('spec.policy: set one of semver, alphabetical or numerical');
}

function semverRule(range: string): Rule {
  if (semver.validRange(range) === null) {
    throw new Error(`spec.policy.semver.range: invalid semver range "${range}" (examples: ">=1.0.0", "^1.2", "1.x")`);
  }
  // Flux (Masterminds/semver) considers prereleases only when the constraint names one, and then
  // orders them like any version; node-semver by default also needs the same major.minor.patch,
  // so turn includePrerelease on exactly when the range has a prerelease comparator.
  const parsed = new semver.Range(range);
  // ("*" yields Comparator.ANY, whose semver has no prerelease array.)
  const includePrerelease = parsed.set.some((group) => group.some((c) => Array.isArray(c.semver.prerelease) && c.semver.prerelease.length > 0));
  const versionOf = (key: string): semver.SemVer | null =>
    // Flux's version.ParseVersion: strict semver with an optional leading "v".
    /^v?\d/.test(key) ? semver.parse(key) : null;
  return {
    pick: (cs) => {
      let best: { c: Candidate; v: semver.SemVer } | undefined;
      for (const c of cs) {
        const v = versionOf(c.key);
        if (v === null || !semver.satisfies(v, parsed, { includePrerelease })) continue;
        const order = best === undefined ? 1 : semver.compare(v, best.v);
        // Equal versions (v1.0.0, 1.0.0): the greater key wins, so the pick never depends on tag order.
        if (best === undefined || order > 0 || (order === 0 && compareKeys(c, best.c) > 0)) best = { c, v };
      }
      return best?.c;
    },
    unmet: (cs) => {
      const invalid = cs.filter((c) => versionOf(c.key) === null).length;
      return `satisfies ${range}` + (invalid > 0 ? ` (${invalid} ${invalid === 1 ? 'is' : 'are'} not semver)` : '');
    },
  };
}

function checkOrder(order: string, field: string): SortOrder {
  if (order === 'asc' || order === 'desc') return order;
  throw new Error(`${field}: invalid order "${order}", must be asc or desc`);
}

/** The highest for "asc" (Flux: ascending order selects the last), the lowest for "desc". */
function extreme<T>(items: readonly T[], compare: (a: T, b: T) => number, order: SortOrder): T | undefined {
  let best: T | undefined;
  for (const item of items) {
    if (best === undefined) {
      best = item;
      continue;
    }
    const c = compare(item, best);
    if (order === 'asc' ? c > 0 : c < 0) best = item;
  }
  return best;
}

function compareKeys(a: Candidate, b: Candidate): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0;
}

/** Decimal floats as Go's strconv.ParseFloat reads them (hex, Inf and NaN are left out). */
function parseNumber(text: string): number | undefined {
  return /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text) ? Number(text) : undefined;
}

/**
 * Flux's RegexFilter (image-reflector-controller internal/policy/filter.go): the pattern
 * compiled as a Go regexp, each tag searched (FindStringSubmatchIndex, unanchored) and, when
 * extract is not empty, the key is Regexp.ExpandString(extract) over the match (goExpand).
 */
function compileFilter(filter: TagFilter): (tags: readonly string[]) => Candidate[] {
  const re = compileGoRegex(filter.pattern);
  if (re instanceof Error) throw new Error(`spec.filterTags.pattern: ${re.message}`);
  const template = filter.extract ?? '';
  return (tags) => {
    // Like Flux, keyed by the extracted value: two tags extracting the same value count once (the later wins).
    const byKey = new Map<string, string>();
    for (const tag of tags) {
      const m = goFindSubmatch(re, tag);
      if (m === null) continue;
      byKey.set(template === '' ? tag : goExpand(re, template, m), tag);
    }
    return [...byKey].map(([key, tag]) => ({ key, tag }));
  };
}
