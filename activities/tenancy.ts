// The hub's tenancy settings (hub/config.ts tenancy.*: Flux's --default-service-account and
// --no-cross-namespace-refs), read by the Kustomization and HelmRelease actors at every
// reconcile: a hub restarted with other settings applies them at the next reconcile, and
// workflow code stays deterministic (the answer is in the history).
import { DEFAULT_TENANCY, type TenancySettings } from '../core/tenancy.js';

export interface TenancyActivities {
  tenancySettings(): Promise<TenancySettings>;
}

export function createTenancyActivities(settings: TenancySettings = DEFAULT_TENANCY): TenancyActivities {
  return {
    tenancySettings: () => Promise.resolve(settings),
  };
}
