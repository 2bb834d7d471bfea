// The declarations the hub reconciles, as typed values after validation and defaulting.
// Users write Flux's YAML (source.toolkit.fluxcd.io/v1 GitRepository and HelmRepository,
// kustomize.toolkit.fluxcd.io/v1 Kustomization, helm.toolkit.fluxcd.io/v2 HelmRelease,
// notification.toolkit.fluxcd.io/v1beta3 Provider and Alert, notification.toolkit.fluxcd.io/v1 Receiver,
// image.toolkit.fluxcd.io/v1 ImageRepository, ImagePolicy and ImageUpdateAutomation, or the older
// versions core/declarations/versions.ts converts to these); core/declarations/parse.ts turns it
// into these, whose apiVersion is always the newest. Durations are whole seconds; everything
// optional in Flux has its Flux default here.

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
  /** Impersonated by the agent in the declaration's namespace (core/tenancy.ts); absent: tenancy.defaultServiceAccount, else the agent. */
  readonly serviceAccountName?: string;
  readonly namePrefix?: string;
  readonly nameSuffix?: string;
  readonly patches: readonly KustomizePatch[];
  readonly images: readonly KustomizeImage[];
  readonly commonMetadata?: CommonMetadata;
  readonly postBuild?: PostBuild;
  readonly force: boolean;
  readonly suspend: boolean;
  readonly placement: Placement;
  /** Flotilla's progressive rollout across the placed clusters; none = all clusters at once (Flux's behaviour). */
  readonly rollout?: RolloutStrategy;
}

/** A count ("2") or a percentage ("25%") of a set of clusters. */
export type CountOrPercent = { readonly count: number } | { readonly percent: number };

/**
 * One wave of a rollout (Flotilla's `spec.rollout.waves[]`). A wave selects from the placed
 * clusters that earlier waves did not take: by `clusters` names and/or `clusterSelector`
 * (either matching), then `size` (a count or percentage of those); with none of the three it
 * takes all that remain.
 */
export interface RolloutWave {
  readonly name: string;
  readonly clusters?: readonly string[];
  readonly clusterSelector?: LabelSelector;
  readonly size?: CountOrPercent;
  /** Clusters changed at once within the wave; default: the whole wave. */
  readonly maxConcurrency?: CountOrPercent;
  /** Clusters of this wave that may fail without failing the wave; default 0. */
  readonly maxFailures: number;
  /** How long the wave's clusters must stay healthy (analysis passing) before the next wave; default 0. */
  readonly bakeSeconds: number;
  /** How long a cluster has to apply and become healthy; default the deployment's timeout. */
  readonly healthTimeoutSeconds?: number;
  /** The wave waits for `flotilla rollout approve` before it starts; default false. */
  readonly approval: boolean;
}

/**
 * An HTTP check evaluated during each wave's bake time, every `intervalSeconds`: it passes
 * when the status code is one of `successCodes` and, with `jsonPath`, the number found there
 * in the JSON body lies within [min, max]. More than `failureLimit` failed checks in one wave
 * fail the wave.
 */
export interface AnalysisCheck {
  readonly url: string;
  readonly intervalSeconds: number;
  readonly timeoutSeconds: number;
  readonly failureLimit: number;
  /** Default [200..299]. */
  readonly successCodes: readonly number[];
  /** A dotted path into the JSON body ("data.result.0.value.1"); numbers and numeric strings count. */
  readonly jsonPath?: string;
  readonly min?: number;
  readonly max?: number;
  /** Extra request headers (for example an Authorization header for a metrics API). */
  readonly headers: Readonly<Record<string, string>>;
}

export interface RolloutStrategy {
  readonly waves: readonly RolloutWave[];
  readonly analysis?: AnalysisCheck;
  /** What a failed wave does: roll the changed clusters back (default), or pause for an operator. */
  readonly onFailure: 'rollback' | 'pause';
}

export type HelmRepositoryType = 'default' | 'oci';

export interface HelmRepositorySpec {
  /** http(s):// for a chart repository (index.yaml), oci:// for an OCI registry. */
  readonly url: string;
  /** "oci" exactly when the URL is oci:// (Flux's default type is "default"). */
  readonly type: HelmRepositoryType;
  /** Defaults to 60 (Flux requeues a HelmRepository every minute when no interval is set). */
  readonly intervalSeconds: number;
  /** Defaults to 60, as in Flux. */
  readonly timeoutSeconds: number;
  /** A Secret declared to the hub (same namespace) with username/password. */
  readonly secretRef?: string;
  /** Send the credentials to hosts other than the URL's (chart URLs in the index may point elsewhere). */
  readonly passCredentials: boolean;
  /** Plain-HTTP OCI registry (Flux takes it into account for type "oci" only). */
  readonly insecure: boolean;
  /** "generic" unless given; anything else is accepted with a warning (not acted on yet). */
  readonly provider: 'generic' | 'aws' | 'azure' | 'gcp';
  readonly suspend: boolean;
}

/**
 * Where a HelmRelease's chart comes from (Flux's spec.chart.spec, the template of a HelmChart).
 * From a HelmRepository, `chart` is the chart's name in the repository and `version` picks
 * the version; from a GitRepository, `chart` is a path in the repository (normalised like a
 * Kustomization path) and, as in Flux, `version` is not used.
 */
export interface HelmChartTemplate {
  readonly chart: string;
  /** A node-semver range; Flux's default "*" (latest) when not given; commas rewritten with spaces. */
  readonly version: string;
  readonly sourceRef: { readonly kind: 'HelmRepository' | 'GitRepository'; readonly namespace: string; readonly name: string };
  /** How often to look for a new chart; defaults to the HelmRelease's interval. */
  readonly intervalSeconds: number;
  /** What makes a new chart artifact: a new chart version (default) or a new source revision. */
  readonly reconcileStrategy: 'ChartVersion' | 'Revision';
}

/** How Helm treats the chart's crds/ directory. */
export type CrdsPolicy = 'Skip' | 'Create' | 'CreateReplace';

export interface HelmInstallSpec {
  readonly timeoutSeconds: number;
  readonly createNamespace: boolean;
  /** Default "Create" (Flux). */
  readonly crds: CrdsPolicy;
  readonly remediation: {
    /** Retries after a failed install, uninstalling in between; negative = unlimited. Default 0. */
    readonly retries: number;
    /** Defaults to test.ignoreFailures. */
    readonly ignoreTestFailures: boolean;
    /** Uninstall the failed install when no retries remain. Default false. */
    readonly remediateLastFailure: boolean;
  };
  readonly disableWait: boolean;
  /** Reuse the name of an uninstalled release kept in the history. */
  readonly replace: boolean;
}

export interface HelmUpgradeSpec {
  readonly timeoutSeconds: number;
  readonly remediation: {
    /** Retries after a failed upgrade, remediating in between; negative = unlimited. Default 0. */
    readonly retries: number;
    readonly ignoreTestFailures: boolean;
    /** Remediate the last failure when no retries remain. Default: retries > 0 (Flux). */
    readonly remediateLastFailure: boolean;
    /** Default "rollback". */
    readonly strategy: 'rollback' | 'uninstall';
  };
  /** Default "Skip" (Flux: CRDs are not touched by an upgrade unless asked). */
  readonly crds: CrdsPolicy;
  readonly force: boolean;
  readonly disableWait: boolean;
  readonly cleanupOnFail: boolean;
}

export interface HelmRollbackSpec {
  readonly timeoutSeconds: number;
  readonly force: boolean;
  readonly cleanupOnFail: boolean;
  readonly recreate: boolean;
  readonly disableWait: boolean;
}

export interface HelmUninstallSpec {
  readonly timeoutSeconds: number;
  /** Keep the release records (marked uninstalled) instead of deleting them. */
  readonly keepHistory: boolean;
  readonly disableWait: boolean;
}

export interface HelmTestSpec {
  /** Run the chart's tests after each install and upgrade. */
  readonly enable: boolean;
  readonly timeoutSeconds: number;
  /** Test failures do not count as release failures. */
  readonly ignoreFailures: boolean;
}

export interface ValuesReference {
  readonly kind: 'ConfigMap' | 'Secret';
  readonly name: string;
  /** Default "values.yaml". */
  readonly valuesKey: string;
  /** Helm --set path where the single value goes; undefined = merged at the root. */
  readonly targetPath?: string;
  readonly optional: boolean;
}

export interface HelmReleaseSpec {
  /** spec.chart; a chartRef (OCIRepository, HelmChart) is refused for now. */
  readonly chart: HelmChartTemplate;
  readonly intervalSeconds: number;
  /** Default 300 (Flux's 5m); each action's timeout defaults to it. */
  readonly timeoutSeconds: number;
  /** Default `[<targetNamespace>-]<name>`, shortened with a hash past 53 characters as Flux does. */
  readonly releaseName: string;
  /** The namespace the chart is installed in; defaults to the HelmRelease's own namespace. */
  readonly targetNamespace: string;
  /** Where Helm keeps the release records; defaults to the HelmRelease's own namespace. */
  readonly storageNamespace: string;
  /** Impersonated by the agent in the HelmRelease's namespace (core/tenancy.ts). */
  readonly serviceAccountName?: string;
  readonly install: HelmInstallSpec;
  readonly upgrade: HelmUpgradeSpec;
  readonly rollback: HelmRollbackSpec;
  readonly uninstall: HelmUninstallSpec;
  readonly test: HelmTestSpec;
  /** Inline values (free-form), merged over valuesFrom. */
  readonly values: Readonly<Record<string, unknown>>;
  readonly valuesFrom: readonly ValuesReference[];
  /** Other HelmReleases; namespaces default to this one's. */
  readonly dependsOn: readonly ObjectRef[];
  readonly suspend: boolean;
  /** Release revisions Helm keeps; default 5, 0 = unlimited. */
  readonly maxHistory: number;
  /** Which clusters get the release (Flotilla's addition); `hub` is always false for a HelmRelease. */
  readonly placement: Placement;
  /** Flotilla's progressive rollout across the placed clusters; none = all clusters at once. */
  readonly rollout?: RolloutStrategy;
}

/** ConfigMaps and Secrets given to the hub: values for postBuild.substituteFrom and source credentials. */
export interface DataObjectSpec {
  readonly data: Readonly<Record<string, string>>;
}

// ---------------------------------------------------------------------------------------
// Notifications (notification.toolkit.fluxcd.io: Provider and Alert v1beta3, Receiver v1)

/** The Provider types Flotilla sends to (Flux has more; parse.ts refuses the others by name). */
export type ProviderType = 'generic' | 'generic-hmac' | 'slack' | 'msteams' | 'github';

/**
 * Where and how notifications are sent. The Secret named by `secretRef` (declared to the hub,
 * same namespace) may hold, as in Flux: `address` (wins over spec.address: webhook URLs are
 * secrets), `token` (Slack bot token, generic-hmac key, GitHub token), `headers` (a YAML map,
 * generic and generic-hmac only), `username` (wins over spec.username), `password`.
 */
export interface ProviderSpec {
  readonly type: ProviderType;
  /** An http(s) URL; for github `<scheme>://<host>/<owner>/<repo>`. */
  readonly address?: string;
  /** Slack channel. */
  readonly channel?: string;
  /** Slack username; defaults to the event's reportingController. */
  readonly username?: string;
  /** Flux's spec.timeout; default 15s. */
  readonly timeoutSeconds: number;
  readonly secretRef?: { readonly name: string };
  readonly suspend: boolean;
}

/** The kinds an Alert may listen to: Flux's, plus Flotilla's Rollout and Cluster. */
export type EventSourceKind =
  | 'GitRepository' | 'Kustomization' | 'HelmRepository' | 'HelmRelease' | 'HelmChart' | 'OCIRepository' | 'Bucket'
  | 'ImageRepository' | 'ImagePolicy' | 'ImageUpdateAutomation' | 'Rollout' | 'Cluster';

export interface EventSource {
  readonly kind: EventSourceKind;
  /** An object name, `*` (every object of the kind in the namespace) or a pattern with `*` wildcards. */
  readonly name: string;
  /** Defaults to the Alert's namespace. */
  readonly namespace: string;
  /** With a `*` or wildcard name: only objects carrying these labels. */
  readonly matchLabels?: Readonly<Record<string, string>>;
}

export interface AlertSpec {
  /** A Provider in the Alert's namespace. */
  readonly providerRef: { readonly name: string };
  readonly eventSources: readonly EventSource[];
  /** info (default) forwards every event; error only error events. */
  readonly eventSeverity: 'info' | 'error';
  /** Regular expressions, checked at parse time; when non-empty a message must match one. */
  readonly inclusionList: readonly string[];
  /** Regular expressions; a message matching any is dropped (stronger than inclusion). */
  readonly exclusionList: readonly string[];
  /** Added to each event's metadata without overriding keys the event has. */
  readonly eventMetadata: Readonly<Record<string, string>>;
  /** Deprecated by Flux in favour of eventMetadata.summary; when set it overrides metadata.summary. */
  readonly summary?: string;
  readonly suspend: boolean;
}

export type ReceiverType = 'generic' | 'generic-hmac' | 'github';
export type ReceiverResourceKind =
  | 'GitRepository' | 'HelmRepository' | 'Kustomization' | 'HelmRelease' | 'ImageRepository' | 'ImagePolicy' | 'ImageUpdateAutomation';

export interface ReceiverResource {
  readonly apiVersion?: string;
  readonly kind: ReceiverResourceKind;
  /** An object name (Flux's `*` with matchLabels is refused by parse.ts for now). */
  readonly name: string;
  /** Defaults to the Receiver's namespace. */
  readonly namespace: string;
  readonly matchLabels?: Readonly<Record<string, string>>;
}

export interface ReceiverSpec {
  readonly type: ReceiverType;
  /** github: the X-GitHub-Event values acted on (case-insensitive); empty = all. */
  readonly events: readonly string[];
  readonly resources: readonly ReceiverResource[];
  /** A Secret with a `token` key: it salts the webhook path and keys the HMAC. */
  readonly secretRef: { readonly name: string };
  /** Default 600 (Flux's 10m). */
  readonly intervalSeconds: number;
  readonly suspend: boolean;
}

// ---- Image automation (image.toolkit.fluxcd.io/v1) -------------------------------------

export interface ImageRepositorySpec {
  /** The image without tag or digest, e.g. ghcr.io/org/app or 127.0.0.1:5000/app. */
  readonly image: string;
  readonly intervalSeconds: number;
  /** Flux's default: the interval. */
  readonly timeoutSeconds: number;
  /** A Secret declared to the hub: `.dockerconfigjson`, or username/password. */
  readonly secretRef?: string;
  /** Go regular expressions; matching tags are dropped. Flux's default `^.*\.sig$` (cosign signatures). */
  readonly exclusionList: readonly string[];
  /** Plain HTTP (a local registry). */
  readonly insecure: boolean;
  readonly suspend: boolean;
}

export type ImageSortOrder = 'asc' | 'desc';

/** Exactly one rule, as in Flux's ImagePolicyChoice. */
export type ImagePolicyRule =
  | { readonly semver: { readonly range: string } }
  | { readonly alphabetical: { readonly order: ImageSortOrder } }
  | { readonly numerical: { readonly order: ImageSortOrder } };

export interface ImagePolicySpec {
  /** Defaults to the policy's namespace. */
  readonly imageRepositoryRef: ObjectRef;
  readonly policy: ImagePolicyRule;
  readonly filterTags?: { readonly pattern: string; readonly extract?: string };
  /** Flux 2.7's ImagePolicy field; a suspended policy keeps its latest image. */
  readonly suspend: boolean;
}

export interface ImageUpdateAutomationSpec {
  readonly sourceRef: { readonly kind: 'GitRepository'; readonly namespace: string; readonly name: string };
  /** spec.git.checkout.ref.branch; undefined = the GitRepository's own branch. */
  readonly checkoutBranch?: string;
  /** spec.git.push.branch; undefined = the checkout branch. */
  readonly pushBranch?: string;
  readonly author: { readonly name: string; readonly email: string };
  /** Flux's Go template; Flux's default message when not set. */
  readonly messageTemplate?: string;
  readonly messageTemplateValues: Readonly<Record<string, string>>;
  readonly intervalSeconds: number;
  /** Which ImagePolicies of the namespace apply; undefined = all of them. */
  readonly policySelector?: LabelSelector;
  /** Relative to the repository root, normalised ("." = the root). */
  readonly updatePath: string;
  readonly strategy: 'Setters';
  readonly suspend: boolean;
}

export type DeclarationKind =
  | 'GitRepository' | 'Kustomization' | 'ConfigMap' | 'Secret' | 'HelmRepository' | 'HelmRelease' | 'Provider' | 'Alert' | 'Receiver'
  | 'ImageRepository' | 'ImagePolicy' | 'ImageUpdateAutomation';

interface DeclarationBase<K extends DeclarationKind, S> {
  readonly kind: K;
  readonly apiVersion: string;
  readonly namespace: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /**
   * Fields Flux has that Flotilla accepts but does not act on (`spec.decryption: …`), one line
   * each; the actor's status repeats them so nothing is silently ignored. Absent when none.
   */
  readonly warnings?: readonly string[];
  readonly spec: S;
}

export type GitRepositoryDeclaration = DeclarationBase<'GitRepository', GitRepositorySpec>;
export type KustomizationDeclaration = DeclarationBase<'Kustomization', KustomizationSpec>;
export type HelmRepositoryDeclaration = DeclarationBase<'HelmRepository', HelmRepositorySpec>;
export type HelmReleaseDeclaration = DeclarationBase<'HelmRelease', HelmReleaseSpec>;
export type ImageRepositoryDeclaration = DeclarationBase<'ImageRepository', ImageRepositorySpec>;
export type ImagePolicyDeclaration = DeclarationBase<'ImagePolicy', ImagePolicySpec>;
export type ImageUpdateAutomationDeclaration = DeclarationBase<'ImageUpdateAutomation', ImageUpdateAutomationSpec>;
/** The image automation declarations, each reconciled by an actor workflow. */
export type ImageDeclaration = ImageRepositoryDeclaration | ImagePolicyDeclaration | ImageUpdateAutomationDeclaration;
/** Secret data is held decoded (base64 `data` and `stringData` merged). */
export type DataDeclaration = DeclarationBase<'ConfigMap' | 'Secret', DataObjectSpec>;
export type ProviderDeclaration = DeclarationBase<'Provider', ProviderSpec>;
export type AlertDeclaration = DeclarationBase<'Alert', AlertSpec>;
export type ReceiverDeclaration = DeclarationBase<'Receiver', ReceiverSpec>;
/** Handled by the notifications workflow and the hub's receiver route, not by actor workflows. */
export type NotificationDeclaration = ProviderDeclaration | AlertDeclaration | ReceiverDeclaration;

export type Declaration =
  | GitRepositoryDeclaration | KustomizationDeclaration | HelmRepositoryDeclaration | HelmReleaseDeclaration | DataDeclaration
  | NotificationDeclaration | ImageDeclaration;
/** The declarations reconciled by an actor workflow (ConfigMaps and Secrets are data). */
export type ActorDeclaration = GitRepositoryDeclaration | KustomizationDeclaration | HelmRepositoryDeclaration | HelmReleaseDeclaration | ImageDeclaration;

/** The workflow id of a declaration's actor: `<kind lowercase>/<namespace>/<name>`. */
export function declarationId(d: Pick<Declaration, 'kind' | 'namespace' | 'name'>): string {
  return `${d.kind.toLowerCase()}/${d.namespace}/${d.name}`;
}

export function isDataDeclaration(d: Declaration): d is DataDeclaration {
  return d.kind === 'ConfigMap' || d.kind === 'Secret';
}

export function isNotificationDeclaration(d: Declaration): d is NotificationDeclaration {
  return d.kind === 'Provider' || d.kind === 'Alert' || d.kind === 'Receiver';
}
