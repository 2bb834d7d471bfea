// Structured logs of the hub and the agents: one JSON object a line on stdout, with the field
// names log tooling built for Flux's controllers already reads (ts, level, msg, error, kind,
// name, namespace, cluster), plus component. Secrets never reach a line: keys that hold them
// are redacted wherever they appear at the top level or one level down.
// Workflows must not import this module (it does IO); they log through the workflow logger.
import { pino, type DestinationStream, type Logger } from 'pino';
import { scrub } from './scrub.js';

export type { Logger } from 'pino';

export type Component = 'hub' | 'agent';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** How modules that take a logger as an option log: a message, its context, and a level (default info). */
export type LogFn = (message: string, fields?: Record<string, unknown>, level?: LogLevel) => void;

const SECRET_KEYS = [
  'token', 'password', 'bearerToken', 'authorization', 'Authorization', 'secret', 'identity', 'credential',
  'credentials', 'apiToken', 'privateKey',
];

/** Redacted paths: each secret key at the top level and one level down, and request headers. */
export const REDACT_PATHS: readonly string[] = [
  ...SECRET_KEYS, ...SECRET_KEYS.map((k) => `*.${k}`), 'headers.authorization', '*.headers.authorization',
];

/** String fields, and strings one level down, scrubbed of URL userinfo and Authorization values. */
function scrubFields(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (typeof v === 'string') out[k] = scrub(v);
    else if (v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Error)) {
      out[k] = Object.fromEntries(Object.entries(v).map(([k2, v2]) => [k2, typeof v2 === 'string' ? scrub(v2) : v2]));
    } else out[k] = v;
  }
  return out;
}

export interface LoggerOptions {
  /** Lowest level written (default: LOG_LEVEL, else info). */
  readonly level?: string;
  /** Where lines go (default: stdout, synchronously, so nothing is lost on exit). */
  readonly destination?: DestinationStream;
}

export function createLogger(component: Component, opts: LoggerOptions = {}): Logger {
  const options = {
    level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
    base: { component }, // and no pid or hostname
    messageKey: 'msg',
    errorKey: 'error',
    timestamp: () => `,"ts":"${new Date().toISOString()}"`,
    // Values are scrubbed too (core/scrub.ts): a URL's userinfo or an Authorization value inside a message or an error.
    formatters: { level: (label: string) => ({ level: label }), log: scrubFields },
    serializers: { error: (e: unknown) => (e instanceof Error ? scrub(e.message) : e) },
    hooks: {
      logMethod(this: Logger, args: Parameters<Logger['info']>, method: (...a: Parameters<Logger['info']>) => void): void {
        method.apply(this, args.map((a: unknown) => (typeof a === 'string' ? scrub(a) : a)) as Parameters<Logger['info']>);
      },
    },
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

/** The `LogFn` of a logger, for modules that take `log` as an option. */
export function logFunction(logger: Logger): LogFn {
  return (message, fields = {}, level = 'info') => { logger[level](fields, message); };
}

const KINDS: Readonly<Record<string, string>> = {
  gitrepository: 'GitRepository', kustomization: 'Kustomization', helmrepository: 'HelmRepository', helmrelease: 'HelmRelease',
};

/** kind, namespace and name of a declaration id such as kustomization/flux-system/app, for log context. */
export function idFields(id: string): { kind?: string; namespace?: string; name?: string } {
  const [kind = '', namespace = '', ...name] = id.split('/');
  return name.length === 0 ? {} : { kind: KINDS[kind] ?? kind, namespace, name: name.join('/') };
}
