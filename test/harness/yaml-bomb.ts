// The YAML alias bomb of issue #24 ("billion laughs"), shared by the tests that feed it to the
// hub: as a file of a source it must be refused by Go's alias rule (core/yaml-aliases.ts)
// before kustomize reads it; kustomize itself would expand it to gigabytes.

/** A ConfigMap `name` whose data nests nine anchors, each a list of nine aliases of the one before (~500 bytes, 9^9 scalars expanded). */
export function billionLaughs(name = 'bomb'): string {
  const lines = ['apiVersion: v1', 'kind: ConfigMap', `metadata: {name: ${name}}`, 'data:', `  a0: &a0 [${Array<string>(9).fill('"lol"').join(',')}]`];
  for (let l = 1; l <= 8; l++) lines.push(`  a${l}: &a${l} [${Array<string>(9).fill(`*a${l - 1}`).join(',')}]`);
  return `${lines.join('\n')}\n`;
}
