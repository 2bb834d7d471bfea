// Provider (notification.toolkit.fluxcd.io/v1beta3; v1beta2 and v1beta1 are converted to it
// first, core/declarations/versions.ts; Flux has no v1): where Alerts send events.
//
// Defaults, as Flux applies them: timeout 15s; suspend false; no address, channel, username
// or secretRef. Types generic, generic-hmac, slack, msteams, github (Flux's others are refused
// by name).
// Pure (no Node built-ins): workflow code may import it.
import { z } from 'zod';
import type { ProviderDeclaration, ProviderType } from '../types.js';
import { base, duration, fluxObject, kindParser, LocalRef, notificationType, NOT_YET, type BuildContext, type IgnoredField } from './shared.js';

const PROVIDER_TYPES = ['generic', 'generic-hmac', 'slack', 'msteams', 'github'] as const satisfies readonly ProviderType[];
/** Flux's other Provider types: valid Flux, not sent to by Flotilla yet. */
const FLUX_PROVIDER_TYPES = [
  'alertmanager', 'azuredevops', 'azureeventhub', 'bitbucket', 'bitbucketserver', 'datadog', 'discord', 'gitea',
  'githubdispatch', 'gitlab', 'googlechat', 'googlepubsub', 'grafana', 'lark', 'matrix', 'nats', 'opsgenie', 'pagerduty',
  'rocket', 'sentry', 'telegram', 'webex',
];

function httpUrlProblem(url: string): string | undefined {
  return /^https?:\/\/[^\s/?#]+([/?#]\S*)?$/.test(url) ? undefined : `invalid address ${JSON.stringify(url)}: want an http:// or https:// URL`;
}

/** `<scheme>://<host>/<owner>/<repo>` (".git" and a trailing "/" allowed), as the github Provider needs. */
function gitHubRepositoryProblem(address: string): string | undefined {
  return /^https?:\/\/[^\s/?#]+\/[^\s/?#]+\/[^\s/?#]+?(\.git)?\/?$/.test(address) ? undefined
    : `invalid address ${JSON.stringify(address)}: the github provider wants the repository URL, <scheme>://<host>/<owner>/<repo>`;
}

/** Flux's Provider timeout default (Provider.GetTimeout). */
const PROVIDER_DEFAULT_TIMEOUT_SECONDS = 15;

const ProviderSpecSchema = z.strictObject({
  type: notificationType<ProviderType>('provider', PROVIDER_TYPES, FLUX_PROVIDER_TYPES),
  address: z.string().max(2048).optional(),
  channel: z.string().max(2048).optional(),
  username: z.string().max(2048).optional(),
  timeout: duration.optional(),
  secretRef: LocalRef.optional(),
  suspend: z.boolean().optional(),
  // Accepted, not acted on (see PROVIDER_IGNORED).
  interval: duration.optional(),
  proxy: z.string().max(2048).optional(),
  proxySecretRef: LocalRef.optional(),
  certSecretRef: LocalRef.optional(),
  commitStatusExpr: z.string().optional(),
  serviceAccountName: z.string().optional(),
}).superRefine((spec, ctx) => {
  if (spec.address !== undefined && spec.address !== '') {
    const message = spec.type === 'github' ? gitHubRepositoryProblem(spec.address) : httpUrlProblem(spec.address);
    if (message !== undefined) ctx.addIssue({ code: 'custom', path: ['address'], message });
  } else if (spec.secretRef === undefined) {
    ctx.addIssue({ code: 'custom', path: ['address'], message: 'required: where to send, in spec.address or (for a URL holding a token) under the address key of the Secret named by spec.secretRef' });
  }
  if (spec.type === 'github' && spec.secretRef === undefined) {
    ctx.addIssue({ code: 'custom', path: ['secretRef'], message: 'required for type github: a Secret with a token key (a GitHub token allowed to set commit statuses)' });
  }
});

const ProviderObject = fluxObject(ProviderSpecSchema);

function buildProvider(obj: z.infer<typeof ProviderObject>, ctx: BuildContext): ProviderDeclaration {
  const { spec } = obj;
  return {
    kind: 'Provider',
    ...base(obj.metadata, ctx),
    spec: {
      type: spec.type,
      ...(spec.address === undefined || spec.address === '' ? {} : { address: spec.address }),
      ...(spec.channel === undefined || spec.channel === '' ? {} : { channel: spec.channel }),
      ...(spec.username === undefined || spec.username === '' ? {} : { username: spec.username }),
      timeoutSeconds: spec.timeout ?? PROVIDER_DEFAULT_TIMEOUT_SECONDS,
      ...(spec.secretRef === undefined ? {} : { secretRef: { name: spec.secretRef.name } }),
      suspend: spec.suspend ?? false,
    },
  };
}

const PROVIDER_IGNORED: readonly IgnoredField[] = [
  { path: ['spec', 'interval'], note: 'has no effect (deprecated by Flux: a Provider is not reconciled on an interval)' },
  { path: ['spec', 'proxy'], note: `${NOT_YET}: notifications are sent without the proxy` },
  { path: ['spec', 'proxySecretRef'], note: `${NOT_YET}: notifications are sent without the proxy` },
  { path: ['spec', 'certSecretRef'], note: `${NOT_YET}: the server certificate is checked against the system's CAs only` },
  { path: ['spec', 'commitStatusExpr'], note: `${NOT_YET}: the commit status context is <kind>/<name>[/<cluster>]` },
  { path: ['spec', 'serviceAccountName'], note: NOT_YET },
];

export const provider = kindParser({
  apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
  schema: ProviderObject,
  build: buildProvider,
  ignoredFields: PROVIDER_IGNORED,
  requiredHints: { 'spec.type': `required: one of ${PROVIDER_TYPES.join(', ')}` },
});
