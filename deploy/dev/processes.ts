// Child processes of the local environment: each runs in its own process group with its
// output in a log file, and is stopped (group and all) when its owner stops it or when this
// Node process exits for any reason, so no run leaves processes behind.
import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync, existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ProcessSpec {
  /** Short name used in messages, e.g. "kube-apiserver[prod]". */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly logFile: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /**
   * Leave the process running after this Node process exits (the dev environment does).
   * Otherwise it is killed on exit.
   */
  readonly detached?: boolean;
}

export class ManagedProcess {
  private constructor(
    readonly spec: ProcessSpec,
    readonly pid: number,
    private readonly exitPromise: Promise<void>,
    private readonly state: { exited: boolean; exitCode: number | null },
  ) {}

  private get exited(): boolean {
    return this.state.exited;
  }

  static start(spec: ProcessSpec): ManagedProcess {
    const fd = openSync(spec.logFile, 'a');
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: spec.env ?? process.env,
      stdio: ['ignore', fd, fd],
      detached: true, // own process group: stop() signals the whole group
    });
    closeSync(fd);
    if (child.pid === undefined) throw new Error(`${spec.name}: failed to start ${spec.command}`);
    const pid = child.pid;
    const state = { exited: false, exitCode: null as number | null };
    const exitPromise = new Promise<void>((resolveExit) => {
      child.on('exit', (code) => {
        state.exited = true;
        state.exitCode = code;
        live.delete(pid);
        resolveExit();
      });
      child.on('error', () => { resolveExit(); });
    });
    const proc = new ManagedProcess(spec, pid, exitPromise, state);
    if (spec.detached) child.unref();
    else live.add(pid);
    return proc;
  }

  get running(): boolean {
    return !this.exited;
  }

  /** The last lines of the process's log, for error messages. */
  logTail(lines = 30): string {
    if (!existsSync(this.spec.logFile)) return '';
    return readFileSync(this.spec.logFile, 'utf8').split('\n').slice(-lines).join('\n');
  }

  /** Throws with the log tail if the process has already exited. */
  assertRunning(): void {
    if (this.exited) {
      throw new Error(`${this.spec.name} exited (code ${String(this.state.exitCode)}); last log lines from ${this.spec.logFile}:\n${this.logTail()}`);
    }
  }

  /**
   * `signal` (SIGTERM unless the program wants another for a clean stop, e.g. PostgreSQL's
   * fast shutdown is SIGINT) to the group, then SIGKILL after `graceMs`. Resolves once the
   * process is gone.
   */
  async stop(graceMs = 5000, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.exited) return;
    signalGroup(this.pid, signal);
    const killed = await Promise.race([this.exitPromise.then(() => true), sleep(graceMs).then(() => false)]);
    if (!killed) {
      signalGroup(this.pid, 'SIGKILL');
      await Promise.race([this.exitPromise, sleep(2000)]);
    }
    live.delete(this.pid);
  }

  /** Kills the process at once, as a crash would (no graceful shutdown). */
  async kill(): Promise<void> {
    if (this.exited) return;
    signalGroup(this.pid, 'SIGKILL');
    await Promise.race([this.exitPromise, sleep(5000)]);
    live.delete(this.pid);
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try { process.kill(pid, signal); } catch { /* already gone */ }
  }
}

/** Process groups that must not outlive this Node process. */
const live = new Set<number>();
let reaperInstalled = false;

function installReaper(): void {
  if (reaperInstalled) return;
  reaperInstalled = true;
  process.on('exit', () => {
    for (const pid of live) signalGroup(pid, 'SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      for (const pid of live) signalGroup(pid, 'SIGKILL');
      process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
    });
  }
}
installReaper();

/** Polls `check` until it returns a value, the process dies, or the deadline passes. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  opts: { timeoutMs: number; intervalMs?: number; process?: ManagedProcess },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError: unknown;
  for (;;) {
    opts.process?.assertRunning();
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? `: ${lastError.message}` : '';
      const tail = opts.process ? `\nlast log lines of ${opts.process.spec.name}:\n${opts.process.logTail()}` : '';
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${what}${why}${tail}`);
    }
    await sleep(opts.intervalMs ?? 200);
  }
}
