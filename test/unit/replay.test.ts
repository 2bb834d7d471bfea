// Every recorded actor history (test/fixtures/histories, recorded by the end-to-end tests
// with FLOTILLA_RECORD_HISTORIES=1) still replays on the current workflow code.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { recordedHistories, replay } from '../harness/replay.js';

describe('recorded workflow histories replay deterministically', () => {
  const histories = recordedHistories();
  it('has a recorded history of each actor', () => {
    const kinds = new Set(histories.map((h) => h.workflowId.split('/')[0]));
    for (const kind of ['cluster', 'gitrepository', 'kustomization', 'helmrepository', 'helmrelease', 'notifications', 'imagerepository', 'imagepolicy', 'imageupdateautomation']) assert.ok(kinds.has(kind), `no recorded ${kind} history`);
  });
  for (const h of histories) {
    it(h.name, async () => {
      await replay(h.history, h.workflowId);
    });
  }
});
