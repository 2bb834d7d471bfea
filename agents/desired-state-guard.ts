// Desired state only moves forward. The hub's record of a cluster (its `cluster/<name>`
// actor) can be lost: Temporal restored from a backup or started on an empty database, the
// actor terminated by an operator, the cluster removed and registered again. A new record
// starts empty, and an agent that took its empty state at its word would delete everything
// it runs. So every desired state carries the epoch of the record that made it, and the
// agent decides here, before it takes a state, whether that state continues the one it
// holds. Pure: the agent acts on the decision (agents/agent.ts, the desired_state message).

/** What the agent holds: the epoch and version of its last accepted state. */
export interface HeldDesired {
  /** "" for a state from a hub before epochs (or none yet). */
  readonly epoch: string;
  readonly version: bigint;
  /** Deployments the agent runs (applied, or desired and not yet removed): what a wrong state would delete. */
  readonly deployments: number;
}

/** What the hub sent. */
export interface IncomingDesired {
  readonly epoch: string;
  readonly version: bigint;
  /** Set by `flotilla cluster adopt`: the epoch this state may replace. */
  readonly adoptEpoch: string;
}

export type Decision =
  | { readonly accept: true; readonly why: 'continues' | 'nothing-held' | 'adopted' | 'legacy'; readonly epochChanged: boolean }
  | { readonly accept: false; readonly reason: string };

export function decideDesired(held: HeldDesired, incoming: IncomingDesired, cluster: string): Decision {
  const epochChanged = incoming.epoch !== held.epoch;
  // 1. The same record, as new or newer: the normal case (a resend of the same version too).
  if (!epochChanged && incoming.version >= held.version) return { accept: true, why: 'continues', epochChanged };
  // 2. An operator said this state replaces the one held (whatever its epoch or version).
  if (incoming.adoptEpoch !== '' && incoming.adoptEpoch === held.epoch) return { accept: true, why: 'adopted', epochChanged };
  // 3. Nothing runs here: there is nothing a wrong state could take down (a new agent).
  if (held.deployments === 0) return { accept: true, why: 'nothing-held', epochChanged };
  // 4. One side predates epochs (an upgrade in progress): versions alone decide, as before.
  if ((held.epoch === '' || incoming.epoch === '') && incoming.version >= held.version) return { accept: true, why: 'legacy', epochChanged };
  const mine = `epoch ${held.epoch || '(none)'} version ${held.version}, ${held.deployments} deployment${held.deployments === 1 ? '' : 's'}`;
  const theirs = `epoch ${incoming.epoch || '(none)'} version ${incoming.version}`;
  const fix = `run \`flotilla cluster adopt ${cluster}\` to let the hub's state replace it (deployments it lacks are orphaned, not deleted; --prune-missing deletes them)`;
  if (!epochChanged) {
    return { accept: false, reason: `hub state went back (the hub sent version ${incoming.version}, older than the version ${held.version} held here; was Temporal restored from a backup?): holding what runs (${mine}); ${fix}` };
  }
  return { accept: false, reason: `hub state lost or reset (the hub's record of this cluster is new: ${theirs}; held here: ${mine}): holding what runs; ${fix}` };
}
