import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, idFields, logFunction } from '../../core/log.js';

/** A logger whose lines are captured, parsed. */
function captured(component: 'hub' | 'agent', level?: string): { lines: Record<string, unknown>[]; raw: string[]; logger: ReturnType<typeof createLogger> } {
  const raw: string[] = [];
  const logger = createLogger(component, { ...(level ? { level } : {}), destination: { write: (s: string) => { raw.push(s); } } });
  return { raw, logger, get lines() { return raw.map((l) => JSON.parse(l) as Record<string, unknown>); } };
}

describe('structured logs', () => {
  it('one JSON line per entry with Flux-style field names and no pid or hostname', () => {
    const c = captured('hub');
    c.logger.info({ kind: 'Kustomization', name: 'app', namespace: 'flux-system', cluster: 'prod' }, 'reconciled');
    c.logger.error({ cluster: 'prod', error: new Error('connection refused') }, 'agent message failed');
    assert.equal(c.raw.length, 2);
    assert.ok(c.raw.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n')), 'one line each');
    const [info, error] = c.lines;
    assert.ok(info && error);
    assert.deepEqual(Object.keys(info).sort(), ['cluster', 'component', 'kind', 'level', 'msg', 'name', 'namespace', 'ts']);
    assert.equal(info.level, 'info');
    assert.equal(info.msg, 'reconciled');
    assert.equal(info.component, 'hub');
    assert.match(String(info.ts), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(error.level, 'error');
    assert.equal(error.error, 'connection refused', 'an Error becomes its message');
    assert.ok(!('pid' in info) && !('hostname' in info) && !('time' in info));
  });

  it('never writes a secret, at the top level or one level down', () => {
    const c = captured('agent');
    const secret = 'flt_reg_s3cr3t-value-that-must-not-appear';
    c.logger.info({
      token: secret, password: secret, bearerToken: secret, authorization: `Bearer ${secret}`, secret, identity: secret, credential: secret,
      request: { token: secret, password: secret, headers: { authorization: `Bearer ${secret}` } }, headers: { authorization: secret },
      cluster: 'dev',
    }, 'registering');
    const [line] = c.raw;
    assert.ok(line !== undefined && !line.includes(secret), line);
    const parsed = c.lines[0] ?? {};
    assert.equal(parsed.token, '[redacted]');
    assert.deepEqual(parsed.request, { token: '[redacted]', password: '[redacted]', headers: { authorization: '[redacted]' } });
    assert.equal(parsed.cluster, 'dev', 'other fields stay');
  });

  it('logFunction adapts (message, fields, level) and honours the level threshold', () => {
    const c = captured('agent', 'warn');
    const log = logFunction(c.logger);
    log('connected to the hub', { cluster: 'dev' });
    log('hub connection failed', { cluster: 'dev', error: 'UNAVAILABLE' }, 'warn');
    assert.deepEqual(c.lines.map((l) => [l.level, l.msg, l.error]), [['warn', 'hub connection failed', 'UNAVAILABLE']]);
  });

  it('idFields splits a declaration id into kind, namespace and name', () => {
    assert.deepEqual(idFields('kustomization/flux-system/app'), { kind: 'Kustomization', namespace: 'flux-system', name: 'app' });
    assert.deepEqual(idFields('helmrelease/apps/podinfo'), { kind: 'HelmRelease', namespace: 'apps', name: 'podinfo' });
    assert.deepEqual(idFields('apps'), {});
  });
});
