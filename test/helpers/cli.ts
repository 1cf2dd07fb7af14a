/** Run the CLI's main() in-process with captured output streams. */
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
