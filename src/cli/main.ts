/**
 * ctevents as a function: main(argv, io) returns the exit code. Errors the user can act on
 * (bad options, missing files or namespaces, missing privilege, kernel refusals) become one
 * line on stderr and a non-zero code, never a stack trace.
 */
import { readFileSync } from 'node:fs';
import { NetlinkDecodeError, NetlinkError } from '../netlink/errors.js';
import { PcapError } from '../pcap/errors.js';
import { ErrnoError } from '../socket/errno.js';
import { NativeAddonError } from '../socket/native.js';
import { UsageError, parseCommandLine } from './args.js';
import type { Session, Io } from './session.js';
import type { Command } from './args.js';

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

/**
 * Commands with an option parser of their own (long-running views and services): loaded
 * only when named, so the other commands never pay for their modules.
 */
interface StandaloneCommand {
  run(argv: readonly string[], io: Io): Promise<number>;
  help: string;
}
const STANDALONE: Record<string, () => Promise<StandaloneCommand>> = {
  top: async () => {
    const m = await import('./top.js');
    return { run: m.top, help: m.TOP_HELP };
  },
  metrics: async () => {
    const m = await import('./metrics.js');
    return { run: (argv, io) => m.metrics(argv, io), help: m.METRICS_HELP };
  },
  delete: async () => {
    const m = await import('./delete.js');
    return { run: (argv, io) => m.runDelete(['delete', ...argv], io), help: m.DELETE_HELP };
  },
  flush: async () => {
    const m = await import('./delete.js');
    return { run: (argv, io) => m.runDelete(['flush', ...argv], io), help: m.DELETE_HELP };
  },
  guard: async () => {
    const m = await import('./guard.js');
    return { run: (argv, io) => m.runGuard(['guard', ...argv], io), help: m.GUARD_HELP };
  },
};

export async function main(argv: readonly string[], io: Io): Promise<number> {
  const own = STANDALONE[argv[0] ?? ''] ?? (argv[0] === 'help' ? STANDALONE[argv[1] ?? ''] : undefined);
  if (own) {
    try {
      const cmd = await own();
      if (argv[0] === 'help') {
        io.stdout.write(cmd.help);
        return 0;
      }
      return await cmd.run(argv.slice(1), io);
    } catch (e) {
      io.stderr.write(`ctevents: ${describe(e)}\n`);
      return e instanceof UsageError ? 2 : 1;
    }
  }
  let session: Session;
  try {
    const opts = parseCommandLine(argv);
    if (opts.version) {
      io.stdout.write(`ctevents ${version()}\n`);
      return 0;
    }
    if (opts.help) {
      const { HELP, commandHelp } = await import('./help.js');
      io.stdout.write(opts.topic !== undefined ? commandHelp(opts.topic as Command) : HELP);
      return 0;
    }
    if (opts.command === 'completion') {
      const { completionScript } = await import('./completion.js');
      io.stdout.write(completionScript(opts.topic as 'bash' | 'zsh'));
      return 0;
    }
    // Each command loads only its own modules (start-up time, issue 14).
    const { createSession } = await import('./session.js');
    session = await createSession(opts, io);
  } catch (e) {
    io.stderr.write(`ctevents: ${describe(e)}\n`);
    return 2;
  }
  try {
    switch (session.opts.command) {
      case 'watch': return await (await import('./live.js')).watch(session);
      case 'dump': {
        const live = await import('./live.js');
        return await (session.opts.expect ? live.dumpExpect(session) : live.dump(session));
      }
      case 'stats': return await (await import('./live.js')).stats(session);
      case 'read': return await (await import('./read.js')).read(session);
      case 'get': return await (await import('./ops.js')).get(session);
      case 'create': return await (await import('./ops.js')).create(session);
      case 'update': return await (await import('./ops.js')).update(session);
      default: throw new UsageError(`${session.opts.command} needs arguments (see ctevents help ${session.opts.command})`);
    }
  } catch (e) {
    io.stderr.write(`ctevents: ${describe(e)}\n`);
    // Command-line mistakes found late (a directory given as a capture, an incomplete tuple) are still usage errors.
    return e instanceof UsageError ? 2 : 1;
  }
}
