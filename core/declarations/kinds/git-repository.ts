// GitRepository (source.toolkit.fluxcd.io/v1; v1beta2 and v1beta1 are converted to it first,
// core/declarations/versions.ts): the repository Kustomizations build from, a HelmRelease can
// take a chart directory from, and an ImageUpdateAutomation commits to.
//
// Defaults, as Flux applies them: ref = branch "master"; timeout 60s; suspend false; include
// fromPath "." and toPath = the included repository's name (in the GitRepository's namespace).
// Pure (no Node built-ins): workflow code may import it.
import semver from 'semver';
import { z } from 'zod';
import type { GitRef, GitRepositoryDeclaration } from '../types.js';
import { olderVersions } from '../versions.js';
import {
  base, checkedString, duration, fluxObject, kindParser, LocalRef, NOT_YET, sourcePath, toNodeSemverRange,
  type BuildContext, type IgnoredField,
} from './shared.js';

const API_VERSION = 'source.toolkit.fluxcd.io/v1';

/** A sourceRef may name any source version Flotilla reads (Flux finds the source by kind and name). */
export const SOURCE_API_VERSIONS = [API_VERSION, ...olderVersions('GitRepository')];

/** https://, http://, ssh://, file:// (Flotilla's addition, for local repositories) or scp-like user@host:path. */
function gitUrlProblem(url: string): string | undefined {
  if (/^(https?|ssh):\/\/[^\s/]+(\/\S*)?$/.test(url)) return undefined;
  if (/^file:\/\/\S+$/.test(url)) return undefined;
  if (/^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:(?!\/\/)\S+$/.test(url)) return undefined;
  return `unsupported URL ${JSON.stringify(url)}: use https://, http://, ssh://, git@host:path or file://`;
}

/** git check-ref-format, the parts that matter for a written reference. */
function refNameProblem(name: string): string | undefined {
  const ok = name.startsWith('refs/') && !/[\s~^:?*[\\]|\.\.|@\{|\/\/|\/$|\.lock$|\.$/.test(name);
  return ok ? undefined : `invalid reference ${JSON.stringify(name)}: want a full reference name such as refs/heads/main or refs/pull/1/head`;
}

export const GitRefSchema = z.strictObject({
  branch: z.string().optional(),
  tag: z.string().optional(),
  semver: z.string().optional(),
  name: z.string().optional(),
  commit: z.string().optional(),
}).superRefine((ref, ctx) => {
  // An empty string is "not set", as Flux's omitempty fields treat it.
  const set = (['tag', 'semver', 'name', 'commit'] as const).filter((k) => (ref[k] ?? '') !== '');
  if (set.length > 1) {
    ctx.addIssue({ code: 'custom', message: `set only one of tag, semver, name and commit (found ${set.join(' and ')})` });
  }
  if ((ref.branch ?? '') !== '' && set.some((k) => k !== 'commit')) {
    ctx.addIssue({ code: 'custom', message: `branch can only be combined with commit (found branch and ${set.join(' and ')})` });
  }
  if (ref.commit !== undefined && ref.commit !== '' && !/^[0-9a-fA-F]{40}$/.test(ref.commit)) {
    ctx.addIssue({ code: 'custom', path: ['commit'], message: `invalid commit ${JSON.stringify(ref.commit)}: want the full 40-character SHA` });
  }
  if (ref.semver !== undefined && ref.semver !== '' && semver.validRange(toNodeSemverRange(ref.semver)) === null) {
    ctx.addIssue({ code: 'custom', path: ['semver'], message: `invalid semver range ${JSON.stringify(ref.semver)}` });
  }
  if (ref.name !== undefined && ref.name !== '') {
    const message = refNameProblem(ref.name);
    if (message !== undefined) ctx.addIssue({ code: 'custom', path: ['name'], message });
  }
});

const GitRepositoryInclude = z.strictObject({
  repository: LocalRef,
  fromPath: sourcePath.optional(),
  toPath: sourcePath.optional(),
});

const GitRepositorySpecV1 = z.strictObject({
  url: checkedString(gitUrlProblem),
  secretRef: LocalRef.optional(),
  interval: duration,
  timeout: duration.optional(),
  ref: GitRefSchema.optional(),
  ignore: z.string().optional(),
  suspend: z.boolean().optional(),
  include: z.array(GitRepositoryInclude).optional(),
  // Accepted, not acted on yet (see GIT_REPOSITORY_IGNORED).
  provider: z.enum(['generic', 'aws', 'azure', 'github']).optional(),
  serviceAccountName: z.string().optional(),
  verify: z.unknown().optional(),
  proxySecretRef: z.unknown().optional(),
  recurseSubmodules: z.boolean().optional(),
  sparseCheckout: z.array(z.string()).optional(),
});

const GitRepositoryObject = fluxObject(GitRepositorySpecV1);
type GitRepositoryInput = z.infer<typeof GitRepositoryObject>;

function buildGitRepository(obj: GitRepositoryInput, ctx: BuildContext): GitRepositoryDeclaration {
  const { spec } = obj;
  return {
    kind: 'GitRepository',
    ...base(obj.metadata, ctx),
    spec: {
      url: spec.url,
      intervalSeconds: spec.interval,
      timeoutSeconds: spec.timeout ?? 60,
      ref: buildRef(spec.ref),
      ignore: spec.ignore,
      include: (spec.include ?? []).map((inc) => ({
        repository: { namespace: ctx.namespace, name: inc.repository.name },
        fromPath: inc.fromPath ?? '.',
        toPath: inc.toPath ?? inc.repository.name,
      })),
      secretRef: spec.secretRef?.name,
      suspend: spec.suspend ?? false,
    },
  };
}

/** Only the fields that are set; branch "master" when none is (Flux's default). */
function buildRef(ref: z.infer<typeof GitRefSchema> | undefined): GitRef {
  const given = (value: string | undefined): string | undefined => (value === '' ? undefined : value);
  const out: { -readonly [K in keyof GitRef]: GitRef[K] } = {};
  const branch = given(ref?.branch);
  const tag = given(ref?.tag);
  const range = given(ref?.semver);
  const name = given(ref?.name);
  const commit = given(ref?.commit);
  if (branch !== undefined) out.branch = branch;
  if (tag !== undefined) out.tag = tag;
  if (range !== undefined) out.semver = toNodeSemverRange(range);
  if (name !== undefined) out.name = name;
  if (commit !== undefined) out.commit = commit.toLowerCase();
  return Object.keys(out).length === 0 ? { branch: 'master' } : out;
}

const GIT_REPOSITORY_IGNORED: readonly IgnoredField[] = [
  { path: ['spec', 'verify'], note: `${NOT_YET}: commit signatures are NOT verified` },
  { path: ['spec', 'provider'], harmless: ['generic'], note: `${NOT_YET}: only secretRef credentials are used` },
  { path: ['spec', 'serviceAccountName'], note: NOT_YET },
  { path: ['spec', 'proxySecretRef'], note: `${NOT_YET}: the repository is fetched without the proxy` },
  { path: ['spec', 'recurseSubmodules'], harmless: [false], note: `${NOT_YET}: submodules are not fetched` },
  { path: ['spec', 'sparseCheckout'], note: `${NOT_YET}: the whole repository is fetched` },
];

export const gitRepository = kindParser({
  apiVersion: API_VERSION,
  schema: GitRepositoryObject,
  build: buildGitRepository,
  ignoredFields: GIT_REPOSITORY_IGNORED,
  removedFieldHints: {
    'spec.gitImplementation': 'unknown field (removed in source.toolkit.fluxcd.io/v1)',
    'spec.accessFrom': 'unknown field (removed in source.toolkit.fluxcd.io/v1; it was never implemented)',
  },
});
