// The decisions that keep what runs when the hub is wrong: which desired state an agent
// takes (desired-state-guard.ts), which renders it refuses to prune with (suspiciousPrune),
// and the annotations that opt out (render-safety.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decideDesired, type HeldDesired, type IncomingDesired } from '../../agents/desired-state-guard.js';
import { suspiciousPrune } from '../../agents/apply/applier.js';
import type { StoredInventory } from '../../agents/apply/inventory-store.js';
import { renderSafety, renderSafetyProblems } from '../../core/render-safety.js';

describe('decideDesired', () => {
  const held = (epoch: string, version: number, deployments = 2): HeldDesired => ({ epoch, version: BigInt(version), deployments });
  const incoming = (epoch: string, version: number, adoptEpoch = ''): IncomingDesired => ({ epoch, version: BigInt(version), adoptEpoch });
  const cases: { name: string; held: HeldDesired; incoming: IncomingDesired; accept: boolean; why?: string; reason?: RegExp }[] = [
    { name: 'the same record, newer', held: held('e1', 4), incoming: incoming('e1', 5), accept: true, why: 'continues' },
    { name: 'the same record, the same version again (a resend)', held: held('e1', 4), incoming: incoming('e1', 4), accept: true, why: 'continues' },
    { name: 'the same record, older (Temporal restored from a backup)', held: held('e1', 9), incoming: incoming('e1', 3), accept: false, reason: /hub state went back .*version 3, older than the version 9/ },
    { name: 'a new record (empty Temporal database, actor terminated)', held: held('e1', 9), incoming: incoming('e2', 0), accept: false, reason: /hub state lost or reset .*epoch e2 version 0.*held here: epoch e1 version 9, 2 deployments/ },
    { name: 'a new record, even with a higher version', held: held('e1', 9), incoming: incoming('e2', 50), accept: false, reason: /flotilla cluster adopt c1/ },
    { name: 'a new record adopted by an operator', held: held('e1', 9), incoming: incoming('e2', 10, 'e1'), accept: true, why: 'adopted' },
    { name: 'an adoption of another epoch does not count', held: held('e1', 9), incoming: incoming('e2', 10, 'e0'), accept: false, reason: /hub state lost or reset/ },
    { name: 'an older version of the same record, adopted', held: held('e1', 9), incoming: incoming('e1', 10, 'e1'), accept: true, why: 'continues' },
    { name: 'nothing held: a new agent takes any state', held: held('', 0, 0), incoming: incoming('e2', 1), accept: true, why: 'nothing-held' },
    { name: 'nothing runs under an old epoch', held: held('e1', 7, 0), incoming: incoming('e2', 1), accept: true, why: 'nothing-held' },
    { name: 'an agent state from before epochs, newer version', held: held('', 5), incoming: incoming('e2', 6), accept: true, why: 'legacy' },
    { name: 'an agent state from before epochs, older version', held: held('', 5), incoming: incoming('e2', 0), accept: false, reason: /epoch \(none\) version 5/ },
    { name: 'a hub from before epochs, newer version', held: held('e1', 5), incoming: incoming('', 6), accept: true, why: 'legacy' },
    { name: 'a hub from before epochs, older version', held: held('e1', 5), incoming: incoming('', 2), accept: false, reason: /hub state lost or reset/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = decideDesired(c.held, c.incoming, 'c1');
      assert.equal(d.accept, c.accept);
      if (d.accept) assert.equal(d.why, c.why);
      else assert.match(d.reason, c.reason ?? /./);
      if (!d.accept) assert.match(d.reason, /holding what runs/);
    });
  }
});

describe('suspiciousPrune', () => {
  const inventory = (n: number): StoredInventory => ({
    deployment: 'd', generation: 1, entries: Array.from({ length: n }, (_, i) => ({ id: `ns_cm-${i}__ConfigMap`, v: 'v1', digest: '' })),
  } as unknown as StoredInventory);
  const ids = (from: number, to: number): string[] => Array.from({ length: to - from }, (_, i) => `ns_cm-${from + i}__ConfigMap`);
  const cases: { name: string; had: number; next: string[]; opts: { allowEmpty?: boolean; maxPrunePercent?: number }; refused?: RegExp }[] = [
    { name: 'an empty render over a non-empty inventory', had: 4, next: [], opts: {}, refused: /no objects, and the last one applied here had 4.*flotilla.dev\/allow-empty/ },
    { name: 'an empty render, allowed', had: 4, next: [], opts: { allowEmpty: true } },
    { name: 'an empty render, allowed, with a prune limit', had: 4, next: [], opts: { allowEmpty: true, maxPrunePercent: 10 } },
    { name: 'an empty render over an empty inventory', had: 0, next: [], opts: {} },
    { name: 'pruning within the limit', had: 10, next: ids(0, 7), opts: { maxPrunePercent: 30 } },
    { name: 'pruning over the limit', had: 10, next: ids(0, 6), opts: { maxPrunePercent: 30 }, refused: /prune 4 of the 10 objects applied here \(40%\), more than flotilla.dev\/max-prune: "30%"/ },
    { name: 'pruning everything but one, no limit set', had: 10, next: ids(9, 10), opts: {} },
    { name: 'new objects only add', had: 2, next: ids(0, 5), opts: { maxPrunePercent: 1 } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = suspiciousPrune(inventory(c.had), c.next, c.opts);
      if (c.refused) assert.match(r ?? '', c.refused);
      else assert.equal(r, undefined);
    });
  }
});

describe('render safety annotations', () => {
  it('reads what is set, and only that', () => {
    assert.deepEqual(renderSafety({}), {});
    assert.deepEqual(renderSafety({ 'flotilla.dev/allow-empty': 'true' }), { allowEmpty: true });
    assert.deepEqual(renderSafety({ 'flotilla.dev/allow-empty': 'false', 'flotilla.dev/max-prune': '25%' }), { maxPrunePercent: 25 });
    assert.deepEqual(renderSafety({ 'flotilla.dev/max-prune': '100%' }), {}, '100% is no limit');
  });
  for (const [key, value, message] of [
    ['flotilla.dev/allow-empty', 'yes', /must be "true" or "false", got "yes"/],
    ['flotilla.dev/max-prune', '30', /percentage from "1%" to "100%", got "30"/],
    ['flotilla.dev/max-prune', '0%', /got "0%"/],
    ['flotilla.dev/max-prune', '150%', /got "150%"/],
  ] as const) {
    it(`refuses ${key}: "${value}"`, () => {
      const problems = renderSafetyProblems({ [key]: value });
      assert.equal(problems.length, 1);
      assert.equal(problems[0]?.key, key);
      assert.match(problems[0].message, message);
    });
  }
});
