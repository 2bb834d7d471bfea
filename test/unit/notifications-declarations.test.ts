// Flux's Provider, Alert (notification.toolkit.fluxcd.io/v1beta3) and Receiver (…/v1) YAML →
// typed declarations: Flux's defaults, the ids, and errors and warnings naming object and field.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatDeclarationError, parseDeclarations } from '../../core/declarations/parse.js';
import {
  declarationId, isNotificationDeclaration, type AlertDeclaration, type ProviderDeclaration, type ReceiverDeclaration,
} from '../../core/declarations/types.js';
import { one, onlyError } from '../harness/declarations.js';

const PROVIDER = (spec: string, apiVersion = 'notification.toolkit.fluxcd.io/v1beta3'): string =>
  `apiVersion: ${apiVersion}\nkind: Provider\nmetadata: {name: slack, namespace: flux-system}\nspec: ${spec}\n`;
const ALERT = (spec: string, apiVersion = 'notification.toolkit.fluxcd.io/v1beta3'): string =>
  `apiVersion: ${apiVersion}\nkind: Alert\nmetadata: {name: on-call, namespace: flux-system}\nspec: ${spec}\n`;
const RECEIVER = (spec: string, apiVersion = 'notification.toolkit.fluxcd.io/v1'): string =>
  `apiVersion: ${apiVersion}\nkind: Receiver\nmetadata: {name: github-receiver, namespace: flux-system}\nspec: ${spec}\n`;
const SOURCES = 'eventSources: [{kind: Kustomization, name: "*"}]';
const RESOURCES = 'resources: [{kind: GitRepository, name: flux-system}]';

function provider(text: string): ProviderDeclaration {
  const d = one(text, { noWarnings: true });
  assert.equal(d.kind, 'Provider');
  return d;
}

function alert(text: string): AlertDeclaration {
  const d = one(text, { noWarnings: true });
  assert.equal(d.kind, 'Alert');
  return d;
}

function receiver(text: string): ReceiverDeclaration {
  const d = one(text, { noWarnings: true });
  assert.equal(d.kind, 'Receiver');
  return d;
}

describe('Provider', () => {
  it("reads Flux's Slack example, with Flux's defaults (timeout 15s, not suspended)", () => {
    const d = provider(PROVIDER('{type: slack, channel: general, address: "https://slack.com/api/chat.postMessage", secretRef: {name: slack-bot-token}}'));
    assert.deepEqual(d, {
      kind: 'Provider', apiVersion: 'notification.toolkit.fluxcd.io/v1beta3', namespace: 'flux-system', name: 'slack',
      labels: {}, annotations: {},
      spec: {
        type: 'slack', address: 'https://slack.com/api/chat.postMessage', channel: 'general', timeoutSeconds: 15,
        secretRef: { name: 'slack-bot-token' }, suspend: false,
      },
    });
    assert.equal(declarationId(d), 'provider/flux-system/slack');
    assert.ok(isNotificationDeclaration(d));
  });

  it('reads every supported type and field', () => {
    for (const type of ['generic', 'generic-hmac', 'slack', 'msteams']) {
      const d = provider(PROVIDER(`{type: ${type}, address: "http://127.0.0.1:9000/hook", username: flux, timeout: 1m30s, suspend: true}`));
      assert.deepEqual(d.spec, { type, address: 'http://127.0.0.1:9000/hook', username: 'flux', timeoutSeconds: 90, suspend: true });
    }
    const gh = provider(PROVIDER('{type: github, address: "https://github.com/my-org/my-repo", secretRef: {name: github-token}}'));
    assert.equal(gh.spec.type, 'github');
  });

  it('reads proxySecretRef (v1beta3), warning that notifications are sent without the proxy', () => {
    const r = parseDeclarations(PROVIDER('{type: generic, address: "http://127.0.0.1:9000/hook", proxySecretRef: {name: proxy}}'), 'x.yaml');
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.warnings.map((w) => [w.field, w.message]), [['spec.proxySecretRef', 'accepted but not acted on by Flotilla yet: notifications are sent without the proxy']]);
  });

  it('takes the address from the Secret alone (a webhook URL is a credential)', () => {
    const d = provider(PROVIDER('{type: msteams, secretRef: {name: teams-webhook}}'));
    assert.deepEqual(d.spec, { type: 'msteams', timeoutSeconds: 15, secretRef: { name: 'teams-webhook' }, suspend: false });
  });

  it("warns about Flux's fields it does not act on", () => {
    const r = parseDeclarations(PROVIDER('{type: generic, address: "https://e.com/x", interval: 5m, proxy: "http://proxy:3128", certSecretRef: {name: ca}, commitStatusExpr: "event.metadata.x", serviceAccountName: sa}'), 'x.yaml');
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.warnings.map((w) => w.field), ['spec.interval', 'spec.proxy', 'spec.certSecretRef', 'spec.commitStatusExpr', 'spec.serviceAccountName']);
    assert.match(r.warnings[1]?.message ?? '', /without the proxy/);
  });

  const errors: [string, string, string, RegExp][] = [
    ['an unsupported Flux type', PROVIDER('{type: discord, address: "https://discord.com/api/webhooks/x"}'), 'spec.type',
      /provider type "discord" is not supported yet: Flotilla supports generic, generic-hmac, slack, msteams, github/],
    ['an unknown type', PROVIDER('{type: carrier-pigeon, address: "https://e.com"}'), 'spec.type', /invalid provider type "carrier-pigeon": must be one of generic, generic-hmac/],
    ['a missing type', PROVIDER('{address: "https://e.com"}'), 'spec.type', /required: one of generic, generic-hmac, slack, msteams, github/],
    ['no address anywhere', PROVIDER('{type: slack}'), 'spec.address', /required: where to send.*address key of the Secret/],
    ['an address that is not http(s)', PROVIDER('{type: generic, address: "ftp://e.com/x"}'), 'spec.address', /want an http:\/\/ or https:\/\/ URL/],
    ['a github address that is not a repository', PROVIDER('{type: github, address: "https://github.com/my-org", secretRef: {name: t}}'), 'spec.address',
      /<scheme>:\/\/<host>\/<owner>\/<repo>/],
    ['github without secretRef', PROVIDER('{type: github, address: "https://github.com/o/r"}'), 'spec.secretRef', /required for type github: a Secret with a token key/],
    ['a bad timeout', PROVIDER('{type: generic, address: "https://e.com", timeout: soon}'), 'spec.timeout', /invalid duration|duration/],
    ['an unknown field', PROVIDER('{type: generic, address: "https://e.com", color: red}'), 'spec.color', /unknown field/],
  ];
  for (const [what, yaml, field, message] of errors) {
    it(`reports ${what}, naming object and field`, () => {
      const e = onlyError(parseDeclarations(yaml, 'providers.yaml'));
      assert.equal(e.object, 'Provider/flux-system/slack');
      assert.equal(e.field, field);
      assert.match(e.message, message);
    });
  }

  it('refuses a version Flux never served for Provider, naming the versions to use (older ones: flux-versions.test.ts)', () => {
    const e = onlyError(parseDeclarations(PROVIDER('{type: generic, address: "https://e.com"}', 'notification.toolkit.fluxcd.io/v1'), 'p.yaml'));
    assert.equal(e.field, 'apiVersion');
    assert.match(e.message, /use notification.toolkit.fluxcd.io\/v1beta3 \(older versions read: notification.toolkit.fluxcd.io\/v1beta2, notification.toolkit.fluxcd.io\/v1beta1\)/);
  });
});

describe('Alert', () => {
  it("reads Flux's example, with Flux's defaults (severity info, namespaces = the Alert's)", () => {
    const d = alert(ALERT('{summary: "Cluster addons impacted in us-east-2", providerRef: {name: slack-bot}, eventSeverity: error, eventSources: [{kind: GitRepository, name: "*"}, {kind: Kustomization, name: "*"}]}'));
    assert.deepEqual(d.spec, {
      providerRef: { name: 'slack-bot' },
      eventSources: [{ kind: 'GitRepository', name: '*', namespace: 'flux-system' }, { kind: 'Kustomization', name: '*', namespace: 'flux-system' }],
      eventSeverity: 'error', inclusionList: [], exclusionList: [], eventMetadata: {}, summary: 'Cluster addons impacted in us-east-2', suspend: false,
    });
    assert.equal(declarationId(d), 'alert/flux-system/on-call');
  });

  it('reads every field, wildcard names and Flotilla kinds', () => {
    const d = alert(ALERT(`{providerRef: {name: teams}, eventSources: [
      {kind: HelmRelease, name: "podinfo-*", namespace: apps},
      {kind: Kustomization, name: web}, {kind: Cluster, name: "*"}],
      inclusionList: [".*succeeded.*", "(?i)UPGRADE"], exclusionList: ["waiting.*socket"], eventMetadata: {env: prod}, suspend: true}`));
    assert.deepEqual(d.spec, {
      providerRef: { name: 'teams' },
      eventSources: [
        { kind: 'HelmRelease', name: 'podinfo-*', namespace: 'apps' },
        { kind: 'Kustomization', name: 'web', namespace: 'flux-system' },
        { kind: 'Cluster', name: '*', namespace: 'flux-system' },
      ],
      eventSeverity: 'info', inclusionList: ['.*succeeded.*', '(?i)UPGRADE'], exclusionList: ['waiting.*socket'],
      eventMetadata: { env: 'prod' }, suspend: true,
    });
  });

  it('warns about sources Flotilla emits nothing for, Rollout sources, and matchLabels', () => {
    const r = parseDeclarations(ALERT(`{providerRef: {name: p}, eventSources: [{kind: OCIRepository, name: "*"}, {kind: Kustomization, name: apps, matchLabels: {a: b}},
      {kind: Rollout, name: web}, {kind: HelmRelease, name: "podinfo-*", matchLabels: {team: web}}]}`), 'x.yaml');
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.warnings.map((w) => [w.field, w.message.slice(0, 40)]), [
      ['spec.eventSources[0].kind', 'Flotilla does not reconcile OCIRepositor'],
      ['spec.eventSources[1].matchLabels', 'has no effect with an exact name (as in '],
      ['spec.eventSources[2].kind', 'rollout events are reported on the Kusto'],
      ['spec.eventSources[3].matchLabels', 'is not supported yet: the hub does not k'],
    ]);
  });

  const errors: [string, string, string, RegExp][] = [
    ['a bad inclusion regex, by index', ALERT(`{providerRef: {name: p}, ${SOURCES}, inclusionList: [ok, "(unclosed"]}`), 'spec.inclusionList[1]',
      /invalid regular expression "\(unclosed": missing closing \): `\(unclosed`$/],
    ['a bad exclusion regex, by index', ALERT(`{providerRef: {name: p}, ${SOURCES}, exclusionList: ["[z-a]"]}`), 'spec.exclusionList[0]', /invalid regular expression "\[z-a\]": invalid character class range: `z-a`$/],
    ['a missing providerRef', ALERT(`{${SOURCES}}`), 'spec.providerRef', /required: the Provider \(same namespace\) to send with/],
    ['missing eventSources', ALERT('{providerRef: {name: p}}'), 'spec.eventSources', /required: the objects whose events to send/],
    ['an unknown event source kind', ALERT('{providerRef: {name: p}, eventSources: [{kind: Deployment, name: x}]}'), 'spec.eventSources[0].kind',
      /invalid event source kind "Deployment": must be one of GitRepository, .*Rollout, Cluster/],
    ['a bad source name', ALERT('{providerRef: {name: p}, eventSources: [{kind: Kustomization, name: "Apps!"}]}'), 'spec.eventSources[0].name', /"\*", or a name with "\*" wildcards/],
    ['a bad severity', ALERT(`{providerRef: {name: p}, ${SOURCES}, eventSeverity: warning}`), 'spec.eventSeverity', /must be one of info, error/],
  ];
  for (const [what, yaml, field, message] of errors) {
    it(`reports ${what}, naming object and field`, () => {
      const e = onlyError(parseDeclarations(yaml, 'alerts.yaml'));
      assert.equal(e.object, 'Alert/flux-system/on-call');
      assert.equal(e.field, field);
      assert.match(e.message, message);
      assert.match(formatDeclarationError(e), new RegExp(`^alerts.yaml: Alert/flux-system/on-call: ${field.replace(/[[\]]/g, '\\$&')}: `));
    });
  }
});

describe('Receiver', () => {
  it("reads Flux's GitHub example, with Flux's defaults (interval 10m, namespaces = the Receiver's)", () => {
    const d = receiver(RECEIVER('{type: github, events: ["ping", "push"], secretRef: {name: receiver-token}, resources: [{apiVersion: source.toolkit.fluxcd.io/v1, kind: GitRepository, name: flux-system}]}'));
    assert.deepEqual(d.spec, {
      type: 'github', events: ['ping', 'push'],
      resources: [{ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', name: 'flux-system', namespace: 'flux-system' }],
      secretRef: { name: 'receiver-token' }, intervalSeconds: 600, suspend: false,
    });
    assert.equal(declarationId(d), 'receiver/flux-system/github-receiver');
  });

  it('reads generic and generic-hmac and every resource kind', () => {
    const d = receiver(RECEIVER(`{type: generic-hmac, interval: 1h, suspend: true, secretRef: {name: t}, resources: [
      {kind: GitRepository, name: a}, {kind: HelmRepository, name: b, namespace: charts}, {kind: Kustomization, name: c}, {kind: HelmRelease, name: d}]}`));
    assert.equal(d.spec.type, 'generic-hmac');
    assert.equal(d.spec.intervalSeconds, 3600);
    assert.equal(d.spec.suspend, true);
    assert.deepEqual(d.spec.resources.map((r) => `${r.kind}/${r.namespace}/${r.name}`),
      ['GitRepository/flux-system/a', 'HelmRepository/charts/b', 'Kustomization/flux-system/c', 'HelmRelease/flux-system/d']);
    assert.equal(receiver(RECEIVER(`{type: generic, secretRef: {name: t}, ${RESOURCES}}`)).spec.type, 'generic');
  });

  it('reads a v1 Receiver with per-resource CEL filters, warning that they are not acted on', () => {
    // notification v1 (Flux 2.7): resources[].filter (fluxcd/notification-controller api/v1/receiver_types.go).
    const r = parseDeclarations(RECEIVER(`{type: generic, secretRef: {name: t}, resources: [{kind: GitRepository, name: a, filter: "payload.ref == 'refs/heads/main'"}]}`), 'x.yaml');
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.warnings.map((w) => [w.field, w.message]), [['spec.resources[0].filter', 'accepted but not acted on by Flotilla yet: the resource is reconciled whatever the payload']]);
  });

  it('warns that events only filter github, and about resourceFilter', () => {
    const r = parseDeclarations(RECEIVER(`{type: generic, events: [push], resourceFilter: "true", secretRef: {name: t}, ${RESOURCES}}`), 'x.yaml');
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.warnings.map((w) => w.field), ['spec.resourceFilter', 'spec.events']);
  });

  const errors: [string, string, string, RegExp][] = [
    ['an unsupported Flux type', RECEIVER(`{type: gitlab, secretRef: {name: t}, ${RESOURCES}}`), 'spec.type',
      /receiver type "gitlab" is not supported yet: Flotilla supports generic, generic-hmac, github/],
    ['an unknown type', RECEIVER(`{type: svn, secretRef: {name: t}, ${RESOURCES}}`), 'spec.type', /invalid receiver type "svn": must be one of generic, generic-hmac, github/],
    ['a missing secretRef', RECEIVER(`{type: github, ${RESOURCES}}`), 'spec.secretRef', /required: a Secret \(same namespace\) with a token key/],
    ['missing resources', RECEIVER('{type: github, secretRef: {name: t}}'), 'spec.resources', /required: the objects to reconcile/],
    ['name "*" (with matchLabels)', RECEIVER('{type: generic, secretRef: {name: t}, resources: [{kind: GitRepository, name: "*", matchLabels: {a: b}}]}'),
      'spec.resources[0].name', /name "\*" \(every object with matchLabels\) is not supported yet: list each object by name/],
    ['a Flux kind Flotilla does not reconcile', RECEIVER('{type: generic, secretRef: {name: t}, resources: [{kind: OCIRepository, name: x}]}'),
      'spec.resources[0].kind', /Flotilla does not reconcile OCIRepository objects yet/],
    ['an apiVersion of another group', RECEIVER('{type: generic, secretRef: {name: t}, resources: [{apiVersion: helm.toolkit.fluxcd.io/v2, kind: GitRepository, name: x}]}'),
      'spec.resources[0].apiVersion', /want source.toolkit.fluxcd.io\/<version>/],
  ];
  for (const [what, yaml, field, message] of errors) {
    it(`reports ${what}, naming object and field`, () => {
      const e = onlyError(parseDeclarations(yaml, 'receivers.yaml'));
      assert.equal(e.object, 'Receiver/flux-system/github-receiver');
      assert.equal(e.field, field);
      assert.match(e.message, message);
    });
  }
});
