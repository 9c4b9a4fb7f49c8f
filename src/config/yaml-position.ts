/**
 * Where a config path sits in the YAML source: the nodes along a path and their 1-based line and
 * column, so every problem can point at the text that caused it.
 */
import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from "yaml";

/** A 1-based position in the source text. */
export interface Position {
  line: number;
  col: number;
}

/** One step of a path found in the document: the mapping key (none for list items) and the value. */
export interface FoundStep {
  key: Node | null;
  value: Node | null;
}

/**
 * The nodes along `path`, from the top-level node (index 0, for the empty path) down as far as the
 * document goes: `steps.length - 1` path segments were found. Aliases are followed.
 */
export function nodesAlong(doc: Document, path: readonly (string | number)[]): FoundStep[] {
  const steps: FoundStep[] = [{ key: null, value: deref(doc, doc.contents) }];
  let current = steps[0]?.value ?? null;
  for (const segment of path) {
    let step: FoundStep | null = null;
    if (isMap(current)) {
      for (const pair of current.items) {
        const keyText = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        if (keyText === String(segment)) {
          step = { key: pair.key as Node, value: deref(doc, pair.value as Node | null) };
          break;
        }
      }
    } else if (isSeq(current)) {
      const item = current.items[Number(segment)] as Node | undefined;
      if (item !== undefined) step = { key: null, value: deref(doc, item) };
    }
    if (!step) break;
    steps.push(step);
    current = step.value;
  }
  return steps;
}

function deref(doc: Document, node: Node | null | undefined): Node | null {
  if (isAlias(node)) return (node.resolve(doc) as Node | undefined) ?? null;
  return node ?? null;
}

/** The position of a node's first character, or null when the node has no source range. */
export function nodePosition(node: Node | null, lineCounter: LineCounter): Position | null {
  const start = node?.range?.[0];
  return start === undefined ? null : lineCounter.linePos(start);
}

/**
 * The position to report for a found step: its value, except for an empty value (`key:` with
 * nothing after it), whose position would be the end of the line, where the key is clearer.
 */
export function stepPosition(step: FoundStep, lineCounter: LineCounter): Position | null {
  if (!step.value || isEmptyValue(step.value)) return nodePosition(step.key, lineCounter);
  return nodePosition(step.value, lineCounter) ?? nodePosition(step.key, lineCounter);
}

/** True when the node is a YAML empty value (`key:` followed by nothing). */
export function isEmptyValue(node: Node | null): boolean {
  return isScalar(node) && node.value === null && node.source === "";
}

/**
 * Where to report something about `path`: its value (see {@link stepPosition}), or the nearest
 * ancestor's position when the document does not go that far (a default), else 1:1.
 */
export function positionOf(doc: Document, path: readonly (string | number)[], lineCounter: LineCounter): Position {
  const steps = nodesAlong(doc, path);
  for (let i = steps.length - 1; i >= 0; i--) {
    const step = steps[i];
    const at = step && stepPosition(step, lineCounter);
    if (at) return at;
  }
  return { line: 1, col: 1 };
}
