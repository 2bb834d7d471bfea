// `flotilla reconcile` waits until the actor handled its request; an actor keeps only the
// latest request token, so a later request's token also means ours was handled.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { handledSince, imageKindsOf, parseTarget } from '../../cli/gitops.js';
import { historyId } from '../../cli/inspect.js';

describe('reconcile tokens', () => {
  it('our token, or a later CLI token, means handled', () => {
    assert.equal(handledSince('2026-11-22T10:00:00.000Z', '2026-11-22T10:00:00.000Z'), true);
    assert.equal(handledSince('2026-11-22T10:00:01.000Z', '2026-11-22T10:00:00.000Z'), true, 'a concurrent reconcile asked after us');
    assert.equal(handledSince('2026-11-22T09:59:59.000Z', '2026-11-22T10:00:00.000Z'), false, 'an earlier request');
    assert.equal(handledSince('', '2026-11-22T10:00:00.000Z'), false, 'never handled');
    assert.equal(handledSince('receiver/flux-system/github@1', '2026-11-22T10:00:00.000Z'), false, 'other tokens only match exactly');
  });
});

describe('command targets', () => {
  it('reads image repository|policy|update <name> and the id forms, as flux reconcile image does', () => {
    assert.deepEqual(parseTarget(['image', 'repository', 'app'], 'flux-system'), { kind: 'ImageRepository', id: 'imagerepository/flux-system/app' });
    assert.deepEqual(parseTarget(['image', 'update', 'app'], 'apps'), { kind: 'ImageUpdateAutomation', id: 'imageupdateautomation/apps/app' });
    assert.deepEqual(parseTarget(['imagepolicy/images/app'], 'default'), { kind: 'ImagePolicy', id: 'imagepolicy/images/app' });
    assert.throws(() => parseTarget(['image', 'registry', 'app'], 'default'), /image repository\|policy\|update <name>/);
    assert.equal(historyId(['imageupdateautomation/app'], 'flux-system'), 'imageupdateautomation/flux-system/app');
  });

  it('get images lists every image kind, or the one asked for', () => {
    assert.deepEqual(imageKindsOf(undefined), ['ImageRepository', 'ImagePolicy', 'ImageUpdateAutomation']);
    assert.deepEqual(imageKindsOf('policies'), ['ImagePolicy']);
    assert.deepEqual(imageKindsOf('update'), ['ImageUpdateAutomation']);
    assert.equal(imageKindsOf('tags'), undefined);
  });
});
