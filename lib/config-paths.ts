/**
 * Reading and moving options in a configuration as written (plain objects from YAML), by dotted path
 * (or its keys): the environment overrides (config-loader.ts) and Authelia's deprecated keys
 * (gateway/config/deprecations.ts) both write through `setAt`.
 */

export type Plain = Record<string, unknown>;

export function isPlain(value: unknown): value is Plain {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The value at `path` (keys, list indexes) in a parsed YAML tree, or undefined where the path leaves it. */
export function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let node: unknown = input;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

/** The value at `a.b.c`, or undefined when any step is missing. */
export function getAt(raw: Plain, path: string): unknown {
  return valueAt(raw, path.split('.'));
}

export function hasAt(raw: Plain, path: string): boolean {
  const keys = path.split('.');
  const container = keys.length === 1 ? raw : getAt(raw, keys.slice(0, -1).join('.'));
  return isPlain(container) && Object.hasOwn(container, keys.at(-1)!);
}

/** Sets `a.b.c` (or the keys given), creating the mappings on the way (a non-mapping on the way is replaced). */
export function setAt(raw: Plain, path: string | readonly string[], value: unknown): void {
  const keys = typeof path === 'string' ? path.split('.') : path;
  let node = raw;
  for (const key of keys.slice(0, -1)) {
    if (!isPlain(node[key])) node[key] = {};
    node = node[key] as Plain;
  }
  node[keys.at(-1)!] = value;
}

/** Removes `a.b.c` (the mappings around it stay, empty or not). */
export function deleteAt(raw: Plain, path: string): void {
  const keys = path.split('.');
  const container = keys.length === 1 ? raw : getAt(raw, keys.slice(0, -1).join('.'));
  if (isPlain(container)) delete container[keys.at(-1)!];
}

/**
 * The concrete places a pattern names: `a.b` is itself; `list[].key` is `list[0].key`, `list[1].key`, …
 * for each mapping in the list. Each comes with the object it lives in and the path inside it.
 */
export function expand(raw: Plain, pattern: string): { shown: (inner: string) => string; root: Plain; inner: string }[] {
  const at = pattern.indexOf('[].');
  if (at === -1) return [{ shown: (inner) => inner, root: raw, inner: pattern }];
  const listPath = pattern.slice(0, at);
  const list = getAt(raw, listPath);
  if (!Array.isArray(list)) return [];
  return list.flatMap((item, i) =>
    isPlain(item) ? [{ shown: (inner: string) => `${listPath}[${i}].${inner}`, root: item, inner: pattern.slice(at + 3) }] : [],
  );
}
