/**
 * The README lists every endpoint of both services with its guard and rate limit. Those lists are
 * what `gatehouse routes` prints, read back from the command's own output: an endpoint added,
 * removed or re-guarded without the README following fails here.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describeMonitorRoutes } from '../../monitor/routes.ts';
import { runGatehouse } from '../helpers/cli.ts';
import { repoPath } from '../helpers/repo.ts';

type Row = [method: string, path: string, guard: string, rateLimit: string];

async function printedTables(): Promise<Map<string, Row[]>> {
  const run = await runGatehouse(['routes'], {}, { main: { monitorRoutes: describeMonitorRoutes } });
  assert.equal(run.code, 0, run.err);
  const tables = new Map<string, Row[]>();
  for (const block of run.out.trim().split(/\n\s*\n/)) {
    const [title, heading, ...lines] = block.split('\n');
    assert.match(heading!, /^METHOD\s+PATH\s+GUARD\s+RATE LIMIT$/);
    tables.set(title!.trim(), lines.map((line) => line.split(/ {2,}/) as Row));
  }
  return tables;
}

function readmeTable(name: string): Row[] {
  const readme = readFileSync(repoPath('README.md'), 'utf8');
  const found = new RegExp(`<!-- routes:${name} -->\\n([\\s\\S]*?)\\n<!-- /routes:${name} -->`).exec(readme);
  assert.ok(found, `README.md has no <!-- routes:${name} --> section`);
  const [heading, rule, ...lines] = found[1]!.trim().split('\n');
  assert.equal(heading, '| Method | Path | Guard | Rate limit |');
  assert.equal(rule, '|---|---|---|---|');
  return lines.map((line) => {
    const cells = line.split('|').slice(1, -1).map((cell) => cell.trim());
    return [cells[0]!, cells[1]!.replace(/^`|`$/g, ''), cells[2]!, cells[3]!] as Row;
  });
}

describe('the README lists the endpoints `gatehouse routes` prints', () => {
  for (const service of ['gateway', 'monitor']) {
    it(`${service}: the same rows, in the same order, with the same guards and rate limits`, async () => {
      const printed = (await printedTables()).get(service);
      assert.ok(printed && printed.length > 5, `gatehouse routes printed no ${service} table`);
      assert.deepEqual(readmeTable(service), printed);
    });
  }
});
