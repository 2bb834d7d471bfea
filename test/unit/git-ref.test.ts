// Git reference rules: semver tag selection, ref precedence and Flux revision strings.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { describeGitRef, formatRevision, gitRefKind, selectSemverTag } from '../../core/git-ref.js';

const SHA = '0123456789abcdef0123456789abcdef01234567';

describe('selectSemverTag', () => {
  const tags = ['v1.0.0', 'v1.2.0', 'v2.0.0', 'latest', 'release-3', '1.1.5', 'v1.3.0-rc.1'];

  it('picks the highest tag in the range, with or without a leading v', () => {
    assert.equal(selectSemverTag(tags, '>=1.0.0 <2.0.0'), 'v1.2.0');
    assert.equal(selectSemverTag(tags, '*'), 'v2.0.0');
    assert.equal(selectSemverTag(tags, '~1.1'), '1.1.5');
    assert.equal(selectSemverTag(tags, '1.x'), 'v1.2.0');
  });

  it('ignores tags that are not semver', () => {
    assert.equal(selectSemverTag(['latest', 'stable', 'v1', 'v1.2'], '*'), undefined);
  });

  it('matches prereleases only when the range names one', () => {
    assert.equal(selectSemverTag(tags, '>=1.2.0 <2.0.0'), 'v1.2.0');
    assert.equal(selectSemverTag(tags, '>=1.3.0-rc.0 <2.0.0'), 'v1.3.0-rc.1');
    assert.equal(selectSemverTag(['v1.3.0-rc.1'], '^1.0.0'), undefined);
  });

  it('returns undefined when nothing matches', () => {
    assert.equal(selectSemverTag(tags, '>=3.0.0'), undefined);
    assert.equal(selectSemverTag([], '*'), undefined);
  });

  it('does not depend on the order of the tags', () => {
    assert.equal(selectSemverTag(['1.0.0', 'v1.0.0'], '1.0.0'), selectSemverTag(['v1.0.0', '1.0.0'], '1.0.0'));
    assert.equal(selectSemverTag([...tags].reverse(), '>=1.0.0 <2.0.0'), 'v1.2.0');
  });

  it('refuses an invalid range, naming it', () => {
    assert.throws(() => selectSemverTag(tags, 'not a range'), /invalid semver range "not a range": /);
    assert.throws(() => selectSemverTag(tags, '>=1.0.0 <<2'), /invalid semver range ">=1.0.0 <<2"/);
  });
});

describe('formatRevision', () => {
  it('names branch, tag, semver, ref name and commit revisions as Flux v1 does', () => {
    assert.equal(formatRevision({ branch: 'main' }, { commit: SHA }), `main@sha1:${SHA}`);
    assert.equal(formatRevision({ tag: 'v1.0.0' }, { commit: SHA }), `v1.0.0@sha1:${SHA}`);
    assert.equal(formatRevision({ semver: '^1' }, { commit: SHA, tag: 'v1.2.0' }), `v1.2.0@sha1:${SHA}`);
    assert.equal(formatRevision({ name: 'refs/pull/1/head' }, { commit: SHA }), `refs/pull/1/head@sha1:${SHA}`);
    assert.equal(formatRevision({ commit: SHA }, { commit: SHA }), `sha1:${SHA}`);
    assert.equal(formatRevision({ branch: 'main', commit: SHA.slice(0, 7) }, { commit: SHA }), `main@sha1:${SHA}`);
  });

  it('follows Flux precedence: commit > name > semver > tag > branch', () => {
    assert.equal(formatRevision({ branch: 'main', tag: 'v1' }, { commit: SHA }), `v1@sha1:${SHA}`);
    assert.equal(formatRevision({ tag: 'v1', semver: '*' }, { commit: SHA, tag: 'v9.0.0' }), `v9.0.0@sha1:${SHA}`);
    assert.equal(formatRevision({ semver: '*', name: 'refs/heads/x' }, { commit: SHA }), `refs/heads/x@sha1:${SHA}`);
    assert.equal(formatRevision({ name: 'refs/heads/x', commit: SHA }, { commit: SHA }), `sha1:${SHA}`);
    assert.deepEqual(gitRefKind({ branch: 'main', commit: SHA }), { kind: 'commit', commit: SHA, branch: 'main' });
  });

  it('uses sha256: for SHA-256 repositories', () => {
    const sha256 = 'a'.repeat(64);
    assert.equal(formatRevision({ branch: 'main' }, { commit: sha256 }), `main@sha256:${sha256}`);
  });

  it('refuses an empty ref and a semver ref without its tag', () => {
    assert.throws(() => formatRevision({}, { commit: SHA }), /git ref is empty/);
    assert.throws(() => formatRevision({ semver: '*' }, { commit: SHA }), /selected tag/);
  });

  it('describes refs for messages', () => {
    assert.equal(describeGitRef({ branch: 'main' }), 'branch "main"');
    assert.equal(describeGitRef({ semver: '^1' }), 'semver range "^1"');
  });
});
