// The pure core of notifications: events, Alert matching and enrichment (Flux's event server
// rules), the workflow's throttle, request formatting and Receiver verification.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import type { AlertDeclaration, AlertSpec, ProviderDeclaration, ProviderSpec, ReceiverDeclaration, ReceiverSpec } from '../../core/declarations/types.js';
import { alertMatches, enrich, wildcardMatches } from '../../core/notifications/alerts.js';
import { eventJson, InvalidEventError, newEvent, parseFlotillaEvent, type FlotillaEvent } from '../../core/notifications/event.js';
import { commitShaOf, describeReason, formatRequest, gitHubApiBase, ProviderConfigError } from '../../core/notifications/providers.js';
import { verifyReceiverRequest, webhookPath } from '../../core/notifications/receivers.js';
import { dedupKey, NotificationThrottle } from '../../core/notifications/throttle.js';

const SHA = '731f7eaddfb6af01cb2173e18f0f75b0ba780ef1';

function event(over: Partial<FlotillaEvent> = {}): FlotillaEvent {
  return {
    involvedObject: { kind: 'Kustomization', namespace: 'apps', name: 'podinfo' },
    severity: 'info', timestamp: '2024-05-01T10:00:00Z', message: 'Reconciliation finished', reason: 'ReconciliationSucceeded',
    metadata: { revision: `main@sha1:${SHA}` }, reportingController: 'flotilla-hub',
    ...over,
  };
}

function alert(spec: Partial<AlertSpec>, namespace = 'apps'): AlertDeclaration {
  return {
    kind: 'Alert', apiVersion: 'notification.toolkit.fluxcd.io/v1beta3', namespace, name: 'a', labels: {}, annotations: {},
    spec: {
      providerRef: { name: 'p' }, eventSources: [{ kind: 'Kustomization', name: '*', namespace }], eventSeverity: 'info',
      inclusionList: [], exclusionList: [], eventMetadata: {}, suspend: false, ...spec,
    },
  };
}

function provider(spec: Partial<ProviderSpec> & Pick<ProviderSpec, 'type'>): ProviderDeclaration {
  return {
    kind: 'Provider', apiVersion: 'notification.toolkit.fluxcd.io/v1beta3', namespace: 'apps', name: 'p', labels: {}, annotations: {},
    spec: { timeoutSeconds: 15, suspend: false, ...spec },
  };
}

function receiver(spec: Partial<ReceiverSpec> & Pick<ReceiverSpec, 'type'>): ReceiverDeclaration {
  return {
    kind: 'Receiver', apiVersion: 'notification.toolkit.fluxcd.io/v1', namespace: 'flux-system', name: 'github-receiver', labels: {}, annotations: {},
    spec: {
      events: [], resources: [{ kind: 'GitRepository', name: 'flux-system', namespace: 'flux-system' }], secretRef: { name: 't' },
      intervalSeconds: 600, suspend: false, ...spec,
    },
  };
}

describe('events', () => {
  it('builds hub events with an RFC 3339 timestamp, and validates them back', () => {
    const e = newEvent({ object: { kind: 'Rollout', namespace: 'apps', name: 'web' }, severity: 'error', reason: 'WaveFailed', message: 'wave canary failed', nowMs: Date.UTC(2024, 4, 1, 10, 0, 0, 750) });
    assert.equal(e.timestamp, '2024-05-01T10:00:00Z');
    assert.equal(e.reportingController, 'flotilla-hub');
    assert.deepEqual(parseFlotillaEvent(JSON.parse(eventJson(e))), e);
  });

  it("serialises as Flux's Event JSON: Go's field order, empty metadata left out", () => {
    assert.equal(eventJson(event({ metadata: {} })),
      '{"involvedObject":{"kind":"Kustomization","namespace":"apps","name":"podinfo"},"severity":"info","timestamp":"2024-05-01T10:00:00Z",' +
      '"message":"Reconciliation finished","reason":"ReconciliationSucceeded","reportingController":"flotilla-hub"}');
  });

  it('refuses malformed events, naming the field', () => {
    assert.throws(() => parseFlotillaEvent({ ...event(), severity: 'warning' }), (err: unknown) => err instanceof InvalidEventError && /severity/.test(err.message));
    assert.throws(() => parseFlotillaEvent({ ...event(), timestamp: 'yesterday' }), /timestamp: want an RFC 3339 timestamp/);
    assert.throws(() => parseFlotillaEvent({ ...event(), involvedObject: { kind: 'Kustomization', name: 'x' } }), /involvedObject.namespace/);
    assert.throws(() => parseFlotillaEvent({ ...event(), extra: 1 }), /extra/);
  });

  it("cuts messages to Flux's 39,000 characters", () => {
    const e = newEvent({ object: { kind: 'Kustomization', namespace: 'a', name: 'b' }, severity: 'error', reason: 'BuildFailed', message: 'x'.repeat(50_000), nowMs: 0 });
    assert.equal(e.message.length, 39_000);
  });
});

describe('alertMatches (Flux semantics)', () => {
  const cases: [string, AlertDeclaration, FlotillaEvent, boolean][] = [
    ['kind and namespace with "*"', alert({}), event(), true],
    ['another kind', alert({}), event({ involvedObject: { kind: 'HelmRelease', namespace: 'apps', name: 'podinfo' } }), false],
    ['another namespace', alert({}), event({ involvedObject: { kind: 'Kustomization', namespace: 'web', name: 'podinfo' } }), false],
    ['an exact name', alert({ eventSources: [{ kind: 'Kustomization', name: 'podinfo', namespace: 'apps' }] }), event(), true],
    ['another exact name', alert({ eventSources: [{ kind: 'Kustomization', name: 'other', namespace: 'apps' }] }), event(), false],
    ['a wildcard name', alert({ eventSources: [{ kind: 'Kustomization', name: 'pod*', namespace: 'apps' }] }), event(), true],
    ['a wildcard that does not match', alert({ eventSources: [{ kind: 'Kustomization', name: 'web-*', namespace: 'apps' }] }), event(), false],
    ['any of several sources', alert({ eventSources: [{ kind: 'GitRepository', name: '*', namespace: 'apps' }, { kind: 'Kustomization', name: 'podinfo', namespace: 'apps' }] }), event(), true],
    ['a source in another namespace', alert({ eventSources: [{ kind: 'Kustomization', name: '*', namespace: 'apps' }] }, 'flux-system'), event(), true],
    ['Flotilla kinds', alert({ eventSources: [{ kind: 'Rollout', name: 'web', namespace: 'apps' }] }), event({ involvedObject: { kind: 'Rollout', namespace: 'apps', name: 'web' } }), true],
    ['severity error: an info event', alert({ eventSeverity: 'error' }), event(), false],
    ['severity error: an error event', alert({ eventSeverity: 'error' }), event({ severity: 'error' }), true],
    ['severity info: an error event', alert({}), event({ severity: 'error' }), true],
    ['inclusion: matching', alert({ inclusionList: ['^nothing$', 'finished'] }), event(), true],
    ['inclusion: not matching', alert({ inclusionList: ['succeeded'] }), event(), false],
    ["inclusion: Go's (?i)", alert({ inclusionList: ['(?i)RECONCILIATION'] }), event(), true],
    ['exclusion: matching', alert({ exclusionList: ['fin.*'] }), event(), false],
    ['exclusion wins over inclusion', alert({ inclusionList: ['Reconciliation'], exclusionList: ['finished'] }), event(), false],
    ['suspended', alert({ suspend: true }), event(), false],
  ];
  for (const [what, a, e, want] of cases) {
    it(`${what} → ${want ? 'matches' : 'does not match'}`, () => {
      assert.equal(alertMatches(a, e), want);
    });
  }

  it('matchLabels: matches given labels, never without them', () => {
    const a = alert({ eventSources: [{ kind: 'Kustomization', name: '*', namespace: 'apps', matchLabels: { team: 'web' } }] });
    assert.equal(alertMatches(a, event(), { team: 'web', extra: 'x' }), true);
    assert.equal(alertMatches(a, event(), { team: 'ops' }), false);
    assert.equal(alertMatches(a, event()), false);
    // With an exact name, as in Flux, matchLabels is not consulted.
    const exact = alert({ eventSources: [{ kind: 'Kustomization', name: 'podinfo', namespace: 'apps', matchLabels: { team: 'web' } }] });
    assert.equal(alertMatches(exact, event()), true);
  });

  it('wildcards: * matches any run, also an empty one', () => {
    assert.ok(wildcardMatches('*', 'x'));
    assert.ok(wildcardMatches('a*', 'a'));
    assert.ok(wildcardMatches('a*b*c', 'abc'));
    assert.ok(wildcardMatches('*-prod', 'web-prod'));
    assert.ok(!wildcardMatches('a*a', 'a'));
    assert.ok(!wildcardMatches('a*b*c', 'acb'));
    assert.ok(wildcardMatches('web.*', 'web.x'));
    assert.ok(!wildcardMatches('web.*', 'webx'), 'a dot is literal');
  });
});

describe('enrich', () => {
  it("adds eventMetadata without overriding the event's keys; summary overrides (Flux)", () => {
    const a = alert({ eventMetadata: { env: 'prod', revision: 'not-this', summary: 'from metadata' } });
    assert.deepEqual(enrich(a, event()).metadata, { env: 'prod', revision: `main@sha1:${SHA}`, summary: 'from metadata' });
    const withSummary = alert({ eventMetadata: { summary: 'from metadata' }, summary: 'us-east-2 impacted' });
    assert.deepEqual(enrich(withSummary, event({ metadata: { summary: 'original' } })).metadata, { summary: 'us-east-2 impacted' });
    assert.deepEqual(enrich(alert({}), event()), event());
  });
});

describe('NotificationThrottle', () => {
  const P = 'provider/apps/slack';
  const key = (e: FlotillaEvent = event(), p = P): string => dedupKey(p, e);

  it('drops an identical event within the window, sends it again after', () => {
    const t = new NotificationThrottle();
    assert.equal(t.admit(key(), 0), 'send');
    assert.equal(t.admit(key(), 60_000), 'duplicate');
    assert.equal(t.admit(key(), 299_999), 'duplicate');
    assert.equal(t.admit(key(), 300_000), 'send');
  });

  it('tells apart providers, objects, severity, reason, message and revision; not the timestamp', () => {
    const t = new NotificationThrottle();
    assert.equal(t.admit(key(), 0), 'send');
    const variants = [
      key(event(), 'provider/apps/teams'),
      key(event({ involvedObject: { kind: 'Kustomization', namespace: 'apps', name: 'other' } })),
      key(event({ severity: 'error' })),
      key(event({ reason: 'Progressing' })),
      key(event({ message: 'another' })),
      key(event({ metadata: { revision: 'main@sha1:0000000000000000000000000000000000000000' } })),
    ];
    assert.equal(new Set([key(), ...variants]).size, variants.length + 1);
    for (const k of variants) assert.equal(t.admit(k, 1), 'send');
    assert.equal(t.admit(key(event({ timestamp: '2030-01-01T00:00:00Z', metadata: { revision: `main@sha1:${SHA}`, cluster: 'dev' } })), 2), 'duplicate');
  });

  it('rate-limits each provider over a rolling minute', () => {
    const t = new NotificationThrottle({ perProviderPerMinute: 3 });
    const nth = (i: number, p = P): string => key(event({ message: `m${i}` }), p);
    assert.deepEqual([0, 1, 2, 3].map((i) => t.admit(nth(i), i * 1000)), ['send', 'send', 'send', 'rate-limited']);
    assert.equal(t.admit(nth(0, 'provider/apps/other'), 4000), 'send', 'other providers have their own budget');
    assert.equal(t.admit(nth(4), 59_999), 'rate-limited');
    assert.equal(t.admit(nth(4), 60_000), 'send', 'the first send left the minute');
    assert.equal(t.admit(nth(3), 60_001), 'rate-limited');
    assert.equal(t.admit(nth(3), 61_000), 'send', 'a rate-limited event was not recorded as sent');
  });

  it('round-trips its state through JSON (continue-as-new)', () => {
    const t = new NotificationThrottle({ perProviderPerMinute: 2, dedupWindowMs: 10_000 });
    t.admit(key(event({ message: 'a' })), 0);
    t.admit(key(event({ message: 'b' })), 1);
    const copy = new NotificationThrottle(JSON.parse(JSON.stringify(t)) as ReturnType<NotificationThrottle['toJSON']>);
    assert.deepEqual(copy.toJSON(), t.toJSON());
    assert.equal(copy.admit(key(event({ message: 'a' })), 5000), 'duplicate');
    assert.equal(copy.admit(key(event({ message: 'c' })), 5000), 'rate-limited');
    assert.equal(copy.admit(key(event({ message: 'a' })), 70_000), 'send');
  });

  it('stays bounded: old keys are pruned, and at most maxEntries are kept', () => {
    const t = new NotificationThrottle({ maxEntries: 100, perProviderPerMinute: 1_000_000 });
    for (let i = 0; i < 1000; i++) t.admit(key(event({ message: `m${i}` })), i);
    assert.equal(t.size, 100);
    assert.equal(t.admit(key(event({ message: 'm999' })), 1000), 'duplicate', 'the newest are kept');
    assert.equal(t.admit(key(event({ message: 'm0' })), 1001), 'send', 'the oldest were forgotten');
    t.admit(key(event({ message: 'late' })), 10 * 60_000);
    assert.equal(t.size, 1, 'entries past the window are pruned');
    assert.equal(t.toJSON().recent.length, 1);
    assert.ok(JSON.stringify(t).length < 200);
  });

  it('refuses nonsense options', () => {
    assert.throws(() => new NotificationThrottle({ perProviderPerMinute: 0 }), /perProviderPerMinute must be a positive number/);
  });
});

describe('formatRequest (pure parts)', () => {
  it('reads commit SHAs the way Flux writes revisions', () => {
    assert.equal(commitShaOf(`main@sha1:${SHA}`), SHA);
    assert.equal(commitShaOf(`refs/heads/main@sha1:${SHA.toUpperCase()}`), SHA);
    assert.equal(commitShaOf(`sha1:${SHA}`), SHA);
    assert.equal(commitShaOf(SHA), SHA);
    assert.equal(commitShaOf(`main/${SHA}`), SHA);
    assert.equal(commitShaOf('6.5.0'), undefined);
    assert.equal(commitShaOf('sha256:abc'), undefined);
    assert.equal(commitShaOf(undefined), undefined);
  });

  it('derives the GitHub API root: api.github.com, else GitHub Enterprise /api/v3', () => {
    assert.equal(gitHubApiBase('https://github.com'), 'https://api.github.com');
    assert.equal(gitHubApiBase('https://github.example.com'), 'https://github.example.com/api/v3');
    assert.equal(gitHubApiBase('http://127.0.0.1:8080'), 'http://127.0.0.1:8080/api/v3');
  });

  it("describes a reason as Flux does: split camel case, lower case", () => {
    assert.equal(describeReason('ReconciliationSucceeded'), 'reconciliation succeeded');
    assert.equal(describeReason('HealthCheckFailed'), 'health check failed');
    assert.equal(describeReason('OCIPullFailed'), 'oci pull failed');
  });

  it('skips commit statuses without a commit, and progressing events', () => {
    const gh = provider({ type: 'github', address: 'https://github.com/o/r', secretRef: { name: 's' } });
    assert.deepEqual(formatRequest(gh, { token: 't' }, event({ metadata: {} })), { skipped: 'the event has no revision' });
    assert.deepEqual(formatRequest(gh, { token: 't' }, event({ metadata: { revision: '6.5.0' } })), { skipped: 'revision "6.5.0" names no git commit' });
    assert.deepEqual(formatRequest(gh, { token: 't' }, event({ reason: 'Progressing' })), { skipped: 'progressing events do not set a commit status' });
    const r = formatRequest(gh, { token: 't' }, event());
    assert.ok(!('skipped' in r));
    assert.equal(r.url, `https://api.github.com/repos/o/r/statuses/${SHA}`);
  });

  it('cuts the commit status description to 140 characters', () => {
    const gh = provider({ type: 'github', address: 'https://github.com/o/r.git', secretRef: { name: 's' } });
    const r = formatRequest(gh, { token: 't' }, event({ reason: 'Very'.repeat(60) }));
    assert.ok(!('skipped' in r));
    assert.equal((JSON.parse(r.body) as { description: string }).description.length, 140);
  });

  it('takes the address from the Secret over spec.address, and the username too', () => {
    const slack = provider({ type: 'slack', address: 'https://spec.example.com/x', username: 'spec-user', secretRef: { name: 's' } });
    const r = formatRequest(slack, { address: 'https://hooks.slack.com/services/T0/B0/SECRET', username: 'secret-user' }, event());
    assert.ok(!('skipped' in r));
    assert.equal(r.url, 'https://hooks.slack.com/services/T0/B0/SECRET');
    assert.equal((JSON.parse(r.body) as { username: string }).username, 'secret-user');
    assert.equal(r.check, undefined, 'only the Web API answers {"ok": ...}');
    const api = formatRequest(provider({ type: 'slack', address: 'https://slack.com/api/chat.postMessage' }), undefined, event());
    assert.ok(!('skipped' in api));
    assert.equal(api.check, 'slack-api');
  });

  const configErrors: [string, ProviderDeclaration, Record<string, string> | undefined, RegExp][] = [
    ['no address', provider({ type: 'generic', secretRef: { name: 's' } }), {}, /Provider apps\/p: no address: set spec.address or the address key of Secret apps\/s/],
    ['generic-hmac without token', provider({ type: 'generic-hmac', address: 'https://e.com', secretRef: { name: 's' } }), {}, /Secret apps\/s has no token key \(generic-hmac needs it/],
    ['github without token', provider({ type: 'github', address: 'https://github.com/o/r', secretRef: { name: 's' } }), {}, /has no token key \(github needs it/],
    ['a github address from the Secret that is no repository', provider({ type: 'github', secretRef: { name: 's' } }),
      { address: 'https://github.com/only-owner', token: 'ghp_x' }, /<scheme>:\/\/<host>\/<owner>\/<repo> \(got one on https:\/\/github.com\)/],
    ['a Secret address that is not a URL', provider({ type: 'msteams', secretRef: { name: 's' } }), { address: 'not a url with s3cr3t' }, /the address key of Secret apps\/s is not a URL$/],
    ['bad headers', provider({ type: 'generic', address: 'https://e.com', secretRef: { name: 's' } }), { headers: '- a list\n- s3cr3t' }, /headers key of Secret apps\/s is not a YAML map/],
  ];
  for (const [what, p, secret, message] of configErrors) {
    it(`refuses ${what}, without echoing secret values`, () => {
      assert.throws(() => formatRequest(p, secret, event()), (err: unknown) => {
        assert.ok(err instanceof ProviderConfigError);
        assert.match(err.message, message);
        assert.doesNotMatch(err.message, /s3cr3t|ghp_x|only-owner/);
        return true;
      });
    });
  }
});

describe('receivers', () => {
  const TOKEN = 'd4f1c9e0-receiver-token';
  const BODY = '{"ref":"refs/heads/main","after":"abc"}';
  const hmac = (algorithm: string, body = BODY, key = TOKEN): string => `${algorithm}=${createHmac(algorithm, key).update(body).digest('hex')}`;

  it("computes Flux's webhook path: /hook/ + hex sha256(token + name + namespace)", () => {
    const expected = createHash('sha256').update(`${TOKEN}github-receiverflux-system`).digest('hex');
    assert.equal(webhookPath(receiver({ type: 'github' }), TOKEN), `/hook/${expected}`);
    assert.match(webhookPath({ name: 'r', namespace: 'n' }, 't'), /^\/hook\/[0-9a-f]{64}$/);
    assert.notEqual(webhookPath({ name: 'r', namespace: 'n' }, 't'), webhookPath({ name: 'r', namespace: 'n' }, 'u'));
  });

  it('generic: the path is the secret, any request goes', () => {
    assert.deepEqual(verifyReceiverRequest(receiver({ type: 'generic' }), TOKEN, {}, ''), { ok: true, reconcile: true });
  });

  for (const algorithm of ['sha1', 'sha256', 'sha512']) {
    it(`generic-hmac: a good ${algorithm} X-Signature passes, a bad one is 401`, () => {
      const r = receiver({ type: 'generic-hmac' });
      assert.deepEqual(verifyReceiverRequest(r, TOKEN, { 'x-signature': hmac(algorithm) }, Buffer.from(BODY)), { ok: true, reconcile: true });
      const bad = verifyReceiverRequest(r, TOKEN, { 'x-signature': hmac(algorithm, BODY, 'wrong-token') }, BODY);
      assert.deepEqual(bad, { ok: false, status: 401, reason: "X-Signature does not match the body signed with the Receiver's token" });
      const tampered = verifyReceiverRequest(r, TOKEN, { 'X-Signature': hmac(algorithm) }, `${BODY} `);
      assert.equal(tampered.ok, false);
    });
  }

  it('generic-hmac: a missing, malformed or unknown-algorithm signature is 401, never echoing the token', () => {
    const r = receiver({ type: 'generic-hmac' });
    const verdicts = [
      verifyReceiverRequest(r, TOKEN, {}, BODY),
      verifyReceiverRequest(r, TOKEN, { 'x-signature': 'nonsense' }, BODY),
      verifyReceiverRequest(r, TOKEN, { 'x-signature': hmac('md5') }, BODY),
      verifyReceiverRequest(r, TOKEN, { 'x-signature': 'sha256=zz' }, BODY),
    ];
    assert.deepEqual(verdicts.map((v) => (v.ok ? 0 : v.status)), [401, 401, 401, 401]);
    assert.match(JSON.stringify(verdicts[0]), /missing X-Signature header/);
    assert.match(JSON.stringify(verdicts[2]), /must be <sha1\|sha256\|sha512>=<hex HMAC of the body>/);
    for (const v of verdicts) assert.doesNotMatch(JSON.stringify(v), new RegExp(TOKEN));
  });

  it('github: X-Hub-Signature-256, or the older sha1 X-Hub-Signature', () => {
    const r = receiver({ type: 'github', events: ['push'] });
    assert.deepEqual(verifyReceiverRequest(r, TOKEN, { 'x-hub-signature-256': hmac('sha256'), 'x-github-event': 'push' }, BODY), { ok: true, reconcile: true, event: 'push' });
    assert.deepEqual(verifyReceiverRequest(r, TOKEN, { 'x-hub-signature': hmac('sha1'), 'x-github-event': 'Push' }, BODY), { ok: true, reconcile: true, event: 'Push' });
    const bad = verifyReceiverRequest(r, TOKEN, { 'x-hub-signature-256': hmac('sha256', BODY, 'x'), 'x-github-event': 'push' }, BODY);
    assert.deepEqual(bad, { ok: false, status: 401, reason: "X-Hub-Signature-256 does not match the body signed with the Receiver's token" });
    const sha1As256 = verifyReceiverRequest(r, TOKEN, { 'x-hub-signature-256': hmac('sha1'), 'x-github-event': 'push' }, BODY);
    assert.equal(sha1As256.ok, false);
    const missing = verifyReceiverRequest(r, TOKEN, { 'x-github-event': 'push' }, BODY);
    assert.deepEqual(missing, { ok: false, status: 401, reason: 'missing X-Hub-Signature-256 (or X-Hub-Signature) header' });
  });

  it('github: filters on spec.events (400 otherwise, as Flux), all events when the list is empty', () => {
    const signed = (event: string) => ({ 'x-hub-signature-256': hmac('sha256'), 'x-github-event': event });
    const filtered = receiver({ type: 'github', events: ['push'] });
    assert.deepEqual(verifyReceiverRequest(filtered, TOKEN, signed('release'), BODY), { ok: false, status: 400, reason: 'GitHub event "release" is not in spec.events (push)' });
    assert.deepEqual(verifyReceiverRequest(receiver({ type: 'github' }), TOKEN, signed('release'), BODY), { ok: true, reconcile: true, event: 'release' });
    assert.deepEqual(verifyReceiverRequest(filtered, TOKEN, { 'x-hub-signature-256': hmac('sha256') }, BODY), { ok: false, status: 400, reason: 'missing X-GitHub-Event header' });
  });

  it('github: a signed ping is fine but reconciles nothing; an unsigned one is 401', () => {
    const r = receiver({ type: 'github', events: ['push'] });
    assert.deepEqual(verifyReceiverRequest(r, TOKEN, { 'x-hub-signature-256': hmac('sha256'), 'x-github-event': 'ping' }, BODY),
      { ok: true, reconcile: false, event: 'ping', reason: 'GitHub ping: the webhook is set up' });
    assert.equal(verifyReceiverRequest(r, TOKEN, { 'x-github-event': 'ping' }, BODY).ok, false);
  });

  it('a suspended Receiver answers 404, as Flux skips it', () => {
    assert.deepEqual(verifyReceiverRequest(receiver({ type: 'generic', suspend: true }), TOKEN, {}, ''), { ok: false, status: 404, reason: 'the Receiver is suspended' });
  });
});
