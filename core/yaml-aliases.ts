// The alias rule of Go's YAML decoder, applied to source files before kustomize reads them.
//
// A YAML alias bomb ("billion laughs": nine anchors, each a list of nine aliases of the one
// before) is a few hundred bytes that expand to 9^9 nodes. Flux never meets one expanded:
// kustomize-controller builds in-process and decodes through gopkg.in/yaml.v3 (pinned at
// v3.0.1 in fluxcd/kustomize-controller go.mod) and sigs.k8s.io/yaml (go.yaml.in/yaml/v2),
// whose decoders stop a document with "document contains excessive aliasing" once alias
// expansion does nearly all of the decoding work (yaml.v3 decode.go, allowedAliasRatio and
// decoder.unmarshal; the same rule since yaml.v2 v2.2.4, the fix for CVE-2019-11253). The
// kustomize CLI the hub runs is not protected: the issue measured it at 4.7–8.8 GB on a
// 750-byte bomb. So the hub walks each document the way the Go decoder would, counting
// decodes and alias-driven decodes, and refuses the file at the point the Go decoder would
// fail. The walk stops there too, so it costs at most ~100 steps per node of the file.
//
// The rule (yaml.v3 decode.go):
//   every node decoded counts (decodeCount); one decoded below an alias also counts as
//   aliasCount; the document fails when aliasCount > 100 && decodeCount > 1000 &&
//   aliasCount / decodeCount > allowedAliasRatio(decodeCount), where the allowed ratio is
//   0.99 up to 400 000 decodes, 0.10 from 4 000 000, and linear in between.
import { isAlias, isMap, isNode, isPair, isScalar, isSeq, parseAllDocuments, visit, type Document, type Node } from 'yaml';

const ALIAS_RATIO_RANGE_LOW = 400_000;
const ALIAS_RATIO_RANGE_HIGH = 4_000_000;

/** yaml.v3 decode.go allowedAliasRatio. */
export function allowedAliasRatio(decodeCount: number): number {
  if (decodeCount <= ALIAS_RATIO_RANGE_LOW) return 0.99;
  if (decodeCount >= ALIAS_RATIO_RANGE_HIGH) return 0.1;
  return 0.99 - 0.89 * ((decodeCount - ALIAS_RATIO_RANGE_LOW) / (ALIAS_RATIO_RANGE_HIGH - ALIAS_RATIO_RANGE_LOW));
}

/** yaml.v3 decode.go decoder.unmarshal: whether these counts fail the document. */
export function excessiveAliasing(aliasCount: number, decodeCount: number): boolean {
  return aliasCount > 100 && decodeCount > 1000 && aliasCount / decodeCount > allowedAliasRatio(decodeCount);
}

export interface AliasVerdict {
  /** 1-based document index in the file. */
  readonly document: number;
  readonly decodeCount: number;
  readonly aliasCount: number;
}

const EXIT_ALIAS = Symbol('exit alias');

/**
 * The first document of `text` that Go's YAML decoder would refuse for excessive aliasing,
 * or undefined. Documents that do not parse are skipped: kustomize reports those itself.
 */
export function findExcessiveAliasing(text: string): AliasVerdict | undefined {
  // Without an alias there is nothing to expand (and nothing to parse twice).
  if (!text.includes('*')) return undefined;
  const docs = parseAllDocuments(text);
  const list = Array.isArray(docs) ? docs : [docs];
  for (const [i, doc] of list.entries()) {
    if (doc.errors.length > 0) continue;
    const verdict = walkDocument(doc);
    if (verdict !== undefined) return { document: i + 1, ...verdict };
  }
  return undefined;
}

function walkDocument(doc: Document): { decodeCount: number; aliasCount: number } | undefined {
  // Anchors resolve to the last definition before the alias, as in the parser.
  const anchors = new Map<string, Node>();
  const targets = new Map<Node, Node | undefined>();
  let aliases = 0;
  visit(doc, {
    Node(_key, node) {
      if (isAlias(node)) {
        aliases++;
        targets.set(node, anchors.get(node.source));
      } else if (node.anchor !== undefined) {
        anchors.set(node.anchor, node);
      }
    },
  });
  if (aliases === 0 || !isNode(doc.contents)) return undefined;

  let decodeCount = 1; // the document node itself
  let aliasCount = 0;
  let aliasDepth = 0;
  const stack: (Node | null | typeof EXIT_ALIAS)[] = [doc.contents];
  while (stack.length > 0) {
    const node = stack.pop();
    if (node === EXIT_ALIAS) {
      aliasDepth--;
      continue;
    }
    decodeCount++;
    if (aliasDepth > 0) aliasCount++;
    if (excessiveAliasing(aliasCount, decodeCount)) return { decodeCount, aliasCount };
    if (node === null || node === undefined || isScalar(node)) continue;
    if (isAlias(node)) {
      const target = targets.get(node);
      if (target === undefined) continue; // unknown anchor: a parse error for Go
      aliasDepth++;
      stack.push(EXIT_ALIAS, target);
    } else if (isMap(node)) {
      for (let j = node.items.length - 1; j >= 0; j--) {
        const pair = node.items[j];
        if (!isPair(pair)) continue;
        stack.push(isNode(pair.value) ? pair.value : null, isNode(pair.key) ? pair.key : null);
      }
    } else if (isSeq(node)) {
      for (let j = node.items.length - 1; j >= 0; j--) {
        const item = node.items[j];
        stack.push(isNode(item) ? item : null);
      }
    }
  }
  return undefined;
}
