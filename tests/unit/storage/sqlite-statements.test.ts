/**
 * The SQLite connection keeps its prepared statements (gateway/storage/dialects.ts): a kept statement
 * answers with the parameters of its new query, and more query texts than it keeps (in-lists of every
 * length) still all answer, before and after the oldest were let go.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Kysely, sql } from 'kysely';
import { createSqliteDialect } from '../../../gateway/storage/dialects.ts';
import { makeTempDir } from '../../helpers/tmp.ts';
import { silentLogger } from './backends.ts';

describe('SQLite keeps prepared statements', () => {
  it('a kept statement binds each query’s own parameters, past the number of statements kept', async (t) => {
    const temp = await makeTempDir();
    t.after(temp.cleanup);
    const db = new Kysely<any>({ dialect: await createSqliteDialect(join(temp.dir, 'db.sqlite3'), silentLogger) });
    t.after(() => db.destroy());
    await db.schema.createTable('n').addColumn('v', 'integer').execute();
    for (let v = 0; v < 400; v++) await db.insertInto('n').values({ v }).execute();
    const count = async (values: number[]) => Number((await db.selectFrom('n').select(sql<number>`count(*)`.as('c')).where('v', 'in', values).executeTakeFirstOrThrow()).c);
    // 300 texts (in-lists of 1..300), more than the 256 kept; twice, so the first ones come back evicted
    for (let round = 0; round < 2; round++) {
      for (let length = 1; length <= 300; length++) assert.equal(await count(Array.from({ length }, (_, i) => i + round)), length);
    }
    // the same text with other parameters: the kept statement answers for the new ones
    assert.equal(await count([1000]), 0);
    assert.equal(await count([399]), 1);
    assert.deepEqual((await db.selectFrom('n').select('v').where('v', '>', 397).orderBy('v').execute()).map((r) => r.v), [398, 399]);
  });
});
