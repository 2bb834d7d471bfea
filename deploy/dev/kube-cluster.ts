// One local Kubernetes cluster made of real upstream components: kube-apiserver,
// kube-controller-manager and kube-scheduler (built from Go modules by
// scripts/install-infra.sh), on a shared etcd, with kwok standing in for kubelets so that
// pods are "run" by a simulated node and Deployments really roll out.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { bin, resolveInRepo } from './binaries.js';
import { freePorts } from './ports.js';
import { ManagedProcess, waitFor } from './processes.js';

export interface KubeCluster {
  readonly name: string;
  /** https://127.0.0.1:<port> */
  readonly server: string;
  /** Admin kubeconfig (system:masters), usable by kubectl and @kubernetes/client-node. */
  readonly kubeconfigPath: string;
  readonly dir: string;
  readonly processes: readonly ManagedProcess[];
  /** A KubeConfig for this cluster's admin user. */
  kubeConfig(): KubeConfig;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  readonly name: string;
  /** Directory for this cluster's certificates, kubeconfig and logs. */
  readonly dir: string;
  readonly etcdEndpoint: string;
  /** Number of simulated nodes (default 1). */
  readonly nodes?: number;
  readonly detached?: boolean;
  /**
   * The controller-manager's --node-monitor-grace-period: how long a node may go without a
   * heartbeat (Lease renewal or Ready condition) before it is marked NotReady. Default
   * NODE_MONITOR_GRACE_PERIOD_SECONDS; tests shorten it to prove the heartbeats.
   */
  readonly nodeMonitorGracePeriodSeconds?: number;
}

const NODE_LABEL = 'type=kwok';

/**
 * kwok renews each node's Lease in kube-node-lease every quarter of this (10 s), as a kubelet
 * does with its default 40 s lease; kwokctl passes the same flag and value
 * (sigs.k8s.io/kwok v0.7.0 pkg/kwokctl/components/kwok_controller.go). Without it kwok
 * renews no Lease at all.
 */
export const NODE_LEASE_DURATION_SECONDS = 40;

/**
 * Upstream's default is 40 s (one lease duration). The nodes heartbeat through their Lease
 * every 10 s, so 2 minutes tolerates a dozen missed renewals: on the busy 2-core CI machine a
 * renewal can lag by seconds, and a node marked NotReady marks every pod on it not ready (the
 * pod-ready-again stage recovers them, but a rollout's health check could see it meanwhile). It
 * used to be 5m to hide the missing heartbeats (kwok renewed no Lease and refreshed the Ready
 * condition only every ~10 minutes, see deploy/dev/kwok/stages.yaml); a shorter period shows a
 * heartbeat regression within minutes instead of letting it pass for a demo-length while.
 */
export const NODE_MONITOR_GRACE_PERIOD_SECONDS = 120;

export async function startCluster(opts: ClusterOptions): Promise<KubeCluster> {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(opts.name)) {
    throw new Error(`cluster name "${opts.name}" must be a DNS label (lowercase letters, digits, '-')`);
  }
  const dir = opts.dir;
  const certDir = join(dir, 'pki');
  mkdirSync(certDir, { recursive: true });
  const [apiPort, kwokPort] = await freePorts(2);
  if (apiPort === undefined || kwokPort === undefined) throw new Error('no free ports for the cluster');
  const server = `https://127.0.0.1:${apiPort}`;
  const detached = opts.detached ?? false;
  const nodeMonitorGracePeriodSeconds = opts.nodeMonitorGracePeriodSeconds ?? NODE_MONITOR_GRACE_PERIOD_SECONDS;
  if (!Number.isInteger(nodeMonitorGracePeriodSeconds) || nodeMonitorGracePeriodSeconds <= 0) {
    throw new Error(`nodeMonitorGracePeriodSeconds must be a positive integer, got ${nodeMonitorGracePeriodSeconds}`);
  }

  // Service-account signing key and a static admin token: enough identity for a test cluster.
  const saKey = join(certDir, 'sa.key');
  const saPub = join(certDir, 'sa.pub');
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(saKey, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(saPub, publicKey.export({ type: 'spki', format: 'pem' }));
  const token = randomBytes(24).toString('hex');
  const tokenFile = join(certDir, 'tokens.csv');
  writeFileSync(tokenFile, `${token},admin,admin,"system:masters"\n`, { mode: 0o600 });

  const processes: ManagedProcess[] = [];
  const stopAll = async (): Promise<void> => {
    for (const p of [...processes].reverse()) await p.stop();
  };

  try {
    const apiserver = ManagedProcess.start({
      name: `kube-apiserver[${opts.name}]`,
      command: bin('kube'),
      args: [
        'apiserver',
        `--etcd-servers=${opts.etcdEndpoint}`,
        `--etcd-prefix=/clusters/${opts.name}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${apiPort}`,
        `--cert-dir=${certDir}`,
        `--token-auth-file=${tokenFile}`,
        '--authorization-mode=Node,RBAC',
        `--service-account-issuer=https://kubernetes.default.svc.cluster.local`,
        `--service-account-key-file=${saPub}`,
        `--service-account-signing-key-file=${saKey}`,
        '--service-cluster-ip-range=10.96.0.0/16',
        '--allow-privileged=true',
        '--enable-priority-and-fairness=false',
        '--profiling=false',
        '--v=0',
      ],
      logFile: join(dir, 'kube-apiserver.log'),
      detached,
    });
    processes.push(apiserver);
    await waitFor(`kube-apiserver[${opts.name}] /readyz`, () => probeReady(server, token), {
      timeoutMs: 90_000,
      intervalMs: 250,
      process: apiserver,
    });

    // The apiserver wrote a self-signed serving certificate together with its CA; trusting
    // that bundle gives clients real TLS verification without a separate PKI.
    const caPem = readFileSync(join(certDir, 'apiserver.crt'));
    const kubeconfigPath = join(dir, 'kubeconfig');
    writeFileSync(kubeconfigPath, kubeconfigYaml(opts.name, server, caPem, token), { mode: 0o600 });

    const common = [`--kubeconfig=${kubeconfigPath}`, '--leader-elect=false', '--secure-port=0', '--v=0'];
    processes.push(ManagedProcess.start({
      name: `kube-controller-manager[${opts.name}]`,
      command: bin('kube'),
      args: [
        'controller-manager', ...common,
        `--service-account-private-key-file=${saKey}`,
        `--root-ca-file=${join(certDir, 'apiserver.crt')}`,
        '--use-service-account-credentials=false',
        '--cluster-name=' + opts.name,
        // No cloud and no real nodes: skip controllers that would only log errors.
        '--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-route,-persistentvolume-binder,-attachdetach,-persistentvolume-expander,-ephemeral-volume,-pvc-protection,-pv-protection',
        // See NODE_MONITOR_GRACE_PERIOD_SECONDS for the choice of the default.
        `--node-monitor-grace-period=${nodeMonitorGracePeriodSeconds}s`,
        // The default client limit (20 qps) makes 1,000-object fleets take minutes to settle.
        '--kube-api-qps=300',
        '--kube-api-burst=600',
        '--concurrent-deployment-syncs=10',
        '--concurrent-replicaset-syncs=10',
      ],
      logFile: join(dir, 'kube-controller-manager.log'),
      detached,
    }));
    processes.push(ManagedProcess.start({
      name: `kube-scheduler[${opts.name}]`,
      command: bin('kube'),
      args: ['scheduler', ...common, '--kube-api-qps=300', '--kube-api-burst=600'],
      logFile: join(dir, 'kube-scheduler.log'),
      detached,
    }));
    processes.push(ManagedProcess.start({
      name: `kwok[${opts.name}]`,
      command: bin('kwok'),
      args: [
        `--kubeconfig=${kubeconfigPath}`,
        `--config=${resolveInRepo('deploy', 'dev', 'kwok', 'stages.yaml')}`,
        '--manage-all-nodes=false',
        `--manage-nodes-with-label-selector=${NODE_LABEL}`,
        // The node heartbeat: a Lease renewed every 10 s (the node stages in stages.yaml
        // refresh the Ready condition only every ~10 minutes, as kwok's do with a lease).
        `--node-lease-duration-seconds=${NODE_LEASE_DURATION_SECONDS}`,
        `--server-address=127.0.0.1:${kwokPort}`,
        '--node-ip=127.0.0.1',
        '--cidr=10.244.0.1/16',
      ],
      logFile: join(dir, 'kwok.log'),
      detached,
    }));

    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfigPath);
    const core = kc.makeApiClient(CoreV1Api);
    const nodeCount = opts.nodes ?? 1;
    for (let i = 0; i < nodeCount; i++) await createFakeNode(core, `${opts.name}-node-${i}`);

    await waitFor(`simulated nodes of ${opts.name} to be Ready`, async () => {
      const nodes = await core.listNode({ labelSelector: NODE_LABEL });
      const ready = nodes.items.filter((n) =>
        n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      return ready.length === nodeCount ? true : undefined;
    }, { timeoutMs: 60_000, intervalMs: 250 });
    // Pods are only admitted once the service-account controller has made "default".
    await waitFor(`default ServiceAccount in ${opts.name}`, async () => {
      await core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' });
      return true;
    }, { timeoutMs: 60_000, intervalMs: 250 });
    for (const p of processes) p.assertRunning();

    return {
      name: opts.name,
      server,
      kubeconfigPath,
      dir,
      processes,
      kubeConfig: () => {
        const k = new KubeConfig();
        k.loadFromFile(kubeconfigPath);
        return k;
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

function kubeconfigYaml(name: string, server: string, caPem: Buffer, token: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': name,
    clusters: [{ name, cluster: { server, 'certificate-authority-data': caPem.toString('base64') } }],
    users: [{ name: `${name}-admin`, user: { token } }],
    contexts: [{ name, context: { cluster: name, user: `${name}-admin` } }],
  });
}

async function probeReady(server: string, token: string): Promise<true | undefined> {
  // Before the kubeconfig exists the serving CA is not known yet; readiness alone is probed.
  return new Promise((resolveProbe) => {
    const req = request(`${server}/readyz`, {
      headers: { authorization: `Bearer ${token}` },
      rejectUnauthorized: false,
      timeout: 2000,
    }, (res) => {
      res.resume();
      resolveProbe(res.statusCode === 200 ? true : undefined);
    });
    req.on('error', () => { resolveProbe(undefined); });
    req.on('timeout', () => { req.destroy(); resolveProbe(undefined); });
    req.end();
  });
}

async function createFakeNode(core: CoreV1Api, name: string): Promise<void> {
  const resources = { cpu: '1000', memory: '4Ti', pods: '2000' };
  try {
    await core.createNode({
      body: {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name,
          labels: {
            type: 'kwok',
            'kubernetes.io/hostname': name,
            'kubernetes.io/os': 'linux',
            'kubernetes.io/arch': 'amd64',
          },
          annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
        },
        status: {
          allocatable: resources,
          capacity: resources,
          nodeInfo: {
            architecture: 'amd64',
            operatingSystem: 'linux',
            kubeletVersion: 'kwok',
            kubeProxyVersion: 'kwok',
            bootID: '', containerRuntimeVersion: 'kwok', kernelVersion: '', machineID: '', osImage: 'kwok', systemUUID: '',
          },
        },
      },
    });
  } catch (err) {
    // A restarted dev environment finds its nodes already there.
    if (!isAlreadyExists(err)) throw err;
  }
}

function isAlreadyExists(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && err.code === 409;
}

