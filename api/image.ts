// The image automation actors' contracts: ImageRepository (`imagerepository/<ns>/<name>`)
// scans tags, ImagePolicy (`imagepolicy/<ns>/<name>`) picks the latest image,
// ImageUpdateAutomation (`imageupdateautomation/<ns>/<name>`) commits it to git. Their ids,
// workflow types and inputs, statuses, queries, the signal a policy sends its automations,
// and the activities they call (implemented in activities/image-activities.ts).
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type {
  ImagePolicyDeclaration, ImagePolicyRule, ImagePolicySpec, ImageRepositoryDeclaration, ImageRepositorySpec, ImageUpdateAutomationDeclaration,
  ImageUpdateAutomationSpec, LabelSelector,
} from '../core/declarations/types.js';
import { actorWorkflowId, type ActorMemory, type ActorStatusBase, type SourceArtifactEvent } from './actor.js';

/** `imagerepository/<namespace>/<name>`: the actor an ImagePolicy follows. */
export function imageRepositoryId(namespace: string, name: string): string {
  return actorWorkflowId('ImageRepository', namespace, name);
}

/** `imagepolicy/<namespace>/<name>`: the actor an ImageUpdateAutomation subscribes to. */
export function imagePolicyId(namespace: string, name: string): string {
  return actorWorkflowId('ImagePolicy', namespace, name);
}

/** `imageupdateautomation/<namespace>/<name>`. */
export function imageUpdateAutomationId(namespace: string, name: string): string {
  return actorWorkflowId('ImageUpdateAutomation', namespace, name);
}

/** The workflow's registered name (its function in workflows/index.ts): the hub starts it by this name. */
export const IMAGE_REPOSITORY_WORKFLOW_TYPE = 'imageRepositoryWorkflow';
export type ImageRepositoryWorkflow = (input: ImageRepositoryInput) => Promise<void>;
/** The workflow's registered name (its function in workflows/index.ts): the hub starts it by this name. */
export const IMAGE_POLICY_WORKFLOW_TYPE = 'imagePolicyWorkflow';
export type ImagePolicyWorkflow = (input: ImagePolicyInput) => Promise<void>;
/** The workflow's registered name (its function in workflows/index.ts): the hub starts it by this name. */
export const IMAGE_UPDATE_AUTOMATION_WORKFLOW_TYPE = 'imageUpdateAutomationWorkflow';
export type ImageUpdateAutomationWorkflow = (input: ImageUpdateAutomationInput) => Promise<void>;

export interface ImageRepositoryInput extends ActorMemory<ImageRepositoryDeclaration> {
  readonly status?: ImageRepositoryStatus;
}

export interface ImagePolicyInput extends ActorMemory<ImagePolicyDeclaration> {
  readonly status?: ImagePolicyStatus;
  /** The repository's last tag list, as it told us. */
  readonly tags?: SourceArtifactEvent;
}

export interface ImageUpdateAutomationInput extends ActorMemory<ImageUpdateAutomationDeclaration> {
  readonly status?: ImageUpdateAutomationStatus;
  /** Policy actor ids this automation subscribed to, with the image each last told. */
  readonly policies?: Readonly<Record<string, string>>;
}

/** What an ImageRepository's last successful scan found. */
export interface ImageScan {
  /** ms since epoch */
  readonly scanTime: number;
  readonly tagCount: number;
  /** Flux's lastScanResult.latestTags: the 10 highest tags in reverse alphabetical order. */
  readonly latestTags: readonly string[];
  /** The full tag list (JSON) in the artifact store: kept out of workflow histories. */
  readonly tagsDigest: string;
}

export interface ImageRepositoryStatus extends ActorStatusBase {
  /** The canonical image name (registry host included). */
  readonly image: string;
  readonly lastScan?: ImageScan;
  readonly subscribers: readonly string[];
}

export interface ImagePolicyStatus extends ActorStatusBase {
  /** The ImageRepository actor it follows. */
  readonly repository: string;
  /** Flux's status.latestImage: `<image>:<tag>`. */
  readonly latestImage?: string;
  /** Flux's status.observedPreviousImage. */
  readonly previousImage?: string;
  /** The tag list the decision was made on, how many tags passed filterTags, and when (ms since epoch). */
  readonly basedOn?: { readonly tagsDigest: string; readonly candidates: number; readonly evaluatedAt: number };
  readonly subscribers: readonly string[];
}

/** What an ImagePolicy tells its subscribers (ImageUpdateAutomations) when its latest image changes. */
export interface LatestImageEvent {
  readonly policy: string;
  /** Undefined while the policy has no image (no tag matched). */
  readonly image?: string;
}

export interface ImageUpdateAutomationStatus extends ActorStatusBase {
  /** The GitRepository actor it commits to. */
  readonly source: string;
  /** ms since epoch of the last run that got as far as git. */
  readonly lastAutomationRunTime?: number;
  readonly lastPushCommit?: string;
  readonly lastPushTime?: number;
  readonly lastPushBranch?: string;
  /** The branch tip the last run found (its own commit after a push). */
  readonly lastBaseCommit?: string;
  /** The policies applied on the last run, `<ns>/<name>` → image. */
  readonly observedPolicies: Readonly<Record<string, string>>;
}

export const imageRepositoryStatusQuery = defineQuery<ImageRepositoryStatus>('imageRepositoryStatus');
export const imagePolicyStatusQuery = defineQuery<ImagePolicyStatus>('imagePolicyStatus');
export const imageUpdateStatusQuery = defineQuery<ImageUpdateAutomationStatus>('imageUpdateAutomationStatus');
export const latestImageSignal = defineSignal<[LatestImageEvent]>('latestImage');

// ---- Activities (one interface for the three actors) -----------------------------------------

export interface ScanImageRepositoryInput {
  readonly id: string;
  readonly namespace: string;
  readonly spec: ImageRepositorySpec;
}

export interface ScanImageRepositoryResult {
  /** The canonical image name (registry host included). */
  readonly image: string;
  readonly tagCount: number;
  /** The 10 highest tags in reverse alphabetical order (Flux's latestTags). */
  readonly latestTags: readonly string[];
  /** `{ image, tags }` as JSON in the artifact store: the tag list never enters a workflow history. */
  readonly tagsDigest: string;
  /** Tags dropped by spec.exclusionList. */
  readonly excluded: number;
}

export interface SelectImageInput {
  readonly id: string;
  readonly tagsDigest: string;
  readonly policy: ImagePolicyRule;
  readonly filterTags?: ImagePolicySpec['filterTags'];
}

export type SelectImageResult =
  | { readonly image: string; readonly tag: string; readonly candidates: number }
  | { readonly none: string; readonly candidates: number };

export interface ImagePolicyImage {
  /** The policy's actor id. */
  readonly policy: string;
  readonly namespace: string;
  readonly name: string;
  readonly image?: string;
}

export interface FindImagePoliciesInput {
  readonly namespace: string;
  readonly selector?: LabelSelector;
}

export interface PushImageUpdatesInput {
  readonly id: string;
  readonly namespace: string;
  readonly name: string;
  readonly spec: ImageUpdateAutomationSpec;
  /** `<policy ns>:<policy name>` → image, as setter markers name them. */
  readonly images: Readonly<Record<string, string>>;
}

export interface PushImageUpdatesResult {
  readonly outcome: 'pushed' | 'unchanged';
  readonly branch: string;
  readonly baseCommit: string;
  readonly commit?: string;
  readonly changes: readonly { readonly file: string; readonly setter: string; readonly oldValue: string; readonly newValue: string }[];
  readonly attempts: number;
  /** The pushed branch is the one the GitRepository follows. */
  readonly followsSource: boolean;
  readonly message?: string;
}

export interface ImageActivities {
  scanImageRepository(input: ScanImageRepositoryInput): Promise<ScanImageRepositoryResult>;
  selectImage(input: SelectImageInput): Promise<SelectImageResult>;
  /** The running ImagePolicies of a namespace that match the selector, with their latest images. */
  findImagePolicies(input: FindImagePoliciesInput): Promise<ImagePolicyImage[]>;
  pushImageUpdates(input: PushImageUpdatesInput): Promise<PushImageUpdatesResult>;
}
