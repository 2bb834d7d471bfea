// The source policy: which URLs the hub may fetch sources from (GitRepository spec.url,
// HelmRepository spec.url and the chart URLs of its index, ImageRepository spec.image) and
// send its other requests to (Provider addresses, rollout analysis URLs). Repositories are
// tenants' input: a URL is a request the hub makes on the tenant's behalf, inside the hub's network (SSRF). Pure decisions; the activities resolve
// names (DNS) and call addressRefusal on every address before connecting to it, on every
// redirect hop (activities/source-guard.ts).
//
// The rules, each overridable by a hub setting (hub/config.ts, docs/security.md):
// - schemes: git over https and ssh (and scp-like git@host:path), Helm charts over https,
//   OCI over oci:// (https underneath); http://, git:// and file:// only when listed in
//   sources.allowSchemes;
// - destinations: loopback, link-local (with the cloud metadata address 169.254.169.254),
//   private (RFC 1918, fc00::/7), carrier-grade NAT, unspecified, multicast and reserved
//   addresses, IPv4 inside IPv6 (mapped, NAT64) judged as the IPv4 they carry, and the names
//   that mean "inside" (localhost, *.svc, *.cluster.local, metadata.google.internal, …) are
//   refused unless sources.allowPrivateNetworks is true or sources.allowHosts lists the host
//   (a name, *.suffix, an address or a CIDR).

import type { Declaration } from './declarations/types.js';
import { scrubUrl } from './scrub.js';
import { addressOrigin } from './notifications/providers.js';

export interface SourcePolicy {
  /** Schemes allowed besides the defaults (https, ssh, oci): any of http, git, file. */
  readonly allowSchemes: readonly string[];
  /** Host names, `*.suffix` patterns, IP addresses or CIDRs allowed though internal. */
  readonly allowHosts: readonly string[];
  /** Every internal destination allowed (a development fleet on one machine). */
  readonly allowPrivateNetworks: boolean;
}

/** Where a hub publishes its policy in the shared store, for `flotilla apply` to check against. */
export const SOURCE_POLICY_KEY = 'policy/sources.json';

/** A published policy, validated (undefined when it is not one). */
export function readSourcePolicy(text: string): SourcePolicy | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o: Record<string, unknown> = { ...v };
  const strings = (x: unknown): x is string[] => Array.isArray(x) && x.every((e) => typeof e === 'string');
  if (!strings(o.allowSchemes) || !strings(o.allowHosts) || typeof o.allowPrivateNetworks !== 'boolean') return undefined;
  return { allowSchemes: o.allowSchemes, allowHosts: o.allowHosts, allowPrivateNetworks: o.allowPrivateNetworks };
}

/** A hub started with no setting: https, ssh and oci to public addresses only. */
export const DEFAULT_SOURCE_POLICY: SourcePolicy = { allowSchemes: [], allowHosts: [], allowPrivateNetworks: false };

/** The schemes sources.allowSchemes may add. */
export const OPTIONAL_SCHEMES: readonly string[] = ['http', 'git', 'file'];

/** What a URL is for: decides the default schemes. */
export type SourceUse = 'git' | 'helm' | 'oci' | 'http';

const DEFAULT_SCHEMES: Readonly<Record<SourceUse, readonly string[]>> = {
  git: ['https', 'ssh'],
  helm: ['https', 'oci'],
  oci: ['https'],
  http: ['https'],
};

export const SETTING_SCHEMES = 'sources.allowSchemes';
export const SETTING_HOSTS = 'sources.allowHosts';
export const SETTING_PRIVATE = 'sources.allowPrivateNetworks';

/** Why the policy refuses a URL: the sentence, the setting that would allow it. */
export interface Refusal {
  /** e.g. "resolves to 169.254.169.254, a link-local (cloud metadata) address". */
  readonly why: string;
  readonly setting: string;
  /** What to do if the destination is intended. */
  readonly remedy: string;
}

/** The full message: `<what>: <url> <why>, refused by the source policy (<setting>); <remedy>`. */
export function refusalMessage(what: string, shownUrl: string, refusal: Refusal): string {
  return `${what}: ${shownUrl} ${refusal.why}, refused by the source policy (${refusal.setting}); ${refusal.remedy}`;
}

const KIND_NAMES: Readonly<Record<string, string>> = {
  gitrepository: 'GitRepository', helmrepository: 'HelmRepository', imagerepository: 'ImageRepository',
  imageupdateautomation: 'ImageUpdateAutomation', provider: 'Provider', kustomization: 'Kustomization', helmrelease: 'HelmRelease',
};

/** `GitRepository/flux-system/app spec.url` from a declaration id (`gitrepository/flux-system/app`) and a field. */
export function objectField(id: string, field: string): string {
  const [kind = '', ...rest] = id.split('/');
  return `${KIND_NAMES[kind] ?? kind}/${rest.join('/')} ${field}`;
}

// ---------------------------------------------------------------------------------------
// URLs

export interface SourceTarget {
  /** Lower case, without a trailing dot; IPv6 without brackets. Empty for file:// URLs. */
  readonly scheme: string;
  readonly host: string;
  /** undefined: the scheme's default. */
  readonly port?: number;
}

/** Scheme, host and port of a git URL (https://, ssh://, scp-like user@host:path, file://) or any URL. */
export function sourceTarget(url: string): SourceTarget | undefined {
  const scp = /^(?:[^@/\s]+@)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):(?!\/\/)\S*$/.exec(url);
  if (scp && !/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(url)) return { scheme: 'ssh', host: normalHost(scp[1] ?? '') };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const scheme = parsed.protocol.replace(/:$/, '').toLowerCase();
  const port = parsed.port === '' ? undefined : Number(parsed.port);
  return { scheme, host: normalHost(parsed.hostname), ...(port !== undefined ? { port } : {}) };
}

function normalHost(host: string): string {
  return host.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
}

/** Whether `use` may use `scheme` under `policy`. */
export function schemeRefusal(use: SourceUse, scheme: string, policy: SourcePolicy): Refusal | undefined {
  const s = scheme.toLowerCase();
  if (DEFAULT_SCHEMES[use].includes(s)) return undefined;
  if (OPTIONAL_SCHEMES.includes(s) && policy.allowSchemes.includes(s) && (use === 'git' || s === 'http')) return undefined;
  const allowed = [...DEFAULT_SCHEMES[use], ...policy.allowSchemes.filter((x) => use === 'git' || x === 'http')];
  const optional = OPTIONAL_SCHEMES.includes(s) && (use === 'git' || s === 'http');
  return {
    why: `uses the scheme ${s}://, which is not allowed for ${USE_NAMES[use]} (allowed: ${allowed.map((x) => `${x}://`).join(', ')})`,
    setting: SETTING_SCHEMES,
    remedy: optional
      ? `use ${DEFAULT_SCHEMES[use].map((x) => `${x}://`).join(' or ')}, or add ${s} to ${SETTING_SCHEMES} if this hub should fetch over ${s}://`
      : `use ${DEFAULT_SCHEMES[use].map((x) => `${x}://`).join(' or ')}`,
  };
}

const USE_NAMES: Readonly<Record<SourceUse, string>> = { git: 'git sources', helm: 'Helm repositories', oci: 'OCI registries', http: 'notifications and analysis checks' };

/**
 * What can be decided without DNS: the scheme, and a host that is an address or a name that
 * means "inside". `undefined` when the URL may be fetched as far as can be told before
 * resolving it (fetch time resolves and checks again).
 */
export function urlRefusal(use: SourceUse, url: string, policy: SourcePolicy): Refusal | undefined {
  const target = sourceTarget(url);
  if (target === undefined) return undefined; // the parser's own URL check reports it
  const scheme = schemeRefusal(use, target.scheme, policy);
  if (scheme !== undefined) return scheme;
  if (target.scheme === 'file') return undefined;
  return hostRefusal(target.host, policy);
}

// ---------------------------------------------------------------------------------------
// Hosts and addresses

/** Names that mean the cluster, the machine or the cloud's metadata service. */
const INTERNAL_NAMES: readonly { readonly test: (host: string) => boolean; readonly what: string }[] = [
  { test: (h) => h === 'localhost' || h.endsWith('.localhost') || h === 'localhost.localdomain', what: 'the local machine' },
  { test: (h) => h === 'metadata.google.internal' || h === 'metadata' || h === 'instance-data' || h.endsWith('.internal'), what: 'a cloud metadata or internal name' },
  { test: (h) => h.endsWith('.svc') || h.includes('.svc.') || h.endsWith('.cluster.local') || h === 'kubernetes' || h === 'kubernetes.default', what: 'a Kubernetes in-cluster service name' },
  { test: (h) => h.endsWith('.local') || h.endsWith('.home.arpa') || h.endsWith('.lan'), what: 'a local-network name' },
];

/** A host name (or literal address) refused before any resolution, or undefined. */
export function hostRefusal(host: string, policy: SourcePolicy): Refusal | undefined {
  const h = normalHost(host);
  if (policy.allowPrivateNetworks || hostAllowed(h, policy)) return undefined;
  const ip = parseIp(h);
  if (ip !== undefined) return addressRefusal(h, ip, policy, undefined);
  const named = INTERNAL_NAMES.find((n) => n.test(h));
  if (named === undefined) return undefined;
  return {
    why: `names ${named.what} (${h})`,
    setting: SETTING_HOSTS,
    remedy: `add ${h} to ${SETTING_HOSTS} if this hub should fetch from it`,
  };
}

/** Whether sources.allowHosts lists the name (exactly or by `*.suffix`). */
export function hostAllowed(host: string, policy: SourcePolicy): boolean {
  const h = normalHost(host);
  return policy.allowHosts.some((entry) => {
    const e = normalHost(entry);
    if (e.startsWith('*.')) return h.endsWith(e.slice(1));
    return e === h;
  });
}

/**
 * Whether an address the host resolved to may be connected to. `host` is the name it came
 * from (a name listed in allowHosts allows every address it resolves to).
 */
export function resolvedRefusal(host: string, address: string, policy: SourcePolicy): Refusal | undefined {
  if (policy.allowPrivateNetworks || hostAllowed(host, policy)) return undefined;
  const ip = parseIp(address);
  if (ip === undefined) return { why: `resolves to "${address}", which is not an IP address`, setting: SETTING_HOSTS, remedy: 'check the name\'s DNS records' };
  const h = normalHost(host);
  return addressRefusal(address, ip, policy, parseIp(h) === undefined ? h : undefined);
}

function addressRefusal(shown: string, ip: Uint8Array, policy: SourcePolicy, name: string | undefined): Refusal | undefined {
  const range = classifyAddress(ip);
  if (range === undefined) return undefined;
  if (policy.allowHosts.some((entry) => cidrContains(entry, ip))) return undefined;
  const lead = name === undefined ? `is ${shown}` : `resolves to ${shown}`;
  return {
    why: `${lead}, ${article(range)} ${range} address`,
    setting: SETTING_PRIVATE,
    remedy: `add ${shown}${name !== undefined ? ` (or ${name})` : ''} or its range to ${SETTING_HOSTS} if this is intended`,
  };
}

function article(word: string): string {
  return /^[aeiou]/i.test(word) ? 'an' : 'a';
}

/** A range of addresses the policy treats as internal, with the name errors give it. */
interface Range { readonly cidr: string; readonly what: string }

const V4_RANGES: readonly Range[] = [
  { cidr: '169.254.169.254/32', what: 'link-local (cloud metadata)' },
  { cidr: '0.0.0.0/8', what: 'unspecified ("this network")' },
  { cidr: '10.0.0.0/8', what: 'private (RFC 1918)' },
  { cidr: '100.64.0.0/10', what: 'carrier-grade NAT (RFC 6598)' },
  { cidr: '127.0.0.0/8', what: 'loopback' },
  { cidr: '169.254.0.0/16', what: 'link-local' },
  { cidr: '172.16.0.0/12', what: 'private (RFC 1918)' },
  { cidr: '192.0.0.0/24', what: 'IETF protocol assignment' },
  { cidr: '192.168.0.0/16', what: 'private (RFC 1918)' },
  { cidr: '198.18.0.0/15', what: 'benchmarking (RFC 2544)' },
  { cidr: '224.0.0.0/4', what: 'multicast' },
  { cidr: '240.0.0.0/4', what: 'reserved' },
];

const V6_RANGES: readonly Range[] = [
  { cidr: '::/128', what: 'unspecified' },
  { cidr: '::1/128', what: 'loopback' },
  { cidr: 'fe80::/10', what: 'link-local' },
  { cidr: 'fc00::/7', what: 'unique local (private)' },
  { cidr: 'fec0::/10', what: 'site-local (private)' },
  { cidr: 'ff00::/8', what: 'multicast' },
  { cidr: '100::/64', what: 'discard-only' },
  { cidr: 'fd00:ec2::254/128', what: 'link-local (cloud metadata)' },
];

/** The internal range an address is in (its name for messages), or undefined for a public address. */
export function classifyAddress(ip: Uint8Array): string | undefined {
  const v4 = embeddedV4(ip);
  if (v4 !== undefined) return V4_RANGES.find((r) => cidrContains(r.cidr, v4))?.what;
  // fd00:ec2::254 is inside fc00::/7; name it first.
  const ranges = [...V6_RANGES].sort((a, b) => prefixOf(b.cidr) - prefixOf(a.cidr));
  return ranges.find((r) => cidrContains(r.cidr, ip))?.what;
}

function prefixOf(cidr: string): number {
  return Number(cidr.slice(cidr.indexOf('/') + 1));
}

/** The IPv4 address an IPv6 address carries and reaches: IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96). */
function embeddedV4(ip: Uint8Array): Uint8Array | undefined {
  if (ip.length === 4) return ip;
  const zero = (from: number, to: number): boolean => ip.slice(from, to).every((b) => b === 0);
  if (zero(0, 10) && ip[10] === 0xff && ip[11] === 0xff) return ip.slice(12);
  if (zero(0, 12) && !(zero(12, 15) && (ip[15] ?? 0) <= 1)) return ip.slice(12); // not :: or ::1
  if (ip[0] === 0x00 && ip[1] === 0x64 && ip[2] === 0xff && ip[3] === 0x9b && zero(4, 12)) return ip.slice(12);
  return undefined;
}

/** Whether `cidr` (an address, or address/prefix) contains `ip`; false for an entry that is not one. */
export function cidrContains(cidr: string, ip: Uint8Array): boolean {
  const slash = cidr.indexOf('/');
  const base = parseIp(normalHost(slash === -1 ? cidr : cidr.slice(0, slash)));
  if (base === undefined) return false;
  const target = base.length === 4 && ip.length === 16 ? embeddedV4(ip) : ip;
  if (target === undefined || target.length !== base.length) return false;
  const bits = slash === -1 ? base.length * 8 : Number(cidr.slice(slash + 1));
  if (!Number.isInteger(bits) || bits < 0 || bits > base.length * 8) return false;
  for (let i = 0; i < base.length; i++) {
    const take = Math.max(0, Math.min(8, bits - i * 8));
    const mask = take === 0 ? 0 : (0xff << (8 - take)) & 0xff;
    if (((base[i] ?? 0) & mask) !== ((target[i] ?? 0) & mask)) return false;
  }
  return true;
}

/** Why an allowHosts entry is not a name, *.suffix, address or CIDR, or undefined. */
export function allowHostProblem(entry: string): string | undefined {
  const e = entry.trim();
  if (e.includes('/')) {
    const [addr = '', bits = ''] = e.split('/');
    const ip = parseIp(normalHost(addr));
    if (ip === undefined || !/^\d{1,3}$/.test(bits) || Number(bits) > ip.length * 8) return `"${entry}" is not a CIDR (address/prefix)`;
    return undefined;
  }
  if (parseIp(normalHost(e)) !== undefined) return undefined;
  if (/^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/.test(e)) return undefined;
  return `"${entry}" is not a host name, *.suffix, IP address or CIDR`;
}

// ---------------------------------------------------------------------------------------
// Addresses (no node:net: this module is pure, and also runs in the CLI and tests)

/** Parses a dotted-quad IPv4 or an IPv6 address (optionally with an embedded IPv4 and a %zone); 4 or 16 bytes. */
export function parseIp(text: string): Uint8Array | undefined {
  return parseV4(text) ?? parseV6(text.replace(/%.*$/, ''));
}

function parseV4(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255)) return undefined;
  return Uint8Array.from(parts.map(Number));
}

function parseV6(text: string): Uint8Array | undefined {
  if (!text.includes(':') || !/^[0-9a-fA-F:.]+$/.test(text)) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (part: string): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    const pieces = part.split(':');
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i] ?? '';
      if (i === pieces.length - 1 && p.includes('.')) {
        const v4 = parseV4(p);
        if (v4 === undefined) return undefined;
        out.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
        out.push(parseInt(p, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0] ?? '');
  const tail = halves.length === 2 ? groups(halves[1] ?? '') : [];
  if (head === undefined || tail === undefined) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => { bytes[2 * i] = g >> 8; bytes[2 * i + 1] = g & 0xff; });
  return bytes;
}

// ---------------------------------------------------------------------------------------
// Apply time: the declarations a user or a Kustomization's build declares

/** A URL a declaration makes the hub request: its field, the URL, its use and how a message may show it. */
export interface DeclaredUrl {
  readonly field: string;
  readonly url: string;
  readonly use: SourceUse;
  /** What a message may show: the scrubbed URL, the image, or scheme://host of a Provider address (a webhook's path is its token). */
  readonly shown: string;
}

/**
 * Every URL a declaration makes the hub request: a source's (GitRepository, HelmRepository,
 * ImageRepository), a Provider's spec.address (notifications are POSTed from the hub), a
 * rollout's spec.rollout.analysis.url (checked from the hub). A Provider address kept in its
 * Secret (the `address` key) is not known here; delivery checks it.
 */
export function declaredUrls(d: Declaration): DeclaredUrl[] {
  if (d.kind === 'Provider') {
    const address = d.spec.address;
    return address === undefined || address === '' ? [] : [{ field: 'spec.address', url: address, use: 'http', shown: addressOrigin(address) }];
  }
  if (d.kind === 'Kustomization' || d.kind === 'HelmRelease') {
    const url = d.spec.rollout?.analysis?.url;
    return url === undefined ? [] : [{ field: 'spec.rollout.analysis.url', url, use: 'http', shown: scrubUrl(url) }];
  }
  const source = declarationSource(d);
  if (source === undefined) return [];
  const shown = d.kind === 'ImageRepository' ? d.spec.image : scrubUrl(source.url);
  return [{ ...source, shown }];
}

/** The source URL a declaration makes the hub fetch, with its field and use; undefined for the others. */
export function declarationSource(d: Declaration): { readonly field: string; readonly url: string; readonly use: SourceUse } | undefined {
  switch (d.kind) {
    case 'GitRepository': return { field: 'spec.url', url: d.spec.url, use: 'git' };
    case 'HelmRepository': return { field: 'spec.url', url: d.spec.url, use: 'helm' };
    case 'ImageRepository': {
      // Docker's rule (activities/oci-registry.ts parseImageName): the first component is a host when it has "." or ":" or is localhost.
      const first = d.spec.image.split('/')[0] ?? '';
      const host = d.spec.image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost') ? first : 'registry-1.docker.io';
      return { field: 'spec.image', url: `${d.spec.insecure ? 'http' : 'https'}://${host}/`, use: 'oci' };
    }
    default: return undefined;
  }
}

/**
 * What the policy refuses among `declarations` before any of them is applied (scheme, literal
 * addresses, internal names; DNS is fetch time's): one message per refused URL, naming the
 * declaration, its field and the setting.
 */
export function declarationRefusals(declarations: readonly Declaration[], policy: SourcePolicy): string[] {
  const out: string[] = [];
  for (const d of declarations) {
    for (const declared of declaredUrls(d)) {
      const refusal = urlRefusal(declared.use, declared.url, policy);
      if (refusal !== undefined) out.push(refusalMessage(`${d.kind}/${d.namespace}/${d.name} ${declared.field}`, declared.shown, refusal));
    }
  }
  return out;
}
