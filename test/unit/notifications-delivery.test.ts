// The delivery activity against real HTTP servers on 127.0.0.1: what each Provider type puts
// on the wire, and which failures Temporal may retry. No error may show a secret value.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import { ApplicationFailure } from '@temporalio/common';
import { createNotificationActivities } from '../../activities/notification-delivery.js';
import type { ProviderDeclaration, ProviderSpec } from '../../core/declarations/types.js';
import type { FlotillaEvent } from '../../core/notifications/event.js';
import { DEV_SOURCE_POLICY } from '../../deploy/dev/source-policy.js';
import { DEFAULT_SOURCE_POLICY, type SourcePolicy } from '../../core/source-policy.js';
import { RecordingServer } from '../harness/recording-server.js';

const SHA = '731f7eaddfb6af01cb2173e18f0f75b0ba780ef1';
const TOKEN = 's3cr3t-token-value';
const WEBHOOK_PATH = '/services/T000/B000/XXXXsecretpathXXXX';

const EVENT: FlotillaEvent = {
  involvedObject: { kind: 'Kustomization', namespace: 'apps', name: 'podinfo', apiVersion: 'kustomize.toolkit.fluxcd.io/v1' },
  severity: 'error', timestamp: '2024-05-01T10:00:00Z', message: 'health check failed after 2m: deployment/podinfo not ready',
  reason: 'HealthCheckFailed', metadata: { revision: `main@sha1:${SHA}`, cluster: 'prod', summary: 'prod impacted' }, reportingController: 'flotilla-hub',
};

function provider(spec: Partial<ProviderSpec> & Pick<ProviderSpec, 'type'>): ProviderDeclaration {
  return {
    kind: 'Provider', apiVersion: 'notification.toolkit.fluxcd.io/v1beta3', namespace: 'apps', name: 'alerts', labels: {}, annotations: {},
    spec: { timeoutSeconds: 5, suspend: false, ...spec },
  };
}

/** The servers listen on 127.0.0.1 over http: the development policy allows exactly that, explicitly. */
function activitiesWith(secrets: Record<string, Record<string, string>>, policy: SourcePolicy = DEV_SOURCE_POLICY) {
  return createNotificationActivities({ secrets: (namespace, name) => Promise.resolve(secrets[`${namespace}/${name}`]), policy });
}

/** Runs `fn`, which must throw an ApplicationFailure; returns it. */
async function failure(fn: () => Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof ApplicationFailure, `want an ApplicationFailure, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a failure');
}

describe('deliverNotification', () => {
  const server = new RecordingServer();
  before(() => server.start());
  after(() => server.stop());

  it('generic: POSTs the event JSON, with gotk-component and the Secret headers', async () => {
    const { deliverNotification } = activitiesWith({ 'apps/hook': { headers: 'Authorization: Bearer abc123\nX-Team: web\n' } });
    const result = await deliverNotification({ provider: provider({ type: 'generic', address: `${server.origin}/events`, secretRef: { name: 'hook' } }), event: EVENT });
    assert.deepEqual(result, { status: 200 });
    const r = server.last();
    assert.equal(r.method, 'POST');
    assert.equal(r.url, '/events');
    assert.deepEqual(JSON.parse(r.body), EVENT);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers['gotk-component'], 'flotilla-hub');
    assert.equal(r.headers.authorization, 'Bearer abc123');
    assert.equal(r.headers['x-team'], 'web');
  });

  it('generic-hmac: X-Signature is sha256=<HMAC of the body keyed with the token>, and verifies', async () => {
    const { deliverNotification } = activitiesWith({ 'apps/hmac': { token: TOKEN } });
    await deliverNotification({ provider: provider({ type: 'generic-hmac', address: `${server.origin}/signed`, secretRef: { name: 'hmac' } }), event: EVENT });
    const r = server.last();
    const expected = `sha256=${createHmac('sha256', TOKEN).update(r.body).digest('hex')}`;
    assert.equal(r.headers['x-signature'], expected);
    assert.deepEqual(JSON.parse(r.body), EVENT);
  });

  it("slack: Flux's attachment payload, the address from the Secret, the bot token as Bearer", async () => {
    const { deliverNotification } = activitiesWith({ 'apps/slack': { address: `${server.origin}${WEBHOOK_PATH}`, token: TOKEN } });
    await deliverNotification({ provider: provider({ type: 'slack', channel: 'ops', address: 'https://ignored.example.com', secretRef: { name: 'slack' } }), event: EVENT });
    const r = server.last();
    assert.equal(r.url, WEBHOOK_PATH);
    assert.equal(r.headers.authorization, `Bearer ${TOKEN}`);
    assert.deepEqual(JSON.parse(r.body), {
      channel: 'ops', username: 'flotilla-hub', icon_url: '', icon_emoji: '',
      attachments: [{
        color: 'danger', author_name: 'kustomization/podinfo.apps', text: EVENT.message, mrkdwn_in: ['text'],
        fields: [
          { title: 'cluster', value: 'prod', short: false },
          { title: 'revision', value: `main@sha1:${SHA}`, short: false },
          { title: 'summary', value: 'prod impacted', short: false },
        ],
      }],
    });
    await deliverNotification({ provider: provider({ type: 'slack', address: `${server.origin}/x`, username: 'flux' }), event: { ...EVENT, severity: 'info' } });
    const info = JSON.parse(server.last().body) as { username: string; attachments: { color: string }[] };
    assert.equal(info.username, 'flux');
    assert.equal(info.attachments[0]?.color, 'good');
    assert.equal(server.last().headers.authorization, undefined);
  });

  it('msteams: an Adaptive Card, summary first among the facts, attention colour on error', async () => {
    const { deliverNotification } = activitiesWith({ 'apps/teams': { address: `${server.origin}/workflows/abc/triggers/manual/paths/invoke?sig=XYZsecret` } });
    await deliverNotification({ provider: provider({ type: 'msteams', secretRef: { name: 'teams' } }), event: EVENT });
    const r = server.last();
    assert.equal(r.url, '/workflows/abc/triggers/manual/paths/invoke?sig=XYZsecret');
    const card = JSON.parse(r.body) as { type: string; attachments: { contentType: string; content: { type: string; version: string; body: { items: unknown[] }[] } }[] };
    assert.equal(card.type, 'message');
    const attachment = card.attachments[0];
    assert.equal(attachment?.contentType, 'application/vnd.microsoft.card.adaptive');
    assert.equal(attachment.content.type, 'AdaptiveCard');
    assert.equal(attachment.content.version, '1.4');
    assert.deepEqual(attachment.content.body[0]?.items, [
      { type: 'TextBlock', text: 'kustomization/podinfo.apps', size: 'large', weight: 'bolder', wrap: true },
      { type: 'TextBlock', text: EVENT.message, wrap: true, color: 'attention' },
      { type: 'FactSet', facts: [
        { title: 'summary', value: 'prod impacted' }, { title: 'cluster', value: 'prod' }, { title: 'revision', value: `main@sha1:${SHA}` },
      ] },
    ]);
  });

  it('github: a commit status on /api/v3/repos/<owner>/<repo>/statuses/<sha>, Bearer token, state and context', async () => {
    server.respond = () => ({ status: 201, body: '{}' });
    try {
      const { deliverNotification } = activitiesWith({ 'apps/gh': { token: TOKEN } });
      const gh = provider({ type: 'github', address: `${server.origin}/my-org/fleet.git`, secretRef: { name: 'gh' } });
      assert.deepEqual(await deliverNotification({ provider: gh, event: EVENT }), { status: 201 });
      const r = server.last();
      assert.equal(r.url, `/api/v3/repos/my-org/fleet/statuses/${SHA}`);
      assert.equal(r.headers.authorization, `Bearer ${TOKEN}`);
      assert.deepEqual(JSON.parse(r.body), { state: 'failure', context: 'kustomization/podinfo/prod', description: 'health check failed' });
      await deliverNotification({ provider: gh, event: { ...EVENT, severity: 'info', reason: 'ReconciliationSucceeded', metadata: { revision: SHA } } });
      assert.deepEqual(JSON.parse(server.last().body), { state: 'success', context: 'kustomization/podinfo', description: 'reconciliation succeeded' });
      const before = server.received.length;
      assert.deepEqual(await deliverNotification({ provider: gh, event: { ...EVENT, metadata: { revision: 'v1.2.3' } } }), { skipped: 'revision "v1.2.3" names no git commit' });
      assert.equal(server.received.length, before, 'nothing is sent for an event without a commit');
    } finally {
      server.respond = () => ({ status: 200 });
    }
  });

  it('skips a suspended Provider', async () => {
    const before = server.received.length;
    const result = await activitiesWith({}).deliverNotification({ provider: provider({ type: 'generic', address: server.origin, suspend: true }), event: EVENT });
    assert.deepEqual(result, { skipped: 'Provider apps/alerts is suspended' });
    assert.equal(server.received.length, before);
  });
});

describe('deliverNotification failures', () => {
  const server = new RecordingServer();
  before(() => server.start());
  after(() => server.stop());
  const secrets = { 'apps/hook': { address: '', token: TOKEN } };
  const hookProvider = (timeoutSeconds = 5): ProviderDeclaration =>
    provider({ type: 'slack', timeoutSeconds, secretRef: { name: 'hook' } });
  const withAddress = () => {
    secrets['apps/hook'].address = `${server.origin}${WEBHOOK_PATH}`;
    return activitiesWith(secrets);
  };
  /** No secret value (token, webhook path) in the message or details. */
  const assertNoSecrets = (f: ApplicationFailure): void => {
    const text = `${f.message} ${JSON.stringify(f.details ?? [])}`;
    assert.doesNotMatch(text, /s3cr3t|secretpath|XXXX/);
  };

  it('500 → a retryable failure naming the Provider and scheme://host only', async () => {
    server.respond = () => ({ status: 500, body: `internal error while posting to ${WEBHOOK_PATH} with ${TOKEN}` });
    const f = await failure(() => withAddress().deliverNotification({ provider: hookProvider(), event: EVENT }));
    assert.equal(f.nonRetryable, false);
    assert.equal(f.type, 'NotificationDeliveryFailed');
    assert.match(f.message, new RegExp(`^Provider apps/alerts: ${server.origin} answered 500: internal error while posting to \\*\\*\\*`));
    assert.deepEqual(f.details, [{ status: 500 }]);
    assertNoSecrets(f);
  });

  it('429 and 408 → retryable', async () => {
    for (const status of [429, 408]) {
      server.respond = () => ({ status });
      const f = await failure(() => withAddress().deliverNotification({ provider: hookProvider(), event: EVENT }));
      assert.equal(f.nonRetryable, false, `status ${status}`);
    }
  });

  it('400 → a non-retryable failure with the status', async () => {
    server.respond = () => ({ status: 400, body: 'invalid_payload' });
    const f = await failure(() => withAddress().deliverNotification({ provider: hookProvider(), event: EVENT }));
    assert.equal(f.nonRetryable, true);
    assert.equal(f.type, 'NotificationRejected');
    assert.deepEqual(f.details, [{ status: 400 }]);
    assert.match(f.message, /answered 400: invalid_payload/);
    assertNoSecrets(f);
  });

  it('a server that never answers → a retryable timeout', async () => {
    server.respond = () => 'hang';
    const started = Date.now();
    const f = await failure(() => withAddress().deliverNotification({ provider: hookProvider(1), event: EVENT }));
    assert.ok(Date.now() - started < 4000, 'spec.timeout bounds the request');
    assert.equal(f.nonRetryable, false);
    assert.equal(f.message, `Provider apps/alerts: cannot reach ${server.origin}: no answer within 1s (spec.timeout)`);
    assertNoSecrets(f);
  });

  it('nobody listening → a retryable network failure', async () => {
    const gone = new RecordingServer();
    await gone.start();
    const origin = gone.origin;
    await gone.stop();
    const f = await failure(() => activitiesWith({ 'apps/hook': { address: `${origin}${WEBHOOK_PATH}`, token: TOKEN } })
      .deliverNotification({ provider: hookProvider(), event: EVENT }));
    assert.equal(f.nonRetryable, false);
    assert.match(f.message, new RegExp(`cannot reach ${origin}: ECONNREFUSED`));
    assertNoSecrets(f);
  });

  it("Slack's Web API (…/api/chat.postMessage): 200 with ok false is a failure, ok true a delivery", async () => {
    const slackApi = provider({ type: 'slack', channel: 'ops', address: `${server.origin}/api/chat.postMessage`, secretRef: { name: 'bot' } });
    const { deliverNotification } = activitiesWith({ 'apps/bot': { token: TOKEN } });
    server.respond = () => ({ status: 200, body: '{"ok":false,"error":"channel_not_found"}' });
    const f = await failure(() => deliverNotification({ provider: slackApi, event: EVENT }));
    assert.equal(f.nonRetryable, true);
    assert.equal(f.message, 'Provider apps/alerts: Slack refused the message: channel_not_found');
    server.respond = () => ({ status: 200, body: '{"ok":false,"error":"ratelimited"}' });
    assert.equal((await failure(() => deliverNotification({ provider: slackApi, event: EVENT }))).nonRetryable, false);
    server.respond = () => ({ status: 200, body: '{"ok":true}' });
    assert.deepEqual(await deliverNotification({ provider: slackApi, event: EVENT }), { status: 200 });
    server.respond = () => ({ status: 200, body: 'ok' });
    assert.deepEqual(await deliverNotification({ provider: provider({ type: 'slack', address: `${server.origin}${WEBHOOK_PATH}` }), event: EVENT }), { status: 200 },
      'incoming webhooks answer plain "ok"');
  });

  it('a missing Secret or key → non-retryable, naming the Provider and the Secret', async () => {
    const missing = await failure(() => activitiesWith({}).deliverNotification({ provider: hookProvider(), event: EVENT }));
    assert.equal(missing.nonRetryable, true);
    assert.equal(missing.type, 'ProviderMisconfigured');
    assert.match(missing.message, /^Provider apps\/alerts: Secret apps\/hook not found/);
    const noToken = await failure(() => activitiesWith({ 'apps/gh': { address: `${server.origin}/o/r` } })
      .deliverNotification({ provider: provider({ type: 'github', secretRef: { name: 'gh' } }), event: EVENT }));
    assert.equal(noToken.nonRetryable, true);
    assert.match(noToken.message, /^Provider apps\/alerts: Secret apps\/gh has no token key \(github needs it/);
    const noAddress = await failure(() => activitiesWith({ 'apps/hook': { token: TOKEN } }).deliverNotification({ provider: hookProvider(), event: EVENT }));
    assert.match(noAddress.message, /no address: set spec.address or the address key of Secret apps\/hook/);
    for (const f of [missing, noToken, noAddress]) assertNoSecrets(f);
  });

  it('an address the source policy refuses → non-retryable SourcePolicyRefused naming the Provider, the field and the setting; nothing is sent', async () => {
    const before = server.received.length;
    // The development policy (http to 127.0.0.0/8) refuses the cloud metadata address, held in the Secret (unseen at apply time).
    const metadata = await failure(() => activitiesWith({ 'apps/hook': { address: 'http://169.254.169.254/latest/meta-data/iam/XXXXsecretpathXXXX', token: TOKEN } })
      .deliverNotification({ provider: hookProvider(), event: EVENT }));
    assert.equal(metadata.nonRetryable, true);
    assert.equal(metadata.type, 'SourcePolicyRefused');
    assert.equal(metadata.message, 'Provider apps/alerts the address key of Secret apps/hook: http://169.254.169.254 is 169.254.169.254, a link-local (cloud metadata) address, '
      + 'refused by the source policy (sources.allowPrivateNetworks); add 169.254.169.254 or its range to sources.allowHosts if this is intended; nothing was sent');
    assert.deepEqual(metadata.details, [{ setting: 'sources.allowPrivateNetworks' }]);
    // The default policy (a hub started with no sources.* setting) refuses the loopback test server itself: http://, then the address.
    const dflt = DEFAULT_SOURCE_POLICY;
    const http = await failure(() => activitiesWith({}, dflt).deliverNotification({ provider: provider({ type: 'generic', address: `${server.origin}/events` }), event: EVENT }));
    assert.equal(http.type, 'SourcePolicyRefused');
    assert.match(http.message, /^Provider apps\/alerts spec\.address: http:\/\/127\.0\.0\.1:\d+ uses the scheme http:\/\/.*\(sources\.allowSchemes\)/);
    const loopback = await failure(() => activitiesWith({}, { ...dflt, allowSchemes: ['http'] })
      .deliverNotification({ provider: provider({ type: 'generic', address: `${server.origin}/events` }), event: EVENT }));
    assert.match(loopback.message, /is 127\.0\.0\.1, a loopback address, refused by the source policy \(sources\.allowPrivateNetworks\)/);
    const internal = await failure(() => activitiesWith({}, dflt).deliverNotification({ provider: provider({ type: 'msteams', address: 'https://kubernetes.default.svc/api' }), event: EVENT }));
    assert.match(internal.message, /^Provider apps\/alerts spec\.address: https:\/\/kubernetes\.default\.svc names a Kubernetes in-cluster service name .*\(sources\.allowHosts\)/);
    assert.equal(server.received.length, before, 'no request reached the server');
    for (const f of [metadata, http, loopback, internal]) assertNoSecrets(f);
  });

  it('a redirect is reported, not followed (to 169.254.169.254 or anywhere): credentials stay with the address given', async () => {
    server.respond = () => ({ status: 200 });
    const before = server.received.length;
    // RecordingServer sends no Location header; this server redirects to the recording one.
    const target = `${server.origin}/followed`;
    const hop = createServer((_req, res) => { res.writeHead(307, { location: target }).end(); });
    await new Promise<void>((resolve) => hop.listen(0, '127.0.0.1', resolve));
    try {
      const address = hop.address();
      assert.ok(address !== null && typeof address === 'object');
      const f = await failure(() => activitiesWith({}).deliverNotification({ provider: provider({ type: 'generic', address: `http://127.0.0.1:${address.port}/hook` }), event: EVENT }));
      assert.equal(f.type, 'NotificationRejected');
      assert.deepEqual(f.details, [{ status: 307 }]);
      assert.equal(server.received.length, before, 'the redirect was not followed');
    } finally {
      await new Promise((resolve) => hop.close(resolve));
    }
  });
});
