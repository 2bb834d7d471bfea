// Commit messages of ImageUpdateAutomation (spec.git.commit.messageTemplate), without IO.
// The template is Go text/template (see go-template.ts) over Flux's v1beta2 template data:
// image-automation-controller internal/source/source.go (TemplateData) and pkg/update/result.go.
import type { SetterObject } from './setters.js';
import { executeTemplate, GoMap, GoSlice, GoStruct, parseTemplate, TemplateError, comparableKey } from './go-template.js';
import type { GoValue } from './go-template.js';

export interface ImageChange {
  /** Path of the changed file, relative to the repository root, with forward slashes. */
  readonly file: string;
  /** The object (document) the marked line belongs to. */
  readonly object: SetterObject;
  /** The marker as written, e.g. `flux-system:app:tag`. */
  readonly setter: string;
  /** The ImagePolicy the marker names. */
  readonly policy: { readonly namespace: string; readonly name: string };
  readonly oldValue: string;
  readonly newValue: string;
  /** The full image the policy selected (`registry/repo:tag`), whatever part the marker took. */
  readonly image: string;
}

export interface CommitTemplateData {
  readonly automation: { readonly namespace: string; readonly name: string };
  readonly changes: readonly ImageChange[];
  /** Flux's `.Values` (spec.git.commit... messageTemplateValues). */
  readonly values: Readonly<Record<string, string>>;
}

/**
 * Flux's default commit message template (image-automation-controller v1beta2,
 * `defaultMessageTemplate` in internal/source/source.go), used when messageTemplate is empty.
 */
export const DEFAULT_COMMIT_TEMPLATE = 'Update from image update automation';

export class CommitTemplateError extends Error {
  override readonly name = 'CommitTemplateError';
}

/** Why `template` cannot be rendered (a parse error, with its position), or undefined. */
export function commitTemplateProblem(template: string): string | undefined {
  try {
    parseTemplate(template);
    return undefined;
  } catch (e) {
    if (e instanceof TemplateError) return e.message;
    throw e;
  }
}

export function renderCommitMessage(template: string, data: CommitTemplateData): string {
  try {
    return executeTemplate(parseTemplate(template === '' ? DEFAULT_COMMIT_TEMPLATE : template), templateData(data));
  } catch (e) {
    if (e instanceof TemplateError) throw new CommitTemplateError(e.message);
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// Flux's template data, as Go values.

const methods = (entries: Record<string, () => GoValue>): ReadonlyMap<string, () => GoValue> => new Map(Object.entries(entries));

/** k8s.io/apimachinery types.NamespacedName; String() is "namespace/name". */
function namespacedName(ref: { readonly namespace: string; readonly name: string }): GoStruct {
  const text = `${ref.namespace}/${ref.name}`;
  return new GoStruct(
    'types.NamespacedName',
    [{ name: 'Namespace', value: ref.namespace }, { name: 'Name', value: ref.name }],
    methods({ String: () => text }),
    () => text,
  );
}

/** update.ObjectIdentifier, which embeds kyaml's ResourceIdentifier{TypeMeta, NameMeta}. */
function objectIdentifier(o: SetterObject): GoStruct {
  const typeMeta = new GoStruct('yaml.TypeMeta', [{ name: 'APIVersion', value: o.apiVersion }, { name: 'Kind', value: o.kind }]);
  const nameMeta = new GoStruct('yaml.NameMeta', [{ name: 'Name', value: o.name }, { name: 'Namespace', value: o.namespace }]);
  const resource = new GoStruct('yaml.ResourceIdentifier', [
    { name: 'TypeMeta', value: typeMeta, embedded: true },
    { name: 'NameMeta', value: nameMeta, embedded: true },
  ]);
  return new GoStruct('update.ObjectIdentifier', [{ name: 'ResourceIdentifier', value: resource, embedded: true }]);
}

function change(c: ImageChange): GoStruct {
  return new GoStruct('update.Change', [
    { name: 'OldValue', value: c.oldValue },
    { name: 'NewValue', value: c.newValue },
    { name: 'Setter', value: c.setter },
  ]);
}

const DEFAULT_REGISTRY = 'index.docker.io';

/**
 * go-containerregistry's name.ParseReference (weak validation), as far as ImageRef shows it:
 * the first path part is a registry only if it has a '.' or ':'; Docker Hub's one-part names get
 * "library/"; a missing tag is "latest"; `@digest` wins over a tag.
 */
function imageReference(image: string): { registry: string; repository: string; identifier: string; name: string } {
  const at = image.indexOf('@');
  const withoutDigest = at >= 0 ? image.slice(0, at) : image;
  const parts = withoutDigest.split(':');
  const last = parts[parts.length - 1] ?? '';
  const hasTag = parts.length > 1 && !last.includes('/');
  const base = hasTag ? parts.slice(0, -1).join(':') : withoutDigest;
  const slash = base.indexOf('/');
  const first = slash >= 0 ? base.slice(0, slash) : '';
  const explicit = slash >= 0 && (first.includes('.') || first.includes(':'));
  let registry = explicit ? first : DEFAULT_REGISTRY;
  if (registry === 'docker.io') registry = DEFAULT_REGISTRY;
  const path = explicit ? base.slice(slash + 1) : base;
  const repository = registry === DEFAULT_REGISTRY && !path.includes('/') ? `library/${path}` : path;
  const identifier = at >= 0 ? image.slice(at + 1) : hasTag ? last : 'latest';
  return { registry, repository, identifier, name: `${registry}/${repository}${at >= 0 ? '@' : ':'}${identifier}` };
}

/** update.ImageRef: a name.Reference (embedded) plus the policy that selected it. */
function imageRef(image: string, policy: ImageChange['policy']): GoStruct {
  const ref = imageReference(image);
  const reference = new GoStruct(
    ref.identifier.includes(':') && image.includes('@') ? 'name.Digest' : 'name.Tag',
    [{ name: 'original', value: image }],
    methods({ String: () => image, Identifier: () => ref.identifier, Name: () => ref.name }),
    () => image,
  );
  const policyName = namespacedName(policy);
  return new GoStruct(
    'update.ImageRef',
    [{ name: 'Reference', value: reference, embedded: true }, { name: 'policy', value: policyName }],
    methods({ Policy: () => policyName, Repository: () => ref.repository, Registry: () => ref.registry }),
    () => image,
  );
}

const stringMap = (type: string, entries: Iterable<readonly [string, GoValue]>, zero: () => GoValue): GoMap =>
  new GoMap(type, 'string', entries, zero);
const objectMap = (type: string, entries: Iterable<readonly [GoValue, GoValue]>, zero: () => GoValue): GoMap =>
  new GoMap(type, 'update.ObjectIdentifier', entries, zero);
const refs = (items: readonly GoValue[]): GoSlice => new GoSlice('[]update.ImageRef', items);
const changes = (items: readonly GoValue[]): GoSlice => new GoSlice('[]update.Change', items);

/** The values of `m`'s entries, in Go's sorted map order. */
const sortedValues = (m: GoValue): GoValue[] => (m instanceof GoMap ? m.entries.map(([, v]) => v) : []);
const items = (v: GoValue): readonly GoValue[] => (v instanceof GoSlice ? v.items : []);

function uniqueByKey(values: readonly GoValue[]): GoValue[] {
  const seen = new Set<string>();
  return values.filter((v) => {
    const key = comparableKey(v);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

interface ObjectAccumulator {
  readonly oid: GoStruct;
  readonly refs: GoStruct[];
  readonly changes: GoStruct[];
}

/**
 * source.TemplateData{AutomationObject, Updated, Changed, Values}. Go iterates its maps in
 * random order inside Images(), Changes() and Objects(); here they go in sorted order (files,
 * then objects), so the result is deterministic.
 */
function templateData(data: CommitTemplateData): GoStruct {
  const files = new Map<string, Map<string, ObjectAccumulator>>();
  for (const c of data.changes) {
    const objects = files.get(c.file) ?? new Map<string, ObjectAccumulator>();
    files.set(c.file, objects);
    const oid = objectIdentifier(c.object);
    const key = comparableKey(oid);
    const acc = objects.get(key) ?? { oid, refs: [], changes: [] };
    objects.set(key, acc);
    // Result records each image once per object; ResultV2 appends every change.
    const ref = imageRef(c.image, c.policy);
    if (!acc.refs.some((r) => comparableKey(r) === comparableKey(ref))) acc.refs.push(ref);
    acc.changes.push(change(c));
  }

  const fileResult = (objects: GoValue): GoStruct => new GoStruct('update.FileResult', [{ name: 'Objects', value: objects }]);
  const emptyObjectRefs = (): GoMap => objectMap('map[update.ObjectIdentifier][]update.ImageRef', [], () => refs([]));
  const emptyObjectChanges = (): GoMap => objectMap('update.ObjectChanges', [], () => changes([]));

  const updatedFiles = stringMap(
    'map[string]update.FileResult',
    [...files].map(([file, objects]) => [
      file,
      fileResult(objectMap('map[update.ObjectIdentifier][]update.ImageRef', [...objects.values()].map((o) => [o.oid, refs(o.refs)]), () => refs([]))),
    ]),
    () => fileResult(emptyObjectRefs()),
  );
  const fileChanges = stringMap(
    'map[string]update.ObjectChanges',
    [...files].map(([file, objects]) => [file, objectMap('update.ObjectChanges', [...objects.values()].map((o) => [o.oid, changes(o.changes)]), () => changes([]))]),
    emptyObjectChanges,
  );

  /** Each file's object map, in file order. */
  const objectMaps = (byFile: GoMap, field?: string): GoMap[] =>
    sortedValues(byFile).flatMap((v) => {
      const m = field !== undefined && v instanceof GoStruct ? v.fields.find((f) => f.name === field)?.value : v;
      return m instanceof GoMap ? [m] : [];
    });

  const updated = new GoStruct(
    'update.Result',
    [{ name: 'Files', value: updatedFiles }],
    methods({
      // Images(): every ImageRef once.
      Images: () => refs(uniqueByKey(objectMaps(updatedFiles, 'Objects').flatMap((m) => sortedValues(m).flatMap(items)))),
      // Objects(): refs of an object appended across files.
      Objects: () => {
        const merged = new Map<string, [GoValue, GoValue[]]>();
        for (const m of objectMaps(updatedFiles, 'Objects')) {
          for (const [oid, list] of m.entries) {
            const entry = merged.get(comparableKey(oid)) ?? [oid, []];
            entry[1].push(...items(list));
            merged.set(comparableKey(oid), entry);
          }
        }
        return objectMap('map[update.ObjectIdentifier][]update.ImageRef', [...merged.values()].map(([oid, list]) => [oid, refs(list)]), () => refs([]));
      },
    }),
  );

  const changed = new GoStruct(
    'update.ResultV2',
    [{ name: 'ImageResult', value: updated }, { name: 'FileChanges', value: fileChanges }],
    methods({
      // Changes(): every distinct {OldValue, NewValue, Setter} once.
      Changes: () => changes(uniqueByKey(objectMaps(fileChanges).flatMap((m) => sortedValues(m).flatMap(items)))),
      // Objects(): an object's changes, the last file's winning (Go assigns, it does not append).
      Objects: () => {
        const merged = new Map<string, readonly [GoValue, GoValue]>();
        for (const m of objectMaps(fileChanges)) for (const [oid, list] of m.entries) merged.set(comparableKey(oid), [oid, list]);
        return objectMap('update.ObjectChanges', merged.values(), () => changes([]));
      },
    }),
  );

  return new GoStruct('source.TemplateData', [
    { name: 'AutomationObject', value: namespacedName(data.automation) },
    { name: 'Updated', value: updated },
    { name: 'Changed', value: changed },
    { name: 'Values', value: stringMap('map[string]string', Object.entries(data.values), () => '') },
  ]);
}
