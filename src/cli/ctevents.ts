#!/usr/bin/env node
import { main } from './main.js';
import { lazyStderr, lazyStdout } from './stdio.js';

// stdin is a getter: creating process.stdin costs ~3 ms (a ReadStream for a file, a pipe or
// a TTY handle), and only `read -`, `delete` and `top` use it (start-up, issue 14). stdout
// and stderr are made by Node only when they must be (cli/stdio.ts): an empty dump writes
// nothing to stdout and its summary line straight to fd 2.
process.exitCode = await main(process.argv.slice(2), { stdout: lazyStdout(), stderr: lazyStderr(), get stdin() { return process.stdin; }, signals: true });
