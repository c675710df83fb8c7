/**
 * `authentication_backend.file.extra_attributes`: the `extra:` attributes a users file may give a user,
 * each with its type, as Authelia 4.39 declares them. With declarations, a user's `extra` is checked
 * against them when the file loads (an undeclared name or a value of another type refuses the file, as
 * Authelia refuses it); without any, `extra` is read as written, as Gatehouse always has.
 */

export const EXTRA_VALUE_TYPES = ['string', 'integer', 'boolean'] as const;
export type ExtraValueType = (typeof EXTRA_VALUE_TYPES)[number];

export interface ExtraAttribute {
  multi_valued: boolean;
  value_type: ExtraValueType;
}

function isOfType(value: unknown, type: ExtraValueType): boolean {
  if (type === 'string') return typeof value === 'string';
  if (type === 'integer') return typeof value === 'number' && Number.isInteger(value);
  return typeof value === 'boolean';
}

function typeName(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'empty';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a number with a fraction';
  return typeof value === 'object' ? 'a mapping' : `a ${typeof value}`;
}

/** Each problem as [attribute name, message]; none when nothing is declared. */
export function extraValueProblems(extra: Readonly<Record<string, unknown>>, declared: Readonly<Record<string, ExtraAttribute>>): [string, string][] {
  if (Object.keys(declared).length === 0) return [];
  const problems: [string, string][] = [];
  for (const [name, value] of Object.entries(extra)) {
    // own keys only: `constructor` or `toString` must not find Object.prototype's members as declarations
    const attribute = Object.hasOwn(declared, name) ? declared[name] : undefined;
    if (attribute === undefined) {
      problems.push([name, 'is not declared in authentication_backend.file.extra_attributes']);
      continue;
    }
    const wanted = attribute.multi_valued ? `a list of ${attribute.value_type} values` : attribute.value_type === 'integer' ? 'an integer' : `a ${attribute.value_type}`;
    if (attribute.multi_valued ? !Array.isArray(value) || !value.every((item) => isOfType(item, attribute.value_type)) : !isOfType(value, attribute.value_type)) {
      problems.push([name, `must be ${wanted} (extra_attributes declares it so), not ${typeName(value)}${Array.isArray(value) && attribute.multi_valued ? ' holding another type' : ''}`]);
    }
  }
  return problems;
}
