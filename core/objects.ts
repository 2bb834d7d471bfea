// Kubernetes objects as Flotilla handles them: plain JSON with apiVersion, kind and
// metadata, identified by a stable string id (Flux's inventory format).

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

/** The group of an apiVersion: "apps/v1" → "apps", "v1" → "" (core). */
export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/**
 * A stable identity for an object across versions: `<namespace>_<name>_<group>_<kind>`,
 * the format of Flux's inventory entries (namespace empty for cluster-scoped objects).
 */
export function objectId(obj: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'>): string {
  return `${obj.metadata.namespace ?? ''}_${obj.metadata.name}_${groupOf(obj.apiVersion)}_${obj.kind}`;
}

export interface ParsedId {
  readonly namespace: string;
  readonly name: string;
  readonly group: string;
  readonly kind: string;
}

export function parseObjectId(id: string): ParsedId {
  const parts = id.split('_');
  if (parts.length !== 4) throw new Error(`invalid object id "${id}" (want namespace_name_group_kind)`);
  const [namespace = '', name = '', group = '', kind = ''] = parts;
  return { namespace, name, group, kind };
}

/** Human form for messages: "Deployment/apps/web" or "Namespace/apps". */
export function describeObject(obj: Pick<KubeObject, 'kind' | 'metadata'>): string {
  const ns = obj.metadata.namespace;
  return ns ? `${obj.kind}/${ns}/${obj.metadata.name}` : `${obj.kind}/${obj.metadata.name}`;
}

export function describeId(id: string): string {
  const p = parseObjectId(id);
  return p.namespace ? `${p.kind}/${p.namespace}/${p.name}` : `${p.kind}/${p.name}`;
}
