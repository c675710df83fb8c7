/**
 * The cross-field checks of a configuration the schema rejected in part: they run on what is left once
 * the rejected values are taken out, so one run reports every problem.
 */
import type { z } from 'zod';
import { errorsIn, formatPath, pathWithin, type ConfigProblem } from './config-problems.ts';
import { isPlain, valueAt, type Plain } from './config-paths.ts';

/** Stands in for a list entry the schema refused, so the entries after it keep their index until the checks run. */
const DROPPED: unique symbol = Symbol('dropped list entry');

/** The tree without its dropped list entries: what the schema and the checks see. */
function withoutDropped(node: unknown): unknown {
  if (Array.isArray(node)) return node.filter((item) => item !== DROPPED).map(withoutDropped);
  if (isPlain(node)) return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, withoutDropped(value)]));
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
    const keys = isPlain(node) ? Object.keys(node).filter((key) => key !== '' && pathWithin(rest, key)) : [];
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
 * `marked` with every dropped list entry stood in for by a copy of the first entry its list kept, so the
 * list has the length the file gave it; a list that kept no entry stays empty.
 */
function withListsRefilled(marked: unknown): unknown {
  if (Array.isArray(marked)) {
    const kept = marked.find((item) => item !== DROPPED);
    return marked.map((item) => withListsRefilled(item === DROPPED && kept !== undefined ? structuredClone(kept) : item));
  }
  if (isPlain(marked)) return Object.fromEntries(Object.entries(marked).map(([key, value]) => [key, withListsRefilled(value)]));
  return marked;
}

/** Whether the list holding the dropped entry at `path` kept no entry at all. */
function emptiedList(marked: unknown, path: readonly PropertyKey[]): boolean {
  const list = valueAt(marked, path.slice(0, -1));
  return Array.isArray(list) && list.every((item) => item === DROPPED);
}

type Removal = { path: string; kind: 'value' | 'section' | 'list-entry'; emptied: boolean };

/**
 * The cross-field checks need a parsed configuration. When the schema rejects some values, they run on a
 * copy without those values (defaults fill in; a bad list entry leaves the list without it), so the
 * operator sees every problem in one go. A finding at or below a removed value would only restate it and
 * is dropped; so is one above a section removed whole (`storage: is required` once storage.local went),
 * which the removal itself caused. Above a dropped list entry only what is about the list's length or
 * presence is dropped: a finding the checks still make with the list at its written length (the dropped
 * entries stood in for by a kept one) is about something else and stays; with no entry kept, the list is
 * empty and what is said above it is about that. Findings are matched by their paths, never by their text.
 */
export function crossFieldProblemsDespite<S extends z.ZodType>(
  spec: { schema: S; validate: (config: z.output<S>) => ConfigProblem[] },
  raw: Plain,
  issues: readonly z.core.$ZodIssue[],
): ConfigProblem[] {
  const marked = structuredClone(raw);
  const removed: Removal[] = [];
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
        removed.push({ path: formatPath(path), kind: listEntry ? 'list-entry' : round > 0 ? 'section' : 'value', emptied: listEntry && emptiedList(marked, path) });
      }
    }
    const result = spec.schema.safeParse(withoutDropped(marked));
    if (result.success) {
      const found = errorsIn(spec.validate(result.data)).map((problem) => ({ ...problem, path: pathTextCountingDropped(marked, problem.path) }));
      let atWrittenLength: Set<string> | null | undefined; // computed once, when a finding is above a dropped entry
      return found.filter(({ path, message }) => {
        if (removed.some((r) => pathWithin(path, r.path))) return false;
        const above = removed.filter((r) => r.kind !== 'value' && pathWithin(r.path, path));
        if (above.length === 0) return true;
        if (above.some((r) => r.kind === 'section' || r.emptied)) return false;
        if (atWrittenLength === undefined) atWrittenLength = findingsAtWrittenLength(spec, marked);
        return atWrittenLength?.has(`${path}\0${message}`) ?? false;
      });
    }
    pending = result.error.issues;
  }
  return [];
}

/** The checks' findings (`path\0message`) with every list refilled to its written length, or null when that copy does not parse. */
function findingsAtWrittenLength<S extends z.ZodType>(spec: { schema: S; validate: (config: z.output<S>) => ConfigProblem[] }, marked: unknown): Set<string> | null {
  const refilled = withListsRefilled(marked);
  const result = spec.schema.safeParse(withoutDropped(refilled));
  if (!result.success) return null;
  return new Set(errorsIn(spec.validate(result.data)).map((problem) => `${pathTextCountingDropped(refilled, problem.path)}\0${problem.message}`));
}
