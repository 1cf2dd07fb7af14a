/**
 * System-call failures of the netlink socket, as typed errors.
 *
 * The addon throws plain Errors carrying `errno` and `syscall`; this module names
 * the errno (EPERM, ENOENT, ...; table in ../netlink/errno.ts) and, for EPERM and
 * EACCES, says which capability the call needed.
 */

import { errnoName } from '../netlink/errno.js';

const EPERM = 1;
const EACCES = 13;

/** Linux capabilities the socket layer can be missing. */
export type Capability = 'CAP_NET_ADMIN' | 'CAP_SYS_ADMIN' | 'CAP_NET_BROADCAST';

/** Context for naming an error: what was being done, and the capability it needs if denied. */
export interface ErrnoContext {
  /** Extra words for the message, e.g. the option name for setsockopt. */
  detail?: string;
  /** Capability to report when the errno is EPERM or EACCES. */
  capability?: Capability;
  /** A file path involved (the netns path for 'open'). */
  path?: string;
}

/** A failed system call: `errno` number, its name in `code`, and the `syscall`. */
export class ErrnoError extends Error {
  override name = 'ErrnoError';
  /** Positive errno number, e.g. 2. */
  readonly errno: number;
  /** Errno name, e.g. 'ENOENT'. */
  readonly code: string;
  /** 'socket', 'bind', 'setsockopt', 'getsockopt', 'sendto', 'recvmsg', 'setns', 'open', ... */
  readonly syscall: string;
  /** Set when errno is EPERM/EACCES and the call is known to need a capability. */
  readonly capability?: Capability;
  /** The file path involved, if any. */
  readonly path?: string;

  constructor(errno: number, syscall: string, ctx: ErrnoContext & { description?: string } = {}) {
    const n = Math.abs(errno);
    const code = errnoName(n);
    const denied = n === EPERM || n === EACCES;
    const what = syscall + (ctx.detail ? `(${ctx.detail})` : '') + (ctx.path ? ` ${ctx.path}` : '');
    const desc = ctx.description ? ` (${ctx.description})` : '';
    const cap = denied && ctx.capability ? `; requires ${ctx.capability}` : '';
    super(`${what} failed: ${code}${desc}${cap}`);
    this.errno = n;
    this.code = code;
    this.syscall = syscall;
    if (denied && ctx.capability) this.capability = ctx.capability;
    if (ctx.path !== undefined) this.path = ctx.path;
  }
}

/** True for errors of this module. */
export function isErrnoError(err: unknown): err is ErrnoError {
  return err instanceof ErrnoError;
}

/**
 * Converts an Error thrown or reported by the addon ({errno, syscall, message})
 * into an ErrnoError; anything else (e.g. a TypeError) is returned unchanged.
 */
export function fromNativeError(err: unknown, ctx: ErrnoContext = {}): unknown {
  if (err instanceof ErrnoError) return err;
  if (!(err instanceof Error)) return err;
  const e = err as Error & { errno?: unknown; syscall?: unknown };
  if (typeof e.errno !== 'number' || typeof e.syscall !== 'string') return err;
  // The addon's message is "<syscall>: <strerror>".
  const prefix = `${e.syscall}: `;
  const description = e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message;
  return new ErrnoError(e.errno, e.syscall, { ...ctx, description });
}
