// Flux's postBuild substitution (core/substitute.ts): every expression form, escaping, the
// errors Flux reports, and the per-object rules (opt-out, no vars, newlines in values).
// Expected values are what Flux's own envsubst (github.com/fluxcd/pkg/envsubst) returns.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SubstitutionError, substituteObject, substituteVariables, substitutionDisabled } from '../../core/substitute.js';

const vars = { name: 'web', region: 'eu-central-1', empty: '', path: '/home/bozo/ideas/thoughts.for.today', file: 'bash.string.txt', mixed: 'abcABC123ABCabc' };
const sub = (text: string, v: Record<string, string> = vars): string => substituteVariables(text, v);

describe('substituteVariables', () => {
  const cases: [string, string][] = [
    ['${name}', 'web'],
    ['app-${name}-${region}', 'app-web-eu-central-1'],
    ['${missing}', ''],
    ['${missing:=dev}', 'dev'],
    ['${missing:-dev}', 'dev'],
    ['${missing=dev}', 'dev'],
    ['${name:=dev}', 'web'],
    ['${empty:=dev}', 'dev'],
    ['${empty=dev}', 'dev'], // Flux cannot tell unset from empty: every default form applies to both
    ['${missing:=a:b c}', 'a:b c'],
    ['${missing:=${name}-1}', 'web-1'],
    ['${missing:=pre${missing2:=${region}}post}', 'preeu-central-1post'],
    ['${missing:=}', ''],
    ['${missing:?oops}', 'oops'],
    ['${missing:+set}', 'set'],
    ['$name stays', '$name stays'],
    ['cost: $5', 'cost: $5'],
    ['$${name}', '${name}'],
    ['$${missing:=x}', '${missing:=x}'],
    ['$$', '$'],
    ['$$$${name}', '$${name}'],
    ['a \\\\ b', 'a \\\\ b'], // backslashes outside ${...} are left alone
    ['${#name}', '3'],
    ['${name^}', 'Web'],
    ['${name^^}', 'WEB'],
    ['${mixed,}', 'abcABC123ABCabc'],
    ['${mixed,,}', 'abcabc123abcabc'],
    ['${path:11}', 'ideas/thoughts.for.today'],
    ['${path:11:5}', 'ideas'],
    ['${name:-1}', 'web'], // ":-" is the default form, not a negative offset
    ['${name:1:-1}', 'e'],
    ['${file#*.}', 'string.txt'],
    ['${file##*.}', 'txt'],
    ['${file%.*}', 'bash.string'],
    ['${file%%.*}', 'bash'],
    ['${mixed/abc/xyz}', 'xyzABC123ABCabc'],
    ['${mixed//abc/xyz}', 'xyzABC123ABCxyz'],
    ['${mixed/#abc/XYZ}', 'XYZABC123ABCabc'],
    ['${mixed/%abc/XYZ}', 'abcABC123ABCXYZ'],
    ['${path//\\//-}', '-home-bozo-ideas-thoughts.for.today'],
    ['${region/-/}', 'eucentral-1'],
    ['${1:-first}', 'first'],
  ];
  for (const [input, want] of cases) {
    it(`${input} → ${JSON.stringify(want)}`, () => {
      assert.equal(sub(input), want);
    });
  }

  it('substitutes inside YAML text, line by line', () => {
    const yaml = 'metadata:\n  name: ${name}\n  namespace: ${ns:=apps}\ndata:\n  script: |\n    echo $$HOME ${region}\n';
    assert.equal(sub(yaml), 'metadata:\n  name: web\n  namespace: apps\ndata:\n  script: |\n    echo $HOME eu-central-1\n');
  });

  it('inserts values with special characters as they are', () => {
    assert.equal(sub('v: ${x}', { x: 'a "quoted": $value & ${y} \\n' }), 'v: a "quoted": $value & ${y} \\n');
  });

  const errors: [string, RegExp][] = [
    ['${missing-dev}', /missing closing brace/],
    ['${INTERVAL / 1000}', /missing closing brace/],
    ['${}', /unable to parse variable name/],
    ['${ name}', /unable to parse variable name/],
    ['${name', /missing closing brace/],
    ['${name:=x', /unable to parse substitution within function/],
    ['${#}', /bad substitution/],
    ['${name:', /bad substitution/],
  ];
  for (const [input, pattern] of errors) {
    it(`refuses ${input} as Flux does`, () => {
      assert.throws(() => sub(input), (err: unknown) => err instanceof SubstitutionError && pattern.test(err.message));
    });
  }

  it('refuses variable names Flux refuses', () => {
    assert.throws(() => sub('x', { 'my-var': 'a' }), /'my-var' var name is invalid, must match '\^\[_a-zA-Z\]\[_a-zA-Z0-9\]\*\$'/);
    assert.throws(() => sub('x', { '1abc': 'a' }), SubstitutionError);
    assert.equal(sub('${_ok1}', { _ok1: 'fine' }), 'fine');
  });
});

describe('substituteObject', () => {
  const object = (meta: string): string => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n${meta}data:\n  region: \${region}\n  env: \${env:=dev}\n`;

  it('substitutes an ordinary object', () => {
    assert.equal(substituteObject(object(''), { region: 'eu' }), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  region: eu\n  env: dev\n');
  });

  it('leaves an object alone when it opts out with the annotation or the label', () => {
    for (const field of ['annotations', 'labels']) {
      const text = object(`  ${field}:\n    kustomize.toolkit.fluxcd.io/substitute: disabled\n`);
      assert.equal(substituteObject(text, { region: 'eu' }), text);
    }
    const enabled = object('  annotations:\n    kustomize.toolkit.fluxcd.io/substitute: enabled\n');
    assert.match(substituteObject(enabled, { region: 'eu' }), /region: eu/);
  });

  it('changes nothing when there are no variables at all, defaults included (as Flux)', () => {
    assert.equal(substituteObject(object(''), {}), object(''));
  });

  it('drops newlines from values, as Flux does when it reads them', () => {
    assert.match(substituteObject(object(''), { region: 'eu\ncentral\n' }), /region: eucentral\n/);
  });
});

describe('substitutionDisabled', () => {
  it('reads labels and annotations', () => {
    assert.equal(substitutionDisabled({ labels: { 'kustomize.toolkit.fluxcd.io/substitute': 'disabled' } }), true);
    assert.equal(substitutionDisabled({ annotations: { 'kustomize.toolkit.fluxcd.io/substitute': 'disabled' } }), true);
    assert.equal(substitutionDisabled({ annotations: { 'kustomize.toolkit.fluxcd.io/substitute': 'Disabled' } }), false);
    assert.equal(substitutionDisabled({}), false);
    assert.equal(substitutionDisabled(undefined), false);
  });
});

describe('trim patterns (${var#glob} and friends) are matched in one pass', () => {
  // Each row gave the same result with the former RegExp translation of the glob (checked over
  // 840 expressions); the last two show where that translation split a surrogate pair.
  const v = { a: 'abcABC123', p: 'dir/sub/file.tar.gz', s: 'a*b?c[d]e\\f', u: 'héllo-wörld-😀x' };
  const cases: [string, string][] = [
    ['${a#?}', 'bcABC123'],
    ['${a##[a-c]*}', ''],
    ['${a#[a-c]*}', 'bcABC123'],
    ['${a#[^a-c]*}', 'abcABC123'],
    ['${a%%*[0-9]}', 'abcABC123'], // suffixes match the reversed pattern (as Flux does): "]9-0[*" is malformed
    ['${a%3}', 'abcABC12'],
    ['${a#[z-a]*}', 'abcABC123'], // a reversed range: malformed, the value stays
    ['${a#[a}', 'abcABC123'], // an unclosed class: malformed
    ['${p#*/}', 'sub/file.tar.gz'],
    ['${p##*/}', 'file.tar.gz'],
    ['${p%.*}', 'dir/sub/file.tar'],
    ['${p%%.*}', 'dir/sub/file'],
    ['${s#a\\*}', 'b?c[d]e\\f'],
    ['${s##*[\\]]}', 'e\\f'],
    ['${u#h?llo}', '-wörld-😀x'],
    ['${u%%-*}', 'héllo'],
    ['${u%?}', 'héllo-wörld-😀'],
    ['${u%??}', 'héllo-wörld-'], // ? is one character, never half of 😀
  ];
  for (const [input, want] of cases) {
    it(`${input} → ${JSON.stringify(want)}`, () => {
      assert.equal(sub(input, v), want);
    });
  }

  it('a pattern with many stars against a long value takes milliseconds, not minutes', (t) => {
    // As a backtracking RegExp, *a*a*a*a*a*a*b against 80 a's took 119 s (each extra star
    // multiplies the work by the length). The automaton is linear; 2 s is ~50 times what
    // 100,000 characters take on a loaded machine.
    for (const length of [80, 100_000]) {
      const start = performance.now();
      assert.equal(sub('${v#*a*a*a*a*a*a*b}', { v: 'a'.repeat(length) }), 'a'.repeat(length));
      assert.equal(sub('${v%%a*a*a*a*a*a*}', { v: `${'a'.repeat(length)}b` }), '');
      const ms = performance.now() - start;
      t.diagnostic(`${length} characters: ${ms.toFixed(1)} ms`);
      assert.ok(ms < 2000, `${ms.toFixed(0)} ms`);
    }
  });
});
