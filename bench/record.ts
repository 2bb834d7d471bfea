// Records a benchmark's figures: bench/results/<name>.json and its own section of
// bench/RESULTS.md (between markers, so each benchmark rewrites only its part); and the
// helpers the benchmarks share (machine, RSS and CPU of processes, percentiles).
import { cpus, totalmem } from 'node:os';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../deploy/dev/binaries.js';

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly node: string;
}

export function machine(): Machine {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  };
}

export function recordResults(name: string, figures: Record<string, unknown>, markdownBody: string): void {
  const date = new Date().toISOString();
  const m = machine();
  const dir = join(repoRoot, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.json`), `${JSON.stringify({ name, date, machine: m, ...figures }, null, 2)}\n`);

  const file = join(repoRoot, 'bench', 'RESULTS.md');
  const header = '# Benchmark results\n\nEach section is rewritten by `npm run bench -- <name>`; the JSON is in `bench/results/`.\n';
  const current = existsSync(file) ? readFileSync(file, 'utf8') : header;
  const begin = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const section = `${begin}\n## ${name}\n\n${date.slice(0, 10)} on ${m.cores} × ${m.cpu}, ${m.memoryGiB} GiB, Node ${m.node}\n\n${markdownBody.trim()}\n${end}`;
  const start = current.indexOf(begin);
  const stop = current.indexOf(end);
  const next = start >= 0 && stop > start
    ? current.slice(0, start) + section + current.slice(stop + end.length)
    : `${current.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, next);
}

/**
 * User + system CPU seconds of one process, from /proc (Linux; USER_HZ = 100); with
 * `children`, plus its children that have exited and been waited for (e.g. helm runs).
 */
export function cpuSeconds(pid: number, opts: { children?: boolean } = {}): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  const own = Number(fields[11]) + Number(fields[12]);
  return (opts.children ? own + Number(fields[13]) + Number(fields[14]) : own) / 100;
}

/** Peak RSS of each named process, sampled every `sampleMs` until stopped. */
export class RssSampler {
  readonly peakMiB: Record<string, number> = {};
  private readonly timer: NodeJS.Timeout;

  /**
   * `trees`: processes sampled with all their descendants (e.g. the hub and its helm children).
   * `sharedTrees`: the same for processes that share memory (PostgreSQL's postmaster and
   * backends share its buffers), summed by proportional set size so shared pages count once.
   */
  constructor(
    private readonly pids: Readonly<Record<string, number>>,
    sampleMs: number,
    private readonly trees: Readonly<Record<string, number>> = {},
    private readonly sharedTrees: Readonly<Record<string, number>> = {},
  ) {
    this.sample();
    this.timer = setInterval(() => { this.sample(); }, sampleMs).unref();
  }

  private sample(): void {
    for (const [name, pid] of Object.entries(this.pids)) {
      try {
        this.peakMiB[name] = Math.max(this.peakMiB[name] ?? 0, rssMiB(pid));
      } catch { /* the process is gone; its peak so far stands */ }
    }
    for (const [name, pid] of Object.entries(this.trees)) {
      this.peakMiB[name] = Math.max(this.peakMiB[name] ?? 0, treeRssMiB(pid));
    }
    for (const [name, pid] of Object.entries(this.sharedTrees)) {
      this.peakMiB[name] = Math.max(this.peakMiB[name] ?? 0, treePssMiB(pid));
    }
  }

  stop(): Record<string, number> {
    clearInterval(this.timer);
    this.sample();
    return this.peakMiB;
  }
}

/** Resident set size of one process, from /proc (Linux). */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m?.[1] ? Number(m[1]) / 1024 : 0;
}

/** A process and all its descendants, as pids (Linux; children from /proc/<pid>/task/<tid>/children). */
export function processTree(pid: number): number[] {
  const found: number[] = [];
  const queue = [pid];
  for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
    found.push(next);
    try {
      for (const tid of readdirSync(`/proc/${next}/task`)) {
        for (const child of readFileSync(`/proc/${next}/task/${tid}/children`, 'utf8').split(' ')) {
          if (child.trim() !== '') queue.push(Number(child));
        }
      }
    } catch { /* exited while being read */ }
  }
  return found;
}

/** RSS of a process and all its descendants. */
export function treeRssMiB(pid: number): number {
  let total = 0;
  for (const p of processTree(pid)) {
    try { total += rssMiB(p); } catch { /* exited while being read */ }
  }
  return total;
}

/** Proportional set size of a process and its descendants (Linux; /proc/<pid>/smaps_rollup). */
export function treePssMiB(pid: number): number {
  let total = 0;
  for (const p of processTree(pid)) {
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${p}/smaps_rollup`, 'utf8'));
      total += m?.[1] ? Number(m[1]) / 1024 : 0;
    } catch { /* exited while being read */ }
  }
  return total;
}

/**
 * CPU seconds of a process and its descendants alive now, each with its waited-for children
 * (e.g. PostgreSQL's postmaster and its backends, which live as long as their connections).
 */
export function treeCpuSeconds(pid: number): number {
  let total = 0;
  for (const p of processTree(pid)) {
    try { total += cpuSeconds(p, { children: true }); } catch { /* exited while being read */ }
  }
  return total;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** Nearest-rank percentile (p in 0..100) of a non-empty list. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? 0;
}

/** What one status poll says of one object. */
export interface ReadyProbe {
  readonly ready: boolean;
  /** The Ready condition's lastTransitionTime (hub clock, epoch ms), when ready. */
  readonly since?: number;
  /** Why it is not ready, for the timeout message. */
  readonly detail: string;
}

/**
 * Polls the objects not yet Ready, one probe each per round, until all are; returns when each
 * became Ready by the hub's clock. Prints progress every 10 s; throws after `timeoutMs` (from
 * `t0`, a performance.now() value) with a sample of what is still pending.
 */
export async function pollUntilAllReady(opts: {
  readonly ids: readonly string[];
  readonly what: string;
  readonly probe: (id: string) => Promise<ReadyProbe>;
  readonly t0: number;
  readonly timeoutMs: number;
  readonly pollMs: number;
  readonly logFile: string;
  /**
   * One cheap read per round saying which pending ids are probably ready (e.g. one query of
   * the cluster actor, as Flux's statuses are one list call): only those are probed. Without
   * it every pending id is probed every round.
   */
  readonly likelyReady?: () => Promise<ReadonlySet<string>>;
}): Promise<Map<string, number>> {
  const pending = new Set(opts.ids);
  const readySince = new Map<string, number>();
  const last = new Map<string, string>();
  let lastLog = performance.now();
  for (;;) {
    // A failed cheap read skips this round's probes (probing everything instead is the load it avoids).
    const likely = opts.likelyReady ? await opts.likelyReady().catch(() => new Set<string>()) : undefined;
    for (const id of [...pending].filter((i) => likely?.has(i) ?? true)) {
      try {
        const p = await opts.probe(id);
        if (p.ready) {
          pending.delete(id);
          readySince.set(id, p.since ?? Date.now());
        } else {
          last.set(id, p.detail);
        }
      } catch (err) {
        last.set(id, `status query failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (pending.size === 0) return readySince;
    if (performance.now() - opts.t0 > opts.timeoutMs) {
      const sample = [...pending].slice(0, 5).map((id) => `  ${id}: ${last.get(id) ?? '?'}`).join('\n');
      throw new Error(`${pending.size}/${opts.ids.length} ${opts.what} not Ready after ${opts.timeoutMs / 60_000} min, e.g.:\n${sample}\nhub log: ${opts.logFile}`);
    }
    if (performance.now() - lastLog > 10_000) {
      console.log(`${((performance.now() - opts.t0) / 1000).toFixed(0)} s: ${opts.ids.length - pending.size}/${opts.ids.length} Ready`);
      lastLog = performance.now();
    }
    await new Promise((resolve) => setTimeout(resolve, opts.pollMs));
  }
}
