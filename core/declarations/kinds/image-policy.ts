// ImagePolicy (image.toolkit.fluxcd.io/v1; v1beta2 and v1beta1 are converted to it first,
// core/declarations/versions.ts): which of an ImageRepository's tags is the latest (semver,
// alphabetical or numerical, after an optional tag filter).
//
// Defaults, as Flux applies them: imageRepositoryRef namespace = its own; alphabetical and
// numerical order asc; no tag filter; suspend false. The policy is checked by the code that
// runs it (core/image/policy.ts selectTag), so what passes here can be evaluated.
// Pure (no Node built-ins): workflow code may import it.
import { z } from 'zod';
import { selectTag } from '../../image/policy.js';
import type { ImagePolicyDeclaration, ImagePolicyRule, ImagePolicySpec } from '../types.js';
import { base, dnsLabel, dnsSubdomain, duration, fluxObject, kindParser, nonEmpty, NOT_YET, type BuildContext, type IgnoredField } from './shared.js';

const SortOrderSchema = z.enum(['asc', 'desc']);

const ImagePolicySpecSchema = z.strictObject({
  imageRepositoryRef: z.strictObject({ name: dnsSubdomain, namespace: dnsLabel.optional() }),
  policy: z.strictObject({
    semver: z.strictObject({ range: nonEmpty }).optional(),
    alphabetical: z.strictObject({ order: SortOrderSchema.optional() }).optional(),
    numerical: z.strictObject({ order: SortOrderSchema.optional() }).optional(),
  }),
  filterTags: z.strictObject({ pattern: z.string().optional(), extract: z.string().optional() }).optional(),
  // Accepted, not acted on yet (see IMAGE_POLICY_IGNORED).
  digestReflectionPolicy: z.enum(['Never', 'IfNotPresent', 'Always']).optional(),
  interval: duration.optional(),
  suspend: z.boolean().optional(),
}).superRefine((spec, ctx) => {
  const rules = (['semver', 'alphabetical', 'numerical'] as const).filter((k) => spec.policy[k] !== undefined);
  if (rules.length !== 1) {
    ctx.addIssue({
      code: 'custom', path: ['policy'],
      message: rules.length === 0 ? 'set one of semver, alphabetical or numerical' : `set only one of semver, alphabetical and numerical (found ${rules.join(' and ')})`,
    });
    return;
  }
  const problem = imagePolicyProblem(buildImagePolicyRule(spec.policy), buildTagFilter(spec.filterTags));
  if (problem !== undefined) ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
});

const ImagePolicyObject = fluxObject(ImagePolicySpecSchema);
type ImagePolicyInput = z.infer<typeof ImagePolicyObject>;

function buildImagePolicyRule(p: ImagePolicyInput['spec']['policy']): ImagePolicyRule {
  if (p.semver) return { semver: { range: p.semver.range } };
  if (p.alphabetical) return { alphabetical: { order: p.alphabetical.order ?? 'asc' } };
  return { numerical: { order: p.numerical?.order ?? 'asc' } };
}

function buildTagFilter(f: ImagePolicyInput['spec']['filterTags']): ImagePolicySpec['filterTags'] {
  if (f === undefined || (f.pattern ?? '') === '') return undefined;
  return { pattern: f.pattern ?? '', ...((f.extract ?? '') !== '' ? { extract: f.extract ?? '' } : {}) };
}

/** The policy checked by the code that will run it: selectTag on no tags validates every field. */
function imagePolicyProblem(rule: ImagePolicyRule, filterTags: ImagePolicySpec['filterTags']): { path: string[]; message: string } | undefined {
  try {
    selectTag([], { ...rule, ...(filterTags ? { filterTags } : {}) });
    return undefined;
  } catch (err) {
    // selectTag's messages start with the field (spec.policy.semver.range: …).
    const message = err instanceof Error ? err.message : String(err);
    const field = /^spec\.([\w.]+): /.exec(message);
    return field ? { path: (field[1] ?? '').split('.'), message: message.slice(field[0].length) } : { path: ['policy'], message };
  }
}

function buildImagePolicy(obj: ImagePolicyInput, ctx: BuildContext): ImagePolicyDeclaration {
  const { spec } = obj;
  const filterTags = buildTagFilter(spec.filterTags);
  return {
    kind: 'ImagePolicy',
    ...base(obj.metadata, ctx),
    spec: {
      imageRepositoryRef: { name: spec.imageRepositoryRef.name, namespace: spec.imageRepositoryRef.namespace ?? ctx.namespace },
      policy: buildImagePolicyRule(spec.policy),
      ...(filterTags ? { filterTags } : {}),
      suspend: spec.suspend ?? false,
    },
  };
}

const IMAGE_POLICY_IGNORED: readonly IgnoredField[] = [
  { path: ['spec', 'digestReflectionPolicy'], harmless: ['Never'], note: `${NOT_YET}: images are pinned by tag, not digest` },
  { path: ['spec', 'interval'], note: 'not used: the policy is evaluated whenever its ImageRepository has new tags' },
];

export const imagePolicy = kindParser({
  apiVersion: 'image.toolkit.fluxcd.io/v1',
  schema: ImagePolicyObject,
  build: buildImagePolicy,
  ignoredFields: IMAGE_POLICY_IGNORED,
});
