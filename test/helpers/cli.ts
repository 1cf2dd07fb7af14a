/** Run the CLI's main() in-process with captured output streams. */
import { spawn } from 'node:child_process';
import { PassThrough, Readable } from 'node:stream';
import { main } from '../../src/cli/main.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

class Capture extends PassThrough {
  text = '';
  isTTY = false;
  constructor() {
    super();
    this.on('data', (d: Buffer) => (this.text += d.toString('utf8')));
  }
}

export async function runCli(argv: string[], opts: { stdin?: Uint8Array; stopAfterMs?: number } = {}): Promise<CliResult> {
  const stdout = new Capture();
  const stderr = new Capture();
  const stdin = Readable.from(opts.stdin ? [Buffer.from(opts.stdin)] : []);
  const code = await main(argv, { stdout, stderr, stdin });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** The bin `npx ctevents` runs (the bundle, see tools/bundle.mjs). */
export const CTEVENTS_BIN = new URL('../../dist/cli/ctevents.cjs', import.meta.url).pathname;

/**
 * Start the built ctevents as a process: `ready` resolves after `readyMs` (time to
 * subscribe), stop() waits `settleMs` for the last events, sends SIGINT and resolves the
 * exit code and output.
 */
export function spawnCtevents(args: string[], opts: { readyMs?: number; settleMs?: number } = {}) {
  const p = spawn(process.execPath, [CTEVENTS_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d) => (stdout += d));
  p.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number>((res) => p.on('close', (code) => res(code ?? -1)));
  return {
    ready: new Promise<void>((res) => setTimeout(res, opts.readyMs ?? 500)),
    exited,
    stop: async (): Promise<CliResult> => {
      await new Promise((r) => setTimeout(r, opts.settleMs ?? 300));
      p.kill('SIGINT');
      return { code: await exited, stdout, stderr };
    },
  };
}
