// The agent's in-memory artifact cache keeps what the desired state references and the most
// recently used few others.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ArtifactCache, holdsSecret, RETAINED_UNREFERENCED_ARTIFACTS } from '../../agents/agent-state.js';

describe('ArtifactCache', () => {
  it('keeps the referenced digests and the most recently used others', () => {
    let referenced = ['a', 'b'];
    const cache = new ArtifactCache(() => referenced);
    for (const d of ['a', 'b', 'x1', 'x2', 'x3', 'x4']) cache.set(d, `text of ${d}`);
    assert.equal(RETAINED_UNREFERENCED_ARTIFACTS, 2);
    assert.equal(cache.size, 4);
    assert.deepEqual(['a', 'b', 'x1', 'x2', 'x3', 'x4'].filter((d) => cache.has(d)), ['a', 'b', 'x3', 'x4']);
    assert.equal(cache.get('x3'), 'text of x3'); // a use makes x3 the newest other
    referenced = ['c'];
    cache.set('c', 'text of c');
    // a and b are others now, older than x4 and x3: they go.
    assert.deepEqual(['a', 'b', 'c', 'x3', 'x4'].filter((d) => cache.has(d)), ['c', 'x3', 'x4']);
    cache.set('x5', 'text of x5');
    assert.deepEqual(['c', 'x3', 'x4', 'x5'].filter((d) => cache.has(d)), ['c', 'x3', 'x5'], 'x4 is the least recently used other');
  });

  it('holdsSecret finds a Secret in multi-document YAML, Lists and unparsable text', () => {
    assert.equal(holdsSecret('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n'), false);
    assert.equal(holdsSecret('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\n'), true);
    assert.equal(holdsSecret('apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Secret, metadata: {name: s}}\n'), true);
    assert.equal(holdsSecret('kind: Secret\n  bad: [indent\n'), true);
  });
});
