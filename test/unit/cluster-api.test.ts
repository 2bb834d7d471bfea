// The hub API's registration routes (hub/cluster-api.ts), on a real HTTP server over the
// directory store: what `flotilla cluster add|remove --hub` calls.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileArtifactStore } from '../../hub/artifact-store.js';
import { FileBlobStore } from '../../hub/blob-store.js';
import { clusterRoutes, type RevokeAnswer, type TokenAnswer } from '../../hub/cluster-api.js';
import { apiToken, startHubApi, type HubApi } from '../../hub/http-api.js';
import { RegistrationStore } from '../../hub/registration.js';

describe('hub API: clusters and registration tokens', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-cluster-api-'));
  const registration = new RegistrationStore(new FileBlobStore(dir));
  const tokenFile = join(dir, 'api-token');
  const token = apiToken(tokenFile);
  let api: HubApi | undefined;
  const url = (path: string): string => `${api?.url ?? ''}${path}`;
  const post = (path: string, body: unknown, bearer = token): Promise<Response> => fetch(url(path), {
    method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
  });

  before(async () => {
    api = await startHubApi('127.0.0.1:0', {
      info: { version: 'test', temporal: { address: 'x', namespace: 'default', taskQueue: 'q' }, grpc: 'x' },
      artifacts: new FileArtifactStore(join(dir, 'artifacts')), problems: () => [], tokenFile, routes: clusterRoutes(registration),
    });
  });
  after(async () => {
    await api?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('makes a token bound to a cluster, which registers that cluster only; revoke spends the rest', async () => {
    const res = await post('/api/v1/clusters/tokens', { cluster: 'edge-1', labels: { env: 'prod' }, ttlSeconds: 600 });
    assert.equal(res.status, 201);
    const made = (await res.json()) as TokenAnswer;
    assert.match(made.token, /^flt_reg_/);
    await assert.rejects(registration.register(made.token, 'edge-2'), /made for cluster "edge-1"/);
    const { labels } = await registration.register(made.token, 'edge-1', { tier: 'edge' });
    assert.deepEqual(labels, { env: 'prod', tier: 'edge' });
    const listed = (await (await fetch(url('/api/v1/clusters'))).json()) as { name: string; labels: Record<string, string> }[];
    assert.deepEqual(listed.map((c) => [c.name, c.labels]), [['edge-1', { env: 'prod', tier: 'edge' }]]);

    await post('/api/v1/clusters/tokens', { cluster: 'edge-1' });
    const revoked = (await (await post('/api/v1/clusters/edge-1/revoke', {})).json()) as RevokeAnswer;
    assert.deepEqual(revoked, { cluster: 'edge-1', revoked: true, tokensSpent: 1 });
    const again = (await (await post('/api/v1/clusters/edge-1/revoke', {})).json()) as RevokeAnswer;
    assert.deepEqual(again, { cluster: 'edge-1', revoked: false, tokensSpent: 0 }, 'nothing left to revoke');
  });

  it('refuses a request without the API token, and bad bodies naming the field', async () => {
    assert.equal((await post('/api/v1/clusters/tokens', {}, 'wrong')).status, 401);
    for (const [body, field] of [
      [{ cluster: 'Edge_1' }, /cluster: cluster must be a DNS label/],
      [{ labels: { 'bad key!': 'x' } }, /labels.*invalid label key/],
      [{ ttlSeconds: 0 }, /ttlSeconds/],
      [{ uses: 1.5 }, /uses/],
      [{ clsuter: 'x' }, /clsuter|unrecognized/i],
      ['{not json', /invalid token request/],
    ] as const) {
      const res = await post('/api/v1/clusters/tokens', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(((await res.json()) as { error: string }).error, field);
    }
    assert.equal((await registration.tokens()).length, 2, 'no token made by a refused request');
  });
});
