// ConfigMap and Secret (core v1) given to the hub: values for postBuild.substituteFrom and
// HelmRelease valuesFrom, and source credentials.
//
// Defaults: data none. Secret data values are base64, held decoded (refused when not base64
// of UTF-8 text); stringData wins over data for the same key, as the API server merges them.
// A ConfigMap's binaryData is accepted and not used (Flux substitutes from data only).
// Pure (no Node built-ins): workflow code may import it.
import { z } from 'zod';
import type { DataDeclaration } from '../types.js';
import { base, kindParser, Metadata, type BuildContext, type IgnoredField } from './shared.js';

/** Kubernetes' rule for ConfigMap and Secret data keys. */
const dataKeys = (ctxName: string) => (data: Record<string, string>, ctx: z.core.$RefinementCtx) => {
  for (const key of Object.keys(data)) {
    if (key.length > 253 || !/^[-._a-zA-Z0-9]+$/.test(key)) {
      ctx.addIssue({ code: 'custom', path: [key], message: `invalid ${ctxName} key ${JSON.stringify(key)}: letters, digits, '-', '_' and '.'` });
    }
  }
};

const ConfigMapObject = z.strictObject({
  apiVersion: z.string(),
  kind: z.string(),
  metadata: Metadata,
  data: z.record(z.string(), z.string()).superRefine(dataKeys('ConfigMap')).optional(),
  binaryData: z.record(z.string(), z.string()).optional(), // accepted, not used (Flux substitutes from data only)
  immutable: z.boolean().optional(),
});

const SecretObject = z.strictObject({
  apiVersion: z.string(),
  kind: z.string(),
  metadata: Metadata,
  type: z.string().optional(),
  /** Values are base64; decoded here, refusing anything that is not valid base64 of UTF-8 text. */
  data: z.record(z.string(), z.string().transform((encoded, ctx) => {
    const decoded = decodeBase64Text(encoded);
    if (decoded instanceof Error) {
      ctx.addIssue({ code: 'custom', message: decoded.message });
      return z.NEVER;
    }
    return decoded;
  })).superRefine(dataKeys('Secret')).optional(),
  stringData: z.record(z.string(), z.string()).superRefine(dataKeys('Secret')).optional(),
  immutable: z.boolean().optional(),
});

function buildConfigMap(obj: z.infer<typeof ConfigMapObject>, ctx: BuildContext): DataDeclaration {
  return { kind: 'ConfigMap', ...base(obj.metadata, ctx), spec: { data: obj.data ?? {} } };
}

/** stringData wins over data for the same key, as the API server merges them. */
function buildSecret(obj: z.infer<typeof SecretObject>, ctx: BuildContext): DataDeclaration {
  return { kind: 'Secret', ...base(obj.metadata, ctx), spec: { data: { ...obj.data, ...obj.stringData } } };
}

const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/**
 * Standard padded base64 (what Kubernetes writes and accepts; line breaks are skipped, as
 * Go's decoder does) to UTF-8 text. Written out here because Buffer is Node-only.
 */
export function decodeBase64Text(encoded: string): string | Error {
  const text = encoded.replace(/[\r\n]/g, '');
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
    return new Error('invalid base64 (Secret data values are base64; put plain text under stringData)');
  }
  const body = text.replace(/=+$/, '');
  const bytes = new Uint8Array(Math.floor((body.length * 6) / 8));
  let bits = 0;
  let buffer = 0;
  let out = 0;
  for (const char of body) {
    buffer = (buffer << 6) | BASE64_ALPHABET.indexOf(char);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes[out++] = (buffer >> bits) & 0xff;
    }
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return new Error('value is not UTF-8 text once decoded (Flotilla holds Secret values as text)');
  }
}

const CONFIGMAP_IGNORED: readonly IgnoredField[] = [
  { path: ['binaryData'], note: 'not used: postBuild.substituteFrom reads data only, as in Flux' },
];

export const configMap = kindParser({
  apiVersion: 'v1',
  schema: ConfigMapObject,
  build: buildConfigMap,
  ignoredFields: CONFIGMAP_IGNORED,
});

export const secret = kindParser({
  apiVersion: 'v1',
  schema: SecretObject,
  build: buildSecret,
  ignoredFields: [],
});
