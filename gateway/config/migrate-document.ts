/**
 * An Authelia configuration file rewritten as Gatehouse reads it without deprecation warnings
 * (`gatehouse config migrate`). The new values come from the one deprecation table
 * (`migrateDeprecated`); this file only carries them into the YAML document as written, so that every
 * node the table did not touch keeps its comments, quoting and place, and a moved key takes its
 * comments and value node along. The result is checked twice before it is returned: it reads as the
 * table's output, and the table finds nothing left to move.
 */
import { isDeepStrictEqual } from 'node:util';
import { isMap, isScalar, isSeq, parseDocument, Pair, Scalar, YAMLMap, YAMLSeq, type Document, type Node } from 'yaml';
import { configError, errorsIn, formatPath, pathWithin, shownValue, warningsIn, type ConfigProblem } from '../../lib/config-problems.ts';
import { isSecretOption, parseConfigDocument, TOP_LEVEL_NOT_A_MAPPING } from '../../lib/config-loader.ts';
import { isPlain, valueAt, type Plain } from '../../lib/config-paths.ts';
import { ConfigError, InternalError } from '../../lib/errors.ts';
import { DEPRECATIONS, migrateDeprecated, type Deprecation } from './deprecations.ts';

type Key = string | number;

/** A key the rewrite took out of the file: where it was, its pair (comments and value node), and the table's word on it. */
interface Removed {
  path: Key[];
  shown: string;
  pair: Pair<Scalar, Node | null>;
  /** The comment above it (on its map when it was the first key). */
  commentBefore: string | undefined;
  value: unknown;
  /** Which table rows name it as an old key. */
  rows: readonly Deprecation[];
  /** Its value node went to a new key. */
  reused: boolean;
  /** The map it was in, and its index there: a replacement in the same map takes its place. */
  parent: YAMLMap;
  index: number;
}

/** What `config migrate` did, one line each (`config: <path>: <message>`), and the new file. */
export interface MigratedFile {
  text: string;
  changes: ConfigProblem[];
  /** The new file's values, or null when template expressions stand for some (they are known only when it is loaded). */
  values: Plain | null;
}

// a template action (`{{ env "X" }}`) is held as a plain word while the YAML is edited, then put back as written
const ACTION = /\{\{.*?\}\}/gs;
const CONTROL = /^\{\{-?\s*(?:if|else|end|range|with|define|template|block|\/\*)\b/;

function protectTemplates(text: string, file: string): { text: string; actions: string[]; prefix: string } {
  let salt = 0;
  while (text.includes(`gatehouse-template-${salt}-`)) salt += 1;
  const prefix = `gatehouse-template-${salt}-`;
  const actions: string[] = [];
  const protectedText = text.replace(ACTION, (action) => {
    if (CONTROL.test(action)) {
      throw new ConfigError([configError(file, `holds a template control action (${shownValue(action)}); config migrate keeps only value actions such as {{ env "X" }}: migrate the file without it and add it back by hand`)]);
    }
    actions.push(action);
    return `${prefix}${actions.length - 1}`;
  });
  return { text: protectedText, actions, prefix };
}

/** A table pattern (`clients[].id`) as a regex source: each `[]` captures the list index. */
function patternSource(pattern: string): string {
  return pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replaceAll('\\[\\]', '\\[(\\d+)\\]');
}

/** The list indexes a concrete path takes in `pattern` (exactly, or inside it with `inside`), or null when it is not there. */
function matchPattern(pattern: string, path: string, inside: boolean): string[] | null {
  const match = new RegExp(`^${patternSource(pattern)}${inside ? '(?:$|[.[])' : '$'}`).exec(path);
  return match ? match.slice(1).filter((part) => part !== undefined) : null;
}

function oldKeysOf(row: Deprecation): string[] {
  const old = typeof row.old === 'string' ? [row.old] : [...row.old];
  return row.kind === 'combined' ? [...old, ...Object.keys(row.older ?? {})] : old;
}

/** The rows that name `path` as an old key. */
function rowsFor(path: string): Deprecation[] {
  return DEPRECATIONS.filter((row) => oldKeysOf(row).some((old) => matchPattern(old, path, false) !== null));
}

/** Whether a row moves the old key at `from` to `to` (`to` is its new key or inside it, in the same list item). */
function rowMoves(row: Deprecation, from: string, to: string): boolean {
  if (row.kind === 'removed') return false;
  const target = matchPattern(row.new, to, true);
  if (target === null) return false;
  return oldKeysOf(row).some((old) => isDeepStrictEqual(matchPattern(old, from, false), target));
}

/** A value as a change line may repeat it: never a secret's, a long one cut. */
function described(path: readonly Key[], value: unknown): string {
  if (isSecretOption(path.filter((key) => typeof key === 'string'), [])) return '(a secret)';
  return `'${shownValue(typeof value === 'string' ? value : JSON.stringify(value))}'`;
}

/** The value at a problem's path (`a.b[0].c`) in the configuration as written. */
function valueAtProblem(raw: Plain, path: string): unknown {
  return valueAt(raw, [...path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)].map(([, key, index]) => (index === undefined ? key! : Number(index))));
}

function jsOf(doc: Document, node: unknown): unknown {
  return node === null || node === undefined ? null : (node as Node).toJS(doc);
}

/** Pass one: every key the table took out, with its comments, before anything moves. */
function collectRemoved(doc: Document, node: unknown, target: unknown, path: Key[], out: Removed[]): void {
  if (isMap(node) && isPlain(target)) {
    node.items.forEach((pair, index) => {
      const key = isScalar(pair.key) ? (pair.key.value as Key) : String(pair.key);
      const at = [...path, key];
      if (Object.hasOwn(target, String(key))) return collectRemoved(doc, pair.value, target[String(key)], at, out);
      const shown = formatPath(at);
      const keyNode = pair.key as Scalar;
      // a nested map's first comment is its first key's; the file's first comment is its header, and stays
      const header = index === 0 && path.length === 0;
      const commentBefore = header ? undefined : index === 0 && node.commentBefore ? [node.commentBefore, keyNode.commentBefore].filter(Boolean).join('\n') : (keyNode.commentBefore ?? undefined);
      out.push({ path: at, shown, pair: pair as Pair<Scalar, Node | null>, commentBefore, value: jsOf(doc, pair.value), rows: rowsFor(shown), reused: false, parent: node, index });
    });
  } else if (isSeq(node) && Array.isArray(target) && node.items.length === target.length) {
    node.items.forEach((item, i) => collectRemoved(doc, item, target[i], [...path, i], out));
  }
}

class Rewrite {
  readonly doc: Document;
  readonly removed: Removed[];
  /** Leaves the table wrote: each with the removed keys it came from. */
  readonly added: { path: Key[]; value: unknown; from: Removed[] }[] = [];
  readonly changed: { path: Key[]; before: unknown; after: unknown }[] = [];

  constructor(doc: Document, removed: Removed[]) {
    this.doc = doc;
    this.removed = removed;
  }

  /**
   * The removed keys a new leaf came from: those a row moves there, with the leaf's own name if any
   * has it; else a renamed or combined key, or a reshaped one with the same value.
   */
  sourcesOf(path: Key[], value: unknown): Removed[] {
    const shown = formatPath(path);
    const related = this.removed.filter((r) => r.rows.some((row) => rowMoves(row, r.shown, shown)));
    const named = related.filter((r) => r.path.at(-1) === path.at(-1));
    if (named.length > 0) return named;
    return related.filter((r) => isDeepStrictEqual(r.value, value) || r.rows.some((row) => (row.kind === 'moved' || row.kind === 'combined') && rowMoves(row, r.shown, shown)));
  }

  /** A node for a value the table wrote: a moved key's own node (and comments) where the value is the same. */
  build(path: Key[], value: unknown): { node: Node; comments: string | undefined; from: Removed[] } {
    if (isPlain(value) && Object.keys(value).length > 0) {
      const map = new YAMLMap();
      for (const [key, child] of Object.entries(value)) this.addPair(map, [...path, key], child);
      const first = map.items[0]?.key as Scalar | undefined;
      if (typeof path.at(-1) === 'number' && first?.commentBefore) {
        // a list item's first key: the comment goes above the item (`- # …` reads badly)
        map.commentBefore = first.commentBefore;
        first.commentBefore = undefined;
      }
      return { node: map, comments: undefined, from: [] };
    }
    if (Array.isArray(value) && value.length > 0) {
      const seq = new YAMLSeq();
      value.forEach((item, i) => seq.items.push(this.build([...path, i], item).node));
      return { node: seq, comments: undefined, from: [] };
    }
    const from = this.sourcesOf(path, value);
    this.added.push({ path, value, from });
    const equal = from.find((r) => !r.reused && isDeepStrictEqual(r.value, value) && r.pair.value !== null);
    if (equal) equal.reused = true;
    const node = equal ? (equal.pair.value as Node) : (this.doc.createNode(value) as Node);
    if (!equal && from.length > 0) {
      const trailing = from.map((r) => (r.pair.value as Node | null)?.comment).filter(Boolean);
      if (trailing.length > 0) node.comment = trailing.join(';');
    }
    const comments = from.map((r) => r.commentBefore).filter(Boolean).join('\n') || undefined;
    from.forEach((r) => (r.commentBefore = undefined)); // said once, above the first key it went to
    return { node, comments, from };
  }

  /** Adds `key: value` to `map`: at the place of the key it replaces when that was in the same map, else last. */
  addPair(map: YAMLMap, path: Key[], value: unknown): void {
    const built = this.build(path, value);
    const key = new Scalar(path.at(-1));
    if (built.comments) key.commentBefore = built.comments;
    const pair = new Pair(key, built.node);
    const beside = this.replaced(map, path);
    const index = beside ? map.items.indexOf(beside.pair as Pair<unknown, unknown>) : -1;
    if (index >= 0) {
      key.spaceBefore = beside!.pair.key.spaceBefore;
      map.items.splice(index, 0, pair);
    } else {
      key.spaceBefore = path.length === 1; // a new section, set apart like the others
      map.items.push(pair);
    }
  }

  /** The first key removed from `map` that a row moves to `path`, inside it or to a key inside it: the new key takes its place. */
  replaced(map: YAMLMap, path: Key[]): Removed | undefined {
    const general = formatPath(path).replace(/\[\d+\]/g, '[]');
    const candidates = this.removed.filter((r) => r.parent === map && r.rows.some((row) => row.kind !== 'removed' && (pathWithin(row.new, general) || pathWithin(general, row.new))));
    return candidates.sort((a, b) => a.index - b.index)[0];
  }

  /** Pass two: walk the document beside the table's output, replacing what differs and adding what is new. */
  apply(node: unknown, target: unknown, path: Key[]): Node {
    if (isMap(node) && isPlain(target)) {
      const present = new Set<string>();
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? (pair.key.value as Key) : String(pair.key);
        present.add(String(key));
        if (Object.hasOwn(target, String(key))) pair.value = this.apply(pair.value, target[String(key)], [...path, key]);
      }
      for (const [key, value] of Object.entries(target)) if (!present.has(key)) this.addPair(node, [...path, key], value);
      return node;
    }
    if (isSeq(node) && Array.isArray(target) && node.items.length === target.length) {
      node.items = node.items.map((item, i) => this.apply(item, target[i], [...path, i]));
      return node;
    }
    const before = jsOf(this.doc, node);
    if (isDeepStrictEqual(before, target)) return node as Node;
    if (isScalar(node) && !isPlain(target) && !Array.isArray(target)) {
      this.changed.push({ path, before, after: target });
      node.value = target; // in place: its comments and quoting stay
      return node;
    }
    return this.build(path, target).node;
  }
}

function parseOrRefuse(text: string, file: string): Document {
  const { doc, syntax } = parseConfigDocument(text, file);
  if (syntax.length > 0) throw new ConfigError(syntax);
  if (doc.contents !== null && !isMap(doc.contents)) throw new ConfigError([configError(file, TOP_LEVEL_NOT_A_MAPPING)]);
  return doc;
}

/**
 * `text` (the file `file` as written) with every deprecated key moved to its replacement, and a line
 * for each change. Throws ConfigError (nothing to write) when a key cannot be moved: the table's
 * errors, or a template expression in a value the table must compute.
 */
export function migrateConfigText(original: string, file: string): MigratedFile {
  const { text, actions, prefix } = protectTemplates(original, file);
  const doc = parseOrRefuse(text, file);
  const written = (doc.toJS() ?? {}) as Plain;
  const { raw: target, problems } = migrateDeprecated(written);
  // the written file is the current form: a session.domain cookie becomes an ordinary one there, which
  // needs its authelia_url (the validation that follows says so); the table's legacy marker is not a key
  const cookies = (target.session as Plain | undefined)?.cookies;
  if (Array.isArray(cookies)) for (const cookie of cookies) if (cookie && typeof cookie === 'object') delete (cookie as Plain).legacy;
  const holdsTemplate = (value: unknown) => JSON.stringify(value ?? null).includes(prefix);
  if (errorsIn(problems).length > 0) {
    // a key the table could not map because a template stands for its value: say that, not what the placeholder looked like
    const templated = errorsIn(problems).filter((problem) => holdsTemplate(valueAtProblem(written, problem.path)));
    if (templated.length > 0) throw new ConfigError(templated.map((problem) => configError(problem.path, 'its value is a template expression and the new key is computed from it; move it by hand')));
    throw new ConfigError(errorsIn(problems));
  }

  const removed: Removed[] = [];
  collectRemoved(doc, doc.contents, target, [], removed);
  const rewrite = new Rewrite(doc, removed);
  if (doc.contents === null) return { text: original, changes: [], values: actions.length > 0 ? null : {} };
  rewrite.apply(doc.contents, target, []);
  for (const r of removed) {
    const at = r.parent.items.indexOf(r.pair as Pair<unknown, unknown>);
    r.parent.items.splice(at, 1);
    const next = r.parent.items[at]?.key;
    // a comment whose key went nowhere stays, above the key that follows (or below the map)
    const orphan = r.index > 0 ? r.commentBefore : undefined;
    if (!isScalar(next)) {
      if (orphan) r.parent.comment = [r.parent.comment, orphan].filter(Boolean).join('\n');
      continue;
    }
    if (r.pair.key.spaceBefore) next.spaceBefore = true;
    if (orphan) next.commentBefore = [orphan, next.commentBefore].filter(Boolean).join('\n');
  }
  for (const r of removed.filter((r) => r.index === 0)) {
    if (r.path.length === 1) r.parent.commentBefore = [r.parent.commentBefore, r.pair.key.commentBefore].filter(Boolean).join('\n') || undefined;
    else if (r.commentBefore === undefined) r.parent.commentBefore = undefined; // it went along with the key
  }

  const changes: ConfigProblem[] = [];
  const refused: ConfigProblem[] = [];
  for (const r of removed) {
    const to = rewrite.added.filter((a) => a.from.includes(r));
    if (holdsTemplate(r.value) && !(to.length === 1 && r.rows.every((row) => row.kind === 'moved' && row.map === undefined) && isDeepStrictEqual(to[0]!.value, r.value))) {
      refused.push(configError(r.shown, 'its value is a template expression and the new key is computed from it; move it by hand'));
      continue;
    }
    if (to.length === 0) {
      const said = warningsIn(problems).find((p) => p.path === r.shown);
      changes.push({ path: r.shown, message: `removed${said ? `: ${said.message}` : ''}`, severity: 'warning' });
      continue;
    }
    const targets = to.map((a) => (isDeepStrictEqual(a.value, r.value) ? formatPath(a.path) : `${formatPath(a.path)} as ${described(a.path, a.value)}`));
    changes.push({ path: r.shown, message: `moved to ${targets.join(', ')}`, severity: 'warning' });
  }
  for (const a of rewrite.added.filter((a) => a.from.length === 0)) {
    if (holdsTemplate(a.value)) refused.push(configError(formatPath(a.path), 'would hold a template expression the table computed; migrate it by hand'));
    changes.push({ path: formatPath(a.path), message: `set to ${described(a.path, a.value)}`, severity: 'warning' });
  }
  for (const c of rewrite.changed) {
    if (holdsTemplate(c.before)) refused.push(configError(formatPath(c.path), 'its value is a template expression the table must rewrite; migrate it by hand'));
    changes.push({ path: formatPath(c.path), message: `changed from ${described(c.path, c.before)} to ${described(c.path, c.after)}`, severity: 'warning' });
  }
  if (refused.length > 0) throw new ConfigError(refused);

  const out = doc.toString({ lineWidth: 0, flowCollectionPadding: false });
  // the rewrite must read as the table's output, with nothing left for the table to move
  const reread = parseDocument(out).toJS() ?? {};
  if (!isDeepStrictEqual(reread, target) || migrateDeprecated(reread as Plain).problems.length > 0) {
    throw new InternalError('internal_error', 'config migrate: the rewritten file does not read as the migrated configuration');
  }
  const restored = actions.length === 0 ? out : out.replace(new RegExp(`${prefix}(\\d+)`, 'g'), (_, i: string) => actions[Number(i)]!);
  return { text: restored, changes, values: actions.length > 0 ? null : target };
}
