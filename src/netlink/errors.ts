/**
 * Typed errors of the codec.
 *
 * NetlinkDecodeError: the bytes are malformed (truncated, oversized, misaligned, a known
 * attribute with the wrong length). It carries the byte offset (from the start of the
 * buffer handed to the decoder) and the attribute path, outermost first, e.g.
 * ["CTA_TUPLE_ORIG", "CTA_TUPLE_PROTO", "CTA_PROTO_SRC_PORT"]. Inner decoders throw with
 * their own name; each enclosing decoder prefixes its name on the way up (prefixPath),
 * so the success path never builds paths.
 *
 * NetlinkEncodeError: a model that cannot be put on the wire (an address that does not
 * parse, a value out of range), or a request refused before it is sent (a delete without
 * a key). It carries the attribute path, the model field and the offending value.
 */

import { errnoName } from './errno.js';

export class NetlinkDecodeError extends Error {
  override readonly name = 'NetlinkDecodeError';
  readonly offset: number;
  readonly path: string[];
  readonly reason: string;

  constructor(reason: string, offset: number, path: string[] = []) {
    super('');
    this.reason = reason;
    this.offset = offset;
    this.path = path;
    this.message = this.describe();
  }

  private describe(): string {
    const where = this.path.length > 0 ? ` in ${this.path.join(' > ')}` : '';
    return `${this.reason}${where} at byte offset ${this.offset}`;
  }

  /** Prefix an enclosing attribute (or message) name, keeping offset and reason. */
  prefixPath(name: string): this {
    this.path.unshift(name);
    this.message = this.describe();
    return this;
  }
}

export class NetlinkEncodeError extends Error {
  override readonly name = 'NetlinkEncodeError';
  /** Attribute path, outermost first, e.g. ["CTA_TUPLE_ORIG", "CTA_TUPLE_PROTO", "CTA_PROTO_SRC_PORT"]. */
  readonly path: string[];
  /** The model field at fault, e.g. "orig.srcPort" (request validation, src/netlink/check.ts). */
  readonly field?: string;
  /** The offending value, as the caller gave it (when the error is about one value). */
  readonly value?: unknown;
  constructor(message: string, path: string[] = [], details?: { field?: string; value?: unknown }) {
    super(path.length > 0 ? `${message} (${path.join(' > ')})` : message);
    this.path = path;
    if (details?.field !== undefined) this.field = details.field;
    if (details !== undefined && 'value' in details) this.value = details.value;
  }
}

/** Re-throw a decode error with `name` prefixed to its path; anything else is wrapped. */
export function rethrowIn(name: string, err: unknown, offset: number): never {
  if (err instanceof NetlinkDecodeError) throw err.prefixPath(name);
  // A bug, not bad input: still never let a bare RangeError/TypeError escape.
  throw new NetlinkDecodeError(`internal decode failure (${String(err)})`, offset, [name]);
}

/**
 * The kernel refused a request: NLMSG_ERROR with a negative errno (or a failed dump's
 * NLMSG_DONE). Carries the errno name and the extended-ACK text and offset when the
 * kernel sent them (NETLINK_EXT_ACK).
 */
export class NetlinkError extends Error {
  override readonly name = 'NetlinkError';
  /** Positive errno, e.g. 2. */
  readonly errno: number;
  /** Its name, e.g. 'ENOENT'. */
  readonly code: string;
  readonly seq: number;
  /** NLMSGERR_ATTR_MSG, the kernel's own explanation. */
  readonly extAckMessage?: string;
  /** NLMSGERR_ATTR_OFFS: offset of the offending attribute from the request's nlmsghdr. */
  readonly extAckOffset?: number;
  /** The operation that failed, e.g. 'create'. */
  readonly operation?: string;

  constructor(errno: number, seq: number, extAck?: { message?: string; offset?: number }, operation?: string) {
    const e = Math.abs(errno);
    const code = errnoName(e);
    let text = `${operation ? `${operation}: ` : ''}kernel returned ${code} (${describeErrno(e)})`;
    if (extAck?.message) text += `: ${extAck.message}`;
    if (extAck?.offset !== undefined) text += ` [at request offset ${extAck.offset}]`;
    super(text);
    this.errno = e;
    this.code = code;
    this.seq = seq;
    if (extAck?.message !== undefined) this.extAckMessage = extAck.message;
    if (extAck?.offset !== undefined) this.extAckOffset = extAck.offset;
    if (operation !== undefined) this.operation = operation;
  }
}

const DESCRIPTIONS: Record<string, string> = {
  EPERM: 'operation not permitted: CAP_NET_ADMIN is needed',
  ENOENT: 'no such conntrack entry',
  EEXIST: 'the entry already exists',
  EINVAL: 'invalid argument',
  EBUSY: 'device or resource busy',
  EOPNOTSUPP: 'operation not supported',
  ENOMEM: 'out of memory',
  ENOSPC: 'table full',
  EAFNOSUPPORT: 'address family not supported',
  ENOBUFS: 'no buffer space',
};

function describeErrno(errno: number): string {
  const code = errnoName(errno);
  return DESCRIPTIONS[code] ?? `errno ${errno}`;
}
