// Go regular expressions (core/go-regex.ts): what matches, as Go's regexp decides, for the Flux
// fields Flux compiles with it (filterTags.pattern + extract, ImageRepository exclusionList,
// Alert inclusionList/exclusionList). Syntax from https://pkg.go.dev/regexp/syntax.
//
// The tables hold Go's answers. "the tables are Go's own answers" runs them through Go's regexp
// (test/fixtures/go-regexp/main.go, `go run`; Go is part of scripts/install-infra.sh), so a
// row that says something Go does not fails here; the other tests check Flotilla against the rows.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  compileGoRegex, COMPILE_CACHE_ENTRIES, goExpand, goFindSubmatch, goMatch, MAX_PROGRAM_SIZE, type GoRegexp,
} from '../../core/go-regex.js';
import { selectTag } from '../../core/image/policy.js';
import { alertMatches } from '../../core/notifications/alerts.js';
import { formatDeclarationError, parseDeclarations } from '../../core/declarations/parse.js';
import { one, onlyError } from '../harness/declarations.js';
import type { FlotillaEvent } from '../../core/notifications/event.js';

/** The leftmost match and its groups (null: the group took no part), no match (null), or Go's compile error. */
type Want = readonly (string | null)[] | null | { readonly error: string };
type Row = readonly [pattern: string, input: string, want: Want, why: string];

const SYNTAX: readonly Row[] = [
  // The cases of issue #24: JavaScript read these differently or never matched.
  ['[[:digit:]]+', 'v1.25', ['1'], 'POSIX class (JavaScript: a class of the characters [:digt] then "]+")'],
  ['^[[:alpha:]]+-[[:xdigit:]]{7}$', 'main-0a1b2c3', ['main-0a1b2c3'], 'POSIX alpha and xdigit'],
  ['[[:^digit:]]+', '12ab34', ['ab'], 'negated POSIX class'],
  ['v1\\z', 'v1', ['v1'], '\\z is the end of the text (JavaScript: a literal z)'],
  ['v1\\z', 'v1z', null, '\\z is not the letter z'],
  ['v1\\z', 'v1\n', null, '\\z does not match before a final newline'],
  ['v1$', 'v1\n', null, 'without (?m), $ is \\z in Go'],
  ['\\Av1', 'v1.2', ['v1'], '\\A is the beginning of the text'],
  ['\\Av1', 'xv1', null, '\\A does not float'],
  // Flags: (?i) anywhere, scoped (?i:…), s, m, U.
  ['(?i)rc', 'v1.0-RC1', ['RC'], 'leading (?i)'],
  ['a(?i)b', 'aB', ['aB'], '(?i) from the middle on'],
  ['a(?i)b', 'AB', null, 'not before it'],
  ['(?i:RC)-[a-z]+', 'rc-beta', ['rc-beta'], 'scoped flag group'],
  ['(?i:RC)-[a-z]+', 'RC-BETA', null, 'the flag ends with its group'],
  ['(?i)k', '\u212a', ['\u212a'], 'Unicode simple case folding: k matches the Kelvin sign'],
  ['a.b', 'a\nb', null, '. does not match a newline'],
  ['(?s)a.b', 'a\nb', ['a\nb'], '(?s): . matches a newline'],
  ['(?m)^b$', 'a\nb\nc', ['b'], '(?m): ^ and $ at line boundaries'],
  ['(?U)a+', 'aaa', ['a'], '(?U) swaps greedy and lazy'],
  ['(?U)a+?', 'aaa', ['aaa'], '(?U) makes +? greedy'],
  // Groups.
  ['-(?P<ts>[0-9]+)$', 'main-abc-1700000000', ['-1700000000', '1700000000'], '(?P<name>…), Go’s named group'],
  ['-(?<ts>[0-9]+)$', 'main-abc-1700000000', ['-1700000000', '1700000000'], '(?<name>…), accepted since Go 1.22'],
  ['^(a+)(b+)?', 'aac', ['aa', 'aa', null], 'a group that took no part'],
  ['(?:ab)+', 'ababx', ['abab'], 'non-capturing group'],
  ['(?P<n>a)(?P<n>b)', 'ab', ['ab', 'a', 'b'], 'Go accepts a name on several groups (RE2 and re2js refuse it)'],
  ['^v(?P<n>[0-9]+)$|^r(?P<n>[0-9]+)$', 'r7', ['r7', null, '7'], 'the same name in two alternatives'],
  ['[(?P<n>x)](?P<n>y)', 'ny', ['ny', 'y'], 'a ( in a class opens no group'],
  ['\\Q(?P<n>\\E(?P<n>y)', '(?P<n>y', ['(?P<n>y', 'y'], 'nor one quoted with \\Q…\\E'],
  // Matching: a search (unanchored), leftmost-first like Perl, not leftmost-longest.
  ['sig', 'v1.sig.att', ['sig'], 'unanchored: anywhere in the text'],
  ['a|ab', 'ab', ['a'], 'leftmost-first alternation'],
  ['^(a+)+$', 'aaaa', ['aaaa', 'aaaa'], 'nested quantifier, greedy'],
  ['x*', 'yyy', [''], 'an empty match at the start'],
  ['^$', '', [''], 'the empty text'],
  // Escapes and classes.
  ['\\pL+', 'héllo1', ['héllo'], '\\pL: Unicode letters'],
  ['\\p{Greek}+', 'abc αβγ', ['αβγ'], 'Unicode script'],
  ['\\PL+', 'ab12cd', ['12'], '\\PL: not a letter'],
  ['\\d', '\u0663', null, '\\d is ASCII only'],
  ['\\w+', 'héllo', ['h'], '\\w is ASCII only'],
  ['\\bv\\d', 'xv1 v2', ['v2'], 'ASCII word boundary'],
  ['\\Qa.b\\E+', 'a.bb', ['a.bb'], '\\Q…\\E quotes; the + applies to the last character'],
  ['\\Qa.b\\E', 'axb', null, 'the quoted dot is literal'],
  ['\\x{1F600}', '\u{1F600}', ['\u{1F600}'], '\\x{…} code point'],
  ['\\101', 'A', ['A'], 'octal escape'],
  ['.', '\u{1F600}', ['\u{1F600}'], '. is one code point, not half of a surrogate pair'],
  ['[^a]', '\u{1F600}', ['\u{1F600}'], 'a negated class takes a whole code point'],
  ['\\.sig$', 'sha256-abc.sig', ['.sig'], "Flux's default exclusion"],
  // Refused, with Go's message: RE2 has no lookaround, backreferences, \Z, possessive quantifiers.
  ['(?=a)', 'a', { error: 'invalid or unsupported Perl syntax: `(?=`' }, 'no lookahead'],
  ['(?<=a)b', 'ab', { error: 'invalid named capture: `(?<=a)b`' }, 'no lookbehind'],
  ['(a)\\1', 'aa', { error: 'invalid escape sequence: `\\1`' }, 'no backreferences'],
  ['a\\Z', 'a', { error: 'invalid escape sequence: `\\Z`' }, 'no \\Z (write \\z)'],
  ['\\u0041', 'A', { error: 'invalid escape sequence: `\\u`' }, 'no \\u (write \\x{41})'],
  ['a++', 'a', { error: 'invalid nested repetition operator: `++`' }, 'no possessive quantifiers'],
  ['a{1001}', 'a', { error: 'invalid repeat count: `{1001}`' }, 'repeat counts up to 1000'],
  ['(a{100}){100}', 'a', { error: 'invalid repeat count: `{100}`' }, 'nested repeats multiply (at most 1000)'],
  ['(unclosed', 'x', { error: 'missing closing ): `(unclosed`' }, 'unbalanced parenthesis'],
  ['[z-a]', 'x', { error: 'invalid character class range: `z-a`' }, 'reversed range'],
  ['[[:foo:]]', 'x', { error: 'invalid character class range: `[:foo:]`' }, 'unknown POSIX class'],
  ['\\p{Foo}', 'x', { error: 'invalid character class range: `\\p{Foo}`' }, 'unknown Unicode class'],
  ['*a', 'x', { error: 'missing argument to repetition operator: `*`' }, 'nothing to repeat'],
  ['(?x) a', 'a', { error: 'invalid or unsupported Perl syntax: `(?x`' }, 'no (?x)'],
];

const TAG = '^main-(?P<sha>[a-f0-9]+)-(?P<ts>[0-9]+)$';
const INPUT = 'main-abc123-1700000000';
/** filterTags.extract: Go's Regexp.ExpandString over FindStringSubmatchIndex (Flux's RegexFilter.Apply). */
const EXPAND: readonly (readonly [template: string, want: string, why: string, pattern?: string, input?: string])[] = [
  ['$ts', '1700000000', 'a named group'],
  ['${ts}', '1700000000', 'braced'],
  ['$2', '1700000000', 'by number'],
  ['${1}', 'abc123', 'braced number'],
  ['$0', INPUT, 'the whole match'],
  ['v$ts.$sha', 'v1700000000.abc123', 'text around names (a dot ends a name)'],
  ['$ts-x', '1700000000-x', 'a dash ends a name'],
  ['$ts$sha', '1700000000abc123', 'a $ ends a name'],
  ['$ts_x', '', 'the name is the longest run of letters, digits and _: "ts_x", no such group'],
  ['${ts}_x', '1700000000_x', 'braces end the name'],
  ['$1x', '', '"1x" is a name, not group 1 then x'],
  ['${1}x', 'abc123x', 'braces make it group 1'],
  ['$01', '', 'a leading zero makes a name, not a number'],
  ['$9', '', 'no such group'],
  ['$nope', '', 'no such name'],
  ['$$ts', '$ts', '$$ is a literal $'],
  ['$', '$', 'a lone $ stays'],
  ['$-', '$-', '$ not followed by a name stays'],
  ['${ts', '${ts', 'an unclosed brace: the $ and the rest stay'],
  ['${}', '${}', 'an empty braced name stays'],
  ['[$a][$b]', '[][y]', 'a group that took no part expands to nothing', '^(?P<a>x)?(?P<b>y)$', 'y'],
  ['$n', '7', 'a name on several groups: the first one that took part', '^v(?P<n>[0-9]+)$|^r(?P<n>[0-9]+)$', 'r7'],
  ['$n', '3', '… also when an earlier one did', '^v(?P<n>[0-9]+)$|^r(?P<n>[0-9]+)$', 'v3'],
  ['$n-$n_1', 'a-', 'the name Flotilla gives the repeat internally is no name in Go', '(?P<n>a)(?P<n>b)', 'ab'],
];

const BINARY_GO = ['/usr/local/go/bin/go', '/usr/lib/go/bin/go'];

function goBinary(): string | undefined {
  const onPath = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (onPath.status === 0) return 'go';
  return BINARY_GO.find((p) => existsSync(p));
}

function compiled(pattern: string): GoRegexp {
  const re = compileGoRegex(pattern);
  if (re instanceof Error) throw re;
  return re;
}

describe('Go regular expressions: the syntax table', () => {
  for (const [pattern, input, want, why] of SYNTAX) {
    it(`${JSON.stringify(pattern)} on ${JSON.stringify(input)}: ${why}`, () => {
      const re = compileGoRegex(pattern);
      if (want !== null && !Array.isArray(want)) {
        const error = (want as { error: string }).error;
        assert.ok(re instanceof Error, `Go refuses ${pattern}`);
        assert.ok(re.message.startsWith(`invalid regular expression ${JSON.stringify(pattern)}: ${error}`), re.message);
        return;
      }
      assert.ok(!(re instanceof Error), re instanceof Error ? re.message : '');
      assert.equal(goMatch(re, input), want !== null, 'MatchString');
      const m = goFindSubmatch(re, input);
      assert.deepEqual(m?.map((g) => g ?? null) ?? null, want, 'FindStringSubmatch');
    });
  }
});

describe("Go regular expressions: Regexp.Expand (filterTags.extract)", () => {
  for (const [template, want, why, pattern = TAG, input = INPUT] of EXPAND) {
    it(`${JSON.stringify(template)} → ${JSON.stringify(want)}: ${why}`, () => {
      const re = compiled(pattern);
      const m = goFindSubmatch(re, input);
      assert.ok(m !== null);
      assert.equal(goExpand(re, template, m), want);
    });
  }
});

describe('the tables are Go\'s own answers', () => {
  it('go run test/fixtures/go-regexp/main.go answers every row as the table does', (t) => {
    const go = goBinary();
    if (go === undefined) {
      t.skip('Go is not installed (scripts/install-infra.sh installs it)');
      return;
    }
    const queries = [
      ...SYNTAX.map(([pattern, input]) => ({ pattern, input })),
      ...EXPAND.map(([template, , , pattern = TAG, input = INPUT]) => ({ pattern, input, template })),
    ];
    const main = fileURLToPath(new URL('../../../test/fixtures/go-regexp/main.go', import.meta.url));
    // A cold Go build cache takes ~20 s on a busy 2-core machine; 5 minutes leaves room for a slower one.
    const run = spawnSync(go, ['run', main], { input: JSON.stringify(queries), encoding: 'utf8', timeout: 300_000 });
    assert.equal(run.status, 0, `go run failed: ${run.stderr}`);
    const answers = JSON.parse(run.stdout) as { error?: string; match: boolean; groups: (string | null)[] | null; expand?: string }[];
    SYNTAX.forEach(([pattern, input, want], i) => {
      const a = answers[i];
      assert.ok(a !== undefined);
      const what = `${JSON.stringify(pattern)} on ${JSON.stringify(input)}`;
      if (want !== null && !Array.isArray(want)) assert.equal(a.error, `error parsing regexp: ${(want as { error: string }).error}`, what);
      else {
        assert.equal(a.error, undefined, what);
        assert.equal(a.match, want !== null, what);
        assert.deepEqual(a.groups, want, what);
      }
    });
    EXPAND.forEach(([template, want], i) => {
      assert.equal(answers[SYNTAX.length + i]?.expand, want, `Expand ${JSON.stringify(template)}`);
    });
  });
});

describe('Go regular expressions run in linear time (ReDoS)', () => {
  // A backtracking engine (JavaScript's RegExp) needs ~2^n steps for ^(a+)+$ against n a's and a
  // "!": 11.4 s for 28 characters (issue #24). RE2 takes one pass. The bound is 1 s, some 100 times
  // what this takes on a loaded machine, so only exponential behaviour can fail it.
  const BOUND_MS = 1000;
  const timed = <T>(f: () => T): { value: T; ms: number } => {
    const start = performance.now();
    const value = f();
    return { value, ms: performance.now() - start };
  };
  for (const input of ['a'.repeat(29) + '!', 'a'.repeat(10_000) + '!']) {
    it(`^(a+)+$ against ${input.length} characters: MatchString and FindStringSubmatch in milliseconds`, (t) => {
      const re = compiled('^(a+)+$');
      const test = timed(() => goMatch(re, input));
      const find = timed(() => goFindSubmatch(re, input));
      assert.equal(test.value, false);
      assert.equal(find.value, null);
      assert.ok(test.ms < BOUND_MS && find.ms < BOUND_MS, `MatchString ${test.ms.toFixed(1)} ms, FindStringSubmatch ${find.ms.toFixed(1)} ms`);
      t.diagnostic(`^(a+)+$ on ${input.length} chars: MatchString ${test.ms.toFixed(2)} ms, FindStringSubmatch ${find.ms.toFixed(2)} ms`);
    });
  }
  it('as a filterTags pattern over 1,000 hostile tags, and as an Alert inclusionList against a 39,000-character message', (t) => {
    const tags = Array.from({ length: 1000 }, (_, i) => `${'a'.repeat(100 + (i % 28))}!`);
    const select = timed(() => selectTag(tags, { alphabetical: { order: 'asc' }, filterTags: { pattern: '^(a+)+$' } }));
    assert.deepEqual(select.value, { none: 'no tag out of 1000 matches spec.filterTags.pattern "^(a+)+$"' });
    const alert = one(`apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata: {name: redos, namespace: apps}
spec: {providerRef: {name: p}, eventSources: [{kind: Kustomization, name: "*"}], inclusionList: ["^(a+)+$", "(x+x+)+y"]}
`);
    assert.equal(alert.kind, 'Alert');
    const event: FlotillaEvent = {
      involvedObject: { kind: 'Kustomization', name: 'web', namespace: 'apps' }, severity: 'info', reason: 'ReconciliationSucceeded',
      message: `${'a'.repeat(19_500)}${'x'.repeat(19_499)}!`, metadata: {}, reportingController: 'flotilla-hub', timestamp: '2024-05-01T10:00:00Z',
    };
    const route = timed(() => alertMatches(alert, event));
    assert.equal(route.value, false);
    assert.ok(select.ms < 5 * BOUND_MS, `selectTag took ${select.ms.toFixed(0)} ms`);
    assert.ok(route.ms < BOUND_MS, `alertMatches took ${route.ms.toFixed(0)} ms`);
    t.diagnostic(`filterTags over 1000 tags: ${select.ms.toFixed(1)} ms; Alert against 39,000 characters: ${route.ms.toFixed(1)} ms`);
  });
});

describe("Flotilla's bounds on top of Go's", () => {
  it(`refuses a pattern compiling to more than ${MAX_PROGRAM_SIZE} instructions, naming the limit and what to do`, () => {
    assert.ok(!(compileGoRegex('\\pL{1000}') instanceof Error), 'a 1,000-repeat (Go\'s largest) is fine');
    const big = compileGoRegex('.{1000}'.repeat(5));
    assert.ok(big instanceof Error);
    assert.match(big.message, /^invalid regular expression "(\.\{1000\}){5}": compiles to 5002 RE2 instructions, more than Flotilla's limit of 4096 .*use smaller repeat counts/);
  });
  it('says what to do when JavaScript or PCRE syntax is the likely cause', () => {
    const hint = (p: string): string => {
      const e = compileGoRegex(p);
      return e instanceof Error ? e.message : 'compiled';
    };
    assert.match(hint('(?!rc)'), /no lookahead or lookbehind; see https:\/\/pkg\.go\.dev\/regexp\/syntax\)$/);
    assert.match(hint('(a)\\1'), /no backreferences/);
    assert.match(hint('a\\Z'), /write \\x\{41\} for a code point and \\z for the end of text/);
  });
  it(`keeps at most ${COMPILE_CACHE_ENTRIES} compiled patterns, the least recently used out first`, () => {
    const first = compiled('^cache-0$');
    const second = compiled('^cache-1$');
    for (let i = 2; i < COMPILE_CACHE_ENTRIES; i++) compiled(`^cache-${i}$`);
    assert.equal(compiled('^cache-0$'), first, 'still cached, and now the most recently used');
    compiled('^cache-new$'); // one more than the cache holds: out goes the least recently used, cache-1
    assert.equal(compiled('^cache-0$'), first, 'the recently used one stayed');
    assert.notEqual(compiled('^cache-1$'), second, 'cache-1 was compiled again');
  });
});

describe('Alert lists in the notifications workflow', () => {
  const alert = (inclusion: string): ReturnType<typeof one> => one(`apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata: {name: a, namespace: apps}
spec: {providerRef: {name: p}, eventSources: [{kind: Kustomization, name: "*"}], inclusionList: [${JSON.stringify(inclusion)}]}
`);
  const event = (message: string): FlotillaEvent => ({
    involvedObject: { kind: 'Kustomization', name: 'web', namespace: 'apps' }, severity: 'info', reason: 'ReconciliationSucceeded',
    message, metadata: {}, reportingController: 'flotilla-hub', timestamp: '2024-05-01T10:00:00Z',
  });
  it("reads them as Go does; histories from before patched('go-regex-re2') replay with the JavaScript reading they were decided with", () => {
    const a = alert('applied v1\\z');
    assert.ok(a.kind === 'Alert');
    assert.equal(alertMatches(a, event('applied v1')), true, 'Go: \\z is the end of the text');
    assert.equal(alertMatches(a, event('applied v1z')), false);
    assert.equal(alertMatches(a, event('applied v1'), undefined, 'legacy-js'), false, 'JavaScript read \\z as the letter z');
    assert.equal(alertMatches(a, event('applied v1z'), undefined, 'legacy-js'), true);
  });
});

describe('declarations: an invalid Go regexp is refused at parse time, naming the object and the field', () => {
  const object = (kind: string, apiVersion: string, spec: string): string =>
    `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata: {name: app, namespace: apps}\nspec: ${spec}\n`;
  const cases: readonly (readonly [what: string, yaml: string, line: RegExp])[] = [
    ['Alert inclusionList', object('Alert', 'notification.toolkit.fluxcd.io/v1beta3', '{providerRef: {name: p}, eventSources: [{kind: Kustomization, name: "*"}], inclusionList: ["ok", "(?!rc)"]}'),
      /^x\.yaml: Alert\/apps\/app: spec\.inclusionList\[1\]: invalid regular expression "\(\?!rc\)": invalid or unsupported Perl syntax: `\(\?!` \(Go's RE2 syntax has no lookahead or lookbehind; see https:\/\/pkg\.go\.dev\/regexp\/syntax\)$/],
    ['Alert exclusionList', object('Alert', 'notification.toolkit.fluxcd.io/v1beta3', '{providerRef: {name: p}, eventSources: [{kind: Kustomization, name: "*"}], exclusionList: ["a{2000}"]}'),
      /^x\.yaml: Alert\/apps\/app: spec\.exclusionList\[0\]: invalid regular expression "a\{2000\}": invalid repeat count: `\{2000\}`$/],
    ['ImageRepository exclusionList', object('ImageRepository', 'image.toolkit.fluxcd.io/v1beta2', '{image: ghcr.io/org/app, interval: 1m, exclusionList: ["^.*\\\\.sig$", "(a)\\\\1"]}'),
      /^x\.yaml: ImageRepository\/apps\/app: spec\.exclusionList\[1\]: invalid regular expression "\(a\)\\\\1": invalid escape sequence: `\\1` \(Go's RE2 syntax has no backreferences/],
    ['ImagePolicy filterTags.pattern', object('ImagePolicy', 'image.toolkit.fluxcd.io/v1beta2', '{imageRepositoryRef: {name: app}, filterTags: {pattern: "^v[0-9]+\\\\Z"}, policy: {numerical: {}}}'),
      /^x\.yaml: ImagePolicy\/apps\/app: spec\.filterTags\.pattern: invalid regular expression "\^v\[0-9\]\+\\\\Z": invalid escape sequence: `\\Z`/],
    ['ImagePolicy filterTags.pattern over the size cap', object('ImagePolicy', 'image.toolkit.fluxcd.io/v1beta2', '{imageRepositoryRef: {name: app}, filterTags: {pattern: "(.{1000}){0,1}.{1000}.{1000}.{1000}.{1000}"}, policy: {numerical: {}}}'),
      /^x\.yaml: ImagePolicy\/apps\/app: spec\.filterTags\.pattern: invalid regular expression ".*": compiles to \d+ RE2 instructions, more than Flotilla's limit of 4096/],
  ];
  for (const [what, yaml, line] of cases) {
    it(what, () => {
      const e = onlyError(parseDeclarations(yaml, 'x.yaml'));
      assert.match(formatDeclarationError(e), line);
    });
  }
  it("accepts Go-only syntax JavaScript's RegExp would misread: [[:digit:]], \\z, (?i) mid-pattern, (?P<name>)", () => {
    const d = one(object('ImagePolicy', 'image.toolkit.fluxcd.io/v1beta2',
      '{imageRepositoryRef: {name: app}, filterTags: {pattern: "^rc(?i)-(?P<n>[[:digit:]]+)\\\\z", extract: "$n"}, policy: {numerical: {}}}'));
    assert.equal(d.kind, 'ImagePolicy');
    assert.deepEqual(selectTag(['rc-1', 'RC-9', 'rc-10', 'rc-7z', 'rc-3\n'], { numerical: { order: 'asc' }, filterTags: { pattern: '^rc(?i)-(?P<n>[[:digit:]]+)\\z', extract: '$n' } }),
      { tag: 'rc-10' });
  });
});
