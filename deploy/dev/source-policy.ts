// The source policy of the development and test fleets (docs/security.md). Their own git
// servers, chart repositories and registries listen on loopback over plain http, and tests
// fetch file:// repositories: the hubs they start allow exactly that, explicitly. A hub
// started with no sources.* setting refuses all of it.
import type { SourcePolicy } from '../../core/source-policy.js';

export const DEV_SOURCE_POLICY: SourcePolicy = {
  allowSchemes: ['http', 'file'],
  allowHosts: ['127.0.0.0/8', '::1', 'localhost'],
  allowPrivateNetworks: false,
};

/** `flotilla-hub serve` flags for a policy. */
export function sourcePolicyFlags(policy: SourcePolicy = DEV_SOURCE_POLICY): string[] {
  return [
    ...(policy.allowSchemes.length > 0 ? ['--sources-allow-schemes', policy.allowSchemes.join(',')] : []),
    ...(policy.allowHosts.length > 0 ? ['--sources-allow-hosts', policy.allowHosts.join(',')] : []),
    ...(policy.allowPrivateNetworks ? ['--sources-allow-private-networks'] : []),
  ];
}
