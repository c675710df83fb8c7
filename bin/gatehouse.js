#!/usr/bin/env node
// The installed `gatehouse` command (and `npm start`): bin/gatehouse.ts behind Node's compile cache.
//
// Plain JavaScript on purpose. Node strips TypeScript with a WebAssembly module that it loads for the
// first .ts file a process runs and keeps for the life of the process: about 30 MB resident, more
// than any library the gateway uses. With the compile cache on before any .ts file loads, every
// start after the first finds each file already stripped and compiled, and never loads the stripper.
//
// The cache holds code, so it lives with the code (.cache/ beside bin/), writable by whoever may
// change the code anyway, never in a shared temporary directory. Where it cannot be written, the
// command runs as before, only heavier.
import { enableCompileCache } from 'node:module';
import { fileURLToPath } from 'node:url';

enableCompileCache(fileURLToPath(new URL('../.cache/compile/', import.meta.url)));
await import('./gatehouse.ts');
