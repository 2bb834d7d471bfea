// What one artifact may cost the agent. The hub bounds what a render produces
// (core/render-limits.ts); the agent bounds what it accepts from the hub on its own, so that a
// hub with raised caps (or a compromised one) cannot take the memory of every cluster's agent.
// Flags --max-artifact-bytes and --max-objects (agents/main.ts), chart values
// limits.maxArtifactBytes and limits.maxObjects (deploy/charts/flotilla-agent). An artifact over
// either is refused before anything of it is applied; what runs keeps running.
import { constants as bufferConstants } from 'node:buffer';
import { MAX_MANIFEST_BYTES, MAX_MANIFEST_OBJECTS, type ParseLimits } from '../core/manifests.js';
import { formatBytes } from '../core/render-limits.js';

export interface AgentBounds {
  /** Bytes of one artifact; a larger one is refused while it downloads. */
  readonly maxArtifactBytes: number;
  /** Objects in one artifact. */
  readonly maxObjects: number;
}

/** The same as what one parse accepts on the hub (core/manifests.ts): hub and agent agree by default. */
export const DEFAULT_AGENT_BOUNDS: AgentBounds = { maxArtifactBytes: MAX_MANIFEST_BYTES, maxObjects: MAX_MANIFEST_OBJECTS };

/**
 * The largest cap that can work: an artifact is decoded to one string, and V8 holds no longer
 * string (2^29 - 24 characters on 64-bit Node.js).
 */
export const MAX_ARTIFACT_BYTES_CEILING = bufferConstants.MAX_STRING_LENGTH;

/** What to do about a refused artifact, for the report on the deployment. */
const advice = (flag: string): string => 'nothing of it was applied and what runs is unchanged; make the deployment smaller '
  + `(split it into several Kustomizations or HelmReleases), or raise ${flag} of this cluster's agent`;

/** Why a set of bounds (from flags) cannot work; undefined when fine. */
export function agentBoundsProblem(bounds: AgentBounds): string | undefined {
  const { maxArtifactBytes, maxObjects } = bounds;
  if (!Number.isSafeInteger(maxArtifactBytes) || maxArtifactBytes < 1) {
    return `--max-artifact-bytes must be a positive integer number of bytes, got ${maxArtifactBytes}`;
  }
  if (maxArtifactBytes > MAX_ARTIFACT_BYTES_CEILING) {
    return `--max-artifact-bytes must be at most ${MAX_ARTIFACT_BYTES_CEILING} (the longest string Node.js holds; an artifact is decoded to one), got ${maxArtifactBytes}`;
  }
  if (!Number.isSafeInteger(maxObjects) || maxObjects < 1) return `--max-objects must be a positive integer, got ${maxObjects}`;
  return undefined;
}

/** The refusal of an artifact that grew past --max-artifact-bytes while it downloaded (or was read from the cache). */
export function artifactTooLarge(digest: string, seen: number, bounds: AgentBounds, when: 'downloading' | 'cached'): string {
  const what = when === 'downloading' ? `refused after ${formatBytes(seen)} while downloading` : `the cached copy is ${formatBytes(seen)}`;
  return `artifact ${digest} is larger than the agent's cap of ${formatBytes(bounds.maxArtifactBytes)} (--max-artifact-bytes, `
    + `chart value limits.maxArtifactBytes): ${what}; ${advice('--max-artifact-bytes')}`;
}

/** parseManifests' caps for an artifact, naming the agent's flags in a refusal. */
export function artifactParseLimits(bounds: AgentBounds): ParseLimits {
  return {
    maxBytes: bounds.maxArtifactBytes, maxObjects: bounds.maxObjects,
    bytesHint: `the agent accepts in one artifact (--max-artifact-bytes, chart value limits.maxArtifactBytes); ${advice('--max-artifact-bytes')}`,
    objectsHint: `the agent accepts in one artifact (--max-objects, chart value limits.maxObjects); ${advice('--max-objects')}`,
  };
}
