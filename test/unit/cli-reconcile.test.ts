// `flotilla reconcile` waits until the actor handled its request; an actor keeps only the
// latest request token, so a later request's token also means ours was handled.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { handledSince } from '../../cli/gitops.js';

describe('reconcile tokens', () => {
  it('our token, or a later CLI token, means handled', () => {
    assert.equal(handledSince('2026-11-22T10:00:00.000Z', '2026-11-22T10:00:00.000Z'), true);
    assert.equal(handledSince('2026-11-22T10:00:01.000Z', '2026-11-22T10:00:00.000Z'), true, 'a concurrent reconcile asked after us');
    assert.equal(handledSince('2026-11-22T09:59:59.000Z', '2026-11-22T10:00:00.000Z'), false, 'an earlier request');
    assert.equal(handledSince('', '2026-11-22T10:00:00.000Z'), false, 'never handled');
    assert.equal(handledSince('receiver/flux-system/github@1', '2026-11-22T10:00:00.000Z'), false, 'other tokens only match exactly');
  });
});
