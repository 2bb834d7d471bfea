// The analysis gate's verdicts (core/analysis.ts): status codes, JSON paths, bounds.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { judgeResponse, lookupPath } from '../../core/analysis.js';

const OK_CODES = Array.from({ length: 100 }, (_, i) => 200 + i);

describe('analysis checks', () => {
  it('follows dotted paths through objects and arrays (Prometheus query results)', () => {
    const body = { data: { result: [{ value: [1700000000, '0.02'] }] } };
    assert.equal(lookupPath(body, 'data.result.0.value.1'), '0.02');
    assert.equal(lookupPath(body, 'data.result.1.value'), undefined);
    assert.equal(lookupPath(body, 'data.result.x'), undefined);
    assert.equal(lookupPath({ a: 1 }, 'a.b'), undefined);
    assert.equal(lookupPath({}, 'constructor'), undefined, 'only own properties');
  });

  it('passes on a success code without a JSON path, fails on any other code', () => {
    assert.deepEqual(judgeResponse({ successCodes: OK_CODES }, 204, ''), { ok: true, message: 'HTTP 204' });
    assert.deepEqual(judgeResponse({ successCodes: OK_CODES }, 503, 'down'), { ok: false, message: 'HTTP 503 (want 200-299)' });
    assert.deepEqual(judgeResponse({ successCodes: [200, 202] }, 201, ''), { ok: false, message: 'HTTP 201 (want 200, 202)' });
  });

  it('compares the number at the JSON path with min and max (numeric strings count)', () => {
    const check = { successCodes: OK_CODES, jsonPath: 'data.result.0.value.1', max: 0.05 };
    const body = (v: unknown): string => JSON.stringify({ data: { result: [{ value: [0, v] }] } });
    assert.deepEqual(judgeResponse(check, 200, body('0.02')), { ok: true, value: 0.02, message: 'data.result.0.value.1 = 0.02 (want <= 0.05)' });
    assert.deepEqual(judgeResponse(check, 200, body(0.5)), { ok: false, value: 0.5, message: 'data.result.0.value.1 = 0.5 (want <= 0.05)' });
    const both = { successCodes: OK_CODES, jsonPath: 'rps', min: 10, max: 20 };
    assert.equal(judgeResponse(both, 200, '{"rps": 9}').ok, false);
    assert.equal(judgeResponse(both, 200, '{"rps": 10}').ok, true);
    assert.equal(judgeResponse(both, 200, '{"rps": 20}').ok, true);
    assert.equal(judgeResponse(both, 200, '{"rps": 21}').message, 'rps = 21 (want >= 10 and <= 20)');
  });

  it('fails with a reason when the body is not JSON or the value is missing or not a number', () => {
    const check = { successCodes: OK_CODES, jsonPath: 'errorRate', max: 0.05 };
    assert.deepEqual(judgeResponse(check, 200, '<html>'), { ok: false, message: 'HTTP 200 but the body is not JSON, so errorRate cannot be read' });
    assert.deepEqual(judgeResponse(check, 200, '{}'), { ok: false, message: 'errorRate is missing' });
    assert.deepEqual(judgeResponse(check, 200, '{"errorRate": "NaN"}'), { ok: false, message: 'errorRate is not a number ("NaN")' });
    assert.deepEqual(judgeResponse(check, 200, '{"errorRate": null}'), { ok: false, message: 'errorRate is not a number (null)' });
    assert.deepEqual(judgeResponse(check, 200, '{"errorRate": ""}'), { ok: false, message: 'errorRate is not a number ("")' });
  });
});
