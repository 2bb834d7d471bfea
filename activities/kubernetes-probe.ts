import { CoreV1Api, KubeConfig, VersionApi } from '@kubernetes/client-node';

export interface ClusterTarget {
  readonly cluster: string;
  readonly kubeconfigPath: string;
}

export interface ClusterProbe {
  readonly cluster: string;
  readonly server: string;
  readonly gitVersion: string;
  readonly nodes: number;
  readonly readyNodes: number;
}

/** Reads a cluster's version and node readiness from its API server. */
export async function probeKubernetes(target: ClusterTarget): Promise<ClusterProbe> {
  const kc = new KubeConfig();
  kc.loadFromFile(target.kubeconfigPath);
  const version = await kc.makeApiClient(VersionApi).getCode();
  const nodes = await kc.makeApiClient(CoreV1Api).listNode();
  const readyNodes = nodes.items.filter((n) =>
    n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
  return {
    cluster: target.cluster,
    server: kc.getCurrentCluster()?.server ?? '',
    gitVersion: version.gitVersion,
    nodes: nodes.items.length,
    readyNodes,
  };
}
