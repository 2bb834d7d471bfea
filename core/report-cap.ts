// Caps on what one deployment report may carry. A report travels as one gRPC message, becomes
// a Temporal signal and then lives in workflow state (the cluster actor's and the owner's), all
// of which have size limits (gRPC 4 MiB, Temporal's 2 MiB payloads and history limits); a set of
// 10,000 objects that all fail must not turn into a 10,000-line message. The agent caps each
// report before it sends it, and the hub caps again where a report becomes a signal (an agent
// from before the caps). Pure functions, so both sides cut the same way.

/** Longest report message, in UTF-8 bytes (what the wire and the history count). */
export const MAX_REPORT_MESSAGE_BYTES = 4 * 1024;
/** Most per-object entries in one report. */
export const MAX_REPORT_OBJECTS = 100;

const NOTICE = `(report capped at ${MAX_REPORT_OBJECTS} objects / ${MAX_REPORT_MESSAGE_BYTES / 1024} KiB)`;
/** Messages are lists of "object: problem" joined by this; cuts fall between entries. */
const SEPARATOR = '; ';

export interface Cappable {
  readonly message?: string;
  readonly objects?: readonly unknown[];
}

/**
 * `report` with its message at most MAX_REPORT_MESSAGE_BYTES and its objects at most
 * MAX_REPORT_OBJECTS; the message then ends saying what was left out, e.g.
 * "… and 9,900 more objects not shown (report capped at 100 objects / 4 KiB)". Returned
 * unchanged (the same object) when within both caps.
 */
export function capReport<T extends Cappable>(report: T): T {
  const objects = report.objects ?? [];
  const message = report.message ?? '';
  const hiddenObjects = Math.max(0, objects.length - MAX_REPORT_OBJECTS);
  if (hiddenObjects === 0 && byteLength(message) <= MAX_REPORT_MESSAGE_BYTES) return report;
  return {
    ...report,
    message: capMessage(message, hiddenObjects),
    ...(report.objects ? { objects: objects.slice(0, MAX_REPORT_OBJECTS) } : {}),
  };
}

/**
 * `message` within MAX_REPORT_MESSAGE_BYTES, cut between "; "-separated entries where it can
 * (inside a single overlong entry otherwise), with a notice of what was cut, including
 * `hiddenObjects` objects dropped from the report's list.
 */
export function capMessage(message: string, hiddenObjects = 0): string {
  if (hiddenObjects === 0 && byteLength(message) <= MAX_REPORT_MESSAGE_BYTES) return message;
  const notice = (hiddenEntries: number, hiddenBytes: number): string => {
    const parts: string[] = [];
    if (hiddenEntries > 0) parts.push(`${count(hiddenEntries)} more ${hiddenEntries === 1 ? 'entry' : 'entries'}`);
    else if (hiddenBytes > 0) parts.push(`${count(hiddenBytes)} more bytes`);
    if (hiddenObjects > 0) parts.push(`${count(hiddenObjects)} more ${hiddenObjects === 1 ? 'object' : 'objects'}`);
    return `… and ${parts.join(' and ')} not shown ${NOTICE}`;
  };
  const join = (kept: string, suffix: string): string => (kept === '' ? suffix : `${kept} ${suffix}`);
  if (byteLength(message) <= MAX_REPORT_MESSAGE_BYTES - byteLength(notice(0, 0)) - 1) {
    return join(message, notice(0, 0)); // only objects were cut
  }
  const entries = message.split(SEPARATOR);
  // Whole entries while they fit beside the longest notice this cut could need.
  const room = MAX_REPORT_MESSAGE_BYTES - 1
    - Math.max(byteLength(notice(entries.length, 0)), byteLength(notice(0, byteLength(message))));
  let kept = 0;
  let used = 0;
  for (const e of entries) {
    const next = used + (kept > 0 ? SEPARATOR.length : 0) + byteLength(e);
    if (next > room) break;
    used = next;
    kept++;
  }
  if (kept > 0) return join(entries.slice(0, kept).join(SEPARATOR), notice(entries.length - kept, 0));
  // The first entry alone is too long: cut inside it, on a character boundary.
  const head = truncateUtf8(entries[0] ?? '', room);
  return join(head, notice(0, byteLength(message) - byteLength(head)));
}

function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** The longest prefix of `s` of at most `max` UTF-8 bytes, never half a character. */
function truncateUtf8(s: string, max: number): string {
  if (byteLength(s) <= max) return s;
  let out = Buffer.from(s, 'utf8').subarray(0, Math.max(0, max)).toString('utf8');
  // A cut inside a multi-byte character decodes as U+FFFD: drop it.
  while (out.endsWith('\uFFFD') && !s.startsWith(out)) out = out.slice(0, -1);
  return out;
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}
