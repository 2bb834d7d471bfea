import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_OBJECT_BYTES, findDuplicates, parseManifests } from '../../core/manifests.js';

describe('parseManifests', () => {
  it('reads several documents and skips empty ones', () => {
    const r = parseManifests('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: x}\n---\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n', 'f.yaml');
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.objects.map((o) => `${o.object.kind}/${o.object.metadata.name}@${o.source}`), ['ConfigMap/a@f.yaml#1', 'Namespace/x@f.yaml#3']);
  });

  it('expands v1 List documents', () => {
    const r = parseManifests('apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}\n', 'l.yaml');
    assert.equal(r.objects.length, 2);
  });

  const bad: [string, string, RegExp][] = [
    ['malformed YAML', 'apiVersion: v1\nkind: [ConfigMap\n', /malformed YAML/],
    ['no apiVersion', 'kind: ConfigMap\nmetadata: {name: a}\n', /missing apiVersion/],
    ['no kind', 'apiVersion: v1\nmetadata: {name: a}\n', /missing kind/],
    ['no name', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n', /ConfigMap has no metadata.name/],
    ['a scalar', 'just a string\n', /not a mapping/],
    ['bad namespace', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: Not_Valid}\n', /invalid namespace/],
    ['duplicate keys', 'apiVersion: v1\nkind: ConfigMap\nkind: Secret\nmetadata: {name: a}\n', /malformed YAML/],
  ];
  for (const [name, text, pattern] of bad) {
    it(`reports ${name} with the document it is in`, () => {
      const r = parseManifests(`apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine}\n---\n${text}`, 'bad.yaml');
      assert.equal(r.objects.length, 1, 'the valid document is still read');
      assert.equal(r.errors.length, 1);
      assert.equal(r.errors[0]?.source, 'bad.yaml#2');
      assert.match(r.errors[0].message, pattern);
    });
  }

  it('refuses a YAML alias bomb without expanding it', () => {
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]', 'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]', 'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
      'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]', 'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]', 'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
      'g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]', 'h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]', 'i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]'].join('\n');
    const r = parseManifests(`apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\ndata:\n  ${bomb.replace(/\n/g, '\n  ')}\n`, 'bomb.yaml');
    assert.equal(r.objects.length, 0);
    assert.match(String(r.errors[0]?.message), /alias/i);
  });

  it('refuses an object larger than Kubernetes can store, naming it', () => {
    const big = 'x'.repeat(10 * 2 ** 20);
    const r = parseManifests(`apiVersion: v1\nkind: ConfigMap\nmetadata: {name: huge, namespace: n}\ndata:\n  blob: ${big}\n`, 'big.yaml');
    assert.equal(r.objects.length, 0);
    assert.equal(r.errors[0]?.object, 'ConfigMap/n/huge');
    assert.match(r.errors[0].message, /10\.0 MiB/);
    assert.ok(MAX_OBJECT_BYTES < 10 * 2 ** 20);
  });
});

describe('findDuplicates', () => {
  it('names both places an object is declared', () => {
    const a = parseManifests('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: x}\n', 'one.yaml').objects;
    const b = parseManifests('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: x}\n', 'two.yaml').objects;
    const errors = findDuplicates([...a, ...b]);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.source, 'two.yaml#1');
    assert.match(errors[0].message, /one\.yaml#1/);
  });
});
