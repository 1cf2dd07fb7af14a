#!/usr/bin/env node
import { main } from './main.js';

// stdin is a getter: creating process.stdin costs ~3 ms (a ReadStream for a file, a pipe or
// a TTY handle), and only `read -`, `delete` and `top` use it (start-up, issue 14).
process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, get stdin() { return process.stdin; }, signals: true });
