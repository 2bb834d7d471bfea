// Declarations as Kubernetes would print them (`flotilla get <kind> [name] -o json|yaml`):
// apiVersion, kind, metadata (name, namespace, labels, annotations, generation), spec,
// status; several objects are a `{apiVersion: v1, kind: List, items}` as kubectl prints
// them. Times are RFC 3339 strings (second precision, UTC, as metav1.Time), never epoch
// milliseconds, so `jq '.items[].status.conditions[] | select(.type=="Ready")'` works.
//
// The spec: the hub keeps only the parsed declaration (core/declarations/types.ts), not the
// object as written, so the spec is rendered back with Flux's field names. It is the
// *effective* spec, normalised, not the text the user wrote:
//   - every Flux default is filled in (interval-derived timeouts, retryInterval, Helm
//     remediation, install/upgrade CRD policies, releaseName, storage/target namespaces, …),
//     and `suspend: false`, `prune: false` and the like appear even when not written;
//   - durations are whole seconds printed as Go prints a time.Duration ("10m0s", "1h0m0s",
//     "30s"): "10m" and "600s" both come back as "10m0s";
//   - paths are normalised ("./apps/" → "./apps", "" → "./");
//   - semver ranges have Flux's commas replaced by spaces (">=1.0, <2.0" → ">=1.0 <2.0");
//   - namespaces (metadata and references) are the hub's, with the scope:
//     `flux-system@staging` (the name `flotilla get -n` and ids use);
//   - fields of an older apiVersion come back as the newest version's (apiVersion too);
//   - Flotilla's placement and rollout are rendered with the field names the YAML takes.
// The status: Flux's fields where Flotilla has them (conditions, observedGeneration,
// lastHandledReconcileAt, lastAppliedRevision, artifact, lastScanResult, …), then the
// Flotilla-specific ones (per-cluster entries, rollout, placed clusters) as the actor reports
// them, every time converted. Pure: no I/O.
import type {
  ActorDeclaration, CountOrPercent, GitRef, HelmReleaseSpec, KustomizationSpec, LabelSelector, Placement, RolloutStrategy,
} from './declarations/types.js';

export type KubeObject = Record<string, unknown>;

export interface KubeList {
  readonly apiVersion: 'v1';
  readonly kind: 'List';
  readonly items: readonly KubeObject[];
  readonly metadata: { readonly resourceVersion: string };
}

/** ms since epoch → RFC 3339 at second precision (`2026-11-22T02:54:33Z`), as Kubernetes writes metav1.Time. */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}

/** kubectl's list of several objects. */
export function kubeList(items: readonly KubeObject[]): KubeList {
  return { apiVersion: 'v1', kind: 'List', items, metadata: { resourceVersion: '' } };
}

/** Whole seconds as Go's time.Duration.String() prints them: 0s, 45s, 1m30s, 10m0s, 1h0m0s. */
export function goDuration(seconds: number): string {
  if (seconds === 0) return '0s';
  const sign = seconds < 0 ? '-' : '';
  let s = Math.abs(seconds);
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (h > 0) return `${sign}${h}h${m}m${s}s`;
  if (m > 0) return `${sign}${m}m${s}s`;
  return `${sign}${s}s`;
}

/** Field names whose numbers are ms since epoch in the actors' statuses. */
const TIME_FIELD = /(At|Time|Since|Until)$/;

/**
 * A status (or any part of one) with every epoch-ms time as RFC 3339: numbers in fields named
 * `…At`, `…Time`, `…Since`, `…Until` (lastTransitionTime, updatedAt, fetchedAt, scanTime,
 * bakeUntil, …). A zero time means "never" and is left out, as Kubernetes omits unset times.
 */
export function withRfc3339Times(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withRfc3339Times);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (typeof v === 'number' && TIME_FIELD.test(key)) {
      if (v > 0) out[key] = rfc3339(v);
    } else {
      out[key] = withRfc3339Times(v);
    }
  }
  return out;
}

/** Leaves out undefined values, empty arrays and empty objects (as omitempty does). */
function compact(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined) continue;
    if (Array.isArray(v) && v.length === 0) continue;
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0) continue;
    out[k] = v;
  }
  return out;
}

/** "." → "./", "apps" → "./apps": how Flux's YAML writes a path in the source. */
function fluxPath(path: string): string {
  return path === '.' ? './' : `./${path}`;
}

function selector(s: LabelSelector | undefined): Record<string, unknown> | undefined {
  if (s === undefined) return undefined;
  return compact({ matchLabels: s.matchLabels, matchExpressions: s.matchExpressions });
}

function countOrPercent(c: CountOrPercent | undefined): number | string | undefined {
  if (c === undefined) return undefined;
  return 'count' in c ? c.count : `${c.percent}%`;
}

function placement(p: Placement): Record<string, unknown> {
  return p.hub ? { hub: true } : compact({ clusters: p.clusters, clusterSelector: selector(p.clusterSelector) });
}

function rollout(r: RolloutStrategy | undefined): Record<string, unknown> | undefined {
  if (r === undefined) return undefined;
  const a = r.analysis;
  return compact({
    onFailure: r.onFailure,
    analysis: a === undefined ? undefined : compact({
      url: a.url, interval: goDuration(a.intervalSeconds), timeout: goDuration(a.timeoutSeconds), failureLimit: a.failureLimit,
      successCodes: a.successCodes, jsonPath: a.jsonPath, min: a.min, max: a.max, headers: a.headers,
    }),
    waves: r.waves.map((w) => compact({
      name: w.name, clusters: w.clusters, clusterSelector: selector(w.clusterSelector), size: countOrPercent(w.size),
      maxConcurrency: countOrPercent(w.maxConcurrency), maxFailures: w.maxFailures, bakeTime: goDuration(w.bakeSeconds),
      healthTimeout: w.healthTimeoutSeconds === undefined ? undefined : goDuration(w.healthTimeoutSeconds), approval: w.approval,
    })),
  });
}

function gitRef(r: GitRef): Record<string, unknown> {
  return compact({ branch: r.branch, tag: r.tag, semver: r.semver, name: r.name, commit: r.commit });
}

function kustomizationSpec(s: KustomizationSpec): Record<string, unknown> {
  return compact({
    sourceRef: { kind: s.sourceRef.kind, name: s.sourceRef.name, namespace: s.sourceRef.namespace },
    path: fluxPath(s.path),
    interval: goDuration(s.intervalSeconds),
    retryInterval: goDuration(s.retryIntervalSeconds),
    timeout: goDuration(s.timeoutSeconds),
    prune: s.prune,
    wait: s.wait,
    healthChecks: s.healthChecks.map((h) => compact({ apiVersion: h.apiVersion || undefined, kind: h.kind, name: h.name, namespace: h.namespace })),
    dependsOn: s.dependsOn.map((d) => ({ name: d.name, namespace: d.namespace })),
    targetNamespace: s.targetNamespace,
    namePrefix: s.namePrefix,
    nameSuffix: s.nameSuffix,
    patches: s.patches.map((p) => compact({ patch: p.patch, target: p.target === undefined ? undefined : compact({ ...p.target }) })),
    images: s.images.map((i) => compact({ ...i })),
    commonMetadata: s.commonMetadata === undefined ? undefined : compact({ labels: s.commonMetadata.labels, annotations: s.commonMetadata.annotations }),
    postBuild: s.postBuild === undefined ? undefined : compact({ substitute: s.postBuild.substitute, substituteFrom: s.postBuild.substituteFrom.map((f) => ({ ...f })) }),
    force: s.force,
    suspend: s.suspend,
    placement: placement(s.placement),
    rollout: rollout(s.rollout),
  });
}

function helmReleaseSpec(s: HelmReleaseSpec): Record<string, unknown> {
  const c = s.chart;
  return compact({
    chart: {
      spec: compact({
        chart: c.sourceRef.kind === 'GitRepository' ? fluxPath(c.chart) : c.chart,
        // Not used for a chart from a GitRepository (as in Flux): left out there.
        version: c.sourceRef.kind === 'GitRepository' ? undefined : c.version,
        sourceRef: { kind: c.sourceRef.kind, name: c.sourceRef.name, namespace: c.sourceRef.namespace },
        interval: goDuration(c.intervalSeconds),
        reconcileStrategy: c.reconcileStrategy,
      }),
    },
    interval: goDuration(s.intervalSeconds),
    timeout: goDuration(s.timeoutSeconds),
    releaseName: s.releaseName,
    targetNamespace: s.targetNamespace,
    storageNamespace: s.storageNamespace,
    install: {
      timeout: goDuration(s.install.timeoutSeconds), createNamespace: s.install.createNamespace, crds: s.install.crds,
      remediation: { ...s.install.remediation }, disableWait: s.install.disableWait, replace: s.install.replace,
    },
    upgrade: {
      timeout: goDuration(s.upgrade.timeoutSeconds), remediation: { ...s.upgrade.remediation }, crds: s.upgrade.crds,
      force: s.upgrade.force, disableWait: s.upgrade.disableWait, cleanupOnFail: s.upgrade.cleanupOnFail,
    },
    rollback: {
      timeout: goDuration(s.rollback.timeoutSeconds), force: s.rollback.force, cleanupOnFail: s.rollback.cleanupOnFail,
      recreate: s.rollback.recreate, disableWait: s.rollback.disableWait,
    },
    uninstall: { timeout: goDuration(s.uninstall.timeoutSeconds), keepHistory: s.uninstall.keepHistory, disableWait: s.uninstall.disableWait },
    test: { enable: s.test.enable, timeout: goDuration(s.test.timeoutSeconds), ignoreFailures: s.test.ignoreFailures },
    values: s.values,
    valuesFrom: s.valuesFrom.map((v) => compact({ ...v })),
    dependsOn: s.dependsOn.map((d) => ({ name: d.name, namespace: d.namespace })),
    suspend: s.suspend,
    maxHistory: s.maxHistory,
    placement: placement(s.placement),
    rollout: rollout(s.rollout),
  });
}

/** The declaration's spec with Flux's field names (see the file's comment for what is normalised). */
export function declaredSpec(d: ActorDeclaration): Record<string, unknown> {
  switch (d.kind) {
    case 'GitRepository': {
      const s = d.spec;
      return compact({
        url: s.url, interval: goDuration(s.intervalSeconds), timeout: goDuration(s.timeoutSeconds), ref: gitRef(s.ref), ignore: s.ignore,
        include: s.include.map((i) => ({ repository: { name: i.repository.name }, fromPath: i.fromPath, toPath: i.toPath })),
        secretRef: s.secretRef === undefined ? undefined : { name: s.secretRef }, suspend: s.suspend,
      });
    }
    case 'HelmRepository': {
      const s = d.spec;
      return compact({
        url: s.url, type: s.type, interval: goDuration(s.intervalSeconds), timeout: goDuration(s.timeoutSeconds),
        secretRef: s.secretRef === undefined ? undefined : { name: s.secretRef }, passCredentials: s.passCredentials, insecure: s.insecure,
        provider: s.provider, suspend: s.suspend,
      });
    }
    case 'Kustomization': return kustomizationSpec(d.spec);
    case 'HelmRelease': return helmReleaseSpec(d.spec);
    case 'ImageRepository': {
      const s = d.spec;
      return compact({
        image: s.image, interval: goDuration(s.intervalSeconds), timeout: goDuration(s.timeoutSeconds),
        secretRef: s.secretRef === undefined ? undefined : { name: s.secretRef }, exclusionList: s.exclusionList, insecure: s.insecure, suspend: s.suspend,
      });
    }
    case 'ImagePolicy': {
      const s = d.spec;
      return compact({
        imageRepositoryRef: { name: s.imageRepositoryRef.name, namespace: s.imageRepositoryRef.namespace },
        policy: s.policy, filterTags: s.filterTags === undefined ? undefined : compact({ ...s.filterTags }), suspend: s.suspend,
      });
    }
    case 'ImageUpdateAutomation': {
      const s = d.spec;
      return compact({
        sourceRef: { kind: s.sourceRef.kind, name: s.sourceRef.name, namespace: s.sourceRef.namespace },
        git: compact({
          checkout: s.checkoutBranch === undefined ? undefined : { ref: { branch: s.checkoutBranch } },
          commit: compact({ author: { ...s.author }, messageTemplate: s.messageTemplate, messageTemplateValues: s.messageTemplateValues }),
          push: s.pushBranch === undefined ? undefined : { branch: s.pushBranch },
        }),
        interval: goDuration(s.intervalSeconds),
        policySelector: selector(s.policySelector),
        update: { path: fluxPath(s.updatePath), strategy: s.strategy },
        suspend: s.suspend,
      });
    }
  }
}

/** What an actor reports, as loosely typed here: core does not import the workflows' messages. */
export type ActorStatusRecord = Readonly<Record<string, unknown>> & { readonly generation?: number; readonly observedGeneration?: number };

/** Flux's names for what an actor's status holds under Flotilla's (GitRepository artifact, ImageRepository scan). */
function fluxStatusFields(kind: ActorDeclaration['kind'], status: ActorStatusRecord): Record<string, unknown> {
  const rest: Record<string, unknown> = { ...status };
  delete rest.generation; // metadata.generation
  const out: Record<string, unknown> = {};
  if ((kind === 'GitRepository' || kind === 'HelmRepository') && typeof rest.artifact === 'object' && rest.artifact !== null) {
    const a = rest.artifact as Record<string, unknown>;
    // Flux's Artifact: revision, digest, lastUpdateTime, size; fileCount is Flotilla's.
    out.artifact = compact({ revision: a.revision, digest: a.artifactDigest, lastUpdateTime: a.fetchedAt, size: a.bytes, fileCount: a.fileCount });
    delete rest.artifact;
  }
  if (kind === 'ImageRepository') {
    if (typeof rest.image === 'string') out.canonicalImageName = rest.image;
    delete rest.image;
    if (typeof rest.lastScan === 'object' && rest.lastScan !== null) {
      const s = rest.lastScan as Record<string, unknown>;
      out.lastScanResult = compact({ scanTime: s.scanTime, tagCount: s.tagCount, latestTags: s.latestTags, tagsDigest: s.tagsDigest });
      delete rest.lastScan;
    }
  }
  // conditions and observedGeneration first, as Flux's controllers write them.
  const { conditions, observedGeneration, ...others } = rest;
  return { conditions, observedGeneration, ...out, ...others };
}

/** One declaration and its actor's status as a Kubernetes object. */
export function toKubeObject(declaration: ActorDeclaration, status: ActorStatusRecord | undefined): KubeObject {
  const d = declaration;
  const metadata = compact({
    name: d.name, namespace: d.namespace, labels: d.labels, annotations: d.annotations,
    generation: status?.generation,
  });
  return {
    apiVersion: d.apiVersion,
    kind: d.kind,
    metadata,
    spec: declaredSpec(d),
    ...(status === undefined ? {} : { status: withRfc3339Times(fluxStatusFields(d.kind, status)) }),
  };
}
