// A whole fleet as real processes, for end-to-end tests: one `flotilla-hub serve` (which can
// be killed and restarted), one `flotilla-agent` per cluster, and the `flotilla` CLI, on the
// environment's Temporal server and clusters (deploy/dev/local-fleet.ts runs them; the demo
// uses the same code). Logs go to the fleet's temporary directory, removed on stop.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KustomizationStatus } from '../../api/kustomization.js';
import { LocalFleet } from '../../deploy/dev/local-fleet.js';
import type { TemporalKind } from '../../deploy/dev/environment.js';
import { waitFor } from '../../deploy/dev/processes.js';
import { isReady } from '../../core/conditions.js';
import type { ActorStatus } from '../../hub/declarations.js';
import { useEnvironment, type LocalEnvironment } from './index.js';

export { TASK_QUEUE, type CliResult } from '../../deploy/dev/local-fleet.js';

export class TestFleet extends LocalFleet {
  static override async create(env: LocalEnvironment, extra: { hubArgs?: readonly string[] } = {}): Promise<TestFleet> {
    const options = { dir: mkdtempSync(join(tmpdir(), 'flotilla-fleet-')), heartbeatSeconds: 1, driftIntervalSeconds: 5, ...extra };
    return new TestFleet(await LocalFleet.connect(env, options), options);
  }

  async status(id: string): Promise<ActorStatus> {
    return this.declarations.status(id);
  }

  async kustomization(id: string): Promise<KustomizationStatus> {
    const s = await this.declarations.status(id);
    if (s.kind !== 'Kustomization') throw new Error(`${id} is not a Kustomization`);
    return s.status;
  }

  /** Waits until the Kustomization satisfies `done` (default: Ready at `revision`). */
  async waitForKustomization(id: string, done: (s: KustomizationStatus) => boolean, what: string, timeoutMs = 120_000): Promise<KustomizationStatus> {
    return waitFor(`${id}: ${what}`, async () => {
      try {
        const s = await this.kustomization(id);
        return done(s) ? s : undefined;
      } catch { return undefined; }
    }, { timeoutMs, intervalMs: 300 });
  }

  async waitForReadyAt(id: string, revisionPrefix: string, timeoutMs = 120_000): Promise<KustomizationStatus> {
    return this.waitForKustomization(id, (s) => isReady(s.conditions) && s.lastAppliedRevision.startsWith(revisionPrefix), `Ready at ${revisionPrefix}`, timeoutMs);
  }

  override async stop(): Promise<void> {
    await super.stop();
    if (process.env.FLOTILLA_KEEP_TEST_DIRS) console.log(`kept ${this.dir}`);
    else rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * One environment (real clusters + Temporal, the dev server unless `temporal` says otherwise)
 * and one fleet (the hub process, an agent per cluster with its labels) for a whole test
 * file, plus a scratch directory; all stopped after.
 */
export function useFleet(
  clusters: Readonly<Record<string, Record<string, string>>>,
  prefix: string,
  opts: { hubArgs?: readonly string[]; temporal?: TemporalKind } = {},
): {
  readonly env: () => LocalEnvironment;
  readonly fleet: () => TestFleet;
  readonly dir: () => string;
} {
  const state: { fleet?: TestFleet; dir?: string } = {};
  const env = useEnvironment({ clusters: Object.keys(clusters), temporal: opts.temporal ?? 'dev' }, {
    afterStart: async (e) => {
      state.dir = mkdtempSync(join(tmpdir(), prefix));
      const fleet = await TestFleet.create(e, { hubArgs: opts.hubArgs });
      state.fleet = fleet;
      await fleet.startHub();
      for (const [name, labels] of Object.entries(clusters)) await fleet.startAgent(name, labels);
    },
    beforeStop: async () => {
      await state.fleet?.stop();
      if (state.dir) rmSync(state.dir, { recursive: true, force: true });
    },
  });
  return {
    env,
    fleet: () => {
      if (!state.fleet) throw new Error('fleet not started');
      return state.fleet;
    },
    dir: () => {
      if (!state.dir) throw new Error('fleet not started');
      return state.dir;
    },
  };
}
