// Which Alerts an event goes to, and what an Alert adds to it: Flux's event server rules
// (notification-controller internal/server/event_handlers.go), as pure functions.
// Pure (no Node built-ins): workflow code may import it.
import type { AlertDeclaration, EventSource } from '../declarations/types.js';
import type { FlotillaEvent } from './event.js';
import { compileGoRegex, goMatch, legacyJsRegexTest } from '../go-regex.js';

/**
 * Whether `alert` forwards `event`, as Flux decides:
 * - a suspended Alert forwards nothing;
 * - with an inclusionList, the message must match one expression; a message matching any
 *   exclusionList expression is dropped (exclusion wins);
 * - one eventSource must match: same kind and namespace (the Alert's when not given), and a
 *   name that is equal, `*`, or a pattern whose `*` wildcards match;
 * - eventSeverity error forwards error events only; info forwards everything.
 *
 * matchLabels (only with `*` or a wildcard name, as in Flux) is checked against `labels`, the
 * involved object's labels. Flux reads them from the API server; Flotilla's caller passes
 * them when it knows them. Without `labels` a source with matchLabels does not match: an Alert
 * scoped by labels stays quiet rather than sending what it may not be meant to.
 *
 * The lists are Go regular expressions (core/go-regex.ts), searched in the message as Flux's
 * regexp.Match does. `regex: 'legacy-js'` is only for the notifications workflow replaying a
 * history recorded before Flotilla used RE2 (see legacyJsRegexTest).
 */
export function alertMatches(
  alert: AlertDeclaration, event: FlotillaEvent, labels?: Readonly<Record<string, string>>, regex: 'go' | 'legacy-js' = 'go',
): boolean {
  const { spec } = alert;
  if (spec.suspend) return false;
  if (spec.eventSeverity === 'error' && event.severity !== 'error') return false;
  const matches = regex === 'go' ? matchesMessage : legacyJsRegexTest;
  if (spec.inclusionList.length > 0 && !spec.inclusionList.some((p) => matches(p, event.message))) return false;
  if (spec.exclusionList.some((p) => matches(p, event.message))) return false;
  return spec.eventSources.some((source) => sourceMatches(source, event, labels));
}

function sourceMatches(source: EventSource, event: FlotillaEvent, labels: Readonly<Record<string, string>> | undefined): boolean {
  const object = event.involvedObject;
  if (source.kind !== object.kind || source.namespace !== object.namespace) return false;
  if (!source.name.includes('*')) return source.name === object.name;
  if (!wildcardMatches(source.name, object.name)) return false;
  const wanted = Object.entries(source.matchLabels ?? {});
  if (wanted.length === 0) return true;
  return labels !== undefined && wanted.every(([key, value]) => labels[key] === value);
}

/** `*` matches any run of characters (also none); everything else literally. */
export function wildcardMatches(pattern: string, name: string): boolean {
  const parts = pattern.split('*');
  const first = parts[0] ?? '';
  const last = parts[parts.length - 1] ?? '';
  if (parts.length === 1) return pattern === name;
  if (!name.startsWith(first) || name.length < first.length + last.length || !name.endsWith(last)) return false;
  let at = first.length;
  const end = name.length - last.length;
  for (const middle of parts.slice(1, -1)) {
    const found = name.indexOf(middle, at);
    if (found < 0 || found + middle.length > end) return false;
    at = found + middle.length;
  }
  return true;
}

function matchesMessage(pattern: string, message: string): boolean {
  const re = compileGoRegex(pattern);
  // parse.ts refuses Alerts with invalid expressions; one that slipped through matches nothing (Flux logs and skips it).
  return !(re instanceof Error) && goMatch(re, message);
}

/**
 * The event as `alert` sends it: eventMetadata is added without overriding the event's own
 * keys, then the deprecated spec.summary, when set, overrides metadata.summary (Flux's
 * enhanceEventWithAlertMetadata).
 */
export function enrich(alert: AlertDeclaration, event: FlotillaEvent): FlotillaEvent {
  const metadata: Record<string, string> = { ...alert.spec.eventMetadata, ...event.metadata };
  if (alert.spec.summary !== undefined && alert.spec.summary !== '') metadata.summary = alert.spec.summary;
  return { ...event, metadata };
}
