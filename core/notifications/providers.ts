// One notification as an HTTP request, per Provider type, in the formats Flux's
// notification-controller sends (internal/notifier): the event JSON for generic and
// generic-hmac, a Slack attachment, a Microsoft Teams Adaptive Card, a GitHub commit status.
// Pure but for HMAC (node:crypto): the delivery activity uses it; workflows must not.
//
// Secrets: the Provider's Secret may hold `address` (wins over spec.address), `token`,
// `headers` (a YAML map; generic types only, as in Flux), `username` (wins over
// spec.username). Errors never show secret values; an address is shown as scheme://host only,
// since a Slack or Teams webhook URL is itself a credential.
import { createHmac } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import type { ProviderDeclaration } from '../declarations/types.js';
import { eventJson, type FlotillaEvent } from './event.js';

export interface NotificationRequest {
  readonly url: string;
  readonly method: 'POST';
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** Slack's Web API answers 200 with {"ok": false} on errors: the delivery must read the body. */
  readonly check?: 'slack-api';
}

/** A notification that is not sent, and why (e.g. a commit status for an event without a commit). */
export interface SkippedNotification {
  readonly skipped: string;
}

/** A Provider that cannot send as configured (missing key, bad address): retrying will not help. */
export class ProviderConfigError extends Error {}

export type SecretData = Readonly<Record<string, string>>;

/** Flux's header naming the component that sent an event (generic providers). */
const COMPONENT_HEADER = 'gotk-component';
/** Slack's Web API method (Flux checks the exact slack.com URL; the path also covers proxies and tests). */
const SLACK_API_PATH = '/api/chat.postMessage';
const GITHUB_DESCRIPTION_MAX = 140;

/**
 * The request that delivers `event` through `provider`, or why nothing is sent. `apiBase`
 * overrides the GitHub API root (by default https://api.github.com for github.com, and
 * `<scheme>://<host>/api/v3` for any other host, GitHub Enterprise's convention).
 * Throws ProviderConfigError when the Provider or its Secret lacks what the type needs.
 */
export function formatRequest(provider: ProviderDeclaration, secret: SecretData | undefined, event: FlotillaEvent, apiBase?: string): NotificationRequest | SkippedNotification {
  const ctx = new ProviderContext(provider, secret);
  const address = ctx.address();
  switch (provider.spec.type) {
    case 'generic':
      return { url: address, method: 'POST', headers: genericHeaders(ctx, event), body: eventJson(event) };
    case 'generic-hmac': {
      const token = ctx.required('token', 'the HMAC key of the X-Signature header');
      const body = eventJson(event);
      const signature = createHmac('sha256', token).update(body).digest('hex');
      return { url: address, method: 'POST', headers: { ...genericHeaders(ctx, event), 'X-Signature': `sha256=${signature}` }, body };
    }
    case 'slack': {
      const token = secret?.token;
      return {
        url: address, method: 'POST',
        headers: { 'Content-Type': 'application/json', ...(token === undefined || token === '' ? {} : { Authorization: `Bearer ${token}` }) },
        body: JSON.stringify(slackPayload(provider, ctx.username(), event)),
        ...(new URL(address).pathname === SLACK_API_PATH ? { check: 'slack-api' as const } : {}),
      };
    }
    case 'msteams':
      return { url: address, method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(teamsPayload(event)) };
    case 'github':
      return gitHubStatus(ctx, address, event, apiBase);
  }
}

/** scheme://host of an address: all an error message may show of it. */
export function addressOrigin(address: string): string {
  try {
    const u = new URL(address);
    return `${u.protocol}//${u.host}`;
  } catch {
    return '<invalid address>';
  }
}

/** The Provider, its Secret and the words to blame one or the other. */
class ProviderContext {
  readonly name: string;
  constructor(readonly provider: ProviderDeclaration, readonly secret: SecretData | undefined) {
    this.name = `Provider ${provider.namespace}/${provider.name}`;
  }

  private secretName(): string {
    const ref = this.provider.spec.secretRef;
    return ref === undefined ? 'its Secret (set spec.secretRef)' : `Secret ${this.provider.namespace}/${ref.name}`;
  }

  address(): string {
    const fromSecret = this.secret?.address;
    const address = fromSecret !== undefined && fromSecret !== '' ? fromSecret : this.provider.spec.address;
    const where = fromSecret !== undefined && fromSecret !== '' ? `the address key of ${this.secretName()}` : 'spec.address';
    if (address === undefined || address === '') {
      throw new ProviderConfigError(`${this.name}: no address: set spec.address or the address key of ${this.secretName()}`);
    }
    let url: URL;
    try {
      url = new URL(address);
    } catch {
      throw new ProviderConfigError(`${this.name}: ${where} is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ProviderConfigError(`${this.name}: ${where} must be an http:// or https:// URL`);
    return address;
  }

  required(key: string, purpose: string): string {
    const value = this.secret?.[key];
    if (value === undefined || value === '') {
      throw new ProviderConfigError(`${this.name}: ${this.secretName()} has no ${key} key (${this.provider.spec.type} needs it: ${purpose})`);
    }
    return value;
  }

  username(): string | undefined {
    const fromSecret = this.secret?.username;
    return fromSecret !== undefined && fromSecret !== '' ? fromSecret : this.provider.spec.username;
  }

  /** The Secret's headers key: a YAML map of header names to values. */
  headers(): Record<string, string> {
    const text = this.secret?.headers;
    if (text === undefined || text.trim() === '') return {};
    const invalid = (): ProviderConfigError =>
      new ProviderConfigError(`${this.name}: the headers key of ${this.secretName()} is not a YAML map of header names to single-line values`);
    let parsed: unknown;
    try {
      parsed = parseYaml(text);
    } catch {
      throw invalid();
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalid();
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(parsed)) {
      if (!/^[-!#$%&'*+.^_`|~0-9A-Za-z]+$/.test(name)) throw invalid();
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') throw invalid();
      const text = String(value);
      if (/[\r\n\0]/.test(text)) throw invalid();
      out[name] = text;
    }
    return out;
  }
}

function genericHeaders(ctx: ProviderContext, event: FlotillaEvent): Record<string, string> {
  return { 'Content-Type': 'application/json', [COMPONENT_HEADER]: event.reportingController, ...ctx.headers() };
}

/** "kustomization/apps.flux-system": Flux's name for the involved object in chat messages. */
function objectTitle(event: FlotillaEvent): string {
  const o = event.involvedObject;
  return `${o.kind.toLowerCase()}/${o.name}.${o.namespace}`;
}

/** Metadata keys sorted (Go's map order is random; a stable order reads better and tests exactly). */
function sortedMetadata(event: FlotillaEvent): [string, string][] {
  return Object.entries(event.metadata).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Flux's SlackPayload: one attachment, coloured by severity, metadata as fields. */
function slackPayload(provider: ProviderDeclaration, username: string | undefined, event: FlotillaEvent): unknown {
  return {
    channel: provider.spec.channel ?? '',
    username: username ?? event.reportingController,
    icon_url: '',
    icon_emoji: '',
    attachments: [{
      color: event.severity === 'error' ? 'danger' : 'good',
      author_name: objectTitle(event),
      text: event.message,
      mrkdwn_in: ['text'],
      fields: sortedMetadata(event).map(([title, value]) => ({ title, value, short: false })),
    }],
  };
}

/**
 * Flux's current Microsoft Teams format: an Adaptive Card (version 1.4, what Teams renders)
 * for the Teams "Workflows" incoming webhooks. Flux still sends the legacy MessageCard to
 * *.webhook.office.com Office 365 connector URLs; Microsoft has retired those connectors, so
 * Flotilla sends the Adaptive Card to every address.
 */
function teamsPayload(event: FlotillaEvent): unknown {
  const facts = sortedMetadata(event).filter(([key]) => key !== 'summary');
  const summary = event.metadata.summary;
  if (summary !== undefined) facts.unshift(['summary', summary]);
  return {
    type: 'message',
    attachments: [{
      contentType: 'application/vnd.microsoft.card.adaptive',
      content: {
        $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
        type: 'AdaptiveCard',
        version: '1.4',
        body: [{
          type: 'Container',
          items: [
            { type: 'TextBlock', text: objectTitle(event), size: 'large', weight: 'bolder', wrap: true },
            { type: 'TextBlock', text: event.message, wrap: true, ...(event.severity === 'error' ? { color: 'attention' } : {}) },
            { type: 'FactSet', facts: facts.map(([title, value]) => ({ title, value })) },
          ],
        }],
        msteams: { width: 'Full' },
      },
    }],
  };
}

/** The commit of a revision: Flux's "main@sha1:<sha>" (or "sha1:<sha>"), a bare SHA, or the older "main/<sha>". */
export function commitShaOf(revision: string | undefined): string | undefined {
  if (revision === undefined) return undefined;
  const m = /(?:^|@)sha1:([0-9a-fA-F]{40})$/.exec(revision) ?? /^([0-9a-fA-F]{40})$/.exec(revision) ?? /\/([0-9a-fA-F]{40})$/.exec(revision);
  return m?.[1]?.toLowerCase();
}

/** The GitHub API root for a repository host: api.github.com, or GitHub Enterprise's /api/v3. */
export function gitHubApiBase(origin: string): string {
  const host = new URL(origin).hostname.toLowerCase();
  return host === 'github.com' || host === 'www.github.com' ? 'https://api.github.com' : `${origin}/api/v3`;
}

/** "ReconciliationSucceeded" → "reconciliation succeeded" (Flux's commit status description). */
export function describeReason(reason: string): string {
  return reason.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2').toLowerCase();
}

function gitHubStatus(ctx: ProviderContext, address: string, event: FlotillaEvent, apiBase: string | undefined): NotificationRequest | SkippedNotification {
  const repo = /^(https?:\/\/[^/?#]+)\/([^/?#]+)\/([^/?#]+?)(?:\.git)?\/?$/.exec(address);
  const [, origin, owner, name] = repo ?? [];
  if (origin === undefined || owner === undefined || name === undefined) {
    throw new ProviderConfigError(`${ctx.name}: the github provider needs the repository URL as its address, <scheme>://<host>/<owner>/<repo> (got one on ${addressOrigin(address)})`);
  }
  const token = ctx.required('token', 'a GitHub token allowed to set commit statuses');
  // As Flux: a reconciliation in progress says nothing about the commit yet.
  if (event.reason === 'Progressing') return { skipped: 'progressing events do not set a commit status' };
  const sha = commitShaOf(event.metadata.revision);
  if (sha === undefined) {
    return { skipped: event.metadata.revision === undefined ? 'the event has no revision' : `revision ${JSON.stringify(event.metadata.revision)} names no git commit` };
  }
  const o = event.involvedObject;
  const cluster = event.metadata.cluster;
  const context = `${o.kind}/${o.name}${cluster === undefined || cluster === '' ? '' : `/${cluster}`}`.toLowerCase();
  const description = describeReason(event.reason);
  const base = (apiBase ?? gitHubApiBase(origin)).replace(/\/+$/, '');
  return {
    url: `${base}/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}/statuses/${sha}`,
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Accept: 'application/vnd.github+json',
      'X-GitHub-Api-Version': '2022-11-28',
      'User-Agent': 'flotilla-hub',
      Authorization: `Bearer ${token}`,
    },
    body: JSON.stringify({
      state: event.severity === 'error' ? 'failure' : 'success',
      context,
      description: description.length > GITHUB_DESCRIPTION_MAX ? `${description.slice(0, GITHUB_DESCRIPTION_MAX - 3)}...` : description,
    }),
  };
}
