// What one render may cost the hub. Every source a tenant controls (a git checkout, a chart
// .tgz, a kustomization) is hostile input: each cap here bounds one way it could take the hub's
// memory, CPU or disk, and a breach fails that one reconcile with a RenderLimitError naming
// the cap, its value, the object and what to do. Nothing already running is touched.
// The caps are hub settings (hub/config.ts `limits.render.*`, `limits.untar.*`; documented
// in docs/configuration.md and docs/security.md). Pure: the activities enforce them
// (activities/tarball.ts, activities/kustomize-build.ts, activities/helm-chart.ts,
// activities/limited-exec.ts).

export interface RenderLimits {
  /** Address space (RLIMIT_AS) of each kustomize / helm child. Go reserves ~800 MiB before it runs. */
  readonly memoryBytes: number;
  /** CPU seconds (RLIMIT_CPU) of each kustomize / helm child. */
  readonly cpuSeconds: number;
  /** Bytes one render may produce (kustomize build / helm template output). */
  readonly maxBytes: number;
  /** Objects one render may produce. */
  readonly maxObjects: number;
  /** Files in one source tree (packing a checkout, extracting an artifact). */
  readonly maxFiles: number;
  /** Bytes of one file in a source tree or an archive. */
  readonly maxFileBytes: number;
  /** Bytes an archive may inflate to (all its entries, headers included). */
  readonly untarMaxBytes: number;
  /** Entries (files, directories, links) of one archive. */
  readonly untarMaxEntries: number;
  /** inflated / compressed bytes of an archive, once it has inflated past UNTAR_RATIO_FLOOR_BYTES. */
  readonly untarMaxRatio: number;
}

export const MiB = 2 ** 20;
export const GiB = 2 ** 30;

export const DEFAULT_RENDER_LIMITS: RenderLimits = {
  // Measured (kustomize 5.7.1, helm 3.21, Go 1.26): neither starts under 768 MiB of address
  // space; a normal build runs in ~800 MiB; an alias bomb reaches 2 GiB in ~1 s.
  memoryBytes: 2 * GiB,
  cpuSeconds: 60,
  maxBytes: 64 * MiB,
  maxObjects: 10_000,
  maxFiles: 10_000,
  maxFileBytes: 16 * MiB,
  untarMaxBytes: 256 * MiB,
  untarMaxEntries: 30_000,
  untarMaxRatio: 200,
};

/** Below this many inflated bytes the ratio is not judged: tiny archives of zeros compress 1000:1. */
export const UNTAR_RATIO_FLOOR_BYTES = 8 * MiB;

/** The hub setting of each cap (hub/config.ts), for messages. */
export const LIMIT_SETTINGS: Readonly<Record<keyof RenderLimits, string>> = {
  memoryBytes: 'limits.render.memoryBytes',
  cpuSeconds: 'limits.render.cpuSeconds',
  maxBytes: 'limits.render.maxBytes',
  maxObjects: 'limits.render.maxObjects',
  maxFiles: 'limits.render.maxFiles',
  maxFileBytes: 'limits.render.maxFileBytes',
  untarMaxBytes: 'limits.untar.maxBytes',
  untarMaxEntries: 'limits.untar.maxEntries',
  untarMaxRatio: 'limits.untar.maxRatio',
};

/** How each cap reads in a message: "the memory limit of 2 GiB". */
const LIMIT_NAMES: Readonly<Record<keyof RenderLimits, string>> = {
  memoryBytes: 'the memory limit',
  cpuSeconds: 'the CPU time limit',
  maxBytes: 'the output size limit',
  maxObjects: 'the object count limit',
  maxFiles: 'the file count limit',
  maxFileBytes: 'the file size limit',
  untarMaxBytes: 'the archive size limit',
  untarMaxEntries: 'the archive entry limit',
  untarMaxRatio: 'the compression ratio limit',
};

/** A cap was crossed. The message names the cap, its value and setting, the object, and what to do. */
export class RenderLimitError extends Error {
  override readonly name = 'RenderLimitError';
  constructor(
    readonly limit: keyof RenderLimits,
    readonly value: number,
    /** What crossed it: "kustomize build of path ./apps", "file big.yaml", "archive". */
    readonly subject: string,
    /** What was seen, when known ("a 1.0 GiB file"). */
    readonly seen?: string,
  ) {
    super(
      `${subject}: exceeded ${LIMIT_NAMES[limit]} of ${formatLimit(limit, value)} (${LIMIT_SETTINGS[limit]})` +
        `${seen !== undefined ? `: ${seen}` : ''}; ${advice(limit)}`,
    );
  }
}

function advice(limit: keyof RenderLimits): string {
  switch (limit) {
    case 'maxFiles':
    case 'maxFileBytes':
      return `leave such files out of the source (.sourceignore or spec.ignore), or raise ${LIMIT_SETTINGS[limit]} on the hub`;
    case 'untarMaxBytes':
    case 'untarMaxEntries':
    case 'untarMaxRatio':
      return `the archive was refused while it was being read, before it was unpacked; make it smaller or raise ${LIMIT_SETTINGS[limit]} on the hub`;
    default:
      return `nothing was applied; split the render into smaller ones, or raise ${LIMIT_SETTINGS[limit]} on the hub`;
  }
}

export function formatLimit(limit: keyof RenderLimits, value: number): string {
  if (limit === 'cpuSeconds') return `${value} s`;
  if (limit === 'untarMaxRatio') return `${value}:1`;
  if (limit === 'maxObjects' || limit === 'maxFiles' || limit === 'untarMaxEntries') return String(value);
  return formatBytes(value);
}

export function formatBytes(n: number): string {
  if (n >= GiB && n % GiB === 0) return `${n / GiB} GiB`;
  if (n >= GiB) return `${(n / GiB).toFixed(1)} GiB`;
  if (n >= MiB && n % MiB === 0) return `${n / MiB} MiB`;
  if (n >= MiB) return `${(n / MiB).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(n % 1024 === 0 ? 0 : 1)} KiB`;
  return `${n} bytes`;
}

/**
 * Which archive cap (if any) `inflated` bytes out of `compressed` bytes read so far cross.
 * Checked after every inflated chunk, so an archive is refused while it is read.
 */
export function archiveBreach(
  inflated: number,
  compressed: number,
  limits: Pick<RenderLimits, 'untarMaxBytes' | 'untarMaxRatio'>,
): 'untarMaxBytes' | 'untarMaxRatio' | undefined {
  if (inflated > limits.untarMaxBytes) return 'untarMaxBytes';
  if (inflated > UNTAR_RATIO_FLOOR_BYTES && inflated > limits.untarMaxRatio * Math.max(compressed, 1)) return 'untarMaxRatio';
  return undefined;
}

/** Why a set of limits (from hub settings) cannot work; undefined when fine. */
export function renderLimitsProblem(limits: RenderLimits): string | undefined {
  for (const [key, value] of Object.entries(limits) as [keyof RenderLimits, number][]) {
    if (!Number.isSafeInteger(value) || value < 1) return `${LIMIT_SETTINGS[key]} must be a positive integer, got ${value}`;
  }
  if (limits.memoryBytes < 1 * GiB) {
    return `${LIMIT_SETTINGS.memoryBytes} must be at least 1 GiB (kustomize and helm are Go programs, which reserve ~800 MiB of address space before they start), got ${formatBytes(limits.memoryBytes)}`;
  }
  if (limits.untarMaxRatio < 10) return `${LIMIT_SETTINGS.untarMaxRatio} must be at least 10 (YAML compresses ~10:1), got ${limits.untarMaxRatio}`;
  return undefined;
}
