import { isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import type { ConfigProblem } from './problem.js';

/**
 * Adds the line and column of a problem's key in the YAML file: the unknown key itself, the key of an invalid
 * value, or (for a missing key) the deepest part of its path that the file does have. A path the file does
 * not contain at all (a value from the environment) is left without a line.
 */
export function locateProblem(problem: ConfigProblem, doc: Document, lines: LineCounter): ConfigProblem {
  if (problem.at === undefined) return problem;
  const segments = problem.key !== undefined ? [...problem.at, problem.key] : [...problem.at];
  const offset = offsetOf(doc, segments);
  if (offset === undefined) return problem;
  const { line, col } = lines.linePos(offset);
  return { ...problem, line, column: col };
}

function offsetOf(doc: Document, segments: PropertyKey[]): number | undefined {
  for (let n = segments.length; n > 0; n--) {
    const parent = n === 1 ? doc.contents : doc.getIn(segments.slice(0, n - 1), true);
    const segment = segments[n - 1];
    if (isMap(parent)) {
      const pair = parent.items.find((p) => String(isScalar(p.key) ? p.key.value : p.key) === String(segment));
      const node = (pair?.key ?? pair?.value) as Node | undefined;
      if (node?.range) return node.range[0];
    } else if (isSeq(parent) && typeof segment === 'number') {
      const item = parent.items[segment] as Node | undefined;
      if (item?.range) return item.range[0];
    }
  }
  return undefined;
}
