// The pure parsers of activities/oci-registry.ts: Flux's spec.image, WWW-Authenticate
// challenges, Link headers, and dockerconfigjson Secrets.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseAuthChallenges, parseImageName, parseNextLink, registryCredentialsFromSecret, RegistryError,
} from '../../activities/oci-registry.js';

describe('parseImageName', () => {
  const cases: [string, string, string][] = [
    ['nginx', 'registry-1.docker.io', 'library/nginx'],
    ['docker.io/nginx', 'registry-1.docker.io', 'library/nginx'],
    ['index.docker.io/library/nginx', 'registry-1.docker.io', 'library/nginx'],
    ['registry-1.docker.io/nginx', 'registry-1.docker.io', 'library/nginx'],
    ['stefanprodan/podinfo', 'registry-1.docker.io', 'stefanprodan/podinfo'],
    ['ghcr.io/stefanprodan/podinfo', 'ghcr.io', 'stefanprodan/podinfo'],
    ['localhost/app', 'localhost', 'app'],
    ['localhost:5000/team/app', 'localhost:5000', 'team/app'],
    ['127.0.0.1:5000/a/b/c', '127.0.0.1:5000', 'a/b/c'],
    ['[::1]:5000/app', '[::1]:5000', 'app'],
    ['Registry.Example.com/app', 'registry.example.com', 'app'],
    ['my-registry.example.com/a.b/c_d/e__f/g--h', 'my-registry.example.com', 'a.b/c_d/e__f/g--h'],
  ];
  for (const [image, registry, repository] of cases) {
    it(`parses ${image}`, () => {
      assert.deepEqual(parseImageName(image), { registry, repository });
    });
  }

  const refused: [string, RegExp][] = [
    ['nginx:1.27', /must not contain a tag \("1\.27"\); the policy picks it/],
    ['ghcr.io/org/app:v1', /must not contain a tag \("v1"\)/],
    ['localhost:5000/app:latest', /must not contain a tag \("latest"\)/],
    ['ghcr.io/org/app@sha256:0123', /must not contain a digest/],
    ['https://ghcr.io/org/app', /must not contain a scheme/],
    ['', /is empty/],
    [' nginx', /surrounding spaces/],
    ['ghcr.io/Org/App', /invalid repository path "Org\/App"/],
    ['ghcr.io/', /invalid repository path ""/],
    ['ghcr.io/a//b', /invalid repository path/],
    ['ghcr.io/-a', /invalid repository path/],
    ['host:99999/app', /invalid registry host "host:99999"/],
    ['bad_host.io/app', /invalid registry host/],
    [`ghcr.io/${'a'.repeat(260)}`, /longer than 255/],
  ];
  for (const [image, message] of refused) {
    it(`refuses ${JSON.stringify(image)}`, () => {
      assert.throws(() => parseImageName(image), (err: unknown) => {
        assert.ok(err instanceof RegistryError);
        assert.equal(err.reason, 'InvalidImage');
        assert.match(err.message, /^spec\.image /);
        assert.match(err.message, message);
        return true;
      });
    });
  }
});

describe('parseAuthChallenges', () => {
  it('reads a Bearer challenge with quoted values holding commas and escapes', () => {
    const header = 'Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push",error="a \\"quoted\\" word"';
    assert.deepEqual(parseAuthChallenges(header), [{
      scheme: 'bearer',
      params: { realm: 'https://auth.example.com/token', service: 'registry.example.com', scope: 'repository:a/b:pull,push', error: 'a "quoted" word' },
    }]);
  });

  it('reads several challenges in one header, in any case and spacing', () => {
    assert.deepEqual(parseAuthChallenges('BASIC Realm="Registry Realm" ,  bearer realm=https://x/token, service = "s"'), [
      { scheme: 'basic', params: { realm: 'Registry Realm' } },
      { scheme: 'bearer', params: { realm: 'https://x/token', service: 's' } },
    ]);
  });

  it('reads a scheme without parameters and ignores junk', () => {
    assert.deepEqual(parseAuthChallenges('Negotiate'), [{ scheme: 'negotiate', params: {} }]);
    assert.deepEqual(parseAuthChallenges(''), []);
    assert.deepEqual(parseAuthChallenges('Bearer realm="unterminated'), [{ scheme: 'bearer', params: { realm: 'unterminated' } }]);
  });
});

describe('parseNextLink', () => {
  const page = 'https://r.example.com/v2/a/b/tags/list?n=10';
  it('resolves a relative next link against the page', () => {
    assert.equal(parseNextLink('</v2/a/b/tags/list?n=10&last=v9>; rel="next"', page), 'https://r.example.com/v2/a/b/tags/list?n=10&last=v9');
  });
  it('keeps an absolute link and finds next among several links and rel values', () => {
    assert.equal(
      parseNextLink('<https://r.example.com/v2/a/b/tags/list?n=1&last=a>; rel="prev", <https://r.example.com/v2/a/b/tags/list?n=1&last=c>; type="x"; rel="last next"', page),
      'https://r.example.com/v2/a/b/tags/list?n=1&last=c',
    );
    assert.equal(parseNextLink('<https://r.example.com/p2>;rel=next', page), 'https://r.example.com/p2');
  });
  it('answers undefined without a next link', () => {
    assert.equal(parseNextLink(null, page), undefined);
    assert.equal(parseNextLink('</v2/x>; rel="prev"', page), undefined);
  });
});

describe('registryCredentialsFromSecret', () => {
  const password = 'Pa55:w0rd-s3cret';
  const config = (auths: Record<string, unknown>): Record<string, string> => ({ '.dockerconfigjson': JSON.stringify({ auths }) });
  const b64 = (s: string): string => Buffer.from(s).toString('base64');

  it('reads username and password for the registry host', () => {
    assert.deepEqual(registryCredentialsFromSecret('regcred', config({ 'ghcr.io': { username: 'flux', password } }), 'ghcr.io'),
      { kind: 'basic', username: 'flux', password });
  });

  it('decodes the auth field (the password may hold colons)', () => {
    assert.deepEqual(registryCredentialsFromSecret('regcred', config({ 'ghcr.io': { auth: b64(`flux:${password}`) } }), 'ghcr.io'),
      { kind: 'basic', username: 'flux', password });
  });

  it('matches https:// keys, paths and ports', () => {
    const data = config({ 'https://127.0.0.1:5000/v2/': { auth: b64('a:b') }, 'other.io': { auth: b64('c:d') } });
    assert.deepEqual(registryCredentialsFromSecret('regcred', data, '127.0.0.1:5000'), { kind: 'basic', username: 'a', password: 'b' });
  });

  it('folds Docker Hub aliases together, preferring the exact key', () => {
    const legacy = config({ 'https://index.docker.io/v1/': { auth: b64('hub:pw') } });
    assert.deepEqual(registryCredentialsFromSecret('regcred', legacy, 'registry-1.docker.io'), { kind: 'basic', username: 'hub', password: 'pw' });
    assert.deepEqual(registryCredentialsFromSecret('regcred', legacy, 'docker.io'), { kind: 'basic', username: 'hub', password: 'pw' });
    const both = config({ 'https://index.docker.io/v1/': { auth: b64('old:pw') }, 'registry-1.docker.io': { auth: b64('new:pw') } });
    assert.equal(registryCredentialsFromSecret('regcred', both, 'registry-1.docker.io').kind, 'basic');
    assert.deepEqual(registryCredentialsFromSecret('regcred', both, 'registry-1.docker.io'), { kind: 'basic', username: 'new', password: 'pw' });
  });

  it('reads registry and identity tokens', () => {
    assert.deepEqual(registryCredentialsFromSecret('regcred', config({ 'r.io': { registrytoken: 'tok' } }), 'r.io'), { kind: 'bearer', token: 'tok' });
    assert.deepEqual(registryCredentialsFromSecret('regcred', config({ 'r.io': { username: '00000000-0000-0000-0000-000000000000', identitytoken: 'refresh' } }), 'r.io'),
      { kind: 'identity', token: 'refresh' });
  });

  it('reads the legacy .dockercfg and plain username/password keys', () => {
    assert.deepEqual(registryCredentialsFromSecret('regcred', { '.dockercfg': JSON.stringify({ 'r.io': { auth: b64('u:p') } }) }, 'r.io'),
      { kind: 'basic', username: 'u', password: 'p' });
    assert.deepEqual(registryCredentialsFromSecret('plain', { username: 'u', password }, 'r.io'), { kind: 'basic', username: 'u', password });
  });

  const errors: [string, Record<string, string>, RegExp][] = [
    ['a missing host', config({ 'ghcr.io': { auth: b64(`flux:${password}`) } }), /secret "regcred": "\.dockerconfigjson" has no credentials for registry "quay\.io" \(it has: "ghcr\.io"\)/],
    ['invalid JSON', { '.dockerconfigjson': `{"auths": {"quay.io": {"password": "${password}"` }, /secret "regcred": "\.dockerconfigjson" is not valid JSON/],
    ['no auths', { '.dockerconfigjson': '{}' }, /secret "regcred": "\.dockerconfigjson" has no "auths" object/],
    ['an entry without credentials', config({ 'quay.io': { email: 'x@y' } }), /entry "quay\.io" has none of "username" and "password", "auth"/],
    ['an auth without a colon', config({ 'quay.io': { auth: b64(password.replace(/:/g, '')) } }), /entry "quay\.io" has an "auth" that is not base64 of "username:password"/],
    ['a password without username', { password }, /secret "regcred" has no "username"/],
    ['nothing usable', { token: 'x' }, /secret "regcred" holds no registry credentials: expected a "\.dockerconfigjson" key/],
  ];
  for (const [what, data, message] of errors) {
    it(`names the secret for ${what}, never the password`, () => {
      assert.throws(() => registryCredentialsFromSecret('regcred', data, 'quay.io'), (err: unknown) => {
        assert.ok(err instanceof Error);
        assert.match(err.message, message);
        assert.ok(!err.message.includes(password) && !err.message.includes(password.replace(/:/g, '')), err.message);
        return true;
      });
    });
  }
});
