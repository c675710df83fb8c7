#!/usr/bin/env node
import { main } from '../gateway/cli/main.ts';

const code = await main(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  isTTY: process.stdin.isTTY === true,
});
// -1: a server is running and exits on its own signal
if (code >= 0) process.exitCode = code;
