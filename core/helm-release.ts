// A Helm release on one cluster, as Helm stores it and as Flux's helm-controller (v2) decides
// what to do after a failure. Flotilla keeps this history per cluster and per HelmRelease;
// the functions here are the rules, and they never change their input (each returns a new
// history).
//
// Helm's model, in short: every install, upgrade and rollback writes a new numbered revision
// (1, 2, ...). A revision starts "pending-<action>" and ends "deployed" or "failed"; when one
// is deployed, the one deployed before it becomes "superseded". An uninstall deletes the
// records (or, with keepHistory, marks the latest one "uninstalled"). Helm keeps at most
// maxHistory revisions, never dropping the deployed one.
//
// Flux's remediation on top of it: failures of install and upgrade are counted against the
// current desired state (status.installFailures / upgradeFailures, reset by a success or a
// change of the desired state). Between attempts Flux remediates: a failed install is
// uninstalled, a failed upgrade is rolled back (or uninstalled, per upgrade.remediation.strategy).
// When the retries are used up the HelmRelease is stalled (reason RetriesExceeded), after one
// last remediation only if remediateLastFailure says so.
//
// Also here: the default release name (Flux's `[<targetNamespace>-]<name>`, shortened with a
// SHA-256 past Helm's 53 characters), with the small SHA-256 it needs.
// Pure (no Node built-ins): workflow code imports it.

export type ReleaseStatus =
  | 'pending-install' | 'pending-upgrade' | 'pending-rollback' | 'deployed' | 'failed' | 'superseded' | 'uninstalled';

export type ReleaseAction = 'install' | 'upgrade' | 'rollback' | 'uninstall';

export interface ReleaseRevision {
  readonly revision: number;
  readonly chartName: string;
  readonly chartVersion: string;
  readonly appVersion?: string;
  /** Digest of the merged values the revision was rendered with. */
  readonly valuesDigest: string;
  /** Digest of the rendered manifests. */
  readonly artifactDigest: string;
  readonly hooksDigest?: string;
  readonly status: ReleaseStatus;
  readonly action: ReleaseAction;
  /** Helm's description: "Install complete", "Rollback to 3", the error of a failure, ... */
  readonly description: string;
  /** Milliseconds since the epoch (workflow time). */
  readonly startedAt: number;
  readonly finishedAt?: number;
  /** For a rollback: the revision whose chart, values and manifests it restored. */
  readonly rolledBackTo?: number;
}

export interface ReleaseHistory {
  readonly releaseName: string;
  /** Helm's storage namespace. */
  readonly namespace: string;
  /** Ascending by revision. */
  readonly revisions: readonly ReleaseRevision[];
  /** Flux's status.installFailures and status.upgradeFailures, against the current desired state. */
  readonly failures: { readonly install: number; readonly upgrade: number };
}

/** What beginRevision needs; the description defaults to Helm's. */
export type RevisionStart =
  Omit<ReleaseRevision, 'revision' | 'status' | 'action' | 'description' | 'startedAt' | 'finishedAt'> & {
    readonly action: 'install' | 'upgrade' | 'rollback';
    readonly description?: string;
  };

export function emptyHistory(releaseName: string, namespace: string): ReleaseHistory {
  return { releaseName, namespace, revisions: [], failures: { install: 0, upgrade: 0 } };
}

/** The latest revision, whatever its status. */
export function current(h: ReleaseHistory): ReleaseRevision | undefined {
  return h.revisions.at(-1);
}

/** The revision running now (Helm's "deployed" release), if any. */
export function lastDeployed(h: ReleaseHistory): ReleaseRevision | undefined {
  return h.revisions.findLast((r) => r.status === 'deployed');
}

/** A release exists once installed and until uninstalled (Helm: records exist and the latest is not "uninstalled"). */
export function releaseExists(h: ReleaseHistory): boolean {
  const latest = current(h);
  return latest !== undefined && latest.status !== 'uninstalled';
}

function isPending(status: ReleaseStatus): boolean {
  return status.startsWith('pending-');
}

/** Helm's descriptions of a revision under way (pkg/action install.go, upgrade.go, rollback.go). */
function pendingDescription(start: RevisionStart): string {
  switch (start.action) {
    case 'install': return 'Initial install underway';
    case 'upgrade': return 'Preparing upgrade';
    case 'rollback': return `Rollback to ${start.rolledBackTo ?? '?'}`;
  }
}

/**
 * Records the start of an install, upgrade or rollback: a new revision numbered after the
 * latest one (Helm numbers revisions per release, +1 each action), status pending-<action>.
 * Throws when an action is already pending (Helm: "another operation is in progress"), or
 * when a rollback names no revision of the history.
 */
export function beginRevision(h: ReleaseHistory, start: RevisionStart, now: number): { history: ReleaseHistory; revision: number } {
  const latest = current(h);
  if (latest !== undefined && isPending(latest.status)) {
    throw new Error(`release ${h.namespace}/${h.releaseName}: revision ${latest.revision} is still ${latest.status}; finish it first`);
  }
  if (start.action === 'rollback' && !h.revisions.some((r) => r.revision === start.rolledBackTo)) {
    throw new Error(`release ${h.namespace}/${h.releaseName}: no revision ${String(start.rolledBackTo)} to roll back to`);
  }
  const revision = (latest?.revision ?? 0) + 1;
  const record: ReleaseRevision = {
    ...start,
    revision,
    status: `pending-${start.action}`,
    description: start.description ?? pendingDescription(start),
    startedAt: now,
  };
  return { history: { ...h, revisions: [...h.revisions, record] }, revision };
}

/**
 * Starts a rollback to `toRevision`: Helm's rollback writes a NEW revision carrying the
 * target's chart, values and manifests (pkg/action/rollback.go), rolledBackTo = the target.
 */
export function beginRollback(h: ReleaseHistory, toRevision: number, now: number): { history: ReleaseHistory; revision: number } {
  const target = h.revisions.find((r) => r.revision === toRevision);
  if (target === undefined) throw new Error(`release ${h.namespace}/${h.releaseName}: no revision ${toRevision} to roll back to`);
  return beginRevision(h, {
    action: 'rollback', rolledBackTo: toRevision,
    chartName: target.chartName, chartVersion: target.chartVersion, appVersion: target.appVersion,
    valuesDigest: target.valuesDigest, artifactDigest: target.artifactDigest, hooksDigest: target.hooksDigest,
  }, now);
}

/**
 * Records how a pending revision ended.
 * - ok: it becomes "deployed" and every other deployed revision "superseded" (Helm's upgrade
 *   supersedes the release it replaced; its rollback supersedes every deployed one, helm#2941).
 *   A successful install or upgrade resets both failure counters (Flux: "reset after a
 *   successful reconciliation"); a successful rollback does not, since it is a remediation
 *   and the desired state is still not deployed.
 * - not ok: it becomes "failed" (other revisions keep their status, so the one deployed
 *   before a failed upgrade stays deployed, as in Helm) and a failed install or upgrade adds
 *   one to its counter (Flux's IncrementFailureCount). A failed rollback counts nowhere.
 * Throws when the revision is unknown or not pending.
 */
export function finishRevision(h: ReleaseHistory, revision: number, outcome: { ok: boolean; description: string }, now: number): ReleaseHistory {
  const target = h.revisions.find((r) => r.revision === revision);
  if (target === undefined || !isPending(target.status)) {
    throw new Error(`release ${h.namespace}/${h.releaseName}: revision ${revision} is not pending (${target?.status ?? 'unknown'})`);
  }
  const revisions = h.revisions.map((r): ReleaseRevision => {
    if (r.revision === revision) return { ...r, status: outcome.ok ? 'deployed' : 'failed', description: outcome.description, finishedAt: now };
    if (outcome.ok && r.status === 'deployed') return { ...r, status: 'superseded' };
    return r;
  });
  let failures = h.failures;
  if (target.action === 'install' || target.action === 'upgrade') {
    failures = outcome.ok
      ? { install: 0, upgrade: 0 }
      : { ...h.failures, [target.action]: h.failures[target.action] + 1 };
  }
  return { ...h, revisions, failures };
}

/**
 * Records an uninstall. Helm deletes every record of the release unless uninstall.keepHistory,
 * in which case the latest revision is kept and marked "uninstalled" (pkg/action/uninstall.go).
 * `keepHistory` defaults to true here, so the history says what happened; pass the
 * HelmRelease's uninstall.keepHistory to mirror Helm's storage exactly. Either way the release
 * no longer exists (releaseExists is false) and the next install starts it again. Failure
 * counters are Flux's, not Helm's, and are kept.
 */
export function markUninstalled(h: ReleaseHistory, now: number, description: string, options: { keepHistory: boolean } = { keepHistory: true }): ReleaseHistory {
  if (!options.keepHistory) return { ...h, revisions: [] };
  const latest = current(h);
  if (latest === undefined) return h;
  return {
    ...h,
    revisions: h.revisions.map((r) => (r.revision === latest.revision ? { ...r, status: 'uninstalled', description, finishedAt: now } : r)),
  };
}

/** Flux clears the failure counters when the desired state changes (new chart, values or spec). */
export function resetFailures(h: ReleaseHistory): ReleaseHistory {
  return { ...h, failures: { install: 0, upgrade: 0 } };
}

// ---------------------------------------------------------------------------------------
// What to do next

export type NextAction =
  | { readonly kind: 'none' }
  | { readonly kind: 'install' }
  | { readonly kind: 'upgrade' }
  /** attempt: which retry this is (1 = the first retry after the first failure). */
  | { readonly kind: 'retry'; readonly action: 'install' | 'upgrade'; readonly attempt: number }
  | { readonly kind: 'rollback'; readonly toRevision: number }
  | { readonly kind: 'uninstall' }
  | { readonly kind: 'stalled'; readonly reason: string };

/** The remediation part of a HelmRelease spec (see HelmInstallSpec / HelmUpgradeSpec in core/declarations/types.ts). */
export interface RemediationSpec {
  readonly install: { readonly retries: number; readonly remediateLastFailure?: boolean };
  readonly upgrade: { readonly retries: number; readonly remediateLastFailure: boolean; readonly strategy: 'rollback' | 'uninstall' };
}

/**
 * Flux's RetriesExhausted: `retries >= 0 && failures > retries`. So retries 0 allows the one
 * attempt, retries 3 allows four, and a negative number never runs out.
 */
export function retriesExhausted(failures: number, retries: number): boolean {
  return retries >= 0 && failures > retries;
}

/**
 * The next step after `failedAction` failed, read from the history as it is now, so it is
 * asked again after each step: failure → remediation → retry → ... The rules are those of
 * helm-controller v2's AtomicRelease (internal/reconcile/atomic_release.go):
 *
 * 1. No failure counted (failures 0): the desired state changed since the failure, so Flux
 *    does not remediate but tries again: install when there is no release, upgrade otherwise.
 * 2. The latest revision failed (or is stuck pending, which Flux first unlocks by marking it
 *    failed): remediate while retries remain, or once more when remediateLastFailure is set
 *    (install: default false; upgrade: default true when retries > 0). Otherwise stalled,
 *    reason RetriesExceeded, leaving the failed release for someone to look at.
 *    - a failed install is uninstalled (InstallRemediation's strategy is always uninstall);
 *    - a failed upgrade is rolled back to the last deployed revision (stalled with
 *      MissingRollbackTarget when there is none), or uninstalled with strategy "uninstall".
 * 3. The remediation is done (no release after an uninstall; a deployed rollback after a
 *    rollback): retry while retries remain, else stalled (Flux stalls right after the last
 *    remediation). After an uninstall the retry is an install (Flux reinstalls), still
 *    counted against the failed action.
 * 4. The latest revision is deployed by install or upgrade: nothing to remediate.
 */
export function remediation(h: ReleaseHistory, spec: RemediationSpec, failedAction: 'install' | 'upgrade'): NextAction {
  const failures = h.failures[failedAction];
  const retries = failedAction === 'install' ? spec.install.retries : spec.upgrade.retries;
  const exhausted = retriesExhausted(failures, retries);
  const stalled: NextAction = { kind: 'stalled', reason: `RetriesExceeded: failed to ${failedAction} after ${failures} attempt(s)` };
  const latest = current(h);

  // 3a. No release: never installed, or uninstalled by a remediation.
  if (latest === undefined || latest.status === 'uninstalled') {
    if (failures === 0) return { kind: 'install' };
    return exhausted ? stalled : { kind: 'retry', action: 'install', attempt: failures };
  }

  // 2. A failed (or abandoned pending) revision is the latest.
  if (latest.status === 'failed' || isPending(latest.status)) {
    if (failures === 0) return { kind: 'upgrade' };
    const remediateLast = failedAction === 'install' ? spec.install.remediateLastFailure ?? false : spec.upgrade.remediateLastFailure;
    if (exhausted && !remediateLast) return stalled;
    if (failedAction === 'install' || spec.upgrade.strategy === 'uninstall') return { kind: 'uninstall' };
    const target = lastDeployed(h);
    if (target === undefined) {
      return { kind: 'stalled', reason: `MissingRollbackTarget: release ${h.namespace}/${h.releaseName} has no deployed revision to roll back to` };
    }
    return { kind: 'rollback', toRevision: target.revision };
  }

  // 3b. A rollback remediation is deployed: the upgrade is still to be done.
  if (latest.status === 'deployed' && latest.action === 'rollback' && failedAction === 'upgrade') {
    if (failures === 0) return { kind: 'upgrade' };
    return exhausted ? stalled : { kind: 'retry', action: 'upgrade', attempt: failures };
  }

  // 4. Deployed by install or upgrade (or a superseded state no action left behind).
  return { kind: 'none' };
}

/**
 * Helm's history limit (pkg/storage removeLeastRecent): drop the oldest revisions until at
 * most maxHistory remain, never the last deployed one. maxHistory 0 (or less) = unlimited,
 * as in Helm and Flux.
 */
export function prune(h: ReleaseHistory, maxHistory: number): ReleaseHistory {
  if (maxHistory <= 0 || h.revisions.length <= maxHistory) return h;
  const keep = lastDeployed(h)?.revision;
  const drop = new Set<number>();
  for (const r of h.revisions) {
    if (h.revisions.length - drop.size <= maxHistory) break;
    if (r.revision !== keep) drop.add(r.revision);
  }
  return { ...h, revisions: h.revisions.filter((r) => !drop.has(r.revision)) };
}

/**
 * Whether an existing release must be upgraded to reach `desired`: the latest revision is not
 * deployed (failed or interrupted), or it was made from another chart, chart version, values
 * or manifests (Flux's "out of sync" check, plus the rendered manifests). False when there is
 * no release: that is an install. After a failure ask remediation() first: it says whether
 * another attempt is allowed.
 */
export function needsUpgrade(h: ReleaseHistory, desired: { chartName?: string; chartVersion: string; valuesDigest: string; artifactDigest: string }): boolean {
  const latest = current(h);
  if (latest === undefined || latest.status === 'uninstalled') return false;
  if (latest.status !== 'deployed') return true;
  return (desired.chartName !== undefined && desired.chartName !== latest.chartName)
    || desired.chartVersion !== latest.chartVersion
    || desired.valuesDigest !== latest.valuesDigest
    || desired.artifactDigest !== latest.artifactDigest;
}

// ---------------------------------------------------------------------------------------
// Which action next

/**
 * The reasons a HelmRelease's conditions and its per-cluster status carry. The Helm action
 * reasons are helm-controller's (api/v2/condition_types.go: InstallSucceededReason, ...);
 * `RolledBack` is Flotilla's name for a cluster held at or returned to an earlier revision.
 */
export const HelmReleaseReason = {
  Progressing: 'Progressing',
  ReconciliationSucceeded: 'ReconciliationSucceeded',
  ReconciliationFailed: 'ReconciliationFailed',
  ArtifactFailed: 'ArtifactFailed',
  DependencyNotReady: 'DependencyNotReady',
  ChartPullError: 'ChartPullError',
  ChartNotFound: 'ChartNotFound',
  NoMatchingVersion: 'NoMatchingVersion',
  InvalidRange: 'InvalidRange',
  RenderFailed: 'RenderFailed',
  ValuesError: 'ValuesError',
  InstallSucceeded: 'InstallSucceeded',
  InstallFailed: 'InstallFailed',
  UpgradeSucceeded: 'UpgradeSucceeded',
  UpgradeFailed: 'UpgradeFailed',
  RetriesExceeded: 'RetriesExceeded',
  RolledBack: 'RolledBack',
  RollbackFailed: 'RollbackFailed',
  HealthCheckFailed: 'HealthCheckFailed',
  RolloutFailed: 'RolloutFailed',
  /** A placed cluster the release never ran on. */
  NotInstalled: 'NotInstalled',
} as const;

/** What the release is wanted at on one cluster: the chart and the digests of its render. */
export interface DesiredRelease {
  readonly chartName: string;
  readonly chartVersion: string;
  readonly valuesDigest: string;
  readonly artifactDigest: string;
}

/** A release held at a revision by `flotilla helm rollback`, until the desired chart or values change. */
export interface ReleaseHold {
  readonly chartVersion: string;
  readonly valuesDigest: string;
  readonly artifactDigest: string;
  readonly revision: number;
}

/** What nextReleaseAction decided for one cluster. */
export type ReleaseDecision =
  /** `flotilla helm rollback` holds the release for this desired state: leave it (ok when its latest revision is deployed). */
  | { readonly kind: 'held'; readonly revision: number; readonly deployed: boolean }
  /** The latest revision is deployed and made of the desired state: nothing to do. */
  | { readonly kind: 'in-sync'; readonly revision: number }
  /** The same desired state failed before and its retries are spent: stay put until it changes. */
  | { readonly kind: 'retries-exhausted'; readonly action: 'install' | 'upgrade'; readonly attempt: ReleaseRevision; readonly running?: ReleaseRevision }
  /**
   * Run the action. `desiredChanged`: the last install/upgrade attempt was of another desired
   * state, so the failure counters start afresh (resetFailures) before it.
   */
  | { readonly kind: 'install' | 'upgrade'; readonly desiredChanged: boolean };

/**
 * The action a reconcile runs on one cluster, from its release history and the desired state:
 * helm-controller v2's AtomicRelease, whose DetermineReleaseState (internal/reconcile/state.go)
 * reads the release's state and whose actionForState (internal/reconcile/atomic_release.go)
 * maps it to an action. In the order checked:
 *
 * 1. held: a `flotilla helm rollback` hold for exactly this desired state (Flotilla's; Flux
 *    has no manual rollback to keep).
 * 2. in-sync: the latest revision is deployed and was made from this chart, chart version,
 *    values and manifests (ReleaseStatusInSync → no action).
 * 3. The action is an upgrade when a revision is deployed (ReleaseStatusOutOfSync, or
 *    ReleaseStatusFailed with a deployed one → NewUpgrade), else an install
 *    (ReleaseStatusAbsent → NewInstall; Flotilla also installs again over a failed install
 *    with nothing deployed, where Flux's remediation has uninstalled it already).
 * 4. retries-exhausted: the last install/upgrade attempt failed, was of this same desired
 *    state, and the action's failures are past its retries (RetriesExhausted →
 *    ErrExceededMaxRetries: "cannot install/upgrade release").
 * 5. Otherwise the action; a desired state other than the last attempt's resets the failure
 *    counters first (Flux: "release conditions have changed since last failure").
 *
 * What follows a failed attempt is remediation()'s to decide.
 */
export function nextReleaseAction(
  h: ReleaseHistory, desired: DesiredRelease, retries: { readonly install: number; readonly upgrade: number }, hold?: ReleaseHold,
): ReleaseDecision {
  const latest = current(h);
  if (hold && hold.chartVersion === desired.chartVersion && hold.valuesDigest === desired.valuesDigest && hold.artifactDigest === desired.artifactDigest) {
    return { kind: 'held', revision: hold.revision, deployed: latest?.status === 'deployed' };
  }
  if (!needsUpgrade(h, desired) && latest?.status === 'deployed') return { kind: 'in-sync', revision: latest.revision };
  const action = lastDeployed(h) ? 'upgrade' : 'install';
  // The last install/upgrade attempt, whatever remediation followed it.
  const attempt = h.revisions.findLast((x) => x.action === 'install' || x.action === 'upgrade');
  const sameDesired = attempt !== undefined && attempt.artifactDigest === desired.artifactDigest && attempt.valuesDigest === desired.valuesDigest;
  if (attempt?.status === 'failed' && sameDesired && retriesExhausted(h.failures[action], retries[action])) {
    return { kind: 'retries-exhausted', action, attempt, ...(latest?.status === 'deployed' ? { running: latest } : {}) };
  }
  return { kind: action, desiredChanged: !sameDesired };
}

// ---------------------------------------------------------------------------------------
// Release name

/** Helm's limit on release names (chartutil.ValidateReleaseName). */
export const MAX_RELEASE_NAME = 53;

/**
 * Flux's default release name: `<targetNamespace>-<name>` when a target namespace is given,
 * else `<name>`; past 53 characters it is cut to 40 and followed by '-' and the first 12 hex
 * digits of the SHA-256 of the full name (helm-controller internal/release.ShortenName).
 */
export function defaultReleaseName(name: string, targetNamespace?: string): string {
  const full = targetNamespace === undefined ? name : `${targetNamespace}-${name}`;
  return shortenReleaseName(full);
}

export function shortenReleaseName(name: string): string {
  if (name.length <= MAX_RELEASE_NAME) return name;
  const hashLength = 12;
  return `${name.slice(0, MAX_RELEASE_NAME - hashLength - 1)}-${sha256Hex(name).slice(0, hashLength)}`;
}

/** SHA-256 round constants (FIPS 180-4, 4.2.2). */
const K = [
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/**
 * SHA-256 of a string's UTF-8 bytes, as hex. Written out because node:crypto is not
 * available to workflow code; only used for short names, so clarity beats speed.
 */
export function sha256Hex(text: string): string {
  const bytes = new TextEncoder().encode(text);
  // Padding: 0x80, zeros, then the length in bits as a 64-bit big-endian number.
  const padded = new Uint8Array(Math.ceil((bytes.length + 9) / 64) * 64);
  padded.set(bytes);
  padded[bytes.length] = 0x80;
  const view = new DataView(padded.buffer);
  const bits = bytes.length * 8;
  view.setUint32(padded.length - 8, Math.floor(bits / 2 ** 32));
  view.setUint32(padded.length - 4, bits >>> 0);

  const rotr = (x: number, n: number): number => (x >>> n) | (x << (32 - n));
  const hash = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
  const w: number[] = new Array<number>(64).fill(0);
  for (let block = 0; block < padded.length; block += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(block + i * 4);
    for (let i = 16; i < 64; i++) {
      const w15 = w[i - 15] ?? 0;
      const w2 = w[i - 2] ?? 0;
      const s0 = rotr(w15, 7) ^ rotr(w15, 18) ^ (w15 >>> 3);
      const s1 = rotr(w2, 17) ^ rotr(w2, 19) ^ (w2 >>> 10);
      w[i] = ((w[i - 16] ?? 0) + s0 + (w[i - 7] ?? 0) + s1) >>> 0;
    }
    let [a, b, c, d, e, f, g, hh] = hash as [number, number, number, number, number, number, number, number];
    for (let i = 0; i < 64; i++) {
      const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + (K[i] ?? 0) + (w[i] ?? 0)) >>> 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
      hh = g; g = f; f = e; e = (d + t1) >>> 0;
      d = c; c = b; b = a; a = (t1 + t2) >>> 0;
    }
    [a, b, c, d, e, f, g, hh].forEach((v, i) => { hash[i] = ((hash[i] ?? 0) + v) >>> 0; });
  }
  return hash.map((v) => v.toString(16).padStart(8, '0')).join('');
}
