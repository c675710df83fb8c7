/**
 * The cross-field checks of a configuration the schema rejected in part: they run on what is left once
 * the rejected values are taken out, so one run reports every problem.
 */
import type { z } from 'zod';
import { errorsIn, formatPath, pathWithin, type ConfigProblem } from './config-problems.ts';

type Plain = Record<string, unknown>;

function isPlainObject(value: unknown): value is Plain {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The value at `path` in a parsed YAML tree, or undefined where the path leaves it. */
export function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let node: unknown = input;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

/** Stands in for a list entry the schema refused, so the entries after it keep their index until the checks run. */
const DROPPED: unique symbol = Symbol('dropped list entry');

/** The tree without its dropped list entries: what the schema and the checks see. */
function withoutDropped(node: unknown): unknown {
  if (Array.isArray(node)) return node.filter((item) => item !== DROPPED).map(withoutDropped);
  if (isPlainObject(node)) return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, withoutDropped(value)]));
  return node;
}

/** The index in `list` of the `kept`-th entry that was not dropped. */
function indexCountingDropped(list: readonly unknown[], kept: number): number {
  let seen = -1;
  for (const [i, item] of list.entries()) {
    if (item !== DROPPED && ++seen === kept) return i;
  }
  return list.length + kept - seen - 1;
}

/** A path into withoutDropped(marked) as a path into `marked`: list indexes count the dropped entries again. */
function pathCountingDropped(marked: unknown, path: readonly PropertyKey[]): PropertyKey[] {
  const out: PropertyKey[] = [];
  let node = marked;
  for (const key of path) {
    const step = Array.isArray(node) && typeof key === 'number' ? indexCountingDropped(node, key) : key;
    out.push(step);
    node = valueAt(node, [step]);
  }
  return out;
}

/**
 * The same, for a path a check wrote (`access_control.rules[1].domain`). Keys are matched against the
 * tree, longest first, since a map's key may hold dots (`server.upstreams.app.example.com`).
 */
function pathTextCountingDropped(marked: unknown, path: string): string {
  let node = marked;
  let rest = path;
  let out = '';
  while (rest !== '') {
    const index = /^\[(\d+)\]/.exec(rest);
    if (index) {
      const kept = Number(index[1]);
      const i = Array.isArray(node) ? indexCountingDropped(node, kept) : kept;
      out += `[${i}]`;
      node = valueAt(node, [i]);
      rest = rest.slice(index[0].length);
      continue;
    }
    if (out !== '') rest = rest.replace(/^\./, '');
    const keys = isPlainObject(node) ? Object.keys(node).filter((key) => key !== '' && pathWithin(rest, key)) : [];
    const key = keys.sort((a, b) => b.length - a.length)[0] ?? /^[^.[]*/.exec(rest)![0];
    if (key === '') return path; // not a path this tree can follow; leave it as written
    out += out === '' ? key : `.${key}`;
    node = valueAt(node, [key]);
    rest = rest.slice(key.length);
  }
  return out;
}

/** Drop the value at `path` (a list entry is dropped on its own: the other entries are still checked). */
function removeAt(target: Plain, path: readonly PropertyKey[]): { listEntry: boolean } {
  const parent = valueAt(target, path.slice(0, -1));
  const key = path[path.length - 1]!;
  if (Array.isArray(parent) && typeof key === 'number') {
    parent[key] = DROPPED;
    return { listEntry: true };
  }
  if (parent !== null && typeof parent === 'object') delete (parent as Record<PropertyKey, unknown>)[key];
  return { listEntry: false };
}

/**
 * The cross-field checks need a parsed configuration. When the schema rejects some values, they run on a
 * copy without those values (defaults fill in; a bad list entry leaves the list without it), so the
 * operator sees every problem in one go. A finding at or below a removed value would only restate it and
 * is dropped; so is one above a removed list entry or section (`storage: is required` once storage.local
 * went), which the removal itself caused. Findings are matched by their paths, never by their text.
 */
export function crossFieldProblemsDespite<S extends z.ZodType>(
  spec: { schema: S; validate: (config: z.output<S>) => ConfigProblem[] },
  raw: Plain,
  issues: readonly z.core.$ZodIssue[],
): ConfigProblem[] {
  const marked = structuredClone(raw);
  const removed: { path: string; wide: boolean }[] = [];
  let pending = issues;
  for (let round = 0; round < 3; round++) {
    for (const issue of pending) {
      // round 0's issues are about `raw`, later ones about the copy without dropped entries
      const at = round === 0 ? [...issue.path] : pathCountingDropped(marked, issue.path);
      // a value that is still missing after its first removal takes its parent with it
      const paths = issue.code === 'unrecognized_keys' ? issue.keys.map((key) => [...at, key]) : [round === 0 ? at : at.slice(0, -1)];
      for (const path of paths) {
        if (path.length === 0) return [];
        const { listEntry } = removeAt(marked, path);
        removed.push({ path: formatPath(path), wide: round > 0 || listEntry });
      }
    }
    const result = spec.schema.safeParse(withoutDropped(marked));
    if (result.success) {
      return errorsIn(spec.validate(result.data))
        .map((problem) => ({ ...problem, path: pathTextCountingDropped(marked, problem.path) }))
        .filter(({ path }) => !removed.some((r) => pathWithin(path, r.path) || (r.wide && pathWithin(r.path, path))));
    }
    pending = result.error.issues;
  }
  return [];
}
