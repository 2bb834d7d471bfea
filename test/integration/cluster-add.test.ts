// `flotilla cluster add` / `cluster remove` end to end, against the real things: a hub process
// (HTTP API, gateway, Temporal workers) on a real Temporal server, one real kube-apiserver
// cluster, and the real helm binary installing deploy/charts/flotilla-agent. The cluster's
// pods never run (kwok nodes), so the installed configuration is proven by running the agent
// as a local process with exactly what the chart's Deployment gives it: its args, the token
// from the chart's Secret and the CA from the chart's ConfigMap.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { clusterStatusQuery, clusterWorkflowId } from '../../api/cluster.js';
import { bin } from '../../deploy/dev/binaries.js';
import { agentMain } from '../../deploy/dev/local-fleet.js';
import { ManagedProcess, waitFor } from '../../deploy/dev/processes.js';
import { FileBlobStore } from '../../hub/blob-store.js';
import { RegistrationStore } from '../../hub/registration.js';
import { TestFleet, type CliResult } from '../harness/fleet.js';
import { useEnvironment } from '../harness/index.js';

const run = promisify(execFile);
const NS = 'flotilla-system';
const state: { fleet?: TestFleet; agents: ManagedProcess[] } = { agents: [] };
const env = useEnvironment({ clusters: ['edge'] }, {
  afterStart: async (e) => {
    state.fleet = await TestFleet.create(e);
    await state.fleet.startHub();
  },
  beforeStop: async () => {
    for (const a of state.agents) await a.stop();
    await state.fleet?.stop();
  },
});

function fleet(): TestFleet {
  if (!state.fleet) throw new Error('fleet not started');
  return state.fleet;
}

const kubeconfig = (): string => env().cluster('edge').kubeconfigPath;
const hubToken = (): string => readFileSync(join(fleet().hubData, 'api-token'), 'utf8').trim();
const store = (): RegistrationStore => new RegistrationStore(new FileBlobStore(fleet().hubData));
const core = (): CoreV1Api => env().cluster('edge').kubeConfig().makeApiClient(CoreV1Api);

/** The CLI told about the hub only through its flags (none of the FLOTILLA_* discovery variables). */
async function flotilla(...args: string[]): Promise<CliResult> {
  return fleet().cliVia(args);
}

function addArgs(...extra: string[]): string[] {
  return ['cluster', 'add', 'edge', '--kubeconfig', kubeconfig(), '--hub', fleet().hubUrl, '--hub-token', hubToken(),
    '--labels', 'env=test', '--hub-address', fleet().hubAddress, ...extra];
}

function removeArgs(name = 'edge', kc = kubeconfig()): string[] {
  return ['cluster', 'remove', name, '--kubeconfig', kc, '--hub', fleet().hubUrl, '--hub-token', hubToken()];
}

function lines(r: CliResult): string[] {
  return r.stdout.split('\n').filter((l) => l !== '');
}

function ok(r: CliResult, what: string): void {
  assert.equal(r.code, 0, `${what}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}

/** The release's revision, or undefined when helm has none. */
async function helmRevision(): Promise<number | undefined> {
  try {
    const { stdout } = await run(bin('helm'), ['status', 'flotilla-agent', '-n', NS, '--kubeconfig', kubeconfig(), '-o', 'json']);
    return (JSON.parse(stdout) as { version: number }).version;
  } catch (err) {
    if (/release: not found/.test((err as { stderr?: string }).stderr ?? '')) return undefined;
    throw err;
  }
}

async function secretData(name: string, namespace = NS): Promise<Record<string, string> | undefined> {
  try {
    const s = await core().readNamespacedSecret({ name, namespace });
    return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

/** How the chart's Deployment runs the agent, resolved: container args and env, the CA's PEM. */
interface Deployed {
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly caPem: string;
  readonly caPath: string;
}

/**
 * Reads what the chart's Deployment gives the agent: its container's args and env, the token
 * from the Secret its env names, the CA from the ConfigMap its volume mounts.
 */
async function readDeployed(): Promise<Deployed> {
  const d = await env().cluster('edge').kubeConfig().makeApiClient(AppsV1Api).readNamespacedDeployment({ name: 'flotilla-agent', namespace: NS });
  const container = d.spec?.template.spec?.containers.find((c) => c.name === 'agent');
  assert.ok(container?.args, 'the Deployment has an agent container with args');
  const volume = d.spec?.template.spec?.volumes?.find((v) => v.name === 'hub-ca');
  const mount = container.volumeMounts?.find((m) => m.name === 'hub-ca');
  assert.ok(volume?.configMap?.name && mount, 'the hub CA comes from a ConfigMap mounted into the container');
  const cm = await core().readNamespacedConfigMap({ name: volume.configMap.name, namespace: NS });
  const key = volume.configMap.items?.[0];
  const caPem = cm.data?.[key?.key ?? 'ca.crt'];
  assert.ok(caPem, 'the ConfigMap holds the CA');
  const childEnv: Record<string, string> = {};
  for (const e of container.env ?? []) {
    if (e.value !== undefined) childEnv[e.name] = e.value;
    const ref = e.valueFrom?.secretKeyRef;
    if (ref) {
      const value = (await secretData(ref.name ?? ''))?.[ref.key];
      assert.ok(value !== undefined || ref.optional, `Secret ${ref.name ?? ''} has ${ref.key}`);
      if (value !== undefined) childEnv[e.name] = value;
    }
  }
  return { args: container.args, env: childEnv, caPem, caPath: `${mount.mountPath}/${key?.path ?? 'ca.crt'}` };
}

/**
 * Starts the agent as a local process with what the Deployment gives it. What differs is
 * what a pod has and this machine has not: the CA is a file here rather than a mount, the API
 * server is reached with the cluster's kubeconfig rather than the ServiceAccount's token, and
 * the HTTP server takes a free loopback port rather than 0.0.0.0:8080.
 */
function startAgentAsDeployed(deployed: Deployed, name: string, overrides: { namespace?: string } = {}): ManagedProcess {
  const caFile = join(fleet().dir, `${name}-hub-ca.crt`);
  writeFileSync(caFile, deployed.caPem);
  const args = [...deployed.args];
  const set = (flag: string, expected: string | undefined, value: string): void => {
    const i = args.indexOf(flag);
    assert.ok(i >= 0 && i + 1 < args.length, `the Deployment passes ${flag}`);
    if (expected !== undefined) assert.equal(args[i + 1], expected);
    args[i + 1] = value;
  };
  set('--hub-ca', deployed.caPath, caFile);
  set('--http', undefined, '127.0.0.1:0');
  if (overrides.namespace) set('--namespace', NS, overrides.namespace);
  args.push('--kubeconfig', kubeconfig());
  const agent = ManagedProcess.start({
    name: `agent[${name}]`, command: process.execPath, args: [agentMain, ...args], logFile: join(fleet().dir, `${name}.log`),
    env: { ...process.env, ...deployed.env },
  });
  state.agents.push(agent);
  return agent;
}

describe('flotilla cluster add / remove', () => {
  let deployed: Deployed | undefined;
  let credential: string | undefined;
  let firstAgent: ManagedProcess | undefined;

  it('refuses a kubeconfig that is not there, a context it lacks and a wrong hub API token, changing nothing', async () => {
    const missing = await flotilla('cluster', 'add', 'edge', '--kubeconfig', '/nonexistent/kubeconfig', '--hub', fleet().hubUrl, '--hub-token', hubToken());
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /--kubeconfig \/nonexistent\/kubeconfig: no such file/);

    const context = await flotilla(...addArgs('--context', 'nowhere'));
    assert.equal(context.code, 2, context.stderr);
    assert.match(context.stderr, /--context nowhere is not in .*kubeconfig \(its contexts: edge\)/);

    const wrong = await flotilla('cluster', 'token', 'create', '--hub', fleet().hubUrl, '--hub-token', 'not-the-token');
    assert.equal(wrong.code, 1, wrong.stderr);
    assert.match(wrong.stderr, /refused the API token \(HTTP 401\).*api-token/);
    assert.equal(wrong.stdout, '');

    const add = await flotilla('cluster', 'add', 'edge', '--kubeconfig', kubeconfig(), '--hub', fleet().hubUrl, '--hub-token', 'not-the-token', '--hub-address', fleet().hubAddress);
    assert.equal(add.code, 1, add.stderr);
    assert.match(add.stderr, /refused the API token/);

    const unreachableHub = await flotilla('cluster', 'add', 'edge', '--kubeconfig', kubeconfig(), '--hub', 'http://127.0.0.1:1', '--hub-token', 'x');
    assert.equal(unreachableHub.code, 1, unreachableHub.stderr);
    assert.match(unreachableHub.stderr, /cannot reach the hub API at http:\/\/127\.0\.0\.1:1/);

    assert.equal(await helmRevision(), undefined, 'nothing was installed');
    assert.equal((await store().tokens()).length, 0, 'no token was made');
  });

  it('add makes a token bound to the cluster and installs the agent chart with it', async () => {
    const r = await flotilla(...addArgs());
    ok(r, 'cluster add');
    const out = lines(r);
    assert.equal(out.length, 3, r.stdout);
    assert.match(out[0] ?? '', /^cluster edge: token created \(id [0-9a-f]{12}, expires \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\)$/);
    assert.equal(out[1], 'cluster edge: release flotilla-agent installed in flotilla-system (revision 1)');
    assert.equal(out[2], 'cluster edge: labels set: env=test');
    assert.doesNotMatch(r.stdout + r.stderr, /flt_reg_/, 'the token is never printed');

    // The hub: one token, bound to edge, carrying env=test, not used yet.
    const tokens = await store().tokens();
    assert.equal(tokens.length, 1);
    const [token] = tokens;
    assert.ok(token);
    assert.equal(token.cluster, 'edge');
    assert.deepEqual(token.labels, { env: 'test' });
    assert.equal(token.usesLeft, 1);
    assert.ok(out[0]?.includes(`id ${token.id},`), 'the reported id is the token\'s');

    // The cluster: the release's objects, with that token and the hub's CA.
    assert.equal(await helmRevision(), 1);
    const apps = env().cluster('edge').kubeConfig().makeApiClient(AppsV1Api);
    const deployment = await apps.readNamespacedDeployment({ name: 'flotilla-agent', namespace: NS });
    const container = deployment.spec?.template.spec?.containers[0];
    const args = container?.args ?? [];
    const arg = (flag: string): string | undefined => args[args.indexOf(flag) + 1];
    assert.equal(arg('--hub'), fleet().hubAddress);
    assert.equal(arg('--cluster'), 'edge');
    assert.equal(arg('--labels'), 'env=test');
    assert.equal(arg('--namespace'), NS);
    assert.equal(deployment.spec?.template.spec?.serviceAccountName, 'flotilla-agent');
    assert.equal(deployment.spec.template.metadata?.annotations?.['flotilla.dev/registration-token'], token.id, 'a new token restarts the pod');
    const sa = await core().readNamespacedServiceAccount({ name: 'flotilla-agent', namespace: NS });
    assert.equal(sa.metadata?.labels?.['flotilla.dev/cluster'], 'edge');
    const tokenSecret = await secretData('flotilla-agent-token');
    const tokenValue = tokenSecret?.token ?? '';
    assert.ok(tokenValue.startsWith('flt_reg_'), 'the Secret holds a registration token');
    assert.equal(sha256(tokenValue), token.hash, 'the Secret holds the token the hub made');
    const ca = await core().readNamespacedConfigMap({ name: 'flotilla-agent-hub-ca', namespace: NS });
    assert.equal(ca.data?.['ca.crt']?.trim(), readFileSync(join(fleet().hubData, 'tls', 'hub.crt'), 'utf8').trim(), 'the CA is the hub\'s gateway certificate');
  });

  it('add again changes nothing: no new token, no new revision', async () => {
    const r = await flotilla(...addArgs('--context', 'edge'));
    ok(r, 'cluster add (again)');
    assert.equal(r.stdout, 'cluster edge: unchanged\n');
    assert.equal(await helmRevision(), 1);
    assert.equal((await store().tokens()).length, 1);

    // --dry-run with a changed value says what would change, and changes nothing.
    const dry = await flotilla(...addArgs('--set', 'driftInterval=30', '--dry-run'));
    ok(dry, 'cluster add --dry-run');
    assert.equal(dry.stdout, 'cluster edge: release flotilla-agent upgraded in flotilla-system (revision 2): Deployment/flotilla-agent configured (dry run)\n');
    assert.equal(await helmRevision(), 1);
    assert.equal((await store().tokens()).length, 1);
  });

  it('the installed configuration connects the agent to the hub, with the token\'s labels', async () => {
    deployed = await readDeployed();
    assert.equal(deployed.env.FLOTILLA_TOKEN?.startsWith('flt_reg_'), true, 'the token reaches the agent from the chart\'s Secret');
    const agent = startAgentAsDeployed(deployed, 'agent-edge');
    firstAgent = agent;
    await fleet().waitForConnected('edge', agent);
    const status = await fleet().client.workflow.getHandle(clusterWorkflowId('edge')).query(clusterStatusQuery);
    assert.equal(status.connection, 'Connected');
    assert.deepEqual(status.labels, { env: 'test' });
    const list = await flotilla('cluster', 'list', '--hub', fleet().hubUrl);
    ok(list, 'cluster list');
    assert.match(list.stdout, /^edge\s+registered\s+\S+\s+env=test$/m);
    credential = (await secretData('flotilla-agent-credential'))?.credential;
    assert.ok(credential?.startsWith('flt_cred_'), 'the agent keeps its credential in the cluster');

    // Registered now: the token in the release is spent but kept, so nothing changes.
    const again = await flotilla(...addArgs());
    ok(again, 'cluster add (registered)');
    assert.equal(again.stdout, 'cluster edge: unchanged\n');
    assert.equal((await store().tokens()).length, 1);

    // A changed value upgrades the release, still without a new token.
    const upgrade = await flotilla(...addArgs('--set', 'driftInterval=30'));
    ok(upgrade, 'cluster add --set');
    assert.equal(upgrade.stdout, 'cluster edge: release flotilla-agent upgraded in flotilla-system (revision 2): Deployment/flotilla-agent configured\n');
    assert.equal(await helmRevision(), 2);
    assert.equal((await store().tokens()).length, 1);
    const same = await flotilla(...addArgs('--set', 'driftInterval=30'));
    assert.equal(same.stdout, 'cluster edge: unchanged\n');
  });

  it('remove uninstalls the release, deletes the credential and revokes the cluster on the hub', async () => {
    const r = await flotilla(...removeArgs());
    ok(r, 'cluster remove');
    assert.deepEqual(lines(r), [
      'cluster edge: release flotilla-agent uninstalled from flotilla-system',
      'cluster edge: Secret flotilla-system/flotilla-agent-credential deleted',
      `cluster edge: credential revoked on the hub at ${fleet().hubUrl}`,
    ]);
    await firstAgent?.stop(); // helm uninstall ends the agent's pod; this agent plays that pod
    assert.equal(await helmRevision(), undefined);
    assert.equal(await secretData('flotilla-agent-credential'), undefined);
    const apps = env().cluster('edge').kubeConfig().makeApiClient(AppsV1Api);
    await assert.rejects(apps.readNamespacedDeployment({ name: 'flotilla-agent', namespace: NS }), (err: { code?: number }) => err.code === 404);
    const list = await flotilla('cluster', 'list', '--hub', fleet().hubUrl);
    assert.match(list.stdout, /^edge\s+revoked\s+/m);

    // The agent, back with its old credential (kept elsewhere), is refused by the hub.
    assert.ok(credential);
    await core().createNamespace({ body: { metadata: { name: 'flotilla-old' } } });
    await core().createNamespacedSecret({ namespace: 'flotilla-old', body: {
      metadata: { name: 'flotilla-agent-credential' }, data: { credential: Buffer.from(credential).toString('base64') },
    } });
    assert.ok(deployed);
    const old = startAgentAsDeployed(deployed, 'agent-old', { namespace: 'flotilla-old' });
    await waitFor('the revoked agent is refused', () => Promise.resolve(
      readFileSync(old.spec.logFile, 'utf8').includes('the credential of cluster \\"edge\\" was revoked') ? true : undefined,
    ), { timeoutMs: 30_000, process: old });
    await old.stop();

    const again = await flotilla(...removeArgs());
    ok(again, 'cluster remove (again)');
    assert.equal(again.stdout, 'cluster edge: nothing to remove\n');
  });

  it('add after a revocation replaces the stale credential, and the cluster joins again', async () => {
    // As after `flotilla cluster revoke edge` alone: the agent's credential is still in the cluster.
    assert.ok(credential);
    await core().createNamespacedSecret({ namespace: NS, body: {
      metadata: { name: 'flotilla-agent-credential' }, data: { credential: Buffer.from(credential).toString('base64') },
    } });
    const r = await flotilla(...addArgs());
    ok(r, 'cluster add (after revoke)');
    const out = lines(r);
    assert.equal(out[0], 'cluster edge: stale credential Secret flotilla-system/flotilla-agent-credential deleted (its registration was revoked)');
    assert.match(out[1] ?? '', /^cluster edge: token created \(id [0-9a-f]{12}, /);
    assert.deepEqual(out.slice(2), ['cluster edge: release flotilla-agent installed in flotilla-system (revision 1)', 'cluster edge: labels set: env=test']);
    assert.equal((await store().tokens()).length, 2);

    const agent = startAgentAsDeployed(await readDeployed(), 'agent-edge-again');
    await fleet().waitForConnected('edge', agent);
    const list = await flotilla('cluster', 'list', '--hub', fleet().hubUrl);
    assert.match(list.stdout, /^edge\s+registered\s+\S+\s+env=test$/m);
    const again = await flotilla(...addArgs());
    assert.equal(again.stdout, 'cluster edge: unchanged\n');
    await agent.stop();
  });

  it('remove of an unreachable cluster still revokes it on the hub, says how to clean up, exits 1', async () => {
    const made = await flotilla('cluster', 'token', 'create', '--cluster', 'lost', '--hub', fleet().hubUrl, '--hub-token', hubToken());
    ok(made, 'token create --cluster lost');
    await store().register(made.stdout.trim(), 'lost');
    const broken = join(fleet().dir, 'unreachable.kubeconfig');
    writeFileSync(broken, readFileSync(kubeconfig(), 'utf8').replace(/server: \S+/, 'server: https://127.0.0.1:1'));
    const r = await flotilla(...removeArgs('lost', broken));
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(lines(r), [`cluster lost: credential revoked on the hub at ${fleet().hubUrl}`]);
    assert.match(r.stderr, /cluster lost: the in-cluster objects could not be removed: .*127\.0\.0\.1:1/);
    assert.match(r.stderr, /helm uninstall flotilla-agent -n flotilla-system --kubeconfig \S+unreachable\.kubeconfig/);
    assert.match(r.stderr, /kubectl delete secret flotilla-agent-credential -n flotilla-system/);
    assert.ok((await store().clusters()).find((c) => c.name === 'lost')?.revokedAt !== undefined, 'revoked on the hub');
  });
});
