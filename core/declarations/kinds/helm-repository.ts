// HelmRepository (source.toolkit.fluxcd.io/v1; v1beta2 and v1beta1 are converted to it first,
// core/declarations/versions.ts): a chart repository (https://) or an OCI registry (oci://)
// HelmReleases take charts from.
//
// Defaults, as Flux applies them: type "default"; interval 1m and timeout 60s; provider
// "generic"; passCredentials, insecure and suspend false.
// Pure (no Node built-ins): workflow code may import it.
import { z } from 'zod';
import type { HelmRepositoryDeclaration } from '../types.js';
import { base, checkedString, duration, fluxObject, kindParser, LocalRef, NOT_YET, type BuildContext, type IgnoredField } from './shared.js';

/** Flux's CRD allows http://, https:// and oci:// (with a host). */
function helmRepositoryUrlProblem(url: string): string | undefined {
  return /^(https?|oci):\/\/[^\s/]+(\/\S*)?$/.test(url) ? undefined
    : `unsupported URL ${JSON.stringify(url)}: use https:// or http:// (a chart repository) or oci:// (an OCI registry)`;
}

const HelmRepositorySpecSchema = z.strictObject({
  url: checkedString(helmRepositoryUrlProblem),
  type: z.enum(['default', 'oci']).optional(),
  interval: duration.optional(),
  timeout: duration.optional(),
  secretRef: LocalRef.optional(),
  passCredentials: z.boolean().optional(),
  insecure: z.boolean().optional(),
  suspend: z.boolean().optional(),
  // Accepted, not acted on yet (see HELM_REPOSITORY_IGNORED).
  provider: z.enum(['generic', 'aws', 'azure', 'gcp']).optional(),
  certSecretRef: LocalRef.optional(),
  accessFrom: z.unknown().optional(),
}).superRefine((spec, ctx) => {
  // Flux: "When this field is set to oci, the URL field value must be prefixed with oci://";
  // the other way round, source-controller cannot fetch an index from an oci:// URL.
  const ociUrl = spec.url.startsWith('oci://');
  if (spec.type === 'oci' && !ociUrl) {
    ctx.addIssue({ code: 'custom', path: ['url'], message: `type oci needs an oci:// URL (got ${JSON.stringify(spec.url)})` });
  }
  if (spec.type !== 'oci' && ociUrl) {
    ctx.addIssue({ code: 'custom', path: ['type'], message: 'an oci:// URL needs type: oci' });
  }
});

const HelmRepositoryObject = fluxObject(HelmRepositorySpecSchema);

function buildHelmRepository(obj: z.infer<typeof HelmRepositoryObject>, ctx: BuildContext): HelmRepositoryDeclaration {
  const { spec } = obj;
  return {
    kind: 'HelmRepository',
    ...base(obj.metadata, ctx),
    spec: {
      url: spec.url,
      type: spec.type ?? 'default',
      intervalSeconds: spec.interval ?? 60,
      timeoutSeconds: spec.timeout ?? 60,
      secretRef: spec.secretRef?.name,
      passCredentials: spec.passCredentials ?? false,
      insecure: spec.insecure ?? false,
      provider: spec.provider ?? 'generic',
      suspend: spec.suspend ?? false,
    },
  };
}

const HELM_REPOSITORY_IGNORED: readonly IgnoredField[] = [
  { path: ['spec', 'provider'], harmless: ['generic'], note: `${NOT_YET}: only secretRef credentials are used` },
  { path: ['spec', 'certSecretRef'], note: `${NOT_YET}: no client certificate or CA is used` },
  { path: ['spec', 'accessFrom'], note: 'has no effect (never implemented by Flux)' },
];

export const helmRepository = kindParser({
  apiVersion: 'source.toolkit.fluxcd.io/v1',
  schema: HelmRepositoryObject,
  build: buildHelmRepository,
  ignoredFields: HELM_REPOSITORY_IGNORED,
  requiredHints: { 'spec.url': 'required: the Helm repository URL (https://... or oci://...)' },
});
