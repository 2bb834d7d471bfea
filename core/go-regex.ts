// Go regular expressions in Flux objects, with Go's syntax and semantics: the single entry
// point for every pattern a user writes in a Flux field that Flux compiles with Go's regexp:
//   - ImagePolicy spec.filterTags.pattern (+ extract, Go's Regexp.Expand), image-reflector-
//     controller internal/policy/filter.go: regexp.Compile, FindStringSubmatchIndex, ExpandString;
//   - ImageRepository spec.exclusionList, image-reflector-controller internal/controller/
//     imagerepository_controller.go filterOutTags: regexp.Compile, MatchString;
//   - Alert spec.inclusionList / spec.exclusionList, notification-controller internal/server/
//     event_handlers.go messageIsIncluded / messageIsExcluded: regexp.Compile, Match.
// All three search (unanchored): a pattern matches when it matches any part of the string.
//
// The engine is re2js, a port of Go's regexp (RE2): the same parser (Perl flags such as (?i),
// (?P<name>…) and (?<name>…), POSIX classes [[:digit:]], \A \z \pL \Q…\E; no lookaround, no
// backreferences), the same limits (repeat counts up to 1000, nesting depth 1000, "expression
// too large") and the same leftmost-first matching, in time linear in the input: a pattern
// cannot stall the hub the way `^(a+)+$` stalls a backtracking engine. Flotilla adds one cap
// (MAX_PROGRAM_SIZE): matching costs up to program size × input length.
//
// Pure (no Node built-ins; re2js is plain JavaScript): workflow code imports it
// (workflows/notifications.ts through core/notifications/alerts.ts).
import { RE2JS } from 're2js';

/**
 * The largest compiled program (RE2 instructions) Flotilla accepts for one pattern. Go allows
 * about 1.4 million; matching costs up to program size × input length, so a 100,000-instruction
 * pattern (`.{1000}` written 100 times) needs ~9 s against one 39 KB event message. 4,096 admits
 * any hand-written pattern (`\pL{1000}` is 1,002) and bounds that to well under a second.
 * A constant, not a setting: `flotilla build`, the hub and workflow code must agree on what parses.
 */
export const MAX_PROGRAM_SIZE = 4096;

/**
 * How many compiled patterns stay cached (least recently used first out). Each compiled
 * pattern keeps its lazy DFA, which RE2 bounds at 8 MiB (a pattern built to defeat the DFA held
 * ~3.2 MiB after a 39 KB input), so the cache holds at most 32 × 8 MiB.
 */
export const COMPILE_CACHE_ENTRIES = 32;

export const GO_REGEXP_SYNTAX = 'https://pkg.go.dev/regexp/syntax';

/** A compiled Go regular expression. */
export interface GoRegexp {
  readonly pattern: string;
  readonly re2: RE2JS;
  /** Go's Regexp.SubexpNames: the name of each group by index ('' for group 0 and unnamed groups). */
  readonly subexpNames: readonly string[];
}

const cache = new Map<string, GoRegexp | Error>();

/**
 * The compiled expression, or an Error saying why Go (or Flotilla's size cap) refuses it:
 * `invalid regular expression "<pattern>": <Go's reason>`, with a hint where JavaScript or PCRE
 * habits are the likely cause. Callers prefix the field. Results (also refusals) are cached.
 */
export function compileGoRegex(pattern: string): GoRegexp | Error {
  const hit = cache.get(pattern);
  if (hit !== undefined) {
    cache.delete(pattern); // re-inserted below: most recently used last
    cache.set(pattern, hit);
    return hit;
  }
  const result = compileUncached(pattern);
  if (cache.size >= COMPILE_CACHE_ENTRIES) {
    const oldest = cache.keys().next();
    if (oldest.done !== true) cache.delete(oldest.value);
  }
  cache.set(pattern, result);
  return result;
}

function compileUncached(pattern: string): GoRegexp | Error {
  const refuse = (reason: string): Error => new Error(`invalid regular expression ${JSON.stringify(pattern)}: ${reason}`);
  let re2: RE2JS;
  let aliases = new Map<string, string>();
  try {
    re2 = RE2JS.compile(pattern);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const reason = message.replace(/^error parsing regexp: /, '');
    // Go accepts a name used by several groups (`^v(?P<n>\d+)$|^r(?P<n>\d+)$`); RE2 (and re2js)
    // refuse it. Compile with the repeats renamed, and keep the names Go would report.
    const renamed = reason.startsWith('duplicate capture group name') ? renameDuplicateGroups(pattern) : undefined;
    if (renamed === undefined) return refuse(reason + hint(reason));
    try {
      re2 = RE2JS.compile(renamed.pattern);
      aliases = renamed.aliases;
    } catch (again) {
      // Another problem, which Go reports (it has no duplicate-name error).
      const next = (again instanceof Error ? again.message : String(again)).replace(/^error parsing regexp: /, '');
      return refuse(next + hint(next));
    }
  }
  const size = re2.programSize();
  if (size > MAX_PROGRAM_SIZE) {
    return refuse(`compiles to ${size} RE2 instructions, more than Flotilla's limit of ${MAX_PROGRAM_SIZE} (matching costs instructions × input length); use smaller repeat counts such as + instead of {1000}`);
  }
  const subexpNames: string[] = new Array<string>(re2.groupCount() + 1).fill('');
  for (const [name, index] of Object.entries(re2.namedGroups())) subexpNames[index] = aliases.get(name) ?? name;
  return { pattern, re2, subexpNames };
}

/**
 * The pattern with every repeated group name after the first replaced by a fresh one, and the
 * fresh names mapped to the name written. Named groups are found as Go's parser finds them:
 * not inside a character class, after a backslash, or between \Q and \E.
 */
function renameDuplicateGroups(pattern: string): { pattern: string; aliases: Map<string, string> } | undefined {
  const opener = /^\(\?P?<([A-Za-z0-9_]+)>/;
  const groups: { at: number; length: number; name: string }[] = [];
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i];
    if (c === '\\') {
      if (pattern[i + 1] === 'Q') {
        const end = pattern.indexOf('\\E', i + 2);
        i = end < 0 ? pattern.length : end + 2;
      } else i += 2;
    } else if (c === '[') {
      i = classEnd(pattern, i);
    } else if (c === '(') {
      const m = opener.exec(pattern.slice(i));
      if (m !== null) groups.push({ at: i, length: m[0].length, name: m[1] ?? '' });
      i++;
    } else i++;
  }
  const taken = new Set(groups.map((g) => g.name));
  const seen = new Set<string>();
  const aliases = new Map<string, string>();
  let out = '';
  let from = 0;
  for (const g of groups) {
    if (!seen.has(g.name)) {
      seen.add(g.name);
      continue;
    }
    let fresh = '';
    for (let k = 1; fresh === '' || taken.has(fresh); k++) fresh = `${g.name}_${k}`;
    taken.add(fresh);
    aliases.set(fresh, g.name);
    out += `${pattern.slice(from, g.at)}(?P<${fresh}>`;
    from = g.at + g.length;
  }
  return aliases.size === 0 ? undefined : { pattern: out + pattern.slice(from), aliases };
}

/** The index after the character class opening at `start` (Go: `]` first is literal; [:name:] and escapes inside). */
function classEnd(pattern: string, start: number): number {
  let i = start + 1;
  if (pattern[i] === '^') i++;
  if (pattern[i] === ']') i++;
  while (i < pattern.length && pattern[i] !== ']') {
    if (pattern[i] === '\\') i += 2;
    else if (pattern.startsWith('[:', i)) {
      const end = pattern.indexOf(':]', i + 2);
      i = end < 0 ? i + 1 : end + 2;
    } else i++;
  }
  return i + 1;
}

/** What to do about errors that usually come from JavaScript or PCRE syntax. */
function hint(reason: string): string {
  if (/^invalid or unsupported Perl syntax: `\(\?[=!<]/.test(reason) || /^invalid named capture: `\(\?<[=!]/.test(reason)) {
    return ` (Go's RE2 syntax has no lookahead or lookbehind; see ${GO_REGEXP_SYNTAX})`;
  }
  if (/^invalid escape sequence: `\\[1-9]`/.test(reason)) return ` (Go's RE2 syntax has no backreferences; see ${GO_REGEXP_SYNTAX})`;
  if (/^invalid escape sequence: `\\[uZc]/.test(reason)) return ` (in Go write \\x{41} for a code point and \\z for the end of text; see ${GO_REGEXP_SYNTAX})`;
  if (/^invalid nested repetition operator: `[*+?]\+`/.test(reason)) return ` (Go's RE2 syntax has no possessive quantifiers; see ${GO_REGEXP_SYNTAX})`;
  return '';
}

/** Go's Regexp.MatchString / Match: whether the pattern matches any part of `text`. */
export function goMatch(re: GoRegexp, text: string): boolean {
  return re.re2.test(text);
}

/**
 * Go's FindStringSubmatch: the leftmost match and its groups (index 0 the whole match;
 * undefined for a group that took no part), or null.
 */
export function goFindSubmatch(re: GoRegexp, text: string): readonly (string | undefined)[] | null {
  const m: readonly unknown[] | null = re.re2.exec(text);
  if (m === null) return null;
  return m.map((g) => (typeof g === 'string' ? g : undefined));
}

const NAME_CHAR = /^[\p{L}\p{Nd}_]$/u;

/**
 * Go's Regexp.ExpandString (regexp.go expand and extract), which Flux's filterTags.extract uses:
 * - `$$` is a literal `$`;
 * - `$name` takes the longest run of letters, digits and `_` (`$1x` is the group named "1x",
 *   not group 1 then "x"; write `${1}x`); `${name}` needs its closing brace;
 * - a name of digits only, without a leading zero, is a group number (`$01` is a name, so
 *   empty); otherwise the first group with that name that took part in the match;
 * - an unknown group or one that did not take part expands to nothing;
 * - a `$` not followed by a valid name or `{name}` stays as it is.
 */
export function goExpand(re: GoRegexp, template: string, match: readonly (string | undefined)[]): string {
  let out = '';
  let rest = template;
  for (;;) {
    const dollar = rest.indexOf('$');
    if (dollar < 0) break;
    out += rest.slice(0, dollar);
    rest = rest.slice(dollar + 1);
    if (rest.startsWith('$')) {
      out += '$';
      rest = rest.slice(1);
      continue;
    }
    const ref = extractName(rest);
    if (ref === undefined) {
      out += '$';
      continue;
    }
    rest = ref.rest;
    if (ref.num !== undefined) out += match[ref.num] ?? '';
    else out += match.find((g, i) => g !== undefined && re.subexpNames[i] === ref.name) ?? '';
  }
  return out + rest;
}

/** Go's extract: a leading `name` or `{name}` (the `$` already removed), its number if it is one. */
function extractName(text: string): { name: string; num: number | undefined; rest: string } | undefined {
  const brace = text.startsWith('{');
  const chars = Array.from(brace ? text.slice(1) : text);
  let n = 0;
  while (n < chars.length && NAME_CHAR.test(chars[n] ?? '')) n++;
  if (n === 0) return undefined;
  const name = chars.slice(0, n).join('');
  let after = chars.slice(n).join('');
  if (brace) {
    if (!after.startsWith('}')) return undefined;
    after = after.slice(1);
  }
  // Digits only (ASCII: Go checks the bytes), no leading zero, at most 9 digits (Go stops at num >= 1e8).
  const num = /^(0|[1-9][0-9]{0,8})$/.test(name) ? Number(name) : undefined;
  return { name, num, rest: after };
}

/**
 * The JavaScript-RegExp reading of a pattern that Flotilla used before it had RE2, kept only
 * so that workflow histories recorded then replay with the decisions they made (the
 * notifications workflow takes it when patched('go-regex-re2') is false). Never used for new work.
 */
export function legacyJsRegexTest(pattern: string, text: string): boolean {
  const caseInsensitive = pattern.startsWith('(?i)');
  try {
    return new RegExp((caseInsensitive ? pattern.slice(4) : pattern).replaceAll('(?P<', '(?<'), caseInsensitive ? 'i' : '').test(text);
  } catch {
    return false;
  }
}
