// Runs kustomize and helm under a memory and CPU-time limit, so that a hostile source (an
// alias bomb kustomize expands, a template that loops) costs one failed reconcile, not the hub.
//
// The mechanism is util-linux `prlimit`, which sets RLIMIT_AS (address space) and RLIMIT_CPU
// on the child it executes; the hub image (node:20-bookworm-slim) has it, util-linux being an
// essential Debian package. Without it, `/bin/sh -c 'ulimit -v … -t …; exec …'` does the same.
// When neither exists the child runs unlimited and the hub logs that once (limitMechanism()).
// A cgroup would bound RSS rather than address space, but needs a delegated cgroup tree the
// hub container does not have by default.
//
// Go reserves address space up front: kustomize 5.7 and helm 3.21 do not start under ~768
// MiB of RLIMIT_AS and a normal build needs ~800 MiB, so the limit must be generous (default 2
// GiB, at least 1 GiB: core/render-limits.ts). On breach Go aborts with "fatal error: out of
// memory" / "cannot allocate memory" (exit 2). The CPU limit is set soft = hard: Go ignores
// SIGXCPU (the soft-limit signal), so the kernel's SIGKILL at the hard limit is what stops it.
// Both become a RenderLimitError naming the limit.
//
// Which kustomize and helm run is the caller's to say (EngineConfig): the hub passes its
// settings tools.kustomize / tools.helm, the CLI its flags; no engine looks binaries up itself.
import { execFile } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { RenderLimitError, type RenderLimits } from '../core/render-limits.js';

export type LimitMechanism = 'prlimit' | 'ulimit' | 'none';

const PRLIMIT_PATHS = ['/usr/bin/prlimit', '/bin/prlimit', '/usr/local/bin/prlimit'];
const SHELL = '/bin/sh';

let detected: { mechanism: LimitMechanism; path: string } | undefined;
let warned = false;

/** An executable regular file (a directory is "executable" too, to access(2)). */
function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** What the hub hands the engines that run kustomize and helm: which binaries, under which limits. */
export interface EngineConfig {
  /** The kustomize binary (hub setting tools.kustomize). */
  readonly kustomizeBin: string;
  /** The helm binary (hub setting tools.helm). */
  readonly helmBin: string;
  /** What one source or render may cost (limits.render.*, limits.untar.*). */
  readonly limits: RenderLimits;
}

/**
 * The first executable `name` in the directories of `searchPath` (default $PATH), as a shell
 * finds it; undefined when there is none. The engines run binaries with an empty PATH, so a
 * bare name must be resolved before it is handed to them.
 */
export function executableOnPath(name: string, searchPath: string = process.env.PATH ?? ''): string | undefined {
  return searchPath.split(delimiter).filter((d) => d !== '').map((d) => join(d, name)).find(executable);
}

/** How children are limited on this machine (detected once). */
export function limitMechanism(): { mechanism: LimitMechanism; path: string } {
  if (detected === undefined) {
    const prlimit = PRLIMIT_PATHS.find(executable);
    if (prlimit !== undefined) detected = { mechanism: 'prlimit', path: prlimit };
    else if (executable(SHELL)) detected = { mechanism: 'ulimit', path: SHELL };
    else detected = { mechanism: 'none', path: '' };
  }
  return detected;
}

/** The command that runs `bin args` under the limits (exported for tests). */
export function limitedCommand(bin: string, args: readonly string[], limits: Pick<RenderLimits, 'memoryBytes' | 'cpuSeconds'>, mechanism = limitMechanism()): { file: string; args: string[] } {
  switch (mechanism.mechanism) {
    case 'prlimit':
      return { file: mechanism.path, args: [`--as=${limits.memoryBytes}`, `--cpu=${limits.cpuSeconds}`, '--', bin, ...args] };
    case 'ulimit':
      // ulimit -v takes KiB; -t sets soft and hard CPU seconds.
      return {
        file: mechanism.path,
        args: ['-c', `ulimit -v ${Math.floor(limits.memoryBytes / 1024)} && ulimit -t ${limits.cpuSeconds} && exec "$0" "$@"`, bin, ...args],
      };
    case 'none':
      return { file: bin, args: [...args] };
  }
}

export interface LimitedRun {
  readonly bin: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly timeoutMs: number;
  readonly limits: Pick<RenderLimits, 'memoryBytes' | 'cpuSeconds' | 'maxBytes'>;
  /** "kustomize build of path ./apps": names the render in a limit error. */
  readonly subject: string;
  /** Told once when there is no limit mechanism. */
  readonly warn?: (message: string) => void;
}

export type LimitedResult =
  | { readonly ok: true; readonly stdout: string }
  | { readonly ok: false; readonly kind: 'timeout' | 'failed' | 'spawn'; readonly stderr: string; readonly message: string };

/** Go's messages when RLIMIT_AS refuses it memory. */
const OUT_OF_MEMORY = /fatal error: out of memory|cannot allocate memory|out of memory allocating|failed to reserve page summary memory/;

/**
 * Runs the child; throws RenderLimitError when it crossed the memory, CPU or output limit;
 * other failures come back (the caller words them).
 */
export function runLimited(run: LimitedRun): Promise<LimitedResult> {
  const mechanism = limitMechanism();
  if (mechanism.mechanism === 'none' && !warned) {
    warned = true;
    (run.warn ?? ((m: string) => { process.emitWarning(m); }))('neither prlimit nor /bin/sh is available: kustomize and helm run without a memory or CPU limit (install util-linux)');
  }
  const { file, args } = limitedCommand(run.bin, run.args, run.limits, mechanism);
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      // maxBuffer: one byte over the output cap tells "too much" from "just right".
      { cwd: run.cwd, env: run.env, timeout: run.timeoutMs, killSignal: 'SIGKILL', maxBuffer: run.limits.maxBytes, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (!error) {
          resolve({ ok: true, stdout });
          return;
        }
        const failure = error as Error & { killed?: boolean; signal?: NodeJS.Signals | null; code?: number | string };
        // 126/127: prlimit or sh could not execute the binary.
        if (failure.code === 'ENOENT' || failure.code === 'EACCES' || (mechanism.mechanism !== 'none' && (failure.code === 126 || failure.code === 127))) {
          resolve({ ok: false, kind: 'spawn', stderr, message: stderr.trim() || failure.message });
        } else if (failure.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') {
          reject(new RenderLimitError('maxBytes', run.limits.maxBytes, run.subject, 'its output was cut off there'));
        } else if (failure.killed === true) {
          resolve({ ok: false, kind: 'timeout', stderr, message: failure.message });
        } else if (failure.signal === 'SIGXCPU' || (failure.signal === 'SIGKILL' && mechanism.mechanism !== 'none')) {
          // SIGKILL not sent by us (killed is false): the hard CPU limit (or the kernel's OOM killer).
          reject(new RenderLimitError('cpuSeconds', run.limits.cpuSeconds, run.subject, `killed by ${failure.signal}`));
        } else if (mechanism.mechanism !== 'none' && OUT_OF_MEMORY.test(stderr)) {
          reject(new RenderLimitError('memoryBytes', run.limits.memoryBytes, run.subject, 'it ran out of memory and was stopped'));
        } else {
          resolve({ ok: false, kind: 'failed', stderr, message: failure.message });
        }
      },
    );
  });
}
