// One keep-alive TLS connection pool per cluster. @kubernetes/client-node's KubeConfig
// authentication builds a new https.Agent for every request, so every request pays a TLS
// handshake; at a thousand objects that is most of the agent's CPU. This authenticator
// takes the same credentials from the KubeConfig, refreshes them periodically (exec and
// OIDC tokens expire), and reuses one pool of connections.
import { Agent, type AgentOptions, type RequestOptions } from 'node:https';
import type { KubeConfig, RequestContext, SecurityAuthentication } from '@kubernetes/client-node';

const REFRESH_MS = 60_000;

export class PooledAuthentication implements SecurityAuthentication {
  private agent: Agent | undefined;
  private headers: Record<string, string> = {};
  private refreshedAt = 0;
  private refreshing: Promise<void> | undefined;

  constructor(private readonly kubeConfig: KubeConfig, private readonly maxSockets: number) {}

  getName(): string {
    return 'pooled kubeconfig authentication';
  }

  async applySecurityAuthentication(context: RequestContext): Promise<void> {
    if (!this.agent || Date.now() - this.refreshedAt > REFRESH_MS) {
      this.refreshing ??= this.refresh().finally(() => { this.refreshing = undefined; });
      await this.refreshing;
    }
    for (const [k, v] of Object.entries(this.headers)) context.setHeaderParam(k, v);
    if (this.agent) context.setAgent(this.agent);
  }

  private async refresh(): Promise<void> {
    const opts: RequestOptions = {};
    await this.kubeConfig.applyToHTTPSOptions(opts);
    const cluster = this.kubeConfig.getCurrentCluster();
    const agentOptions: AgentOptions = {
      keepAlive: true,
      maxSockets: this.maxSockets,
      ca: opts.ca, cert: opts.cert, key: opts.key, pfx: opts.pfx, passphrase: opts.passphrase,
      ...(cluster?.skipTLSVerify ? { rejectUnauthorized: false } : {}),
      ...(cluster?.tlsServerName ? { servername: cluster.tlsServerName } : {}),
    };
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {})) if (v !== undefined) headers[k] = String(v);
    const user = this.kubeConfig.getCurrentUser();
    if (user?.username) headers.Authorization = `Basic ${Buffer.from(`${user.username}:${user.password ?? ''}`).toString('base64')}`;
    // Only a change of TLS material needs new connections; a refreshed token does not.
    const tlsKey = JSON.stringify([agentOptions.ca, agentOptions.cert, agentOptions.key, agentOptions.rejectUnauthorized]);
    if (!this.agent || tlsKey !== this.tlsKey) {
      this.agent?.destroy();
      this.agent = new Agent(agentOptions);
      this.tlsKey = tlsKey;
    }
    this.headers = headers;
    this.refreshedAt = Date.now();
  }

  private tlsKey = '';

  close(): void {
    this.agent?.destroy();
  }
}
