// ImageRepository (image.toolkit.fluxcd.io/v1; v1beta2 and v1beta1 are converted to it first,
// core/declarations/versions.ts): a container image repository whose tags the hub scans.
//
// Defaults, as Flux applies them: timeout = interval; exclusionList ["^.*\\.sig$"] (cosign
// signature tags); insecure and suspend false. The exclusion regexes are compiled here (Go's
// syntax, core/go-regex.ts).
// Pure (no Node built-ins): workflow code may import it.
import { z } from 'zod';
import { compileGoRegex } from '../../go-regex.js';
import type { ImageRepositoryDeclaration } from '../types.js';
import { base, checkedString, duration, fluxObject, kindParser, LocalRef, NOT_YET, type BuildContext, type IgnoredField } from './shared.js';

/** Flux's default exclusionList: cosign signature tags. */
const IMAGE_DEFAULT_EXCLUSIONS = ['^.*\\.sig$'];

/** Flux's spec.image: a repository, without scheme, tag or digest (the policy picks the tag). */
function imageNameProblem(image: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(image)) return `invalid image ${JSON.stringify(image)}: write it without a scheme (e.g. ghcr.io/org/app; set insecure: true for plain HTTP)`;
  if (image.includes('@')) return `invalid image ${JSON.stringify(image)}: must not contain a digest; the ImagePolicy picks the tag`;
  const last = image.slice(image.lastIndexOf('/') + 1);
  if (image.includes('/') && last.includes(':') || !image.includes('/') && /:[^0-9]/.test(image)) {
    return `invalid image ${JSON.stringify(image)}: must not contain a tag; the ImagePolicy picks the tag`;
  }
  return /^[a-z0-9]+([._:/-]+[a-z0-9]+)*$/i.test(image) && image === image.trim() ? undefined
    : `invalid image ${JSON.stringify(image)}: want <registry>/<path>, e.g. ghcr.io/org/app`;
}

const goRegex = z.string().superRefine((pattern, ctx) => {
  const re = compileGoRegex(pattern);
  if (re instanceof Error) ctx.addIssue({ code: 'custom', message: re.message });
});

const ImageRepositorySpecSchema = z.strictObject({
  image: checkedString(imageNameProblem),
  interval: duration,
  timeout: duration.optional(),
  secretRef: LocalRef.optional(),
  exclusionList: z.array(goRegex).max(25).optional(),
  insecure: z.boolean().optional(),
  suspend: z.boolean().optional(),
  // Accepted, not acted on yet (see IMAGE_REPOSITORY_IGNORED).
  provider: z.enum(['generic', 'aws', 'azure', 'gcp']).optional(),
  certSecretRef: LocalRef.optional(),
  proxySecretRef: LocalRef.optional(),
  serviceAccountName: z.string().optional(),
  accessFrom: z.unknown().optional(),
});

const ImageRepositoryObject = fluxObject(ImageRepositorySpecSchema);

function buildImageRepository(obj: z.infer<typeof ImageRepositoryObject>, ctx: BuildContext): ImageRepositoryDeclaration {
  const { spec } = obj;
  return {
    kind: 'ImageRepository',
    ...base(obj.metadata, ctx),
    spec: {
      image: spec.image,
      intervalSeconds: spec.interval,
      timeoutSeconds: spec.timeout ?? spec.interval,
      ...(spec.secretRef ? { secretRef: spec.secretRef.name } : {}),
      exclusionList: spec.exclusionList ?? IMAGE_DEFAULT_EXCLUSIONS,
      insecure: spec.insecure ?? false,
      suspend: spec.suspend ?? false,
    },
  };
}

const IMAGE_REPOSITORY_IGNORED: readonly IgnoredField[] = [
  { path: ['spec', 'provider'], harmless: ['generic'], note: `${NOT_YET}: only secretRef credentials are used` },
  { path: ['spec', 'certSecretRef'], note: `${NOT_YET}: the system's CAs are used` },
  { path: ['spec', 'proxySecretRef'], note: `${NOT_YET}: the registry is reached without the proxy` },
  { path: ['spec', 'serviceAccountName'], note: `${NOT_YET}: only secretRef credentials are used` },
  { path: ['spec', 'accessFrom'], note: 'has no effect (never implemented by Flux)' },
];

export const imageRepository = kindParser({
  apiVersion: 'image.toolkit.fluxcd.io/v1',
  schema: ImageRepositoryObject,
  build: buildImageRepository,
  ignoredFields: IMAGE_REPOSITORY_IGNORED,
});
