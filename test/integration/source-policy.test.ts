// The source policy and the one scrubber, end to end (issue #24, "What must be shown"):
//   - redirects: a real HTTP server on loopback (allowed by the test fleet's policy) that
//     redirects a Helm index fetch to 169.254.169.254, or a git fetch anywhere, is refused with
//     the policy named; a redirect to another allowed origin gets no credentials;
//   - canaries: a real hub process (and its Temporal) reconciles GitRepositories whose
//     Secret holds a canary username and password, failing in four ways (refused by the
//     policy, 401, unreachable, unsupported scheme), with an Alert to a recording server; the
//     canaries then appear in none of: the hub's log, the workflow histories (every workflow
//     of the namespace), the statuses, `flotilla events` / `get sources`, the notification
//     payloads, and `flotilla apply`'s own refusal.
// Bounds are generous (the machine is shared and slow): each wait is 90-120 s; a failing
// GitRepository reports within a few seconds on an idle machine.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { isReady } from '../../core/conditions.js';
import { parseDeclarations } from '../../core/declarations/parse.js';
import type { GitRepositoryDeclaration } from '../../core/declarations/types.js';
import { DEV_SOURCE_POLICY } from '../../deploy/dev/source-policy.js';
import { waitFor } from '../../deploy/dev/processes.js';
import { fetchHelmIndex } from '../../activities/helm-chart.js';
import { fetchGitRepository } from '../../activities/git-source.js';
import { FileArtifactStore } from '../../hub/artifact-store.js';
import { useFleet } from '../harness/fleet.js';
import { RecordingServer } from '../harness/recording-server.js';

const CANARY_USER = 'canary-user-7d1f0a';
const CANARY_PASSWORD = 'canary-pw-93b2e4';
const CANARY_URL_PASSWORD = 'canary-urlpw-4c8e51';
const CANARIES = [CANARY_USER, CANARY_PASSWORD, CANARY_URL_PASSWORD, Buffer.from(`${CANARY_USER}:${CANARY_PASSWORD}`).toString('base64')];

interface Listening { readonly server: Server; readonly origin: string }

async function listen(handler: (url: string, headers: IncomingHttpHeaders, res: import('node:http').ServerResponse) => void): Promise<Listening> {
  const server = createServer((req, res) => { handler(req.url ?? '', req.headers, res); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

// One hub (and its Temporal) for the file, no clusters: the sources are the hub's business.
const { fleet, dir } = useFleet({}, 'flotilla-sources-');

const servers: Server[] = [];
after(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
});

describe('redirects are checked on every hop', () => {
  const seen: { url: string; authorization?: string }[] = [];
  let redirector: Listening;
  let other: Listening;

  before(async () => {
    other = await listen((url, headers, res) => {
      seen.push({ url, ...(headers.authorization !== undefined ? { authorization: headers.authorization } : {}) });
      res.writeHead(200, { 'content-type': 'text/yaml' }).end('apiVersion: v1\nentries: {}\n');
    });
    redirector = await listen((url, headers, res) => {
      seen.push({ url, ...(headers.authorization !== undefined ? { authorization: headers.authorization } : {}) });
      if (url.startsWith('/metadata/')) res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/index.yaml' }).end();
      else if (url.startsWith('/other/')) res.writeHead(307, { location: `${other.origin}/charts/index.yaml` }).end();
      else if (url.startsWith('/git/')) res.writeHead(302, { location: 'http://169.254.169.254/repo.git/info/refs?service=git-upload-pack' }).end();
      else res.writeHead(404).end();
    });
    servers.push(redirector.server, other.server);
  });

  it('a Helm index redirected from an allowed loopback server to 169.254.169.254 is refused, naming the policy', async () => {
    const err = await fetchHelmIndex(`${redirector.origin}/metadata/`, { username: CANARY_USER, password: CANARY_PASSWORD },
      { policy: DEV_SOURCE_POLICY, what: 'HelmRepository/flux-system/evil spec.url' }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof Error);
    assert.equal(err.message,
      `HelmRepository/flux-system/evil spec.url (redirected to http://169.254.169.254/latest/meta-data/index.yaml): http://169.254.169.254/latest/meta-data/index.yaml `
      + 'is 169.254.169.254, a link-local (cloud metadata) address, refused by the source policy (sources.allowPrivateNetworks); '
      + 'add 169.254.169.254 or its range to sources.allowHosts if this is intended');
    for (const c of CANARIES) assert.ok(!err.message.includes(c), c);
  });

  it('a redirect to another origin (allowed) is followed without the credentials', async () => {
    seen.length = 0;
    const { index } = await fetchHelmIndex(`${redirector.origin}/other/`, { username: CANARY_USER, password: CANARY_PASSWORD }, { policy: DEV_SOURCE_POLICY });
    assert.deepEqual(index.entries, {});
    assert.equal(seen.length, 2);
    assert.equal(seen[0]?.authorization, `Basic ${Buffer.from(`${CANARY_USER}:${CANARY_PASSWORD}`).toString('base64')}`, 'the repository itself gets them');
    assert.deepEqual(seen[1], { url: '/charts/index.yaml' }, 'the other origin gets no Authorization');
  });

  it('git does not follow a redirect (http.followRedirects=false), so it never reaches 169.254.169.254', async () => {
    const work = join(dir(), 'git-redirect');
    const err = await fetchGitRepository({
      id: 'gitrepository/flux-system/redirected',
      spec: { ...gitSpec(`${redirector.origin}/git/repo.git`), timeoutSeconds: 20 },
      credentials: { kind: 'basic', username: CANARY_USER, password: CANARY_PASSWORD },
    }, { workDir: join(work, 'work'), artifacts: new FileArtifactStore(join(work, 'artifacts')), policy: DEV_SOURCE_POLICY }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof Error);
    assert.match(err.message, /cannot fetch branch "main" from http:\/\/127\.0\.0\.1:\d+\/git\/repo\.git: .*(redirect|302)/i);
    for (const c of CANARIES) assert.ok(!err.message.includes(c), c);
  });
});

// ---------------------------------------------------------------------------------------
// Canaries across every sink of a real hub


function gitSpec(url: string): GitRepositoryDeclaration['spec'] {
  return { url, intervalSeconds: 3600, timeoutSeconds: 20, ref: { branch: 'main' }, include: [], suspend: false, secretRef: 'canary-creds' };
}

/** A GitRepository declaration as the parser makes it, then given `url` (the hub must hold its ground even when the parser was bypassed). */
function gitRepository(name: string, url: string): GitRepositoryDeclaration {
  const parsed = parseDeclarations(stringify({
    apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name, namespace: 'flux-system' },
    spec: { interval: '1h', timeout: '20s', url: 'https://example.com/placeholder.git', ref: { branch: 'main' }, secretRef: { name: 'canary-creds' } },
  }), `${name}.yaml`);
  const d = parsed.declarations[0];
  assert.ok(d && d.kind === 'GitRepository', JSON.stringify(parsed.errors));
  return { ...d, spec: { ...d.spec, url } };
}

/** The text of a workflow's history, payloads decoded (JSON.stringify alone would print their bytes as numbers). */
function historyText(history: unknown): string {
  return JSON.stringify(history, (_k, v: unknown) => {
    if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
    if (typeof v === 'object' && v !== null && 'type' in v && 'data' in v && v.type === 'Buffer' && Array.isArray(v.data)) {
      return Buffer.from(v.data.filter((x): x is number => typeof x === 'number')).toString('utf8');
    }
    return v;
  });
}

describe('canary credentials appear in no sink', () => {
  const alerts = new RecordingServer();
  let unauthorized: Listening;
  let closedPort = 0;

  before(async () => {
    await alerts.start();
    unauthorized = await listen((_url, _headers, res) => { res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"' }).end(`denied ${CANARY_USER}`); });
    servers.push(unauthorized.server);
    const closed = await listen(() => undefined);
    closedPort = Number(new URL(closed.origin).port);
    await new Promise((resolve) => closed.server.close(resolve));
  });
  after(async () => { await alerts.stop(); });

  it('flotilla apply refuses a GitRepository to the metadata address before anything is applied, without the password', async () => {
    const file = join(dir(), 'metadata.yaml');
    await writeFile(file, stringify({
      apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'metadata', namespace: 'flux-system' },
      spec: { interval: '1h', url: `https://${CANARY_USER}:${CANARY_URL_PASSWORD}@169.254.169.254/latest/meta-data`, ref: { branch: 'main' } },
    }));
    const r = await fleet().cli('apply', '-f', file);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /nothing applied; the hub's source policy refuses:\n {2}GitRepository\/flux-system\/metadata spec\.url: https:\/\/\*\*\*@169\.254\.169\.254\/latest\/meta-data is 169\.254\.169\.254, a link-local \(cloud metadata\) address, refused by the source policy \(sources\.allowPrivateNetworks\)/);
    for (const c of CANARIES) assert.ok(!(r.stdout + r.stderr).includes(c), c);
    assert.equal(await fleet().declarations.plan(gitRepository('metadata', 'https://example.com/x.git')), 'created', 'nothing was applied');
  });

  it('four failing GitRepositories: each fails with a clear reason, and no canary reaches a log, history, status, event or notification', async () => {
    const setup = join(dir(), 'setup.yaml');
    await writeFile(setup, [
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'canary-creds', namespace: 'flux-system' }, stringData: { username: CANARY_USER, password: CANARY_PASSWORD } },
      { apiVersion: 'notification.toolkit.fluxcd.io/v1beta3', kind: 'Provider', metadata: { name: 'rec', namespace: 'flux-system' }, spec: { type: 'generic', address: `${alerts.origin}/hook` } },
      { apiVersion: 'notification.toolkit.fluxcd.io/v1beta3', kind: 'Alert', metadata: { name: 'sources', namespace: 'flux-system' },
        spec: { providerRef: { name: 'rec' }, eventSeverity: 'error', eventSources: [{ kind: 'GitRepository', name: '*' }] } },
    ].map((o) => stringify(o)).join('---\n'));
    const applied = await fleet().cli('apply', '-f', setup);
    assert.equal(applied.code, 0, applied.stdout + applied.stderr);

    // Applied past the CLI (as a declaration that slipped through): the hub's fetch-time check stands alone.
    const cases: readonly { name: string; url: string; message: RegExp }[] = [
      { name: 'policy', url: `https://${CANARY_USER}:${CANARY_URL_PASSWORD}@169.254.169.254/repo.git`,
        message: /^SourcePolicyRefused: GitRepository\/flux-system\/policy spec\.url: https:\/\/\*\*\*@169\.254\.169\.254\/repo\.git is 169\.254\.169\.254, a link-local \(cloud metadata\) address, refused by the source policy \(sources\.allowPrivateNetworks\)/ },
      { name: 'unauthorized', url: `${unauthorized.origin}/repo.git`, message: /^AuthenticationFailed: cannot fetch branch "main" from http:\/\/127\.0\.0\.1:\d+\/repo\.git: .*(401|Authentication failed|could not read Username)/i },
      { name: 'unreachable', url: `http://${CANARY_USER}:${CANARY_URL_PASSWORD}@127.0.0.1:${closedPort}/repo.git`,
        message: /from http:\/\/\*\*\*@127\.0\.0\.1:\d+\/repo\.git: .*(Failed to connect|Connection refused|couldn't connect)/i },
      { name: 'scheme', url: `ftp://${CANARY_USER}:${CANARY_URL_PASSWORD}@example.com/repo.git`,
        message: /unsupported git URL scheme "ftp:" in ftp:\/\/\*\*\*@example\.com\/repo\.git|uses the scheme ftp:\/\/, which is not allowed/ },
    ];
    for (const c of cases) await fleet().declarations.apply(gitRepository(c.name, c.url));

    const statuses: string[] = [];
    for (const c of cases) {
      const id = `gitrepository/flux-system/${c.name}`;
      const status = await waitFor(`${id} to fail`, async () => {
        const s = await fleet().status(id).catch(() => undefined);
        if (s?.kind !== 'GitRepository') return undefined;
        const ready = s.status.conditions.find((x) => x.type === 'Ready');
        return ready?.status === 'False' && !isReady(s.status.conditions) ? s : undefined;
      }, { timeoutMs: 120_000, intervalMs: 500 });
      const ready = status.status.conditions.find((x) => x.type === 'Ready');
      assert.match(`${ready?.reason ?? ''}: ${ready?.message ?? ''}`, c.message, `${id}: ${JSON.stringify(status.status)}`);
      // The status as the CLI and the dashboard get it; the declaration's own spec.url is the user's input, kept as given (as Flux keeps a custom resource's spec).
      statuses.push(JSON.stringify(status.status));
    }
    // Every failure is an error event for the Alert; wait until the recording server has them all.
    await waitFor('the Alert to deliver the four failures', () => Promise.resolve(
      cases.every((c) => alerts.received.some((r) => r.body.includes(`"name":"${c.name}"`))) ? true : undefined), { timeoutMs: 90_000 });

    const notifications = alerts.received.map((r) => `${JSON.stringify(r.headers)} ${r.url} ${r.body}`).join('\n');
    const sinks: Record<string, string> = { statuses: statuses.join('\n'), notifications };
    const cli = await Promise.all([fleet().cli('events'), fleet().cli('get', 'sources', '-A')]);
    sinks.cli = cli.map((r) => r.stdout + r.stderr).join('\n');
    assert.match(sinks.cli, /policy|unauthorized|unreachable|scheme/);
    const logs = (await readdir(fleet().dir)).filter((f) => f.endsWith('.log'));
    assert.ok(logs.some((f) => f.startsWith('hub-')), `a hub log among ${logs.join(', ')}`);
    sinks.logs = (await Promise.all(logs.map((f) => readFile(join(fleet().dir, f), 'utf8')))).join('\n');
    assert.match(sinks.logs, /"hub ready"/, 'the hub log was read');
    const events = join(fleet().hubData, 'events.jsonl');
    sinks.eventsFile = await readFile(events, 'utf8').catch(() => '');

    // Every workflow of the namespace: the actors, the notifications workflow, the clusters.
    const ids: string[] = [];
    for await (const w of fleet().client.workflow.list()) ids.push(w.workflowId);
    assert.ok(ids.includes('gitrepository/flux-system/policy') && ids.length >= 5, ids.join(', '));
    const histories: string[] = [];
    for (const id of [...new Set(ids)]) histories.push(historyText(await fleet().client.workflow.getHandle(id).fetchHistory()));
    // A declaration's own spec.url is in its own history (as it is in a Flux custom resource); nothing else may repeat the password.
    sinks.histories = histories.join('\n').split(JSON.stringify(cases[0]?.url).slice(1, -1)).join('<declared url>')
      .split(`http://${CANARY_USER}:${CANARY_URL_PASSWORD}@127.0.0.1:${closedPort}/repo.git`).join('<declared url>')
      .split(`ftp://${CANARY_USER}:${CANARY_URL_PASSWORD}@example.com/repo.git`).join('<declared url>');
    assert.match(sinks.histories, /refused by the source policy \(sources\.allowPrivateNetworks\)/, 'the failures are in the histories');

    for (const [sink, text] of Object.entries(sinks)) {
      for (const canary of CANARIES) assert.ok(!text.includes(canary), `${canary} found in ${sink}: …${text.slice(Math.max(0, text.indexOf(canary) - 200), text.indexOf(canary) + 100)}…`);
    }
    // The sinks were not empty: the test could have failed.
    assert.ok(notifications.includes('refused by the source policy'), notifications.slice(0, 500));
  });
});
