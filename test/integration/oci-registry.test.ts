// activities/oci-registry.ts against Debian's real docker-registry (distribution 2.8.2) on
// loopback: one registry each without auth, with htpasswd and with token auth, started once
// per describe. Pages come from a proxy that pages the real listing per the OCI spec (2.8
// ignores `n`); small fake servers cover what a real registry will not do (page loops,
// error bodies, hanging, echoing credentials).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listTags, MAX_PAGES, RegistryError, type ListTagsInput, type RegistryErrorReason } from '../../activities/oci-registry.js';
import { freePort, startPaginatingProxy, startRegistry, type PaginatingProxy, type TestRegistry } from '../harness/registry.js';
import { DEV_SOURCE_POLICY } from '../../deploy/dev/source-policy.js';

const USER = 'flux';
const PASSWORD = 'r3g-Pa55:word';
const WRONG = 'not-the-Pa55word';

const temps: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'flotilla-registry-test-'));
  temps.push(dir);
  return dir;
}
after(async () => {
  for (const dir of temps) await rm(dir, { recursive: true, force: true });
});

function input(image: string, more: Partial<ListTagsInput> = {}): ListTagsInput {
  return { image, insecure: true, timeoutSeconds: 20, policy: DEV_SOURCE_POLICY, ...more };
}

/** Asserts `promise` rejects with a RegistryError of `reason` whose message matches and holds none of `secrets`. */
async function rejectsWith(promise: Promise<unknown>, reason: RegistryErrorReason, message: RegExp, secrets: readonly string[] = []): Promise<RegistryError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof RegistryError, `expected a RegistryError, got ${String(caught)}`);
  assert.equal(caught.reason, reason, caught.message);
  assert.match(caught.message, message);
  for (const s of secrets) assert.ok(!caught.message.includes(s), `message leaks a secret: ${caught.message}`);
  return caught;
}

const sorted = (tags: readonly string[]): string[] => [...tags].sort();
const manyTags = Array.from({ length: 25 }, (_, i) => `1.${i}.0`);

describe('a registry without auth', () => {
  let registry: TestRegistry;
  let proxy: PaginatingProxy;
  let absoluteProxy: PaginatingProxy;
  before(async () => {
    registry = await startRegistry(await tempDir());
    for (const tag of ['v1.0.0', 'v1.1.0', 'latest']) await registry.pushImage('team/app', tag);
    for (const tag of manyTags) await registry.pushImage('team/many', tag);
    proxy = await startPaginatingProxy(registry.host);
    absoluteProxy = await startPaginatingProxy(registry.host, { absoluteLinks: true });
  }, { timeout: 60_000 });
  after(async () => {
    await proxy.stop();
    await absoluteProxy.stop();
    await registry.stop();
  });

  it('lists the tags of a repository anonymously', async () => {
    let beats = 0;
    const result = await listTags(input(`${registry.host}/team/app`), { heartbeat: () => { beats++; } });
    assert.deepEqual(sorted(result.tags), ['latest', 'v1.0.0', 'v1.1.0']);
    assert.equal(result.pages, 1);
    assert.equal(result.registry, registry.host);
    assert.equal(result.repository, 'team/app');
    assert.equal(beats, 1);
  });

  it('follows relative Link pages (25 tags, 10 a page: 3 pages)', async () => {
    let beats = 0;
    const result = await listTags(input(`${proxy.host}/team/many`, { pageSize: 10 }), { heartbeat: () => { beats++; } });
    assert.equal(result.pages, 3);
    assert.equal(beats, 3);
    assert.deepEqual(result.tags, [...manyTags].sort(), 'all tags, in the registry\'s (lexical) order');
    assert.deepEqual(proxy.pageRequests, [
      '/v2/team/many/tags/list?n=10',
      `/v2/team/many/tags/list?n=10&last=${[...manyTags].sort()[9] ?? ''}`,
      `/v2/team/many/tags/list?n=10&last=${[...manyTags].sort()[19] ?? ''}`,
    ]);
  });

  it('follows absolute Link pages', async () => {
    const result = await listTags(input(`${absoluteProxy.host}/team/many`, { pageSize: 7 }));
    assert.equal(result.pages, 4);
    assert.deepEqual(sorted(result.tags), sorted(manyTags));
  });

  it('no longer lists a deleted tag', async () => {
    await registry.pushImage('team/gone', 'keep');
    await registry.pushImage('team/gone', 'drop');
    await registry.deleteTag('team/gone', 'drop');
    assert.deepEqual((await listTags(input(`${registry.host}/team/gone`))).tags, ['keep']);
  });

  it('reports an unknown repository as RepositoryNotFound, naming it', async () => {
    await rejectsWith(listTags(input(`${registry.host}/team/nope`)), 'RepositoryNotFound',
      new RegExp(`repository team/nope not found on registry ${registry.host}.*repository name not known to registry`));
  });

  it('reports https against a plain-http registry as RegistryUnreachable, suggesting spec.insecure', async () => {
    await rejectsWith(listTags(input(`${registry.host}/team/app`, { insecure: false })), 'RegistryUnreachable',
      new RegExp(`cannot reach registry ${registry.host}.*set spec.insecure: true`));
  });
});

describe('a registry with htpasswd auth', () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startRegistry(await tempDir(), { auth: 'htpasswd', users: { [USER]: PASSWORD } });
    await registry.pushImage('private/app', '1.0.0');
    await registry.pushImage('private/app', '2.0.0');
  }, { timeout: 60_000 });
  after(async () => { await registry.stop(); });

  it('lists tags with the right credentials', async () => {
    const result = await listTags(input(`${registry.host}/private/app`, { credentials: { kind: 'basic', username: USER, password: PASSWORD } }));
    assert.deepEqual(sorted(result.tags), ['1.0.0', '2.0.0']);
  });

  it('reports wrong credentials as AuthenticationFailed without the password', async () => {
    await rejectsWith(listTags(input(`${registry.host}/private/app`, { credentials: { kind: 'basic', username: USER, password: WRONG } })),
      'AuthenticationFailed', new RegExp(`registry ${registry.host} refused the credentials for ${registry.host}/private/app \\(HTTP 401`),
      [WRONG, Buffer.from(`${USER}:${WRONG}`).toString('base64')]);
  });

  it('reports missing credentials as AuthenticationFailed', async () => {
    await rejectsWith(listTags(input(`${registry.host}/private/app`)), 'AuthenticationFailed', /asks for a username and password for private\/app, but none were given/);
  });
});

describe('a registry with token auth', () => {
  let registry: TestRegistry;
  let proxy: PaginatingProxy;
  const REFRESH = 'refresh-t0ken-for-flux';
  before(async () => {
    registry = await startRegistry(await tempDir(), { auth: 'token', users: { [USER]: PASSWORD }, refreshTokens: { [REFRESH]: USER } });
    for (const tag of manyTags) await registry.pushImage('private/tokened', tag);
    proxy = await startPaginatingProxy(registry.host);
  }, { timeout: 60_000 });
  after(async () => {
    await proxy.stop();
    await registry.stop();
  });

  it('completes the token handshake: the token server sees the pull scope and the user', async () => {
    const before = registry.tokenRequests.length;
    const result = await listTags(input(`${registry.host}/private/tokened`, { credentials: { kind: 'basic', username: USER, password: PASSWORD } }));
    assert.deepEqual(sorted(result.tags), sorted(manyTags));
    assert.deepEqual(registry.tokenRequests.slice(before).map(({ scope, user }) => ({ scope, user })),
      [{ scope: 'repository:private/tokened:pull', user: USER }]);
  });

  it('reuses the token for every page', async () => {
    const before = registry.tokenRequests.length;
    const result = await listTags(input(`${proxy.host}/private/tokened`, { pageSize: 10, credentials: { kind: 'basic', username: USER, password: PASSWORD } }));
    assert.equal(result.pages, 3);
    assert.equal(result.tags.length, 25);
    assert.equal(registry.tokenRequests.length - before, 1);
  });

  it('exchanges an identity token (OAuth2 refresh token) at the realm', async () => {
    const before = registry.tokenRequests.length;
    const result = await listTags(input(`${registry.host}/private/tokened`, { credentials: { kind: 'identity', token: REFRESH } }));
    assert.equal(result.tags.length, 25);
    assert.deepEqual(registry.tokenRequests.slice(before), [{ scope: 'repository:private/tokened:pull', user: USER, method: 'POST' }]);
  });

  it('sends a registry token as is', async () => {
    const realm = new URL(`http://${registry.host}/v2/`);
    const challenge = (await fetch(realm)).headers.get('www-authenticate') ?? '';
    const realmUrl = /realm="([^"]+)"/.exec(challenge)?.[1] ?? '';
    const res = await fetch(`${realmUrl}?service=flotilla-test-registry&scope=repository:private/tokened:pull`, {
      headers: { authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` },
    });
    const { token } = await res.json() as { token: string };
    const result = await listTags(input(`${registry.host}/private/tokened`, { credentials: { kind: 'bearer', token } }));
    assert.equal(result.tags.length, 25);
    await rejectsWith(listTags(input(`${registry.host}/private/tokened`, { credentials: { kind: 'bearer', token: `${token}x` } })),
      'AuthenticationFailed', /refused the credentials/, [token]);
  });

  it('reports wrong credentials as AuthenticationFailed without the password', async () => {
    const before = registry.tokenRequests.length;
    await rejectsWith(listTags(input(`${registry.host}/private/tokened`, { credentials: { kind: 'basic', username: USER, password: WRONG } })),
      'AuthenticationFailed', /token service 127\.0\.0\.1:\d+ of registry .* refused the credentials for private\/tokened \(HTTP 401: incorrect username or password\)/,
      [WRONG, Buffer.from(`${USER}:${WRONG}`).toString('base64')]);
    assert.deepEqual(registry.tokenRequests.slice(before).map(({ user }) => user), [USER]);
  });

  it('reports anonymous access to a private repository as AuthenticationFailed', async () => {
    await rejectsWith(listTags(input(`${registry.host}/private/tokened`)), 'AuthenticationFailed', /refused anonymous access to .*private\/tokened.*give credentials/);
    const last = registry.tokenRequests.at(-1);
    assert.deepEqual(last && { scope: last.scope, user: last.user }, { scope: 'repository:private/tokened:pull', user: undefined });
  });
});

describe('failures', () => {
  const servers: Server[] = [];
  async function fake(handler: (req: IncomingMessage, res: ServerResponse, host: string) => void): Promise<string> {
    let host = '';
    const server = createServer((req, res) => { handler(req, res, host); });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    return host;
  }
  after(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise<void>((resolve) => { s.close(() => { resolve(); }); });
    }
  });

  it('reports nothing listening as RegistryUnreachable, naming the host', async () => {
    const port = await freePort();
    await rejectsWith(listTags(input(`127.0.0.1:${port}/team/app`)), 'RegistryUnreachable',
      new RegExp(`cannot reach registry 127\\.0\\.0\\.1:${port} at 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED: connection refused\\)`));
  });

  it('reports a host that does not resolve as RegistryUnreachable', async () => {
    await rejectsWith(listTags(input('no-such-host.invalid/team/app')), 'RegistryUnreachable', /cannot reach registry no-such-host\.invalid .*\((ENOTFOUND|EAI_AGAIN)/);
  });

  it('stops at a page link loop', async () => {
    const host = await fake((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', link: '</v2/loop/tags/list?n=5&last=b>; rel="next"' }).end('{"name":"loop","tags":["a","b"]}');
    });
    await rejectsWith(listTags(input(`${host}/loop`, { pageSize: 5 })), 'RegistryError', /"next" page link back to a page already read/);
  });

  it(`stops after ${MAX_PAGES} pages`, async () => {
    let served = 0;
    const host = await fake((req, res) => {
      served++;
      res.writeHead(200, { 'content-type': 'application/json', link: `</v2/endless/tags/list?n=1&last=t${served}>; rel="next"` })
        .end(JSON.stringify({ name: 'endless', tags: [`t${served}`] }));
    });
    await rejectsWith(listTags(input(`${host}/endless`, { pageSize: 1 })), 'RegistryError', new RegExp(`more than ${MAX_PAGES} pages of tags for endless`));
    assert.equal(served, MAX_PAGES);
  });

  it('refuses a next link to another origin', async () => {
    const host = await fake((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', link: '<http://127.0.0.2:1/v2/x/tags/list>; rel="next"' }).end('{"tags":["a"]}');
    });
    await rejectsWith(listTags(input(`${host}/x`)), 'RegistryError', /another origin \(http:\/\/127\.0\.0\.2:1\)/);
  });

  it('reports other statuses with the registry\'s error messages', async () => {
    const host = await fake((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAVAILABLE","message":"storage is read-only"},{"code":"X","message":"try later"}]}');
    });
    await rejectsWith(listTags(input(`${host}/x/y`)), 'RegistryError', new RegExp(`registry ${host} answered HTTP 503 listing the tags of ${host}/x/y: storage is read-only; try later`));
  });

  it('times out as Timeout', async () => {
    const host = await fake(() => { /* never answers */ });
    const started = Date.now();
    await rejectsWith(listTags(input(`${host}/slow`, { timeoutSeconds: 1 })), 'Timeout', new RegExp(`listing the tags of ${host}/slow timed out after 1s`));
    assert.ok(Date.now() - started < 5000);
  });

  it('never puts a credential in a message, even when the registry echoes it', async () => {
    const host = await fake((req, res) => {
      if (req.headers.authorization === undefined) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="echo"' }).end();
        return;
      }
      res.writeHead(500, { 'content-type': 'application/json' })
        .end(JSON.stringify({ errors: [{ code: 'X', message: `you sent ${req.headers.authorization} for ${PASSWORD}` }] }));
    });
    const err = await rejectsWith(listTags(input(`${host}/echo`, { credentials: { kind: 'basic', username: USER, password: PASSWORD } })), 'RegistryError', /you sent Basic \*\*\* for \*\*\*/,
      [PASSWORD, Buffer.from(`${USER}:${PASSWORD}`).toString('base64')]);
    assert.match(err.message, /HTTP 500/);
  });

  it('passes a caller\'s abort through', async () => {
    const host = await fake(() => { /* never answers */ });
    const controller = new AbortController();
    setTimeout(() => { controller.abort(new Error('activity cancelled')); }, 200);
    await assert.rejects(listTags(input(`${host}/slow`), { signal: controller.signal }), /activity cancelled/);
  });
});
