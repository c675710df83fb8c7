/**
 * Evaluates an expression cel-parse.ts parsed, against a mapping of names to values. CEL's rules: no
 * implicit conversions (`"a" + 1` is an error), `&&`/`||` absorb an error on the side that does not
 * decide, `==` between different types is false. Any error makes the whole result an error
 * (CelEvalError), which the caller treats as "no value", as Authelia does.
 *
 * Bounded: every node visited costs a step, and work proportional to a string's or list's length
 * costs that many; past MAX_STEPS, or a string or list past MAX_SIZE, evaluation stops with an error.
 */
import { GatehouseError } from '../../lib/errors.ts';
import type { CelNode, CelValue } from './cel-parse.ts';

const MAX_STEPS = 100_000;
export const MAX_SIZE = 65_536;

/** Evaluation failed; caught by user-attributes.ts, where it means "no value for this user". */
export class CelEvalError extends GatehouseError {
  declare readonly code: 'internal_expression_failed';
  constructor(message: string) {
    super('internal_expression_failed', message);
  }
}

type Scope = (name: string) => CelValue | undefined;

const isList = (v: CelValue): v is readonly CelValue[] => Array.isArray(v);
const isMap = (v: CelValue): v is { readonly [key: string]: CelValue } => v !== null && typeof v === 'object' && !Array.isArray(v);

function typeName(v: CelValue): string {
  if (v === null) return 'null';
  if (isList(v)) return 'list';
  if (isMap(v)) return 'map';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'double';
  return typeof v === 'boolean' ? 'bool' : 'string';
}

function fail(message: string): never {
  throw new CelEvalError(message);
}

/** The value of `node` with `input` as its names; throws CelEvalError for any error. */
export function evaluateCel(node: CelNode, input: Readonly<Record<string, CelValue>>): CelValue {
  let steps = 0;
  const spend = (n: number): void => {
    steps += n;
    if (steps > MAX_STEPS) fail('the expression took too many steps');
  };
  const sized = <T extends string | readonly CelValue[]>(v: T): T => {
    if (v.length > MAX_SIZE) fail(`a value grew past ${MAX_SIZE} characters or items`);
    spend(v.length);
    return v;
  };
  /** `parts` joined by `separator`, its length checked before the string is built (it may be parts × separator long). */
  const joined = (parts: readonly string[], separator: string): string => {
    let length = parts.length === 0 ? 0 : (parts.length - 1) * separator.length;
    for (const part of parts) length += part.length;
    if (length > MAX_SIZE) fail(`a value grew past ${MAX_SIZE} characters or items`);
    return sized(parts.join(separator));
  };
  const root: Scope = (name) => (Object.hasOwn(input, name) ? input[name] : undefined);

  const str = (v: CelValue, what: string): string => (typeof v === 'string' ? v : fail(`${what} needs a string, not ${typeName(v)}`));
  const int = (v: CelValue, what: string): number => (typeof v === 'number' && Number.isInteger(v) ? v : fail(`${what} needs an int, not ${typeName(v)}`));

  function equal(a: CelValue, b: CelValue): boolean {
    spend(1);
    if (isList(a) && isList(b)) return a.length === b.length && a.every((item, i) => equal(item, b[i]!));
    if (isMap(a) && isMap(b)) {
      const keys = Object.keys(a);
      return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && equal(a[k]!, b[k]!));
    }
    return a === b;
  }

  function compare(a: CelValue, b: CelValue, op: string): boolean {
    if (!((typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string') || (typeof a === 'boolean' && typeof b === 'boolean'))) {
      fail(`'${op}' cannot compare ${typeName(a)} with ${typeName(b)}`);
    }
    if (typeof a === 'string') spend(Math.min(a.length, (b as string).length));
    const x = a as number | string | boolean;
    const y = b as number | string | boolean;
    return op === '<' ? x < y : op === '<=' ? x <= y : op === '>' ? x > y : x >= y;
  }

  function member(container: CelValue, item: CelValue): boolean {
    if (isList(container)) {
      spend(container.length);
      return container.some((c) => equal(c, item));
    }
    if (isMap(container)) return typeof item === 'string' && Object.hasOwn(container, item);
    return fail(`'in' needs a list or a map, not ${typeName(container)}`);
  }

  function arithmetic(op: string, a: CelValue, b: CelValue): CelValue {
    if (op === '+') {
      if (typeof a === 'string' && typeof b === 'string') return sized(a + b);
      if (isList(a) && isList(b)) return sized([...a, ...b]);
    }
    if (typeof a !== 'number' || typeof b !== 'number' || Number.isInteger(a) !== Number.isInteger(b)) fail(`'${op}' cannot combine ${typeName(a)} and ${typeName(b)}`);
    const integers = Number.isInteger(a);
    if (integers && (op === '/' || op === '%') && b === 0) fail('division by zero');
    const r = op === '+' ? a + b : op === '-' ? a - b : op === '*' ? a * b : op === '/' ? (integers ? Math.trunc(a / b) : a / b) : integers ? a % b : fail("'%' needs ints");
    if (integers && !Number.isSafeInteger(r)) fail('integer overflow');
    return r;
  }

  function select(target: CelValue, field: string): CelValue {
    if (!isMap(target)) fail(`'.${field}' needs a map, not ${typeName(target)}`);
    return Object.hasOwn(target, field) ? target[field]! : fail(`no such key: ${field}`);
  }

  function index(target: CelValue, key: CelValue): CelValue {
    if (isList(target)) {
      const i = int(key, 'a list index');
      return i >= 0 && i < target.length ? target[i]! : fail(`index ${i} out of range`);
    }
    if (isMap(target)) {
      const k = typeof key === 'string' ? key : fail(`a map key must be a string, not ${typeName(key)}`);
      return Object.hasOwn(target, k) ? target[k]! : fail(`no such key: ${k}`);
    }
    return fail(`'[]' needs a list or a map, not ${typeName(target)}`);
  }

  function method(node: Extract<CelNode, { kind: 'call' }>, self: CelValue, args: CelValue[]): CelValue {
    const name = node.name;
    if (name === 'size') return sizeOf(self);
    if (name === 'join') {
      if (!isList(self)) fail(`'join' needs a list, not ${typeName(self)}`);
      const parts = self.map((item) => str(item, "'join'"));
      return joined(parts, args.length === 0 ? '' : str(args[0]!, "'join'"));
    }
    const s = str(self, `'${name}'`);
    spend(s.length);
    switch (name) {
      case 'startsWith': return s.startsWith(str(args[0]!, "'startsWith'"));
      case 'endsWith': return s.endsWith(str(args[0]!, "'endsWith'"));
      case 'contains': return s.includes(str(args[0]!, "'contains'"));
      case 'matches': return node.regex!.test(s);
      case 'lowerAscii': return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
      case 'upperAscii': return s.replace(/[a-z]+/g, (m) => m.toUpperCase());
      case 'trim': return s.trim();
      case 'split': return sized(s.split(str(args[0]!, "'split'")));
      case 'replace': return joined(sized(s.split(str(args[0]!, "'replace'"))), str(args[1]!, "'replace'"));
      case 'indexOf': return codePointIndex(s, s.indexOf(str(args[0]!, "'indexOf'")));
      case 'lastIndexOf': return codePointIndex(s, s.lastIndexOf(str(args[0]!, "'lastIndexOf'")));
      case 'charAt': {
        const chars = [...s];
        const i = int(args[0]!, "'charAt'");
        return i >= 0 && i <= chars.length ? chars[i] ?? '' : fail(`index ${i} out of range`);
      }
      case 'substring': {
        const chars = [...s];
        const start = int(args[0]!, "'substring'");
        const end = args.length === 2 ? int(args[1]!, "'substring'") : chars.length;
        if (start < 0 || end > chars.length || start > end) fail(`substring(${start}, ${end}) is out of range`);
        return chars.slice(start, end).join('');
      }
      default: return fail(`'${name}' is not supported`);
    }
  }

  function sizeOf(v: CelValue): number {
    if (typeof v === 'string') {
      spend(v.length);
      return [...v].length;
    }
    if (isList(v)) return v.length;
    if (isMap(v)) return Object.keys(v).length;
    return fail(`'size' needs a string, list or map, not ${typeName(v)}`);
  }

  function convert(name: string, v: CelValue): CelValue {
    switch (name) {
      case 'size': return sizeOf(v);
      case 'string':
        if (typeof v === 'string') return v;
        if (typeof v === 'number' || typeof v === 'boolean') return String(v);
        return fail(`'string' cannot convert ${typeName(v)}`);
      case 'int': {
        const n = typeof v === 'number' ? Math.trunc(v) : typeof v === 'string' && /^[+-]?\d{1,16}$/.test(v) ? Number(v) : NaN;
        return Number.isSafeInteger(n) ? n : fail(`'int' cannot convert ${typeName(v)}`);
      }
      case 'double': {
        const n = typeof v === 'number' ? v : typeof v === 'string' && v.length <= 64 ? Number(v) : NaN;
        return Number.isFinite(n) ? n : fail(`'double' cannot convert ${typeName(v)}`);
      }
      case 'bool':
        if (typeof v === 'boolean') return v;
        if (v === 'true' || v === 'false') return v === 'true';
        return fail(`'bool' cannot convert ${typeName(v)}`);
      default: return fail(`'${name}' is not supported`);
    }
  }

  function truth(v: CelValue, what: string): boolean {
    return typeof v === 'boolean' ? v : fail(`${what} needs a bool, not ${typeName(v)}`);
  }

  function evaluate(n: CelNode, scope: Scope): CelValue {
    spend(1);
    switch (n.kind) {
      case 'literal': return n.value;
      case 'ident': {
        const value = scope(n.name);
        return value === undefined ? fail(`no value for '${n.name}'`) : value;
      }
      case 'select': return select(evaluate(n.target, scope), n.field);
      case 'index': return index(evaluate(n.target, scope), evaluate(n.index, scope));
      case 'list': return sized(n.items.map((item) => evaluate(item, scope)));
      case 'map': {
        const out: Record<string, CelValue> = Object.create(null);
        for (const [k, v] of n.entries) {
          const key = evaluate(k, scope);
          if (typeof key !== 'string') fail(`a map key must be a string, not ${typeName(key)}`);
          if (Object.hasOwn(out, key)) fail(`the map key '${key}' is repeated`);
          out[key] = evaluate(v, scope);
        }
        return out;
      }
      case 'unary': {
        const v = evaluate(n.operand, scope);
        if (n.op === '!') return !truth(v, "'!'");
        return typeof v === 'number' ? -v : fail(`'-' needs a number, not ${typeName(v)}`);
      }
      case 'cond': return truth(evaluate(n.test, scope), "'?:'") ? evaluate(n.then, scope) : evaluate(n.otherwise, scope);
      case 'binary': return binary(n, scope);
      case 'call': {
        if (n.name === 'has' && n.target === null) {
          const field = n.args[0] as Extract<CelNode, { kind: 'select' }>;
          const target = evaluate(field.target, scope);
          return isMap(target) ? Object.hasOwn(target, field.field) : fail(`'has' needs a map, not ${typeName(target)}`);
        }
        const args = n.args.map((a) => evaluate(a, scope));
        return n.target === null ? convert(n.name, args[0]!) : method(n, evaluate(n.target, scope), args);
      }
      case 'macro': return macro(n, scope);
    }
  }

  function binary(n: Extract<CelNode, { kind: 'binary' }>, scope: Scope): CelValue {
    if (n.op === '&&' || n.op === '||') {
      // CEL's commutative logic: the side that decides wins, even over an error on the other side
      const decisive = n.op === '||';
      let error: unknown = null;
      for (const side of [n.left, n.right]) {
        try {
          if (truth(evaluate(side, scope), `'${n.op}'`) === decisive) return decisive;
        } catch (err) {
          if (!(err instanceof CelEvalError) || steps > MAX_STEPS) throw err;
          error = err;
        }
      }
      if (error !== null) throw error;
      return !decisive;
    }
    const a = evaluate(n.left, scope);
    const b = evaluate(n.right, scope);
    switch (n.op) {
      case '==': return equal(a, b);
      case '!=': return !equal(a, b);
      case '<': case '<=': case '>': case '>=': return compare(a, b, n.op);
      case 'in': return member(b, a);
      default: return arithmetic(n.op, a, b);
    }
  }

  function macro(n: Extract<CelNode, { kind: 'macro' }>, scope: Scope): CelValue {
    const target = evaluate(n.target, scope);
    const items = isList(target) ? target : isMap(target) ? Object.keys(target) : fail(`'${n.name}' needs a list or a map, not ${typeName(target)}`);
    const bodyFor = (item: CelValue, body: CelNode): CelValue => evaluate(body, (name) => (name === n.variable ? item : scope(name)));
    switch (n.name) {
      case 'exists': return items.some((item) => truth(bodyFor(item, n.body), "'exists'"));
      case 'all': return items.every((item) => truth(bodyFor(item, n.body), "'all'"));
      case 'exists_one': return items.filter((item) => truth(bodyFor(item, n.body), "'exists_one'")).length === 1;
      case 'filter': return items.filter((item) => truth(bodyFor(item, n.body), "'filter'"));
      case 'map': return sized(items.filter((item) => truth(bodyFor(item, n.body), "'map'")).map((item) => bodyFor(item, n.transform!)));
    }
  }

  return evaluate(node, root);
}

function codePointIndex(s: string, unitIndex: number): number {
  return unitIndex < 0 ? -1 : [...s.slice(0, unitIndex)].length;
}
