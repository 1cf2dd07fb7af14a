import type { Io } from './session.js';
export async function runGuard(_argv: readonly string[], io: Io): Promise<number> {
  io.stderr.write('ctevents: guard: not yet\n');
  return 1;
}
