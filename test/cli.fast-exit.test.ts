/**
 * cli/fast-exit.ts: a finished one-shot command (dump without --follow, stats, --version)
 * whose output all went out through writeSync ends with process.exit() (no teardown);
 * everything else ends when the event loop is empty, as before.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { exitNowIfDone } from '../src/cli/fast-exit.js';
import type { StdioOut } from '../src/cli/stdio.js';

const out = (made: boolean) => ({ streamMade: made }) as unknown as StdioOut;

describe('exitNowIfDone', () => {
  afterEach(() => vi.restoreAllMocks());

  function exits(argv: string[], made: { stdout?: boolean; stderr?: boolean; stdin?: boolean } = {}): boolean {
    const spy = vi.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    exitNowIfDone(argv, { stdout: out(made.stdout ?? false), stderr: out(made.stderr ?? false), stdinUsed: made.stdin ?? false });
    const called = spy.mock.calls.length > 0;
    spy.mockRestore();
    return called;
  }

  it('exits at once after dump, stats and --version written directly', () => {
    expect(exits(['dump'])).toBe(true);
    expect(exits(['dump', '--netns', 'x', '--format', 'json'])).toBe(true);
    expect(exits(['stats'])).toBe(true);
    expect(exits(['--version'])).toBe(true);
  });

  it('leaves the exit to Node when a stream was made, stdin was used, or the command goes on', () => {
    expect(exits(['dump'], { stdout: true })).toBe(false);
    expect(exits(['dump'], { stderr: true })).toBe(false);
    expect(exits(['stats'], { stdin: true })).toBe(false);
    expect(exits(['dump', '--follow'])).toBe(false);
    for (const cmd of [[], ['watch'], ['read', 'x.pcap'], ['top'], ['metrics'], ['get'], ['delete'], ['guard'], ['help']]) expect(exits(cmd), cmd.join(' ')).toBe(false);
  });
});
