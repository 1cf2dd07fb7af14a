/**
 * ctevents as a function: main(argv, io) returns the exit code. Errors the user can act on
 * (bad options, missing files or namespaces, missing privilege, kernel refusals) become one
 * line on stderr and a non-zero code, never a stack trace.
 */
import { readFileSync } from 'node:fs';
import { NetlinkDecodeError, NetlinkError } from '../netlink/errors.js';
import { PcapError } from '../pcap/index.js';
import { ErrnoError } from '../socket/errno.js';
import { NativeAddonError } from '../socket/native.js';
import { HELP, UsageError, parseCommandLine } from './args.js';
import { dump, stats, watch } from './live.js';
import { read } from './read.js';
import { runDelete } from './delete.js';
import { runGuard } from './guard.js';
import { Session, type Io } from './session.js';

export type { Io } from './session.js';

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function describe(e: unknown): string {
  if (e instanceof UsageError) return `${e.message}`;
  if (e instanceof ErrnoError) {
    if (e.syscall === 'open' && e.code === 'ENOENT' && e.path) return `no such network namespace: ${e.path}`;
    return e.message;
  }
  if (e instanceof NetlinkError || e instanceof NativeAddonError || e instanceof PcapError || e instanceof NetlinkDecodeError) {
    return e.message;
  }
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err === 'object' && typeof err.code === 'string' && err.path) {
    const what = err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.code === 'EISDIR' ? 'is a directory' : err.code;
    return `${err.path}: ${what}`;
  }
  return String((e as Error)?.message ?? e);
}

export async function main(argv: readonly string[], io: Io): Promise<number> {
  let session: Session;
  // delete / flush / guard parse their own options (src/cli/delete.ts, src/cli/guard.ts).
  if (argv[0] === 'delete' || argv[0] === 'flush' || argv[0] === 'guard') {
    try {
      return await (argv[0] === 'guard' ? runGuard(argv, io) : runDelete(argv, io));
    } catch (e) {
      io.stderr.write(`ctevents: ${describe(e)}\n`);
      return 1;
    }
  }
  try {
    const opts = parseCommandLine(argv);
    if (opts.help) {
      io.stdout.write(HELP);
      return 0;
    }
    if (opts.version) {
      io.stdout.write(`ctevents ${version()}\n`);
      return 0;
    }
    session = new Session(opts, io);
  } catch (e) {
    io.stderr.write(`ctevents: ${describe(e)}\n`);
    return 2;
  }
  try {
    switch (session.opts.command) {
      case 'watch': return await watch(session);
      case 'dump': return await dump(session);
      case 'stats': return await stats(session);
      case 'read': return await read(session);
    }
  } catch (e) {
    io.stderr.write(`ctevents: ${describe(e)}\n`);
    return 1;
  }
}
