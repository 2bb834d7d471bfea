// ImageUpdateAutomation (image.toolkit.fluxcd.io/v1; v1beta2 and v1beta1 are converted to it
// first, core/declarations/versions.ts): commits the ImagePolicies' latest images into a
// GitRepository's files, at the setter markers.
//
// Defaults, as Flux applies them unless noted: sourceRef kind GitRepository in its own
// namespace; checkout branch = the GitRepository's; push branch = the checkout branch; author
// name "Flotilla" (Flotilla's); Flux's default message template; no messageTemplateValues;
// update path "." with strategy Setters; suspend false.
// Pure (no Node built-ins): workflow code may import it.
import { z } from 'zod';
import { commitTemplateProblem } from '../../image/message-template.js';
import type { ImageUpdateAutomationDeclaration } from '../types.js';
import { removedTemplateFieldProblem } from '../versions.js';
import { GitRefSchema } from './git-repository.js';
import { buildLabelSelector, LabelSelectorSchema } from './placement-rollout.js';
import {
  base, checkedString, dnsLabel, dnsSubdomain, duration, fluxObject, kindParser, nonEmpty, NOT_YET, sourcePath,
  type BuildContext, type IgnoredField,
} from './shared.js';

const ImageUpdateSourceRef = z.strictObject({
  apiVersion: z.string().optional(),
  kind: z.string().optional().transform((kind, ctx) => {
    if (kind === undefined || kind === 'GitRepository') return 'GitRepository' as const;
    ctx.addIssue({ code: 'custom', message: `invalid source kind ${JSON.stringify(kind)}: an ImageUpdateAutomation commits to a GitRepository` });
    return z.NEVER;
  }),
  name: dnsSubdomain,
  namespace: dnsLabel.optional(),
});

/** A branch name as git check-ref-format accepts it, without refs/heads/. */
const branchName = checkedString((b) => {
  if (b.startsWith('refs/')) return `write the branch name without "refs/heads/" (got ${JSON.stringify(b)})`;
  return b !== '' && !b.startsWith('-') && !b.startsWith('/') && !/[\s~^:?*[\\]|\.\.|@\{|\/\/|\/$|\.lock$|\.$/.test(b) ? undefined
    : `invalid branch name ${JSON.stringify(b)}: no spaces, ~ ^ : ? * [ \\, "..", "@{" or "//", and not ending in "/", "." or ".lock"`;
});

const ImageUpdateGitSchema = z.strictObject({
  checkout: z.strictObject({ ref: GitRefSchema }).optional(),
  commit: z.strictObject({
    author: z.strictObject({ name: z.string().optional(), email: nonEmpty }),
    signingKey: z.unknown().optional(),
    messageTemplate: z.string().optional(),
    messageTemplateValues: z.record(z.string(), z.string()).optional(),
  }),
  push: z.strictObject({
    branch: branchName.optional(),
    refspec: z.string().optional(),
    options: z.record(z.string(), z.string()).optional(),
  }).optional(),
}).superRefine((git, ctx) => {
  const ref = git.checkout?.ref;
  if (ref !== undefined && ['tag', 'semver', 'name', 'commit'].some((k) => (ref[k as keyof typeof ref] ?? '') !== '')) {
    ctx.addIssue({ code: 'custom', path: ['checkout', 'ref'], message: 'only a branch can be checked out for updates (Flotilla does not support tag, semver, name or commit here yet)' });
  }
  const template = git.commit.messageTemplate;
  // v1 has no .Updated or .Changed.ImageResult (core/declarations/versions.ts cites Flux).
  const problem = template === undefined ? undefined : commitTemplateProblem(template) ?? removedTemplateFieldProblem(template);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['commit', 'messageTemplate'], message: problem });
});

const ImageUpdateAutomationSpecSchema = z.strictObject({
  sourceRef: ImageUpdateSourceRef,
  git: ImageUpdateGitSchema.optional(),
  interval: duration,
  policySelector: LabelSelectorSchema.optional(),
  update: z.strictObject({ path: sourcePath.optional(), strategy: z.literal('Setters').optional() }).optional(),
  suspend: z.boolean().optional(),
}).superRefine((spec, ctx) => {
  // Flux's CRD makes git optional, but the controller cannot commit without an author.
  if (spec.git === undefined) ctx.addIssue({ code: 'custom', path: ['git'], message: 'required: at least {commit: {author: {email: ...}}}' });
});

const ImageUpdateAutomationObject = fluxObject(ImageUpdateAutomationSpecSchema);

/** The author name when spec.git.commit.author.name is empty. */
const DEFAULT_AUTHOR_NAME = 'Flotilla';

function buildImageUpdateAutomation(obj: z.infer<typeof ImageUpdateAutomationObject>, ctx: BuildContext): ImageUpdateAutomationDeclaration {
  const { spec } = obj;
  const commit = spec.git?.commit;
  const checkoutBranch = spec.git?.checkout?.ref.branch;
  return {
    kind: 'ImageUpdateAutomation',
    ...base(obj.metadata, ctx),
    spec: {
      sourceRef: { kind: 'GitRepository', name: spec.sourceRef.name, namespace: spec.sourceRef.namespace ?? ctx.namespace },
      ...(checkoutBranch ? { checkoutBranch } : {}),
      ...(spec.git?.push?.branch ? { pushBranch: spec.git.push.branch } : {}),
      author: { name: commit?.author.name || DEFAULT_AUTHOR_NAME, email: commit?.author.email ?? '' },
      ...(commit?.messageTemplate ? { messageTemplate: commit.messageTemplate } : {}),
      messageTemplateValues: commit?.messageTemplateValues ?? {},
      intervalSeconds: spec.interval,
      ...(spec.policySelector ? { policySelector: buildLabelSelector(spec.policySelector) } : {}),
      updatePath: spec.update?.path ?? '.',
      strategy: 'Setters',
      suspend: spec.suspend ?? false,
    },
  };
}

const IMAGE_UPDATE_AUTOMATION_IGNORED: readonly IgnoredField[] = [
  { path: ['spec', 'sourceRef', 'apiVersion'], note: 'not used: the GitRepository is found by name' },
  { path: ['spec', 'git', 'commit', 'signingKey'], note: `${NOT_YET}: commits are NOT signed` },
  { path: ['spec', 'git', 'push', 'refspec'], note: `${NOT_YET}: only push.branch is pushed` },
  { path: ['spec', 'git', 'push', 'options'], note: `${NOT_YET}: git push runs without push options` },
];

export const imageUpdateAutomation = kindParser({
  apiVersion: 'image.toolkit.fluxcd.io/v1',
  schema: ImageUpdateAutomationObject,
  build: buildImageUpdateAutomation,
  ignoredFields: IMAGE_UPDATE_AUTOMATION_IGNORED,
});
