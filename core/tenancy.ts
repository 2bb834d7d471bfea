// Tenants, Flux's way: whose identity a declaration's objects are applied with, where
// namespaced objects that name no namespace land, and which references cross namespaces.
// Pure: the hub decides (workflows/kustomization.ts, workflows/helm-release.ts), the agent
// only carries the decision out (agents/apply/applier.ts).
//
// Flux's rules, read from its sources:
//   Impersonation (fluxcd/pkg runtime/client/impersonator.go, setImpersonationConfig and
//   GetClient; kustomize-controller internal/controller/kustomization_controller.go, which
//   passes WithServiceAccount(r.DefaultServiceAccount, obj.Spec.ServiceAccountName,
//   obj.GetNamespace()); helm-controller internal/kube/impersonate.go SetImpersonationConfig,
//   called with obj.GetNamespace()):
//     1. spec.serviceAccountName when set,
//     2. else --default-service-account when set,
//     3. else no impersonation: the controller's own identity;
//     the account is always looked up in the declaration's own namespace (never its
//     targetNamespace, never the source's), and the user impersonated is
//     `system:serviceaccount:<namespace>:<name>` (only the user: the API server adds the
//     groups system:serviceaccounts and system:serviceaccounts:<namespace> itself when a
//     service account is impersonated without groups, k8s.io/apiserver
//     pkg/endpoints/filters/impersonation.go).
//   Cross-namespace references (--no-cross-namespace-refs; fluxcd/pkg runtime/acl/flags.go):
//     kustomize-controller getSource(): spec.sourceRef in another namespace is refused with
//     reason AccessDenied (fluxcd/pkg apis/acl/conditions.go) and the message
//     "can't access '<Kind>/<namespace>/<name>', cross-namespace references have been
//     blocked"; Ready=False and Stalled=True (no retry until the spec changes).
//     helm-controller internal/acl/acl.go AllowsAccessTo(), used for spec.chart.spec.sourceRef
//     (through the HelmChart it creates in the source's namespace) and spec.chartRef:
//     "cross-namespace references are not allowed: cannot access <Kind> <namespace>/<name>".
//     Neither controller applies the flag to spec.dependsOn (kustomize-controller
//     checkDependencies reads any namespace), and neither does Flotilla.
//   Namespaced objects with no metadata.namespace: with spec.targetNamespace, kustomize sets
//     it (kustomize-controller generator.go). Without one, Flux's server-side apply fails
//     "<Kind>/<name> namespace not specified" (fluxcd/pkg ssa/errors/errors.go DryRunErr).
//     Flotilla differs on purpose: such objects go to the declaration's own namespace (the
//     tenant's), never to `default`.

import { clusterNamespace } from './declarations/scope.js';

/** The Kubernetes username of a ServiceAccount, as Flux and kubectl --as build it. */
export function serviceAccountUser(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

export interface TenancySettings {
  /** Flux's --default-service-account: impersonated by declarations that name none. */
  readonly defaultServiceAccount?: string;
  /** Flux's --no-cross-namespace-refs. */
  readonly noCrossNamespaceRefs: boolean;
}

export const DEFAULT_TENANCY: TenancySettings = { noCrossNamespaceRefs: false };

/**
 * The account to impersonate, `<namespace>/<name>`; undefined: the agent's own identity.
 * `declaration.namespace` is the hub's (`tenant-a@staging` for a scoped declaration): the
 * account lives in the namespace the cluster knows (`tenant-a`).
 */
export function impersonationFor(declaration: { readonly namespace: string; readonly serviceAccountName?: string | undefined }, settings: TenancySettings): string | undefined {
  const name = declaration.serviceAccountName || settings.defaultServiceAccount || undefined;
  return name === undefined ? undefined : `${clusterNamespace(declaration.namespace)}/${name}`;
}

/** `<namespace>/<name>` (DeploymentOptions.impersonate_service_account) → its username; undefined when malformed. */
export function parseImpersonation(value: string): { namespace: string; name: string; user: string } | undefined {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(value);
  if (!m || m[1] === undefined || m[3] === undefined || m[1].length > 63 || m[3].length > 253) return undefined;
  return { namespace: m[1], name: m[3], user: serviceAccountUser(m[1], m[3]) };
}

/** Where namespaced objects that name no namespace go: the targetNamespace, else the declaration's namespace. */
export function defaultNamespaceFor(declaration: { readonly namespace: string; readonly targetNamespace?: string | undefined }): string {
  return declaration.targetNamespace || clusterNamespace(declaration.namespace);
}

export interface Reference {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
}

/** Flux's reason for a reference refused by an ACL (fluxcd/pkg apis/acl/conditions.go). */
export const ACCESS_DENIED_REASON = 'AccessDenied';

/**
 * Why a reference from `from` (a Kustomization's spec.sourceRef, a HelmRelease's
 * spec.chart.spec.sourceRef) is refused; undefined when it is allowed. Messages are Flux's,
 * with the object and field that made the reference added.
 */
export function crossNamespaceRefusal(
  from: { readonly kind: 'Kustomization' | 'HelmRelease'; readonly namespace: string; readonly name: string },
  field: string, ref: Reference, settings: TenancySettings,
): string | undefined {
  // Hub namespaces (scoped declarations fold the scope into both); messages say the cluster's.
  if (!settings.noCrossNamespaceRefs || ref.namespace === from.namespace) return undefined;
  const [refNs, fromNs] = [clusterNamespace(ref.namespace), clusterNamespace(from.namespace)];
  const flux = from.kind === 'Kustomization'
    ? `can't access '${ref.kind}/${refNs}/${ref.name}', cross-namespace references have been blocked`
    : `cross-namespace references are not allowed: cannot access ${ref.kind} ${refNs}/${ref.name}`;
  return `${flux} (${from.kind} ${fromNs}/${from.name} ${field}; the hub runs with tenancy.noCrossNamespaceRefs: `
    + `declare the ${ref.kind} in namespace ${fromNs}, or ask the platform team)`;
}

/**
 * The agent's message for an API server error met while impersonating: a 403 names the
 * account it was denied for (the API server's own message says which verb and resource).
 */
export function forbiddenMessage(user: string, message: string): string {
  return `forbidden for ${user}: ${message}`;
}
