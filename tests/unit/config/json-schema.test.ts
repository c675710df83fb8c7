import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gatewayJsonSchema } from '../../../gateway/config/schema.ts';
import { repoPath } from '../../helpers/repo.ts';

const COMMITTED = repoPath('config', 'gatehouse.schema.json');
const REGENERATE = 'config/gatehouse.schema.json is out of date with gateway/config/schema.ts; run `node bin/gatehouse.ts config schema --output config/gatehouse.schema.json`';

type Json = Record<string, unknown>;

/** Every object schema in the tree, with its path, for the strictness check. */
function objectSchemas(node: Json, path: string, out: [string, Json][] = []): [string, Json][] {
  if (node.type === 'object' && node.properties) out.push([path, node]);
  for (const [key, child] of Object.entries((node.properties ?? {}) as Record<string, Json>)) objectSchemas(child, path ? `${path}.${key}` : key, out);
  for (const variant of (node.anyOf ?? []) as Json[]) objectSchemas(variant, path, out);
  if (node.items && typeof node.items === 'object') objectSchemas(node.items as Json, `${path}[]`, out);
  return out;
}

describe('config/gatehouse.schema.json matches the schema in the code', () => {
  it('deep-equals gatewayJsonSchema()', () => {
    const committed = JSON.parse(readFileSync(COMMITTED, 'utf8')) as unknown;
    assert.deepEqual(committed, gatewayJsonSchema(), REGENERATE);
  });

  it('is written as `config schema` prints it (2-space JSON and a final newline)', () => {
    assert.equal(readFileSync(COMMITTED, 'utf8'), `${JSON.stringify(gatewayJsonSchema(), null, 2)}\n`, REGENERATE);
  });
});

describe('the JSON Schema lets editors flag what the gateway would refuse', () => {
  it('every section forbids unknown keys, as the loader does', () => {
    const loose = objectSchemas(gatewayJsonSchema(), '').filter(([, schema]) => schema.additionalProperties !== false);
    assert.deepEqual(loose.map(([path]) => path), []);
  });

  it('durations accept text or seconds; policies are the four Authelia names', () => {
    const schema = gatewayJsonSchema() as { properties: Record<string, Json> };
    const session = schema.properties.session as { properties: Record<string, Json> };
    assert.deepEqual(session.properties.expiration, { default: '1h', type: ['string', 'number'] });
    const acl = schema.properties.access_control as { properties: Record<string, Json> };
    assert.deepEqual((acl.properties.default_policy as Json).enum, ['bypass', 'one_factor', 'two_factor', 'deny']);
  });
});
