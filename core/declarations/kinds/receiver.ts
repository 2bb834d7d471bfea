// Receiver (notification.toolkit.fluxcd.io/v1; v1beta2 and v1beta1 are converted to it first,
// core/declarations/versions.ts): a webhook that asks the hub to reconcile the objects it lists.
//
// Defaults, as Flux applies them: interval 10m; events none (= all); resources namespaces =
// the Receiver's; suspend false. Types generic, generic-hmac, github (Flux's others are refused
// by name).
// Pure (no Node built-ins): workflow code may import it.
import { z } from 'zod';
import type { ReceiverDeclaration, ReceiverResourceKind, ReceiverType } from '../types.js';
import {
  base, checkedString, dnsLabel, dnsSubdomainProblem, duration, fluxObject, groupOf, kindParser, labelMap, LocalRef,
  notificationType, NOT_YET, type BuildContext, type FieldWarning, type IgnoredField,
} from './shared.js';

const RECEIVER_TYPES = ['generic', 'generic-hmac', 'github'] as const satisfies readonly ReceiverType[];
const FLUX_RECEIVER_TYPES = ['gitlab', 'bitbucket', 'harbor', 'dockerhub', 'quay', 'gcr', 'nexus', 'acr', 'cdevents', 'generic-oidc'];

/** Flux's Receiver interval default. */
const RECEIVER_DEFAULT_INTERVAL_SECONDS = 600;

/** The kinds a Receiver can ask to reconcile, with their API group. */
const RECEIVER_RESOURCE_GROUPS: Readonly<Record<ReceiverResourceKind, string>> = {
  GitRepository: 'source.toolkit.fluxcd.io',
  HelmRepository: 'source.toolkit.fluxcd.io',
  Kustomization: 'kustomize.toolkit.fluxcd.io',
  HelmRelease: 'helm.toolkit.fluxcd.io',
  ImageRepository: 'image.toolkit.fluxcd.io',
  ImagePolicy: 'image.toolkit.fluxcd.io',
  ImageUpdateAutomation: 'image.toolkit.fluxcd.io',
};
const FLUX_RECEIVER_KINDS = ['Bucket', 'HelmChart', 'OCIRepository'];

const ReceiverResourceSchema = z.strictObject({
  apiVersion: z.string().optional(),
  kind: z.string().transform((kind, ctx): ReceiverResourceKind => {
    if (Object.hasOwn(RECEIVER_RESOURCE_GROUPS, kind)) return kind as ReceiverResourceKind;
    const supported = Object.keys(RECEIVER_RESOURCE_GROUPS).join(', ');
    ctx.addIssue({
      code: 'custom',
      message: FLUX_RECEIVER_KINDS.includes(kind)
        ? `Flotilla does not reconcile ${kind} objects yet: a Receiver can trigger ${supported}`
        : `invalid resource kind ${JSON.stringify(kind)}: must be one of ${supported}`,
    });
    return z.NEVER;
  }),
  name: checkedString((name) => (name === '*'
    ? 'name "*" (every object with matchLabels) is not supported yet: list each object by name'
    : dnsSubdomainProblem(name))),
  namespace: dnsLabel.optional(),
  matchLabels: labelMap.optional(),
  filter: z.string().optional(), // notification v1 (Flux 2.7): a CEL expression; accepted, not acted on (see RECEIVER_IGNORED)
}).superRefine((r, ctx) => {
  const group = RECEIVER_RESOURCE_GROUPS[r.kind];
  if (r.apiVersion !== undefined && r.apiVersion !== '' && (groupOf(r.apiVersion) !== group || !/^[^/]+\/v\w+$/.test(r.apiVersion))) {
    ctx.addIssue({ code: 'custom', path: ['apiVersion'], message: `invalid apiVersion ${JSON.stringify(r.apiVersion)} for ${r.kind}: want ${group}/<version>, or leave it out` });
  }
});

const ReceiverSpecSchema = z.strictObject({
  type: notificationType<ReceiverType>('receiver', RECEIVER_TYPES, FLUX_RECEIVER_TYPES),
  events: z.array(z.string()).optional(),
  resources: z.array(ReceiverResourceSchema).min(1),
  secretRef: LocalRef,
  interval: duration.optional(),
  suspend: z.boolean().optional(),
  resourceFilter: z.string().optional(), // accepted, not acted on (see RECEIVER_IGNORED)
  oidcProviders: z.array(z.record(z.string(), z.unknown())).optional(), // for type generic-oidc, which is refused
});

const ReceiverObject = fluxObject(ReceiverSpecSchema);

function buildReceiver(obj: z.infer<typeof ReceiverObject>, ctx: BuildContext): ReceiverDeclaration {
  const { spec } = obj;
  return {
    kind: 'Receiver',
    ...base(obj.metadata, ctx),
    spec: {
      type: spec.type,
      events: spec.events ?? [],
      resources: spec.resources.map((r) => ({
        ...(r.apiVersion === undefined || r.apiVersion === '' ? {} : { apiVersion: r.apiVersion }),
        kind: r.kind, name: r.name, namespace: r.namespace ?? ctx.namespace,
        ...(r.matchLabels === undefined ? {} : { matchLabels: r.matchLabels }),
      })),
      secretRef: { name: spec.secretRef.name },
      intervalSeconds: spec.interval ?? RECEIVER_DEFAULT_INTERVAL_SECONDS,
      suspend: spec.suspend ?? false,
    },
  };
}

function receiverWarnings(obj: z.infer<typeof ReceiverObject>): FieldWarning[] {
  const { spec } = obj;
  return spec.type !== 'github' && (spec.events ?? []).length > 0
    ? [{ field: 'spec.events', message: `has no effect for type ${spec.type} (as in Flux: only github filters on events)` }]
    : [];
}

const RECEIVER_IGNORED: readonly IgnoredField[] = [
  { path: ['spec', 'resourceFilter'], note: `${NOT_YET}: every listed resource is reconciled` },
  { path: ['spec', 'resources', '*', 'filter'], note: `${NOT_YET}: the resource is reconciled whatever the payload` },
  { path: ['spec', 'oidcProviders'], note: 'not used: Flotilla does not support the generic-oidc type yet' },
  { path: ['spec', 'resources', '*', 'matchLabels'], note: 'has no effect: Flux uses matchLabels only with name "*", which Flotilla does not support yet' },
];

export const receiver = kindParser({
  apiVersion: 'notification.toolkit.fluxcd.io/v1',
  schema: ReceiverObject,
  build: buildReceiver,
  ignoredFields: RECEIVER_IGNORED,
  warnings: receiverWarnings,
  requiredHints: {
    'spec.type': `required: one of ${RECEIVER_TYPES.join(', ')}`,
    'spec.secretRef': 'required: a Secret (same namespace) with a token key; the token salts the webhook path and keys the HMAC',
    'spec.resources': 'required: the objects to reconcile, e.g. [{kind: GitRepository, name: flux-system}]',
  },
});
