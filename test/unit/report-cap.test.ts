import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_REPORT_MESSAGE_BYTES, MAX_REPORT_OBJECTS, capMessage, capReport } from '../../core/report-cap.js';

const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');
const errors = (n: number): string => Array.from({ length: n }, (_, i) => `Widget/apps/w-${i}: the cluster does not serve kind Widget`).join('; ');
const objects = (n: number): { id: string; action: string }[] => Array.from({ length: n }, (_, i) => ({ id: `apps_w-${i}__ConfigMap`, action: 'created' }));

describe('report caps', () => {
  const cases: {
    name: string;
    report: { message: string; objects?: { id: string; action: string }[] };
    objects: number;
    /** The message, exactly, or a pattern it must match. */
    message: string | RegExp;
  }[] = [
    { name: 'within both caps: unchanged', report: { message: 'applied: 3 created', objects: objects(3) }, objects: 3, message: 'applied: 3 created' },
    { name: 'exactly at the caps: unchanged', report: { message: 'x'.repeat(MAX_REPORT_MESSAGE_BYTES), objects: objects(MAX_REPORT_OBJECTS) }, objects: 100, message: 'x'.repeat(MAX_REPORT_MESSAGE_BYTES) },
    {
      name: '10,000 objects, short message: the list is cut and the message says so',
      report: { message: 'applied: 10000 created', objects: objects(10_000) }, objects: 100,
      message: 'applied: 10000 created … and 9,900 more objects not shown (report capped at 100 objects / 4 KiB)',
    },
    { name: 'one more object than the cap', report: { message: '', objects: objects(101) }, objects: 100, message: '… and 1 more object not shown (report capped at 100 objects / 4 KiB)' },
    {
      name: '10,000 error entries: cut between entries, counted',
      report: { message: errors(10_000) }, objects: 0,
      message: /^Widget\/apps\/w-0: the cluster does not serve kind Widget; .*Widget; Widget\/apps\/w-\d+: the cluster does not serve kind Widget … and 9,9\d\d more entries not shown \(report capped at 100 objects \/ 4 KiB\)$/,
    },
    {
      name: 'both: entries and objects cut',
      report: { message: errors(10_000), objects: objects(10_000) }, objects: 100,
      message: / … and 9,9\d\d more entries and 9,900 more objects not shown \(report capped at 100 objects \/ 4 KiB\)$/,
    },
    {
      name: 'one overlong entry: cut inside it, bytes counted',
      report: { message: 'y'.repeat(10_000) }, objects: 0,
      message: /^y+ … and 5,9\d\d more bytes not shown \(report capped at 100 objects \/ 4 KiB\)$/,
    },
    {
      name: 'multi-byte text is never cut inside a character',
      report: { message: 'é'.repeat(5_000) }, objects: 0,
      message: /^é+ … and [\d,]+ more bytes not shown/,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const capped = capReport(c.report);
      assert.equal(capped.objects?.length ?? 0, c.objects);
      assert.ok(bytes(capped.message) <= MAX_REPORT_MESSAGE_BYTES, `${bytes(capped.message)} bytes`);
      if (typeof c.message === 'string') assert.equal(capped.message, c.message);
      else assert.match(capped.message, c.message);
      assert.ok(!capped.message.includes('\uFFFD'), 'no broken character');
      // Capping is idempotent: the hub capping an agent's capped report changes nothing.
      assert.deepEqual(capReport(capped), capped);
    });
  }

  it('keeps the other fields and leaves a report without a list without one', () => {
    const r = { name: 'kustomization/apps/web', generation: '7', phase: 'PHASE_INVALID', message: errors(500) };
    const capped = capReport(r);
    assert.equal(capped.name, r.name);
    assert.equal(capped.phase, r.phase);
    assert.equal('objects' in capped, false);
    assert.equal(capReport({ message: 'ok' }).message, 'ok');
    assert.equal(capMessage(errors(2)), errors(2));
  });
});
