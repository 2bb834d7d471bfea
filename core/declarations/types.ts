// The declarations the hub reconciles, as typed values after validation and defaulting.
// Users write Flux's YAML (source.toolkit.fluxcd.io/v1 GitRepository,
// kustomize.toolkit.fluxcd.io/v1 Kustomization); core/declarations/parse.ts turns it into
// these. Durations are whole seconds; everything optional in Flux has its Flux default here.

export interface ObjectRef {
  readonly namespace: string;
  readonly name: string;
}

export interface LabelSelectorRequirement {
  readonly key: string;
  readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  readonly values: readonly string[];
}

export interface LabelSelector {
  readonly matchLabels: Readonly<Record<string, string>>;
  readonly matchExpressions: readonly LabelSelectorRequirement[];
}

/**
 * Flotilla's addition: which registered clusters a deployment goes to. A cluster is placed
 * when it is named in `clusters` OR matches `clusterSelector`. With neither set, every
 * registered cluster is placed (documented default). `hub: true` means the build output is
 * hub declarations (used by bootstrap), not cluster objects.
 */
export interface Placement {
  readonly clusters: readonly string[];
  readonly clusterSelector?: LabelSelector;
  readonly hub: boolean;
}

export interface GitRef {
  readonly branch?: string;
  readonly tag?: string;
  /** A node-semver range; Flux's comma-separated constraints (">=1.0, <2.0") are rewritten with spaces. */
  readonly semver?: string;
  /** A full reference name such as refs/heads/main or refs/pull/1/head. */
  readonly name?: string;
  readonly commit?: string;
}

export interface GitRepositoryInclude {
  readonly repository: ObjectRef;
  readonly fromPath: string;
  readonly toPath: string;
}

export interface GitRepositorySpec {
  readonly url: string;
  readonly intervalSeconds: number;
  readonly timeoutSeconds: number;
  /** Resolved ref; branch "master" when the user gave none (Flux's default). */
  readonly ref: GitRef;
  /** gitignore-syntax patterns, newline separated; undefined means Flux's default excludes. */
  readonly ignore?: string;
  readonly include: readonly GitRepositoryInclude[];
  /** A Secret declared to the hub (same namespace) with username/password, bearerToken, or identity/known_hosts. */
  readonly secretRef?: string;
  readonly suspend: boolean;
}

export interface PatchTarget {
  readonly group?: string;
  readonly version?: string;
  readonly kind?: string;
  readonly name?: string;
  readonly namespace?: string;
  readonly labelSelector?: string;
  readonly annotationSelector?: string;
}

export interface KustomizePatch {
  /** A strategic merge patch or a JSON 6902 patch (YAML/JSON text), as Flux takes it. */
  readonly patch: string;
  readonly target?: PatchTarget;
}

export interface KustomizeImage {
  readonly name: string;
  readonly newName?: string;
  readonly newTag?: string;
  readonly digest?: string;
}

export interface CommonMetadata {
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

export interface SubstituteFrom {
  readonly kind: 'ConfigMap' | 'Secret';
  readonly name: string;
  readonly optional: boolean;
}

export interface PostBuild {
  readonly substitute: Readonly<Record<string, string>>;
  readonly substituteFrom: readonly SubstituteFrom[];
}

export interface HealthCheckRef {
  /** "" when not given: Flux then uses the cluster's preferred version of the kind. */
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
}

export interface KustomizationSpec {
  readonly sourceRef: { readonly kind: 'GitRepository'; readonly namespace: string; readonly name: string };
  /** Relative to the source root, normalised ("./apps" → "apps", "" or "./" → "."). */
  readonly path: string;
  readonly intervalSeconds: number;
  /** Defaults to intervalSeconds. */
  readonly retryIntervalSeconds: number;
  /** Defaults to intervalSeconds. */
  readonly timeoutSeconds: number;
  readonly prune: boolean;
  readonly wait: boolean;
  readonly healthChecks: readonly HealthCheckRef[];
  readonly dependsOn: readonly ObjectRef[];
  readonly targetNamespace?: string;
  readonly namePrefix?: string;
  readonly nameSuffix?: string;
  readonly patches: readonly KustomizePatch[];
  readonly images: readonly KustomizeImage[];
  readonly commonMetadata?: CommonMetadata;
  readonly postBuild?: PostBuild;
  readonly force: boolean;
  readonly suspend: boolean;
  readonly placement: Placement;
}

/** ConfigMaps and Secrets given to the hub: values for postBuild.substituteFrom and source credentials. */
export interface DataObjectSpec {
  readonly data: Readonly<Record<string, string>>;
}

export type DeclarationKind = 'GitRepository' | 'Kustomization' | 'ConfigMap' | 'Secret';

interface DeclarationBase<K extends DeclarationKind, S> {
  readonly kind: K;
  readonly apiVersion: string;
  readonly namespace: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly spec: S;
}

export type GitRepositoryDeclaration = DeclarationBase<'GitRepository', GitRepositorySpec>;
export type KustomizationDeclaration = DeclarationBase<'Kustomization', KustomizationSpec>;
/** Secret data is held decoded (base64 `data` and `stringData` merged). */
export type DataDeclaration = DeclarationBase<'ConfigMap' | 'Secret', DataObjectSpec>;

export type Declaration = GitRepositoryDeclaration | KustomizationDeclaration | DataDeclaration;
/** The declarations reconciled by an actor workflow (ConfigMaps and Secrets are data). */
export type ActorDeclaration = GitRepositoryDeclaration | KustomizationDeclaration;

/** The workflow id of a declaration's actor: `<kind lowercase>/<namespace>/<name>`. */
export function declarationId(d: Pick<Declaration, 'kind' | 'namespace' | 'name'>): string {
  return `${d.kind.toLowerCase()}/${d.namespace}/${d.name}`;
}

export function isDataDeclaration(d: Declaration): d is DataDeclaration {
  return d.kind === 'ConfigMap' || d.kind === 'Secret';
}
