/**
 * Ending a finished one-shot command without Node's teardown (start-up, issue 14).
 *
 * When main() has returned, a natural exit still waits for the event loop to empty and
 * then frees the whole environment (handles, the V8 heap) before the process ends: ~1 ms
 * that nobody waits for. process.exit() skips that; it still runs 'exit' listeners and
 * the addon's environment cleanup hooks. It is taken only where it cannot lose anything:
 *
 * - the command is one-shot and has nothing in flight once main() returns: `dump` without
 *   --follow, `stats`, `--version`/`version`-like flags (see ONE_SHOT);
 * - every byte of stdout and stderr went out through fs.writeSync (cli/stdio.ts: Node's
 *   streams were never made, so no write is queued in one);
 * - stdin was never touched.
 *
 * Anything else (a pipe or terminal on stdout, `watch`, `top`, `metrics`, ...) ends as
 * before, when the event loop is empty.
 */
import type { StdioOut } from './stdio.js';

const ONE_SHOT = new Set(['dump', 'stats', '--version', '-V']);

export function exitNowIfDone(argv: readonly string[], io: { stdout: StdioOut; stderr: StdioOut; stdinUsed: boolean }): void {
  if (!ONE_SHOT.has(argv[0] ?? '') || argv.includes('--follow')) return;
  if (io.stdout.streamMade || io.stderr.streamMade || io.stdinUsed) return;
  process.exit();
}
