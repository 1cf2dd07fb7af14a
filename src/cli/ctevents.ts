#!/usr/bin/env node
import { main } from './main.js';
import { lazyStderr, lazyStdout } from './stdio.js';
import { exitNowIfDone } from './fast-exit.js';

// stdin is a getter: creating process.stdin costs ~3 ms (a ReadStream for a file, a pipe or
// a TTY handle), and only `read -`, `delete` and `top` use it (start-up, issue 14). stdout
// and stderr are made by Node only when they must be (cli/stdio.ts): an empty dump writes
// nothing to stdout and its summary line straight to fd 2.
let stdinUsed = false;
const argv = process.argv.slice(2);
const stdout = lazyStdout();
const stderr = lazyStderr();
process.exitCode = await main(argv, { stdout, stderr, get stdin() { stdinUsed = true; return process.stdin; }, signals: true });
exitNowIfDone(argv, { stdout, stderr, stdinUsed });
