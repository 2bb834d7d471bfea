// The analysis gate's verdicts (core/analysis.ts): status codes, JSON paths, bounds; and the
// check's request (activities/analysis.ts) under the source policy, against real local servers.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { runAnalysisCheck } from '../../activities/analysis.js';
import { judgeResponse, lookupPath } from '../../core/analysis.js';
import type { AnalysisCheck } from '../../core/declarations/types.js';
import { DEFAULT_SOURCE_POLICY } from '../../core/source-policy.js';
import { DEV_SOURCE_POLICY } from '../../deploy/dev/source-policy.js';
import { RecordingServer } from '../harness/recording-server.js';

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

describe('analysis checks through the source policy (real HTTP servers on 127.0.0.1)', () => {
  const WHAT = 'Kustomization/flux-system/web spec.rollout.analysis.url';
  const check = (url: string, headers: Record<string, string> = {}): AnalysisCheck =>
    ({ url, intervalSeconds: 1, timeoutSeconds: 5, failureLimit: 0, successCodes: OK_CODES, jsonPath: 'errorRate', max: 0.05, headers });
  const metrics = new RecordingServer(() => ({ status: 200, body: '{"errorRate": 0.01}' }));
  const hops: Server[] = [];
  before(() => metrics.start());
  after(async () => {
    await metrics.stop();
    for (const h of hops) await new Promise((resolve) => h.close(resolve));
  });
  /** A server on 127.0.0.1 (another origin: another port) that redirects every request to `location`. */
  async function redirector(location: string): Promise<string> {
    const hop = createServer((_req, res) => { res.writeHead(302, { location }).end(); });
    hops.push(hop);
    await new Promise<void>((resolve) => hop.listen(0, '127.0.0.1', resolve));
    const address = hop.address();
    assert.ok(address !== null && typeof address === 'object');
    return `http://127.0.0.1:${address.port}`;
  }

  it('the development policy reaches the loopback metrics server; the default policy refuses it, naming the rollout, the field and the setting, and sends nothing', async () => {
    assert.deepEqual(await runAnalysisCheck(check(`${metrics.origin}/q`), { policy: DEV_SOURCE_POLICY, what: WHAT }),
      { ok: true, value: 0.01, message: 'errorRate = 0.01 (want <= 0.05)' });
    const sent = metrics.received.length;
    const refused = await runAnalysisCheck(check('https://169.254.169.254/latest/meta-data/'), { policy: DEFAULT_SOURCE_POLICY, what: WHAT });
    assert.deepEqual(refused, { ok: false, message: `${WHAT}: https://169.254.169.254/latest/meta-data/ is 169.254.169.254, a link-local (cloud metadata) address, `
      + 'refused by the source policy (sources.allowPrivateNetworks); add 169.254.169.254 or its range to sources.allowHosts if this is intended; the check was not sent' });
    const loopback = await runAnalysisCheck(check(`${metrics.origin}/q`), { policy: DEFAULT_SOURCE_POLICY, what: WHAT });
    assert.equal(loopback.ok, false);
    assert.match(loopback.message, /uses the scheme http:\/\/, .*\(sources\.allowSchemes\)/);
    assert.equal(metrics.received.length, sent, 'no request reached the server');
  });

  it('a redirect to 169.254.169.254 is refused at that hop; a redirect to another origin loses the Authorization header', async () => {
    const toMetadata = await redirector('http://169.254.169.254/latest/meta-data/');
    const refused = await runAnalysisCheck(check(`${toMetadata}/q`), { policy: DEV_SOURCE_POLICY, what: WHAT });
    assert.equal(refused.ok, false);
    assert.match(refused.message, /^Kustomization\/flux-system\/web spec\.rollout\.analysis\.url \(redirected to http:\/\/169\.254\.169\.254\/latest\/meta-data\/\): .*cloud metadata.*\(sources\.allowPrivateNetworks\)/);
    const toMetrics = await redirector(`${metrics.origin}/moved`);
    const verdict = await runAnalysisCheck(check(`${toMetrics}/q`, { Authorization: 'Bearer metrics-token-canary' }), { policy: DEV_SOURCE_POLICY, what: WHAT });
    assert.equal(verdict.ok, true, verdict.message);
    assert.equal(metrics.last().url, '/moved');
    assert.equal(metrics.last().headers.authorization, undefined, 'credentials go only to the first origin');
  });
});
