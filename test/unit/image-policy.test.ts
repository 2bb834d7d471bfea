// ImagePolicy tag selection: semver, alphabetical and numerical, with filterTags extraction.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { selectTag } from '../../core/image/policy.js';

describe('selectTag semver', () => {
  it('picks the highest stable tag in the range, and a newer one once pushed', () => {
    const tags = ['1.0.0', '1.0.1', '1.1.0-rc.1'];
    assert.deepEqual(selectTag(tags, { semver: { range: '>=1.0.0' } }), { tag: '1.0.1' });
    assert.deepEqual(selectTag([...tags, '1.2.0'], { semver: { range: '>=1.0.0' } }), { tag: '1.2.0' });
  });

  it('accepts a leading v, ignores non-semver tags, keeps the original tag', () => {
    assert.deepEqual(selectTag(['latest', 'v1.2.3', '1.2', 'main-abc'], { semver: { range: '^1.0.0' } }), { tag: 'v1.2.3' });
  });

  it('includes prereleases only when the range names one', () => {
    const tags = ['1.0.0', '1.1.0-rc.1', '1.2.0-rc.2'];
    assert.deepEqual(selectTag(tags, { semver: { range: '>=1.0.0-0' } }), { tag: '1.2.0-rc.2' });
    assert.deepEqual(selectTag(tags, { semver: { range: '>=1.0.0' } }), { tag: '1.0.0' });
  });

  it('reports when nothing satisfies the range', () => {
    const tags = Array.from({ length: 10 }, (_, i) => `0.${i}.0`).concat(['latest', 'dev']);
    assert.deepEqual(selectTag(tags, { semver: { range: '>=1.0.0' } }), {
      none: 'no tag out of 12 satisfies >=1.0.0 (2 are not semver)',
    });
    assert.deepEqual(selectTag([], { semver: { range: '*' } }), { none: 'the image repository has no tags' });
  });

  it('names the field of a bad range', () => {
    assert.throws(() => selectTag(['1.0.0'], { semver: { range: '>=1.0.0 <<2' } }), /^Error: spec\.policy\.semver\.range: invalid semver range ">=1\.0\.0 <<2"/);
    assert.throws(() => selectTag([], { semver: { range: 'nope' } }), /spec\.policy\.semver\.range/);
  });
});

describe('selectTag with filterTags', () => {
  // The timestamp decides, not the sha: sorting whole tags would pick main-fff….
  const tags = ['main-fff1111-1700000100', 'main-0aa2222-1700000300', 'main-abc3333-1700000200', 'pr-9-1700000999', 'latest'];
  const pattern = '^main-[a-f0-9]+-(?P<ts>[0-9]+)';

  it('numerical picks by the extracted timestamp ($ts and ${ts})', () => {
    assert.deepEqual(selectTag(tags, { numerical: { order: 'asc' }, filterTags: { pattern, extract: '$ts' } }), { tag: 'main-0aa2222-1700000300' });
    assert.deepEqual(selectTag(tags, { numerical: { order: 'asc' }, filterTags: { pattern, extract: '${ts}' } }), { tag: 'main-0aa2222-1700000300' });
    assert.deepEqual(selectTag(tags, { numerical: { order: 'desc' }, filterTags: { pattern, extract: '$ts' } }), { tag: 'main-fff1111-1700000100' });
  });

  it('alphabetical: asc picks the last in ascending order, desc the first', () => {
    assert.deepEqual(selectTag(tags, { alphabetical: { order: 'asc' }, filterTags: { pattern, extract: '$ts' } }), { tag: 'main-0aa2222-1700000300' });
    assert.deepEqual(selectTag(tags, { alphabetical: { order: 'desc' }, filterTags: { pattern, extract: '$ts' } }), { tag: 'main-fff1111-1700000100' });
    assert.deepEqual(selectTag(['a', 'c', 'b'], { alphabetical: { order: 'asc' } }), { tag: 'c' });
    assert.deepEqual(selectTag(['a', 'c', 'b'], { alphabetical: { order: 'desc' } }), { tag: 'a' });
  });

  it('without extract compares whole matching tags; semver works on extracted versions', () => {
    assert.deepEqual(selectTag(tags, { alphabetical: { order: 'asc' }, filterTags: { pattern: '^main-' } }), { tag: 'main-fff1111-1700000100' });
    const rel = ['app-v1.2.0', 'app-v1.10.0', 'other-v9.0.0'];
    assert.deepEqual(selectTag(rel, { semver: { range: '^1' }, filterTags: { pattern: '^app-(?P<v>.*)$', extract: '$v' } }), { tag: 'app-v1.10.0' });
  });

  it('numerical ignores non-numeric values', () => {
    assert.deepEqual(selectTag(['1', '10', '9.5', 'x', 'latest'], { numerical: { order: 'asc' } }), { tag: '10' });
    assert.deepEqual(selectTag(['x', 'latest'], { numerical: { order: 'asc' } }), { none: 'no tag out of 2 is a number' });
  });

  it('reports a pattern that matches nothing', () => {
    assert.deepEqual(selectTag(tags, { numerical: { order: 'asc' }, filterTags: { pattern: '^release-(?P<n>\\d+)$', extract: '$n' } }), {
      none: 'no tag out of 5 matches spec.filterTags.pattern "^release-(?P<n>\\d+)$"',
    });
  });

  it('names the field of a bad regex', () => {
    assert.throws(() => selectTag(tags, { numerical: { order: 'asc' }, filterTags: { pattern: '^main-(' } }), /^Error: spec\.filterTags\.pattern: invalid regular expression "\^main-\("/);
  });
});
