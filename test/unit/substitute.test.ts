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
