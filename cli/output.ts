// How the `flotilla` command prints: tables for people, JSON or YAML for scripts (`-o`),
// color only when stdout is a terminal and NO_COLOR is unset.
import { stringify } from 'yaml';

export type OutputFormat = 'table' | 'json' | 'yaml';

export function parseOutput(value: string | undefined): OutputFormat | undefined {
  if (value === undefined) return 'table';
  if (value === 'table' || value === 'json' || value === 'yaml') return value;
  return undefined;
}

/**
 * Prints a value for scripts: JSON (2-space) or YAML. RFC 3339 times are quoted in YAML, as
 * kubectl quotes them, so a YAML 1.1 reader (PyYAML, yq v3) keeps them strings.
 */
export function printStructured(format: 'json' | 'yaml', value: unknown): void {
  if (format === 'json') console.log(JSON.stringify(value, null, 2));
  else process.stdout.write(stringify(value, { lineWidth: 0, customTags: ['timestamp'] }));
}

/** Aligned columns, the last one unpadded. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => visible(r[i] ?? '').length)));
  const pad = (c: string, w: number): string => c + ' '.repeat(Math.max(0, w - visible(c).length));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : pad(c, widths[i] ?? 0))).join('  ');
  return [line(header), ...rows.map(line)];
}

export function printTable(header: readonly string[], rows: readonly (readonly string[])[]): void {
  for (const l of formatTable(header, rows)) console.log(l);
}

const ANSI = /\x1b\[[0-9;]*m/g;
function visible(s: string): string {
  return s.replace(ANSI, '');
}

function colorOn(): boolean {
  return process.stdout.isTTY && !process.env.NO_COLOR && process.env.TERM !== 'dumb';
}

const CODES = { red: 31, green: 32, yellow: 33, dim: 2, bold: 1 } as const;
export function paint(color: keyof typeof CODES, text: string): string {
  return colorOn() ? `\x1b[${CODES[color]}m${text}\x1b[0m` : text;
}

/** True/False/Unknown readiness, colored on a terminal. */
export function readiness(status: string): string {
  return status === 'True' ? paint('green', status) : status === 'False' ? paint('red', status) : paint('yellow', status);
}

/** `2026-11-22 02:54:33Z`: UTC, second precision, sortable. */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}
