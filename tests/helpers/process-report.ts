/**
 * Preloaded with `--import` into a process under test: when it exits, writes what it loaded (file
 * URLs of imported and required files, and Node's own internal modules) and the size of each V8 heap
 * space as JSON to the file named by $PROCESS_REPORT_FILE. Read it back with readProcessReport.
 */
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { registerHooks } from 'node:module';
import { getHeapSpaceStatistics } from 'node:v8';

export interface ProcessReport {
  /** Every file:// URL loaded, through import or require. */
  urls: string[];
  /** process.moduleLoadList: Node's internal modules and bindings. */
  internal: string[];
  /** Heap space name → its size in bytes at exit (`new_space` is the young generation). */
  heapSpaces: Record<string, number>;
}

const target = process.env.PROCESS_REPORT_FILE;
if (target) {
  const loaded = new Set<string>();
  registerHooks({
    load(url, context, next) {
      loaded.add(url);
      return next(url, context);
    },
  });
  process.on('exit', () => {
    // undocumented but long-standing: the internal modules and bindings loaded so far
    const internal = (process as unknown as { moduleLoadList: string[] }).moduleLoadList;
    const heapSpaces = Object.fromEntries(getHeapSpaceStatistics().map((space) => [space.space_name, space.space_size]));
    const report: ProcessReport = { urls: [...loaded], internal: [...internal], heapSpaces };
    writeFileSync(target, JSON.stringify(report));
  });
}

export async function readProcessReport(path: string): Promise<ProcessReport> {
  return JSON.parse(await readFile(path, 'utf8')) as ProcessReport;
}

/** The npm packages among `urls` (`pg`, `@xterm/xterm`…), each once. */
export function packagesIn(urls: string[]): Set<string> {
  const names = new Set<string>();
  for (const url of urls) {
    const match = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
    if (match) names.add(match[1]!);
  }
  return names;
}
