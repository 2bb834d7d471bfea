// Flux image-automation setters, without IO: rewrite the YAML scalars that carry an
// `# {"$imagepolicy": "<ns>:<name>[:tag|:name]"}` line comment to the image an ImagePolicy
// selected. Edits are spliced into the original text at the scalars' CST offsets, so every
// other byte (comments, quoting, indentation, CRLF, other documents) is kept.
import { CST, isMap, parseAllDocuments, Parser } from 'yaml';

/** The Kubernetes object a marked scalar belongs to (empty strings where the document lacks a field). */
export interface SetterObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
}

export interface SetterChange {
  /** 1-based line of the scalar. */
  readonly line: number;
  /** The marker's policy reference as written, e.g. `flux-system:app:tag`. */
  readonly policy: string;
  readonly from: string;
  readonly to: string;
  /** The document's object, for commit messages (Flux's `.Changed.Objects`). */
  readonly object: SetterObject;
}

export interface SetterResult {
  readonly text: string;
  readonly changed: readonly SetterChange[];
}

/** What part of the image a marker asks for. */
type Field = 'image' | 'tag' | 'name';

interface Marker {
  readonly policy: string;
  readonly key: string;
  readonly field: Field;
}

/**
 * `images` maps `<namespace>:<name>` of an ImagePolicy to its latest image (`repo/name:tag`).
 * Markers naming a policy not in the map are left alone, as are block scalars (`|`, `>`).
 */
export function applySetters(yamlText: string, images: ReadonlyMap<string, string>): SetterResult {
  const edits: { offset: number; length: number; source: string; change: SetterChange }[] = [];
  for (const token of new Parser().parse(yamlText)) {
    if (token.type !== 'document') continue;
    CST.visit(token, (item) => {
      const scalar = item.value;
      if (scalar === undefined || !isFlowScalar(scalar)) return;
      const marker = markerOf(scalar.end ?? []);
      if (marker === undefined) return;
      const image = images.get(marker.key);
      if (image === undefined) return;
      const from = CST.resolveAsScalar(scalar).value;
      const to = part(image, marker.field);
      if (to === from) return;
      edits.push({
        offset: scalar.offset,
        length: scalar.source.length,
        source: quote(to, scalar.type),
        change: { line: lineAt(yamlText, scalar.offset), policy: marker.policy, from, to, object: NO_OBJECT },
      });
    });
  }
  if (edits.length === 0) return { text: yamlText, changed: [] };
  const objects = documentObjects(yamlText);
  for (const e of edits) e.change = { ...e.change, object: objects.find((o) => e.offset >= o.start && e.offset < o.end)?.object ?? NO_OBJECT };
  let text = yamlText;
  // Back to front, so earlier offsets stay valid.
  for (const e of [...edits].sort((a, b) => b.offset - a.offset)) {
    text = text.slice(0, e.offset) + e.source + text.slice(e.offset + e.length);
  }
  return { text, changed: edits.sort((a, b) => a.offset - b.offset).map((e) => e.change) };
}

const NO_OBJECT: SetterObject = { apiVersion: '', kind: '', name: '', namespace: '' };

/** Each document's span in the text and the object it declares. */
function documentObjects(text: string): { start: number; end: number; object: SetterObject }[] {
  return parseAllDocuments(text).flatMap((doc) => {
    if (!('contents' in doc) || !isMap(doc.contents)) return [];
    const str = (v: unknown): string => (typeof v === 'string' ? v : '');
    const meta = doc.get('metadata');
    const field = (key: string): unknown => (isMap(meta) ? meta.get(key) : undefined);
    const object = { apiVersion: str(doc.get('apiVersion')), kind: str(doc.get('kind')), name: str(field('name')), namespace: str(field('namespace')) };
    return [{ start: doc.range[0], end: doc.range[2], object }];
  });
}

type FlowScalarToken = CST.FlowScalar;

function isFlowScalar(token: CST.Token): token is FlowScalarToken {
  return token.type === 'scalar' || token.type === 'single-quoted-scalar' || token.type === 'double-quoted-scalar';
}

/** The marker in the scalar's trailing line comment, if it is one (Flux reads the comment as JSON). */
function markerOf(end: readonly CST.SourceToken[]): Marker | undefined {
  for (const t of end) {
    if (t.type === 'newline') return undefined;
    if (t.type !== 'comment') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(t.source.replace(/^#/, '').trim());
    } catch {
      return undefined;
    }
    if (typeof parsed !== 'object' || parsed === null || !('$imagepolicy' in parsed)) return undefined;
    const policy = parsed.$imagepolicy;
    if (typeof policy !== 'string') return undefined;
    const parts = policy.split(':');
    if (parts.length === 2 && parts.every((p) => p !== '')) return { policy, key: policy, field: 'image' };
    if (parts.length === 3 && (parts[2] === 'tag' || parts[2] === 'name') && parts[0] && parts[1]) {
      return { policy, key: `${parts[0]}:${parts[1]}`, field: parts[2] };
    }
    return undefined;
  }
  return undefined;
}

/** `ghcr.io/org/app:1.2.0` → tag `1.2.0`, name `ghcr.io/org/app`; a registry port is not a tag. */
function part(image: string, field: Field): string {
  if (field === 'image') return image;
  const colon = image.lastIndexOf(':');
  const hasTag = colon > image.lastIndexOf('/');
  if (field === 'tag') return hasTag ? image.slice(colon + 1) : '';
  return hasTag ? image.slice(0, colon) : image;
}

/** The new value in the scalar's own quoting style; a plain scalar that could not stay plain gets double quotes. */
function quote(value: string, type: FlowScalarToken['type']): string {
  switch (type) {
    case 'single-quoted-scalar':
      return `'${value.replaceAll("'", "''")}'`;
    case 'double-quoted-scalar':
      return JSON.stringify(value);
    default:
      return isSafePlain(value) ? value : JSON.stringify(value);
  }
}

function isSafePlain(value: string): boolean {
  if (value === '' || /^[\s\-?:,[\]{}#&*!|>'"%@`]/.test(value) || /\s$/.test(value)) return false;
  if (value.includes(': ') || value.includes(' #') || value.endsWith(':') || /[\r\n]/.test(value)) return false;
  // A tag like 1.10 or true must stay a string, as it was before.
  return !/^(?:[-+]?(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|0x[0-9a-fA-F]+|0o[0-7]+|true|false|yes|no|on|off|null|~)$/i.test(value);
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}
