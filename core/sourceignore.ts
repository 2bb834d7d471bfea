// The ignore rules of a GitRepository (.sourceignore files and spec.ignore), matched as Flux
// matches them, in time linear in the path. Pure.
//
// Why a port and not the `ignore` npm package: `ignore` translates every pattern into a
// backtracking JavaScript RegExp; `a/**/**/**/**/**/**/**/**/**/b` took 1.2 s on a path 25
// directories deep (time ~ depth^8), and a repository's .sourceignore is hostile input evaluated
// on the hub's event loop. Flux does not use git's wildmatch either: source-controller archives
// with fluxcd/pkg/artifact/storage/archive.go SourceIgnoreFilter, which matches with
// fluxcd/pkg/sourceignore/gitignore (v0.18.0, a copy of go-git v5.16.4's
// plumbing/format/gitignore): pattern.go ParsePattern / Match / simpleNameMatch / globMatch,
// matcher.go Match, and Go's path/filepath.Match for each path segment. This file is a
// line-by-line port of those (cited per function), so what Flotilla keeps is what Flux keeps,
// and its cost is bounded by construction:
//   - globMatch walks the path once: a `**` skips path elements greedily up to the first one
//     the next segment matches and never backtracks (this is Flux's rule, not git's: see the
//     divergence table in test/unit/sourceignore.test.ts);
//   - filepath.Match only retries the chunk after the last `*`, each at most once per byte
//     of the name: O(|name| × |segment|);
// so one pattern costs O(|path| × |pattern|), and one path O(|path| × total pattern bytes).
// The caps below bound both factors (measured in test/unit/sourceignore.test.ts).

/** Patterns one GitRepository may have, over all its .sourceignore files and spec.ignore. */
export const MAX_IGNORE_PATTERNS = 5_000;
/** Bytes of one pattern (after trimming). PATH_MAX is 4096; a real pattern is rarely over 100. */
export const MAX_IGNORE_PATTERN_BYTES = 1_024;

/** Where a pattern came from, for errors: a .sourceignore path in the tree, or spec.ignore. */
export interface IgnoreSource {
  /** `.sourceignore`, `sub/dir/.sourceignore` or `spec.ignore`. */
  readonly name: string;
  /** The directory the patterns are scoped to, relative to the root ('' for the root). */
  readonly dir: string;
  readonly text: string;
}

export class IgnoreLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IgnoreLimitError';
  }
}

/**
 * Work one checkout's ignore matching may cost, in character comparisons (each attempt to match
 * a chunk of a pattern costs its length + 1). Flux's matcher is free of exponential blow-up, but
 * Go's filepath.Match still retries the chunk after a `*` at every position of a name, so many
 * long wildcard patterns cost patterns × name length × chunk length per path (1000 hostile
 * 64-byte patterns: ~3 s per path). Measured here: ~70 million steps a second; an ordinary
 * repository (Flux's default exclusions and 40 patterns, 10,000 files) spends ~80 million
 * (test/unit/sourceignore.test.ts). The budget, 6× that, bounds what a hostile repository can
 * take from the hub to ~7 s of CPU per fetch whatever its patterns; the walk yields to the event
 * loop between directories, one path at the caps can hold it up to ~3 s.
 */
export const IGNORE_WORK_BUDGET = 500_000_000;

/** The remaining work of one checkout's matching (see IGNORE_WORK_BUDGET); mutable on purpose. */
export interface MatchBudget {
  remaining: number;
}

function spend(budget: MatchBudget | undefined, cost: number): void {
  if (budget === undefined) return;
  budget.remaining -= cost;
  if (budget.remaining < 0) {
    throw new IgnoreLimitError(
      `matching the ignore patterns (.sourceignore files and spec.ignore) against this checkout took more than ${IGNORE_WORK_BUDGET} steps, the work budget of one checkout; use fewer patterns and fewer wildcards (one directory pattern such as "dir/" covers everything under it)`,
    );
  }
}

export interface IgnorePattern {
  readonly domain: readonly string[];
  readonly segments: readonly string[];
  readonly inclusion: boolean;
  readonly dirOnly: boolean;
  readonly isGlob: boolean;
}

const enum MatchResult {
  NoMatch = 0,
  Exclude = 1,
  Include = 2,
}

/**
 * A line Go's strings.TrimSpace empties (unicode.IsSpace). Not JavaScript's trim(): Go counts
 * U+0085 as space and U+FEFF (a byte-order mark) as a character, JavaScript the reverse.
 */
const GO_BLANK = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$/u;

/** pattern.go ParsePattern. */
export function parsePattern(line: string, domain: readonly string[]): IgnorePattern {
  let p = line;
  let inclusion = false;
  if (p.startsWith('!')) {
    inclusion = true;
    p = p.slice(1);
  }
  if (!p.endsWith('\\ ')) p = p.replace(/ +$/, '');
  let dirOnly = false;
  if (p.endsWith('/')) {
    dirOnly = true;
    p = p.slice(0, -1);
  }
  return { domain: [...domain], segments: p.split('/'), inclusion, dirOnly, isGlob: p.includes('/') };
}

/**
 * sourceignore.go ReadPatterns: one pattern per line (bufio.ScanLines drops a trailing \r);
 * lines starting with `#` and blank lines are skipped. Refuses more than the caps, naming
 * the file, the line, the cap and what to do.
 */
export function readPatterns(source: IgnoreSource, already: number): IgnorePattern[] {
  const domain = source.dir === '' ? [] : source.dir.split('/');
  const out: IgnorePattern[] = [];
  const lines = source.text.split('\n');
  lines.forEach((raw, i) => {
    const s = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (s.startsWith('#') || GO_BLANK.test(s)) return;
    const where = `${source.name} line ${i + 1}`;
    const bytes = Buffer.byteLength(s);
    if (bytes > MAX_IGNORE_PATTERN_BYTES) {
      throw new IgnoreLimitError(
        `${where}: the pattern is ${bytes} bytes, over the limit of ${MAX_IGNORE_PATTERN_BYTES} bytes per ignore pattern; shorten it (a path in the tree is at most 4096 bytes)`,
      );
    }
    if (already + out.length + 1 > MAX_IGNORE_PATTERNS) {
      throw new IgnoreLimitError(
        `${where}: more than ${MAX_IGNORE_PATTERNS} ignore patterns in this GitRepository (all .sourceignore files and spec.ignore together); merge patterns (one directory pattern such as "dir/" covers everything under it) or use spec.include to pick what to keep`,
      );
    }
    out.push(parsePattern(s, domain));
  });
  return out;
}

/** pattern.go Match. */
function matchPattern(p: IgnorePattern, path: readonly string[], isDir: boolean, budget?: MatchBudget): MatchResult {
  spend(budget, 1);
  if (path.length <= p.domain.length) return MatchResult.NoMatch;
  for (let i = 0; i < p.domain.length; i++) if (path[i] !== p.domain[i]) return MatchResult.NoMatch;
  const rest = path.slice(p.domain.length);
  if (p.isGlob ? !globMatch(p, rest, isDir, budget) : !simpleNameMatch(p, rest, isDir, budget)) return MatchResult.NoMatch;
  return p.inclusion ? MatchResult.Include : MatchResult.Exclude;
}

/** pattern.go simpleNameMatch: a pattern without `/` matches any element of the path. */
function simpleNameMatch(p: IgnorePattern, path: readonly string[], isDir: boolean, budget?: MatchBudget): boolean {
  const segment = p.segments[0] ?? '';
  for (let i = 0; i < path.length; i++) {
    if (goFilepathMatch(segment, path[i] ?? '', budget) !== true) continue;
    if (p.dirOnly && !isDir && i === path.length - 1) return false;
    return true;
  }
  return false;
}

/** pattern.go globMatch (fluxcd/pkg sourceignore v0.18.0; go-git v5.16.4). */
function globMatch(p: IgnorePattern, path: readonly string[], isDir: boolean, budget?: MatchBudget): boolean {
  let matched = false;
  let canTraverse = false;
  let at = 0;
  for (let i = 0; i < p.segments.length; i++) {
    const segment = p.segments[i] ?? '';
    if (segment === '') {
      canTraverse = false;
      continue;
    }
    if (segment === '**') {
      if (i === p.segments.length - 1) break;
      canTraverse = true;
      continue;
    }
    if (segment.includes('**')) return false;
    if (at >= path.length) return false;
    if (canTraverse) {
      canTraverse = false;
      while (at < path.length) {
        const e = path[at] ?? '';
        at++;
        const m = goFilepathMatch(segment, e, budget);
        if (m === undefined) return false;
        if (m) {
          matched = true;
          break;
        } else if (at >= path.length) {
          matched = false;
        }
      }
    } else {
      if (goFilepathMatch(segment, path[at] ?? '', budget) !== true) return false;
      matched = true;
      at++;
    }
  }
  if (matched && p.dirOnly && !isDir && at >= path.length) matched = false;
  return matched;
}

/**
 * The archive filter of Flux's GitRepository (matcher.go Match): the last pattern that
 * matches decides; true when the path is excluded. `path` is split on `/`, relative to the root.
 * With a budget, throws IgnoreLimitError once the matching of a checkout has cost more than it.
 */
export function isExcluded(patterns: readonly IgnorePattern[], path: readonly string[], isDir: boolean, budget?: MatchBudget): boolean {
  return excludedBy(patterns, path, isDir, budget) !== undefined;
}

/**
 * The index of the pattern that excludes `path` (the last one that matches, when it is not a
 * `!` pattern); undefined when the path is kept.
 */
export function excludedBy(patterns: readonly IgnorePattern[], path: readonly string[], isDir: boolean, budget?: MatchBudget): number | undefined {
  for (let i = patterns.length - 1; i >= 0; i--) {
    const p = patterns[i];
    if (p === undefined) continue;
    const m = matchPattern(p, path, isDir, budget);
    if (m !== MatchResult.NoMatch) return m === MatchResult.Exclude ? i : undefined;
  }
  return undefined;
}

/**
 * Whether anything under the directory `dir`, excluded by patterns[`by`], can still be kept.
 * Flux walks on into an excluded directory and matches every path under it (fluxcd/pkg
 * artifact/storage/archive.go Archive: its filepath.Walk callback returns nil, not
 * filepath.SkipDir, for a filtered directory). A pattern that matches a directory matches
 * every path under it too (pattern.go: simpleMatch matches any element, globMatch a prefix),
 * so only a `!` pattern after patterns[`by`] whose directory (domain) can hold such a path
 * can keep one. When there is none, the walk may skip the directory: same answers, no cost.
 */
export function mayReinclude(patterns: readonly IgnorePattern[], dir: readonly string[], by: number): boolean {
  for (let j = by + 1; j < patterns.length; j++) {
    const p = patterns[j];
    if (p === undefined || !p.inclusion) continue;
    const n = Math.min(p.domain.length, dir.length);
    let compatible = true;
    for (let k = 0; k < n && compatible; k++) compatible = p.domain[k] === dir[k];
    if (compatible) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------
// Go's path/filepath.Match on Unix (src/path/filepath/match.go), ported function by function.
// Strings are handled as arrays of code points where Go decodes runes (`?`, `[...]`) and as
// UTF-16 units elsewhere; a name never holds `/` here (paths are split first).

/** filepath.Match: true / false, or undefined for ErrBadPattern (Flux treats it as no match). */
export function goFilepathMatch(pattern: string, name: string, budget?: MatchBudget): boolean | undefined {
  let pat = pattern;
  let rest = name;
  outer: while (pat.length > 0) {
    const scanned = scanChunk(pat);
    const { star, chunk } = scanned;
    pat = scanned.rest;
    if (star && chunk === '') return !rest.includes('/');
    spend(budget, chunk.length + 1);
    const here = matchChunk(chunk, rest);
    if (here.ok && (here.rest.length === 0 || pat.length > 0)) {
      rest = here.rest;
      continue;
    }
    if (here.bad) return undefined;
    if (star) {
      // Look for a match skipping i+1 characters (one code point at a time; cannot skip /).
      for (let i = 0; i < rest.length && rest[i] !== '/'; ) {
        i += codePointLength(rest, i);
        spend(budget, chunk.length + 1);
        const t = matchChunk(chunk, rest.slice(i));
        if (t.ok) {
          if (pat.length === 0 && t.rest.length > 0) continue;
          rest = t.rest;
          continue outer;
        }
        if (t.bad) return undefined;
      }
    }
    // Before returning false, check that the remainder of the pattern is syntactically valid.
    while (pat.length > 0) {
      const s = scanChunk(pat);
      pat = s.rest;
      if (matchChunk(s.chunk, '').bad) return undefined;
    }
    return false;
  }
  return rest.length === 0;
}

function codePointLength(s: string, i: number): number {
  const c = s.codePointAt(i);
  return c !== undefined && c > 0xffff ? 2 : 1;
}

/** match.go scanChunk: the leading stars, then the chunk up to the next star outside [...]. */
function scanChunk(pattern: string): { star: boolean; chunk: string; rest: string } {
  let p = pattern;
  let star = false;
  while (p.startsWith('*')) {
    p = p.slice(1);
    star = true;
  }
  let inrange = false;
  let i = 0;
  scan: for (; i < p.length; i++) {
    switch (p[i]) {
      case '\\':
        if (i + 1 < p.length) i++;
        break;
      case '[':
        inrange = true;
        break;
      case ']':
        inrange = false;
        break;
      case '*':
        if (!inrange) break scan;
        break;
    }
  }
  return { star, chunk: p.slice(0, i), rest: p.slice(i) };
}

/** match.go matchChunk: matches chunk at the start of s; after a failure, keeps checking the chunk's syntax. */
function matchChunk(chunkIn: string, sIn: string): { rest: string; ok: boolean; bad: boolean } {
  const NO = { rest: '', ok: false, bad: false };
  const BAD = { rest: '', ok: false, bad: true };
  let chunk = chunkIn;
  let s = sIn;
  let failed = false;
  while (chunk.length > 0) {
    if (!failed && s.length === 0) failed = true;
    const c = chunk[0];
    if (c === '[') {
      let r = -1;
      if (!failed) {
        r = s.codePointAt(0) ?? -1;
        s = s.slice(codePointLength(s, 0));
      }
      chunk = chunk.slice(1);
      let negated = false;
      if (chunk.startsWith('^')) {
        negated = true;
        chunk = chunk.slice(1);
      }
      let match = false;
      let nrange = 0;
      for (;;) {
        if (chunk.startsWith(']') && nrange > 0) {
          chunk = chunk.slice(1);
          break;
        }
        const lo = getEsc(chunk);
        if (lo === undefined) return BAD;
        chunk = lo.rest;
        let hi = lo.r;
        if (chunk[0] === '-') {
          const h = getEsc(chunk.slice(1));
          if (h === undefined) return BAD;
          chunk = h.rest;
          hi = h.r;
        }
        if (lo.r <= r && r <= hi) match = true;
        nrange++;
      }
      if (match === negated) failed = true;
    } else if (c === '?') {
      if (!failed) {
        if (s[0] === '/') failed = true;
        s = s.slice(codePointLength(s, 0));
      }
      chunk = chunk.slice(1);
    } else {
      if (c === '\\') {
        chunk = chunk.slice(1);
        if (chunk.length === 0) return BAD;
      }
      // Go compares bytes here; comparing UTF-16 units one by one is equivalent for equality.
      if (!failed) {
        if (chunk[0] !== s[0]) failed = true;
        s = s.slice(1);
      }
      chunk = chunk.slice(1);
    }
  }
  return failed ? NO : { rest: s, ok: true, bad: false };
}

/** match.go getEsc: one possibly escaped character of a [...] range; undefined for ErrBadPattern. */
function getEsc(chunkIn: string): { r: number; rest: string } | undefined {
  let chunk = chunkIn;
  if (chunk.length === 0 || chunk[0] === '-' || chunk[0] === ']') return undefined;
  if (chunk[0] === '\\') {
    chunk = chunk.slice(1);
    if (chunk.length === 0) return undefined;
  }
  const r = chunk.codePointAt(0);
  if (r === undefined) return undefined;
  const rest = chunk.slice(codePointLength(chunk, 0));
  if (rest.length === 0) return undefined;
  return { r, rest };
}
