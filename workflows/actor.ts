// What every declaration actor (GitRepository, Kustomization) shares: its declaration and
// generation, `flotilla reconcile|suspend|resume|delete`, subscribers, and the wait between
// reconciles. Each actor workflow creates one DeclarationActor and runs its own loop.
import { condition, patched, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import {
  type SourceArtifactEvent, type SourceNewsActivities,
  declarationQuery, deleteSignal, dependencyStatusSignal, reconcileSignal, specSignal, subscribeSignal, suspendSignal,
  unsubscribeSignal, type ActorMemory, type DependencyStatus,
} from '../api/actor.js';
import type { ActorDeclaration } from '../core/declarations/types.js';
import { requeueAfter } from '../core/requeue.js';
import { Outbox } from './outbox.js';

/** What a deploying actor plugs into DeclarationActor.runDeploymentLoop. */
export interface DeploymentLoop {
  /** Seconds until the next periodic reconcile. */
  interval(): number;
  /** Subscribes to the source and the dependencies (again after a spec change). */
  subscribe(): void;
  /**
   * Work on every wake-up, before the reconcile (re-subscribing, telling dependents, queued
   * operator actions); `woke` says what ended the wait ('first' on the first pass of a run).
   */
  onWake(woke: 'first' | 'timer' | 'woken' | 'other'): Promise<void>;
  reconcile(): Promise<void>;
  tellDependents(): void;
  /** Records a handled `flotilla reconcile` token in the status. */
  handled(token: string): void;
  finalize(): Promise<void>;
  /** Continues as new with everything the actor carries. */
  continueAsNew(): Promise<void>;
}

/** What a source actor (HelmRepository, ImageRepository) plugs into DeclarationActor.runSourceLoop. */
export interface SourceLoop {
  /** Seconds between reconciles. */
  interval(): number;
  /** The last reconcile is older than the interval (a timer may fire a little early). */
  overdue(): boolean;
  /** Tells new subscribers the current artifact, if any. */
  tellNewSubscribers(): void;
  reconcile(): Promise<void>;
  /** Records a handled `flotilla reconcile` token in the status. */
  handled(token: string): void;
  continueAsNew(): Promise<void>;
}

const { tellSubscribers } = proxyActivities<SourceNewsActivities>({
  startToCloseTimeout: '10 minutes', heartbeatTimeout: '1 minute', retry: { initialInterval: '2 seconds', maximumAttempts: 3 },
});
const { sourceArtifactOf } = proxyActivities<SourceNewsActivities>({ startToCloseTimeout: '1 minute', retry: { maximumAttempts: 3 } });

/** Continue-as-new well before Temporal's limits (50k events), so replays stay cheap. */
export const HISTORY_LIMIT = 2_000;

export class DeclarationActor<D extends ActorDeclaration> {
  declaration: D;
  generation: number;
  suspendedByCli: boolean;
  readonly subscribers: Set<string>;
  /** Subscribers that have not yet been told the current state. */
  readonly newSubscribers = new Set<string>();
  pendingReconcile: string | undefined;
  readonly historyLimit: number;
  deleted = false;
  specChanged = false;
  private woken = false;
  private told: DependencyStatus | undefined;

  /** The status with the declaration's unsupported Flux fields (so they are never silently ignored). */
  withWarnings<S extends { readonly unsupported?: readonly string[] }>(status: S): S {
    const warnings = this.declaration.warnings;
    return warnings === undefined || warnings.length === 0 ? status : { ...status, unsupported: warnings };
  }

  constructor(memory: ActorMemory<D>, private readonly kind: D['kind']) {
    this.declaration = memory.declaration;
    this.generation = memory.generation;
    this.suspendedByCli = memory.suspendedByCli;
    this.subscribers = new Set(memory.subscribers);
    // Subscribers that arrived while the last run waited to continue as new are told in this one.
    for (const s of memory.newSubscribers ?? []) this.newSubscribers.add(s);
    this.pendingReconcile = memory.pendingReconcile;
    this.historyLimit = memory.historyLimit ?? HISTORY_LIMIT;
    setHandler(declarationQuery, () => this.declaration);
    setHandler(specSignal, (next) => {
      if (next.kind !== this.kind) return; // a misrouted declaration is not ours
      const changed = JSON.stringify(next.spec) !== JSON.stringify(this.declaration.spec);
      this.declaration = next as D;
      if (changed) {
        this.generation += 1;
        this.specChanged = true;
        this.wake();
      }
    });
    setHandler(reconcileSignal, (token) => { this.pendingReconcile = token; this.wake(); });
    setHandler(suspendSignal, (suspend) => { this.suspendedByCli = suspend; this.wake(); });
    setHandler(deleteSignal, () => { this.deleted = true; this.wake(); });
    setHandler(subscribeSignal, ({ subscriber }) => {
      this.subscribers.add(subscriber);
      this.newSubscribers.add(subscriber);
      this.wake();
    });
    setHandler(unsubscribeSignal, ({ subscriber }) => {
      this.subscribers.delete(subscriber);
      this.newSubscribers.delete(subscriber);
    });
  }

  get id(): string {
    return workflowInfo().workflowId;
  }

  get suspended(): boolean {
    return this.declaration.spec.suspend || this.suspendedByCli;
  }

  wake(): void {
    this.woken = true;
  }

  /**
   * Sleeps until a signal wakes the actor ('woken'), `seconds` pass ('timer'), or `alsoWhen`
   * or a due continue-as-new ends the wait ('other').
   */
  async sleep(seconds: number, alsoWhen: () => boolean = () => false): Promise<'woken' | 'timer' | 'other'> {
    const ended = await condition(() => this.woken || alsoWhen() || this.shouldContinueAsNew(), seconds * 1000);
    const woken = this.woken;
    this.woken = false;
    if (!ended) return 'timer';
    return woken ? 'woken' : 'other';
  }

  shouldContinueAsNew(): boolean {
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength > this.historyLimit;
  }

  /** Takes the pending `flotilla reconcile` token, if any. */
  takeReconcileRequest(): string | undefined {
    const token = this.pendingReconcile;
    this.pendingReconcile = undefined;
    return token;
  }

  /**
   * Tells dependents (subscribers) this actor's readiness: all of them when it changed since
   * the last call, only the new subscribers otherwise.
   */
  tellDependents(outbox: Outbox, next: DependencyStatus): void {
    const changed = JSON.stringify(next) !== JSON.stringify(this.told);
    for (const s of changed ? this.subscribers : this.newSubscribers) outbox.signal(s, dependencyStatusSignal, next);
    this.newSubscribers.clear();
    this.told = next;
  }

  /**
   * The loop of an actor that deploys (Kustomization, HelmRelease): subscribe; then on every
   * wake-up (signal, interval, new subscriber) finish when deleted, re-subscribe on a new spec,
   * do the wake-up work, reconcile when due (a timer, a signal or `flotilla reconcile`) and not
   * suspended, tell dependents, and continue as new when the history is long.
   */
  async runDeploymentLoop(loop: DeploymentLoop, outbox: Outbox): Promise<void> {
    loop.subscribe();
    for (let first = true; ; first = false) {
      let due = first;
      let woke: 'first' | 'timer' | 'woken' | 'other' = 'first';
      if (!first) {
        woke = await this.sleep(loop.interval(), () => this.newSubscribers.size > 0);
        due = woke === 'timer' || woke === 'woken';
      }
      if (this.deleted) return loop.finalize();
      if (this.specChanged) {
        this.specChanged = false;
        loop.subscribe();
        due = true;
      }
      await loop.onWake(woke);
      const token = this.takeReconcileRequest();
      if ((due || token !== undefined) && !this.suspended) {
        await loop.reconcile();
        loop.tellDependents();
      }
      if (token !== undefined) loop.handled(token);
      if (this.shouldContinueAsNew()) {
        loop.tellDependents(); // subscribers that arrived during the reconcile
        await condition(() => outbox.idle());
        await loop.continueAsNew();
      }
    }
  }

  /**
   * The loop of a source actor: on every wake-up (signal, interval, new subscriber) finish when
   * deleted, tell new subscribers, reconcile when due (first pass, `flotilla reconcile`, a new
   * spec, or the interval passed) and not suspended, and continue as new when the history is long.
   */
  async runSourceLoop(loop: SourceLoop, outbox: Outbox): Promise<void> {
    for (let first = true; ; first = false) {
      if (!first) await this.sleep(loop.interval(), () => this.newSubscribers.size > 0);
      if (this.deleted) {
        await condition(() => outbox.idle());
        return;
      }
      loop.tellNewSubscribers();
      const token = this.takeReconcileRequest();
      const due = first || token !== undefined || this.specChanged || loop.overdue();
      this.specChanged = false;
      if (due && !this.suspended) await loop.reconcile();
      if (token !== undefined) loop.handled(token);
      if (this.shouldContinueAsNew()) {
        loop.tellNewSubscribers();
        await condition(() => outbox.idle());
        await loop.continueAsNew();
      }
    }
  }

  memory(): ActorMemory<D> {
    return {
      declaration: this.declaration, generation: this.generation, suspendedByCli: this.suspendedByCli,
      subscribers: [...this.subscribers].sort(),
      ...(this.newSubscribers.size > 0 ? { newSubscribers: [...this.newSubscribers].sort() } : {}),
      ...(this.pendingReconcile === undefined ? {} : { pendingReconcile: this.pendingReconcile }),
      ...(this.historyLimit === HISTORY_LIMIT ? {} : { historyLimit: this.historyLimit }),
    };
  }
}

/**
 * What a deploying actor (Kustomization, HelmRelease) subscribes to, through its outbox: its
 * source and its dependencies. A target that does not exist (yet) is subscribed to again on the
 * next wake (a dependency declared after its dependent, a source applied later); a subscriber
 * that is gone is forgotten.
 */
export class Subscriptions {
  readonly outbox: Outbox;
  /** Set by the outbox when the source or a dependency does not exist (yet). */
  readonly missing = { source: false, dependency: false };

  constructor(
    private readonly actor: { readonly id: string; readonly subscribers: Set<string> },
    private readonly targets: { source(): string; dependencies(): string[] },
  ) {
    this.outbox = new Outbox((target) => {
      if (target === targets.source()) this.missing.source = true;
      if (targets.dependencies().includes(target)) this.missing.dependency = true;
      actor.subscribers.delete(target);
    });
    void this.outbox.run();
  }

  subscribe(): void {
    this.missing.source = false;
    this.missing.dependency = false;
    this.outbox.signal(this.targets.source(), subscribeSignal, { subscriber: this.actor.id });
    for (const d of this.targets.dependencies()) this.outbox.signal(d, subscribeSignal, { subscriber: this.actor.id });
  }

  /** On a wake: subscribes again when the source or a dependency was missing (it may exist by now). */
  retryMissing(): void {
    if (this.missing.source || this.missing.dependency) this.subscribe();
  }

  private askAgain = false;

  /**
   * Seconds until the next reconcile after one ended, as Flux requeues (core/requeue.ts): a
   * wait for the source's artifact or a dependency ends after 30 s at the latest, and then
   * the actor asks again (onWake), so news lost on the way is not waited for until the retry
   * interval. Older histories slept the whole retry interval (patched).
   */
  requeueAfter(ready: boolean, reason: string, spec: { readonly intervalSeconds: number; readonly retryIntervalSeconds: number }, legacySeconds: number): number {
    if (!patched('requeue-dependency')) return legacySeconds;
    const next = requeueAfter({ ready, reason, sourceMissing: this.missing.source }, spec);
    this.askAgain = next.askAgain;
    return next.seconds;
  }

  /**
   * On a wake: subscribes again where a target was missing; when the requeue timer fired while
   * waiting, asks again: the dependencies by subscribing (each answers a new subscriber with its
   * readiness), the source by reading its artifact (`learned` gets it) — a source has many
   * subscribers, and 1,000 of them subscribing every 30 s would flood it.
   */
  onWake(woke: 'first' | 'timer' | 'woken' | 'other', learned: (e: SourceArtifactEvent) => void): Promise<void> | undefined {
    const ask = woke === 'timer' && this.askAgain;
    this.askAgain = false;
    // Synchronous unless asking: recorded histories depend on the order of the actors' commands within a workflow task.
    if (!ask || this.missing.source) {
      this.retryMissing();
      return undefined;
    }
    for (const d of this.targets.dependencies()) this.outbox.signal(d, subscribeSignal, { subscriber: this.actor.id });
    return sourceArtifactOf({ source: this.targets.source() }).then((artifact) => {
      if (artifact) learned(artifact);
    });
  }

  /** The actor was deleted: its source and dependencies forget it. */
  unsubscribe(): void {
    this.outbox.signal(this.targets.source(), unsubscribeSignal, { subscriber: this.actor.id });
    for (const d of this.targets.dependencies()) this.outbox.signal(d, unsubscribeSignal, { subscriber: this.actor.id });
  }
}

/**
 * A source actor tells every subscriber its new artifact. From the hub, in one activity: as
 * signals sent by the workflow, 1,000 subscribers cost the source 2,000 history events and
 * 1,000 pending commands (Temporal allows 2,000) and take minutes to drain. Earlier messages
 * to the same subscribers leave the outbox first, so an older revision never arrives after
 * this one; should the activity fail, the outbox tells them. Older histories signalled from
 * the workflow (patched).
 */
export function tellAllSubscribers(
  actor: { readonly subscribers: Set<string> }, outbox: Outbox, event: SourceArtifactEvent, tellOne: (subscriber: string) => void,
): Promise<void> | undefined {
  // Synchronous in older histories: they depend on the order of commands within a workflow task.
  if (!patched('source-news-activity')) {
    for (const s of actor.subscribers) tellOne(s);
    return undefined;
  }
  if (actor.subscribers.size === 0) return undefined;
  return (async () => {
    await condition(() => outbox.idle());
    try {
      const { missing } = await tellSubscribers({ subscribers: [...actor.subscribers].sort(), event });
      for (const m of missing) actor.subscribers.delete(m); // a finished subscriber is forgotten
    } catch {
      for (const s of actor.subscribers) tellOne(s);
    }
  })();
}
