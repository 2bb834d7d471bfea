// Alert (notification.toolkit.fluxcd.io/v1beta3; v1beta2 and v1beta1 are converted to it
// first, core/declarations/versions.ts; Flux has no v1): which objects' events a Provider sends.
//
// Defaults, as Flux applies them: eventSeverity info; eventSources namespaces = the Alert's;
// no inclusion/exclusion lists; no eventMetadata; no summary; suspend false. The inclusion and
// exclusion regexes are compiled here (Go's syntax, core/go-regex.ts), so a bad one is an error.
// Pure (no Node built-ins): workflow code may import it.
import { z } from 'zod';
import { compileGoRegex } from '../../go-regex.js';
import type { AlertDeclaration, EventSourceKind } from '../types.js';
import { base, checkedString, dnsLabel, fluxObject, kindParser, labelMap, LocalRef, type BuildContext, type FieldWarning } from './shared.js';

const EVENT_SOURCE_KINDS = [
  'GitRepository', 'Kustomization', 'HelmRepository', 'HelmRelease', 'HelmChart', 'OCIRepository', 'Bucket',
  'ImageRepository', 'ImagePolicy', 'ImageUpdateAutomation', 'Rollout', 'Cluster',
] as const satisfies readonly EventSourceKind[];
/** The event source kinds Flotilla emits events for. */
const EMITTING_KINDS: readonly EventSourceKind[] = [
  'GitRepository', 'Kustomization', 'HelmRepository', 'HelmRelease', 'ImageRepository', 'ImagePolicy', 'ImageUpdateAutomation', 'Cluster',
];

/** An object name, "*", or a name pattern with "*" wildcards ("podinfo-*"). */
function eventSourceNameProblem(name: string): string | undefined {
  return name.length <= 253 && /^[a-z0-9*]([-a-z0-9.*]*[a-z0-9*])?$/.test(name) ? undefined
    : `invalid name ${JSON.stringify(name)}: an object name, "*", or a name with "*" wildcards such as "podinfo-*"`;
}

const EventSourceSchema = z.strictObject({
  apiVersion: z.string().optional(), // Flux does not match on it either
  kind: z.string().transform((kind, ctx): EventSourceKind => {
    const found = EVENT_SOURCE_KINDS.find((k) => k === kind);
    if (found !== undefined) return found;
    ctx.addIssue({ code: 'custom', message: `invalid event source kind ${JSON.stringify(kind)}: must be one of ${EVENT_SOURCE_KINDS.join(', ')}` });
    return z.NEVER;
  }),
  name: checkedString(eventSourceNameProblem),
  namespace: dnsLabel.optional(),
  matchLabels: labelMap.optional(),
});

/** A list of regular expressions, each compiled now so that a bad one is reported with its index. */
const regexList = z.array(z.string()).superRefine((patterns, ctx) => {
  patterns.forEach((pattern, i) => {
    const re = compileGoRegex(pattern);
    if (re instanceof Error) ctx.addIssue({ code: 'custom', path: [i], message: re.message });
  });
});

const AlertSpecSchema = z.strictObject({
  providerRef: LocalRef,
  eventSources: z.array(EventSourceSchema).min(1),
  eventSeverity: z.enum(['info', 'error']).optional(),
  inclusionList: regexList.optional(),
  exclusionList: regexList.optional(),
  eventMetadata: z.record(z.string(), z.string()).optional(),
  summary: z.string().max(255).optional(),
  suspend: z.boolean().optional(),
});

const AlertObject = fluxObject(AlertSpecSchema);

function buildAlert(obj: z.infer<typeof AlertObject>, ctx: BuildContext): AlertDeclaration {
  const { spec } = obj;
  return {
    kind: 'Alert',
    ...base(obj.metadata, ctx),
    spec: {
      providerRef: { name: spec.providerRef.name },
      eventSources: spec.eventSources.map((s) => ({
        kind: s.kind, name: s.name, namespace: s.namespace ?? ctx.namespace,
        ...(s.matchLabels === undefined ? {} : { matchLabels: s.matchLabels }),
      })),
      eventSeverity: spec.eventSeverity ?? 'info',
      inclusionList: spec.inclusionList ?? [],
      exclusionList: spec.exclusionList ?? [],
      eventMetadata: spec.eventMetadata ?? {},
      ...(spec.summary === undefined || spec.summary === '' ? {} : { summary: spec.summary }),
      suspend: spec.suspend ?? false,
    },
  };
}

function alertWarnings(obj: z.infer<typeof AlertObject>): FieldWarning[] {
  const warnings: FieldWarning[] = [];
  obj.spec.eventSources.forEach((s, i) => {
    if (s.kind === 'Rollout') {
      warnings.push({ field: `spec.eventSources[${i}].kind`, message: 'rollout events are reported on the Kustomization or HelmRelease that rolls out: select that kind instead' });
    } else if (!EMITTING_KINDS.includes(s.kind)) {
      warnings.push({ field: `spec.eventSources[${i}].kind`, message: `Flotilla does not reconcile ${s.kind} objects yet: no events will come from them` });
    }
    if (s.matchLabels !== undefined) {
      warnings.push({ field: `spec.eventSources[${i}].matchLabels`, message: s.name.includes('*')
        ? 'is not supported yet: the hub does not know the labels of the objects it reports on, so this source matches nothing; list names instead'
        : 'has no effect with an exact name (as in Flux: matchLabels narrows "*" or a wildcard name)' });
    }
  });
  return warnings;
}

export const alert = kindParser({
  apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
  schema: AlertObject,
  build: buildAlert,
  ignoredFields: [],
  warnings: alertWarnings,
  requiredHints: {
    'spec.providerRef': 'required: the Provider (same namespace) to send with, e.g. {name: slack}',
    'spec.eventSources': 'required: the objects whose events to send, e.g. [{kind: Kustomization, name: "*"}]',
  },
});
