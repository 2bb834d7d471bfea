// The source policy's decisions (core/source-policy.ts) and the one scrubber (core/scrub.ts),
// as tables: every SSRF URL of issue #24 refused under the default policy with the setting
// named, what each setting allows, and what the scrubber removes from text.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseDeclarations } from '../../core/declarations/parse.js';
import { loadHubConfig } from '../../hub/config.js';
import { MASK, scrub, scrubber, scrubUrl, urlSecrets } from '../../core/scrub.js';
import {
  allowHostProblem,
  classifyAddress,
  declarationRefusals,
  DEFAULT_SOURCE_POLICY,
  parseIp,
  readSourcePolicy,
  refusalMessage,
  resolvedRefusal,
  sourceTarget,
  urlRefusal,
  type SourcePolicy,
  type SourceUse,
} from '../../core/source-policy.js';

const policy = (p: Partial<SourcePolicy>): SourcePolicy => ({ ...DEFAULT_SOURCE_POLICY, ...p });

describe('source policy: URLs refused before any DNS lookup (apply time and fetch time)', () => {
  // [use, url, setting that refuses it (undefined: allowed), words the reason must hold]
  const cases: readonly [SourceUse, string, string | undefined, RegExp?][] = [
    // The issue's SSRF URLs.
    ['git', 'file:///var/lib/flotilla/sources/other-tenant', 'sources.allowSchemes', /scheme file:\/\//],
    ['git', 'http://169.254.169.254/latest/meta-data', 'sources.allowSchemes', /scheme http:\/\//],
    ['git', 'https://169.254.169.254/latest/meta-data', 'sources.allowPrivateNetworks', /is 169\.254\.169\.254, a link-local \(cloud metadata\) address/],
    ['git', 'https://localhost/org/repo.git', 'sources.allowHosts', /names the local machine \(localhost\)/],
    ['git', 'https://kubernetes.default.svc/api', 'sources.allowHosts', /Kubernetes in-cluster service name/],
    ['git', 'https://[::1]/repo.git', 'sources.allowPrivateNetworks', /is ::1, a loopback address/],
    ['helm', 'http://169.254.169.254/', 'sources.allowSchemes', /not allowed for Helm repositories/],
    ['helm', 'https://169.254.169.254/', 'sources.allowPrivateNetworks', /cloud metadata/],
    ['helm', 'oci://localhost:5000/charts', 'sources.allowHosts', /local machine/],
    // More names and addresses.
    ['git', 'https://metadata.google.internal/computeMetadata/v1/', 'sources.allowHosts', /cloud metadata or internal name/],
    ['git', 'https://my-git.flux-system.svc.cluster.local/repo', 'sources.allowHosts', /in-cluster service name/],
    ['git', 'https://10.0.0.5/repo.git', 'sources.allowPrivateNetworks', /private \(RFC 1918\)/],
    ['git', 'https://172.20.1.1/repo.git', 'sources.allowPrivateNetworks', /private \(RFC 1918\)/],
    ['git', 'https://192.168.1.10/repo.git', 'sources.allowPrivateNetworks', /private \(RFC 1918\)/],
    ['git', 'https://100.64.3.4/repo.git', 'sources.allowPrivateNetworks', /carrier-grade NAT/],
    ['git', 'https://0.0.0.0/repo.git', 'sources.allowPrivateNetworks', /unspecified/],
    ['git', 'https://[::ffff:169.254.169.254]/repo.git', 'sources.allowPrivateNetworks', /cloud metadata/],
    ['git', 'https://[::ffff:127.0.0.1]/repo.git', 'sources.allowPrivateNetworks', /loopback/],
    ['git', 'https://[fd12:3456::1]/repo.git', 'sources.allowPrivateNetworks', /unique local/],
    ['git', 'https://[fe80::1]/repo.git', 'sources.allowPrivateNetworks', /link-local/],
    ['git', 'https://[64:ff9b::a9fe:a9fe]/x', 'sources.allowPrivateNetworks', /cloud metadata/],
    ['git', 'https://2130706433/repo.git', 'sources.allowPrivateNetworks', /127\.0\.0\.1, a loopback/], // WHATWG URL folds the decimal form
    ['git', 'https://0x7f.1/repo.git', 'sources.allowPrivateNetworks', /loopback/],
    ['git', 'git@localhost:org/repo.git', 'sources.allowHosts', /local machine/],
    ['git', 'git@10.1.2.3:org/repo.git', 'sources.allowPrivateNetworks', /private/],
    ['git', 'git://github.com/org/repo.git', 'sources.allowSchemes', /scheme git:\/\//],
    ['git', 'ext::sh -c touch% /tmp/pwned', 'sources.allowSchemes', /scheme ext:\/\//], // git's ext:: transport runs a command
    // Notification Provider addresses and rollout analysis URLs (use 'http'): the hub POSTs or GETs them.
    ['http', 'http://169.254.169.254/latest/meta-data/', 'sources.allowSchemes', /not allowed for notifications and analysis checks \(allowed: https:\/\/\)/],
    ['http', 'https://169.254.169.254/latest/meta-data/', 'sources.allowPrivateNetworks', /cloud metadata/],
    ['http', 'https://[fd00:ec2::254]/latest/meta-data/', 'sources.allowPrivateNetworks', /cloud metadata/],
    ['http', 'https://prometheus.monitoring.svc:9090/api/v1/query', 'sources.allowHosts', /in-cluster service name/],
    ['http', 'https://localhost:9093/api/v2/alerts', 'sources.allowHosts', /local machine/],
    ['http', 'https://10.96.0.1/api/v1/namespaces', 'sources.allowPrivateNetworks', /private \(RFC 1918\)/],
    ['http', 'ftp://hooks.example.com/x', 'sources.allowSchemes', /scheme ftp:\/\//],
    ['http', 'https://hooks.slack.com/services/T0/B0/XXXX', undefined],
    ['http', 'https://api.github.com/repos/org/app/statuses/abc', undefined],
    // Allowed by default.
    ['git', 'https://github.com/org/repo.git', undefined],
    ['git', 'ssh://git@github.com/org/repo.git', undefined],
    ['git', 'git@github.com:org/repo.git', undefined],
    ['helm', 'https://stefanprodan.github.io/podinfo', undefined],
    ['helm', 'oci://ghcr.io/stefanprodan/charts', undefined],
    ['oci', 'https://ghcr.io/v2/org/app/tags/list', undefined],
    ['git', 'https://8.8.8.8/repo.git', undefined],
    ['git', 'https://[2606:4700::1111]/repo.git', undefined],
  ];
  for (const [use, url, setting, why] of cases) {
    it(`${use} ${url}: ${setting === undefined ? 'allowed' : `refused (${setting})`}`, () => {
      const refusal = urlRefusal(use, url, DEFAULT_SOURCE_POLICY);
      assert.equal(refusal?.setting, setting, JSON.stringify(refusal));
      if (why !== undefined) assert.match(refusal?.why ?? '', why);
    });
  }

  it('the error names the object, the field, the URL without its password, the policy setting and what to do', () => {
    const url = 'http://user:canary-pw@169.254.169.254/';
    const refusal = urlRefusal('git', url, DEFAULT_SOURCE_POLICY);
    assert.ok(refusal);
    const message = refusalMessage('GitRepository/flux-system/app spec.url', scrubUrl(url), refusal);
    assert.equal(message,
      'GitRepository/flux-system/app spec.url: http://***@169.254.169.254/ uses the scheme http://, which is not allowed for git sources (allowed: https://, ssh://), '
      + 'refused by the source policy (sources.allowSchemes); use https:// or ssh://, or add http to sources.allowSchemes if this hub should fetch over http://');
    const metadata = urlRefusal('git', 'https://169.254.169.254/', DEFAULT_SOURCE_POLICY);
    assert.ok(metadata);
    assert.equal(refusalMessage('GitRepository/flux-system/app spec.url', 'https://169.254.169.254/', metadata),
      'GitRepository/flux-system/app spec.url: https://169.254.169.254/ is 169.254.169.254, a link-local (cloud metadata) address, '
      + 'refused by the source policy (sources.allowPrivateNetworks); add 169.254.169.254 or its range to sources.allowHosts if this is intended');
  });
});

describe('source policy: what each setting allows', () => {
  // [policy, use, url, allowed?]
  const cases: readonly [Partial<SourcePolicy>, SourceUse, string, boolean][] = [
    [{ allowSchemes: ['http'] }, 'git', 'http://github.com/org/repo.git', true],
    [{ allowSchemes: ['http'] }, 'helm', 'http://charts.example.com/', true],
    [{ allowSchemes: ['http'] }, 'oci', 'http://registry.example.com/v2/', true],
    [{ allowSchemes: ['http'] }, 'git', 'file:///srv/repo', false],
    [{ allowSchemes: ['file'] }, 'git', 'file:///srv/repo', true],
    [{ allowSchemes: ['file'] }, 'helm', 'file:///srv/charts', false], // file:// is for git only
    [{ allowSchemes: ['git'] }, 'git', 'git://github.com/org/repo.git', true],
    [{ allowSchemes: ['http'] }, 'git', 'http://169.254.169.254/', false], // the scheme allowed, the address still refused
    [{ allowHosts: ['10.0.0.0/8'] }, 'git', 'https://10.20.30.40/repo.git', true],
    [{ allowHosts: ['10.0.0.0/8'] }, 'git', 'https://11.0.0.1/repo.git', true], // public anyway
    [{ allowHosts: ['10.0.0.0/8'] }, 'git', 'https://192.168.0.1/repo.git', false],
    [{ allowHosts: ['127.0.0.1'] }, 'git', 'https://127.0.0.1:8443/repo.git', true],
    [{ allowHosts: ['127.0.0.1'] }, 'git', 'https://127.0.0.2/repo.git', false],
    [{ allowHosts: ['127.0.0.0/8'] }, 'git', 'https://[::ffff:127.0.0.9]/repo.git', true], // an IPv4 CIDR covers the mapped form
    [{ allowHosts: ['fd00::/8'] }, 'git', 'https://[fd00::5]/repo.git', true],
    [{ allowHosts: ['git.corp.internal'] }, 'git', 'https://git.corp.internal/repo.git', true],
    [{ allowHosts: ['*.corp.internal'] }, 'git', 'https://git.corp.internal/repo.git', true],
    [{ allowHosts: ['*.corp.internal'] }, 'git', 'https://metadata.google.internal/', false],
    [{ allowHosts: ['localhost'] }, 'git', 'git@localhost:org/repo.git', true],
    [{ allowPrivateNetworks: true }, 'git', 'https://169.254.169.254/', true],
    [{ allowPrivateNetworks: true }, 'git', 'https://kubernetes.default.svc/', true],
    [{ allowPrivateNetworks: true }, 'git', 'http://10.0.0.1/', false], // private networks do not allow http
    [{ allowSchemes: ['http'], allowHosts: ['127.0.0.0/8'] }, 'http', 'http://127.0.0.1:8080/hook', true], // the development policy
    [{ allowSchemes: ['http'], allowHosts: ['127.0.0.0/8'] }, 'http', 'http://169.254.169.254/', false],
    [{ allowSchemes: ['file'] }, 'http', 'file:///etc/passwd', false], // file:// is for git only
    [{ allowHosts: ['*.monitoring.svc'] }, 'http', 'https://prometheus.monitoring.svc:9090/api/v1/query', true],
    [{ allowHosts: ['10.96.0.0/12'] }, 'http', 'https://10.100.1.2/metrics', true],
  ];
  for (const [p, use, url, allowed] of cases) {
    it(`${JSON.stringify(p)} ${use} ${url}: ${allowed ? 'allowed' : 'refused'}`, () => {
      assert.equal(urlRefusal(use, url, policy(p)) === undefined, allowed);
    });
  }

  it('after DNS: every resolved address is judged; a name listed in allowHosts allows what it resolves to', () => {
    assert.match(resolvedRefusal('evil.example.com', '169.254.169.254', DEFAULT_SOURCE_POLICY)?.why ?? '',
      /^resolves to 169\.254\.169\.254, a link-local \(cloud metadata\) address$/);
    assert.equal(resolvedRefusal('evil.example.com', '169.254.169.254', DEFAULT_SOURCE_POLICY)?.setting, 'sources.allowPrivateNetworks');
    assert.match(resolvedRefusal('rebind.example.com', '::ffff:10.0.0.1', DEFAULT_SOURCE_POLICY)?.why ?? '', /private/);
    assert.equal(resolvedRefusal('github.com', '140.82.121.3', DEFAULT_SOURCE_POLICY), undefined);
    assert.equal(resolvedRefusal('git.corp.internal', '10.1.1.1', policy({ allowHosts: ['git.corp.internal'] })), undefined);
    assert.equal(resolvedRefusal('git.corp.example', '10.1.1.1', policy({ allowHosts: ['10.1.0.0/16'] })), undefined);
  });

  it('classifies addresses and parses both families', () => {
    const table: readonly [string, string | undefined][] = [
      ['127.0.0.1', 'loopback'], ['10.255.255.255', 'private (RFC 1918)'], ['172.15.0.1', undefined], ['172.32.0.1', undefined],
      ['169.254.0.1', 'link-local'], ['224.0.0.1', 'multicast'], ['255.255.255.255', 'reserved'], ['1.1.1.1', undefined],
      ['::', 'unspecified'], ['::1', 'loopback'], ['fe80::abcd', 'link-local'], ['fc00::1', 'unique local (private)'],
      ['fd00:ec2::254', 'link-local (cloud metadata)'], ['2001:db8::1', undefined], ['::ffff:0a00:0001', 'private (RFC 1918)'],
    ];
    for (const [text, what] of table) {
      const ip = parseIp(text);
      assert.ok(ip, text);
      assert.equal(classifyAddress(ip), what, text);
    }
    for (const bad of ['1.2.3', '256.1.1.1', '01.2.3.4', '1::2::3', ':::', 'fe80::g', 'example.com']) assert.equal(parseIp(bad), undefined, bad);
  });

  it('checks allowHosts entries', () => {
    for (const ok of ['10.0.0.0/8', '::1', 'fd00::/8', 'git.corp.internal', '*.corp.internal', '127.0.0.1']) assert.equal(allowHostProblem(ok), undefined, ok);
    for (const bad of ['10.0.0.0/33', 'http://x', 'a b', '10.0.0.0/x']) assert.ok(allowHostProblem(bad), bad);
  });

  it('reads scheme, host and port from git URLs of every form', () => {
    assert.deepEqual(sourceTarget('git@github.com:org/repo.git'), { scheme: 'ssh', host: 'github.com' });
    assert.deepEqual(sourceTarget('https://GitHub.com.:8443/x'), { scheme: 'https', host: 'github.com', port: 8443 });
    assert.deepEqual(sourceTarget('ssh://git@[::1]:2222/x'), { scheme: 'ssh', host: '::1', port: 2222 });
    assert.deepEqual(sourceTarget('file:///srv/repo'), { scheme: 'file', host: '' });
  });
});

describe('the scrubber', () => {
  const table: readonly [string, string, readonly string[]][] = [
    ['unsupported scheme in ftp://alice:s3cret-pw@host/repo', `unsupported scheme in ftp://${MASK}@host/repo`, []],
    ['fatal: unable to access \'https://tok3n-value@github.com/x/\'', `fatal: unable to access 'https://${MASK}@github.com/x/'`, []],
    ['Authorization: Basic YWxpY2U6czNjcmV0', `Authorization: Basic ${MASK}`, []],
    ['header authorization="Bearer abc.def.ghi"', `header authorization="Bearer ${MASK}"`, []],
    ['server said: Bearer eyJhbGciOiJIUzI1NiJ9.payload', `server said: Bearer ${MASK}`, []],
    ['the password canary-pw-1234 was wrong', `the password ${MASK} was wrong`, ['canary-pw-1234']],
    ['echoed canary%2Fpw%3D', `echoed ${MASK}`, ['canary/pw=']],
    ['basic Y2FuYXJ5LXB3LTEyMzQ= in a trace', `basic ${MASK} in a trace`, ['canary-pw-1234']],
    ['a short pw "abc" stays (too short to scrub by value)', 'a short pw "abc" stays (too short to scrub by value)', ['abc']],
    ['no secrets here: https://github.com/org/repo', 'no secrets here: https://github.com/org/repo', []],
  ];
  for (const [input, expected, secrets] of table) {
    it(JSON.stringify(input), () => { assert.equal(scrub(input, secrets), expected); });
  }

  it('scrubs URLs and names their secrets', () => {
    assert.equal(scrubUrl('https://alice:pw-canary@example.com/repo.git'), `https://${MASK}@example.com/repo.git`);
    assert.equal(scrubUrl('not a url ftp://u:p@h/'), `not a url ftp://${MASK}@h/`);
    assert.deepEqual(urlSecrets('https://alice:pw-canary@example.com/'), ['pw-canary', 'alice']);
    assert.deepEqual(urlSecrets('https://token-only@example.com/'), []);
    const multi = scrubber(['-----BEGIN KEY-----\nAAAAB3NzaC1yc2EAAAADAQABAAABAQ\n-----END KEY-----']);
    assert.equal(multi('key line AAAAB3NzaC1yc2EAAAADAQABAAABAQ leaked'), `key line ${MASK} leaked`);
  });
});

describe('source policy: hub settings and apply time', () => {
  it('a hub with no setting has the default policy; the settings widen it; a bad allowHosts entry stops the start', () => {
    const base = { env: { FLOTILLA_DATA_DIR: '/tmp/flotilla-policy-test' } };
    assert.deepEqual(loadHubConfig({ ...base, flags: {} }).sourcePolicy, DEFAULT_SOURCE_POLICY);
    const set = loadHubConfig({
      flags: { 'sources-allow-schemes': ['http,file'], 'sources-allow-private-networks': true },
      env: { ...base.env, FLOTILLA_SOURCES_ALLOW_HOSTS: '10.0.0.0/8, git.corp.internal' },
    });
    assert.deepEqual(set.sourcePolicy, { allowSchemes: ['http', 'file'], allowHosts: ['10.0.0.0/8', 'git.corp.internal'], allowPrivateNetworks: true });
    assert.throws(() => loadHubConfig({ ...base, flags: { 'sources-allow-schemes': ['ftp'] } }), /sources\.allowSchemes \(flag --sources-allow-schemes\): want some of http, git, file, got "ftp"/);
    assert.throws(() => loadHubConfig({ ...base, flags: { 'sources-allow-hosts': ['10.0.0.0/40'] } }), /sources\.allowHosts \(flag --sources-allow-hosts\): "10\.0\.0\.0\/40" is not a CIDR/);
  });

  it('refuses a build or an apply holding a refused source, naming each one; the published policy round-trips', () => {
    const parsed = parseDeclarations([
      'apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: meta, namespace: t1}\nspec: {interval: 1m, url: "https://u:canary-pw@169.254.169.254/x"}',
      'apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: ok, namespace: t1}\nspec: {interval: 1m, url: "https://github.com/org/repo"}',
      'apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {name: local, namespace: t1}\nspec: {interval: 1m, url: "https://localhost:8443/charts"}',
      'apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata: {name: reg, namespace: t1}\nspec: {interval: 1m, image: "10.1.2.3:5000/app"}',
    ].join('\n---\n'), 'test.yaml');
    assert.deepEqual(parsed.errors, []);
    const refused = declarationRefusals(parsed.declarations, DEFAULT_SOURCE_POLICY);
    assert.equal(refused.length, 3, refused.join('\n'));
    assert.match(refused[0] ?? '', /^GitRepository\/t1\/meta spec\.url: https:\/\/\*\*\*@169\.254\.169\.254\/x is 169\.254\.169\.254, a link-local \(cloud metadata\) address, refused by the source policy \(sources\.allowPrivateNetworks\)/);
    assert.ok(!refused.join('').includes('canary-pw'));
    assert.match(refused[1] ?? '', /^HelmRepository\/t1\/local spec\.url: .*local machine.*\(sources\.allowHosts\)/);
    assert.match(refused[2] ?? '', /^ImageRepository\/t1\/reg spec\.image: 10\.1\.2\.3:5000\/app is 10\.1\.2\.3, a private \(RFC 1918\) address/);
    assert.deepEqual(declarationRefusals(parsed.declarations, policy({ allowPrivateNetworks: true })), []);
    assert.deepEqual(readSourcePolicy(JSON.stringify(DEFAULT_SOURCE_POLICY)), DEFAULT_SOURCE_POLICY);
    assert.equal(readSourcePolicy('{"allowSchemes": "http"}'), undefined);
  });
});

describe('source policy: notification addresses and analysis URLs at apply time', () => {
  const yaml = (url: string, analysis: string, secretAddress = false): string => [
    `apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Provider\nmetadata: {name: metadata, namespace: t1}\nspec: {type: slack, address: "${url}"}`,
    'apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Provider\nmetadata: {name: slack, namespace: t1}\nspec: {type: slack, address: "https://hooks.slack.com/services/T0/B0/secret-path-canary"}',
    ...(secretAddress ? ['apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Provider\nmetadata: {name: in-secret, namespace: t1}\nspec: {type: generic, secretRef: {name: hook}}'] : []),
    'apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: web, namespace: t1}\nspec: {interval: 1m, prune: true, sourceRef: {kind: GitRepository, name: fleet},'
      + ` rollout: {analysis: {url: "${analysis}"}, waves: [{name: all, bakeTime: 0s}]}}`,
  ].join('\n---\n');

  it('refuses a Provider spec.address and a spec.rollout.analysis.url the policy refuses, naming the object, the field and the setting; the address shown as scheme://host only', () => {
    const parsed = parseDeclarations(yaml('https://169.254.169.254/latest/meta-data/secret-path-canary', 'http://prometheus.monitoring.svc:9090/api/v1/query', true), 'test.yaml');
    assert.deepEqual(parsed.errors, []);
    const refused = declarationRefusals(parsed.declarations, DEFAULT_SOURCE_POLICY);
    assert.deepEqual(refused, [
      'Provider/t1/metadata spec.address: https://169.254.169.254 is 169.254.169.254, a link-local (cloud metadata) address, refused by the source policy (sources.allowPrivateNetworks); '
        + 'add 169.254.169.254 or its range to sources.allowHosts if this is intended',
      'Kustomization/t1/web spec.rollout.analysis.url: http://prometheus.monitoring.svc:9090/api/v1/query uses the scheme http://, which is not allowed for notifications and analysis checks '
        + '(allowed: https://), refused by the source policy (sources.allowSchemes); use https://, or add http to sources.allowSchemes if this hub should fetch over http://',
    ]);
    assert.ok(!refused.join('').includes('secret-path-canary'), 'a webhook path is a credential');
  });

  it('allows them when the policy lists them; a Provider whose address is in its Secret is checked at delivery', () => {
    const parsed = parseDeclarations(yaml('https://hooks.example.com/x', 'https://prometheus.monitoring.svc:9090/api/v1/query', true), 'test.yaml');
    assert.deepEqual(parsed.errors, []);
    assert.deepEqual(declarationRefusals(parsed.declarations, DEFAULT_SOURCE_POLICY).map((r) => r.split(':')[0]), ['Kustomization/t1/web spec.rollout.analysis.url']);
    assert.deepEqual(declarationRefusals(parsed.declarations, policy({ allowHosts: ['*.monitoring.svc'] })), []);
  });
});
