/**
 * NetlinkSocket: a NETLINK_NETFILTER socket on the nlsock addon.
 *
 * Bytes in, bytes out: this layer sends whole datagrams and hands received
 * datagrams to a callback in batches (one call per drain of the socket), as
 * zero-copy views of one ArrayBuffer per batch. It knows socket options, groups
 * and network namespaces, and nothing about message contents.
 *
 * Overrun: when the kernel could not queue multicast messages for us (receive
 * buffer full), the next recvmsg fails with ENOBUFS. That is not fatal: it
 * appears as an `{ overrun: true, source: 'kernel' }` item, in order between the
 * datagrams received before and after it, and reading continues. With a receive
 * thread (`receiveThread`), the socket is drained by the addon's own thread into a
 * buffer bounded in bytes; if that fills up, what it had to discard appears as
 * `{ overrun: true, source: 'buffer', lost }` (netlink messages), so the two kinds
 * of loss stay distinguished.
 *
 * Every item carries its receive time (`timestampNs`, CLOCK_REALTIME taken right
 * after the recvmsg that returned it, nanosecond resolution; the receive thread takes up
 * to 16 datagrams per recvmmsg, and those share the time of their call). The kernel reports it
 * as soon as it happened, so the datagrams still queued at that time (older
 * than the lost ones) come right after the marker. After an overrun, state
 * must be resynchronised (e.g. by a dump). NETLINK_NO_ENOBUFS hides it.
 */

import {
  HOST_LITTLE_ENDIAN,
  NETLINK_ADD_MEMBERSHIP,
  NETLINK_BROADCAST_ERROR,
  NETLINK_CAP_ACK,
  NETLINK_DROP_MEMBERSHIP,
  NETLINK_EXT_ACK,
  NETLINK_GET_STRICT_CHK,
  NETLINK_LISTEN_ALL_NSID,
  NETLINK_NETFILTER,
  NETLINK_NO_ENOBUFS,
  SOL_NETLINK,
  SOL_SOCKET,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
  SO_SNDBUF,
  SO_SNDBUFFORCE,
} from '../netlink/constants.js';
import { statSync } from 'node:fs';
import type { ReceiveItem } from '../client/transport.js';
import { ErrnoError, fromNativeError, type ErrnoContext } from './errno.js';
import { loadNative, META_STRIDE, RECV_FLAG_LOCAL_DROP, RECV_FLAG_OVERRUN, RECV_FLAG_TRUNCATED, type NativeSocket } from './native.js';

const EPERM = 1;
const SO_MEMINFO = 55;
const SK_MEMINFO_DROPS = 8;
const SK_MEMINFO_VARS = 9;
const EBADF = 9;
/** Smallest receive-thread buffer (two chunks of 128 KiB). */
export const MIN_RECEIVE_THREAD_BUFFER = 256 * 1024;

export interface NetlinkSocketOptions {
  /** Network namespace: a name under /var/run/netns, an absolute path, or a decimal pid. */
  netns?: string;
  /** Receive buffer in bytes: SO_RCVBUFFORCE, or SO_RCVBUF if that is not permitted. */
  receiveBufferSize?: number;
  /** nfnetlink group numbers (NFNLGRP_*, 1..9) to join with NETLINK_ADD_MEMBERSHIP. */
  groups?: number[];
  /** Set NETLINK_NO_ENOBUFS: drop silently on overrun instead of reporting it. */
  noEnobufs?: boolean;
  /** Bytes handed to JavaScript per wake-up, at most (default 1 MiB; at least one datagram). */
  batchBytes?: number;
  /**
   * Receive on a thread of the addon, ahead of JavaScript, without ever discarding: when
   * its 1 MiB buffer is full it waits for JavaScript. For dumps: the kernel builds each
   * dump datagram inside recvmsg, so its work runs on that thread while JavaScript
   * decodes the datagrams before (see src/native/nlsock.c, "Read-ahead").
   */
  readAhead?: boolean;
  /**
   * Receive on a dedicated thread of the addon into a buffer of at most this many bytes
   * (subscriptions: the kernel's queue is drained as fast as it fills, whatever the
   * JavaScript side does; see RECV_FLAG_LOCAL_DROP). At least 256 KiB. Not with readAhead.
   */
  receiveThread?: number;
  /**
   * With receiveThread: the longest a steady stream's datagrams wait on that thread before
   * JavaScript is woken for them, in ms (default 40: one wake-up carries many events, the
   * CPU of listening; a lone datagram after a quiet spell is handed on at once). 0 wakes
   * JavaScript after every drain. 0 to 1000.
   */
  maxDelayMs?: number;
  /**
   * Name the process behind each event's requester port id (nlmsg_pid) the moment the
   * datagram is received, on a thread of the addon inside the socket's namespace (see
   * src/native/progname.c and programName()).
   */
  programNames?: boolean;
}

// The receive types are the transport seam's (client/transport.ts); this socket implements them.
export type { OverrunItem, ReceiveItem, ReceivedDatagram } from '../client/transport.js';

/** Option names for error messages, and the capability each needs. */
const OPTIONS: Record<string, { name: string; capability?: ErrnoContext['capability'] }> = {
  [`${SOL_SOCKET}:${SO_SNDBUF}`]: { name: 'SO_SNDBUF' },
  [`${SOL_SOCKET}:${SO_RCVBUF}`]: { name: 'SO_RCVBUF' },
  [`${SOL_SOCKET}:${SO_SNDBUFFORCE}`]: { name: 'SO_SNDBUFFORCE', capability: 'CAP_NET_ADMIN' },
  [`${SOL_SOCKET}:${SO_RCVBUFFORCE}`]: { name: 'SO_RCVBUFFORCE', capability: 'CAP_NET_ADMIN' },
  [`${SOL_NETLINK}:${NETLINK_ADD_MEMBERSHIP}`]: { name: 'NETLINK_ADD_MEMBERSHIP', capability: 'CAP_NET_ADMIN' },
  [`${SOL_NETLINK}:${NETLINK_DROP_MEMBERSHIP}`]: { name: 'NETLINK_DROP_MEMBERSHIP' },
  [`${SOL_NETLINK}:${NETLINK_BROADCAST_ERROR}`]: { name: 'NETLINK_BROADCAST_ERROR' },
  [`${SOL_NETLINK}:${NETLINK_NO_ENOBUFS}`]: { name: 'NETLINK_NO_ENOBUFS' },
  [`${SOL_NETLINK}:${NETLINK_LISTEN_ALL_NSID}`]: { name: 'NETLINK_LISTEN_ALL_NSID', capability: 'CAP_NET_BROADCAST' },
  [`${SOL_NETLINK}:${NETLINK_CAP_ACK}`]: { name: 'NETLINK_CAP_ACK' },
  [`${SOL_NETLINK}:${NETLINK_EXT_ACK}`]: { name: 'NETLINK_EXT_ACK' },
  [`${SOL_NETLINK}:${NETLINK_GET_STRICT_CHK}`]: { name: 'NETLINK_GET_STRICT_CHK' },
};

function optionContext(level: number, name: number, extra = ''): ErrnoContext {
  const known = OPTIONS[`${level}:${name}`];
  const detail = (known ? known.name : `${level}, ${name}`) + extra;
  return known?.capability ? { detail, capability: known.capability } : { detail };
}

/** Resolves the `netns` option to a file path; null for the current namespace. */
export function resolveNetnsPath(netns: string | undefined): string | null {
  if (netns === undefined || netns === '') return null;
  if (/^[0-9]+$/.test(netns)) return `/proc/${netns}/ns/net`;
  if (netns.includes('\0')) throw new TypeError(`invalid netns ${JSON.stringify(netns)}: it contains a NUL byte`);
  if (netns.startsWith('/')) return netns;
  if (netns.includes('/') || netns === '.' || netns === '..') {
    throw new TypeError(`invalid netns name ${JSON.stringify(netns)}: use a name, an absolute path or a pid`);
  }
  return `/var/run/netns/${netns}`;
}

function checkGroup(group: number): void {
  if (!Number.isInteger(group) || group < 1 || group > 0xffffffff) {
    throw new RangeError(`netlink group must be a positive integer, got ${group}`);
  }
}

/** A raw NETLINK_NETFILTER socket; all system-call failures throw ErrnoError. */
export class NetlinkSocket {
  /** Port id the kernel assigned at bind(). */
  readonly portid: number;
  #h: NativeSocket;
  #closed = false;
  #lastRcvbuf = 0;
  #onItems: ((items: ReceiveItem[]) => void) | undefined;
  #onBatch: ((data: Uint8Array, meta: Uint32Array) => void) | undefined;
  #onError: ((err: ErrnoError) => void) | undefined;
  #netnsPath: string | null = null;
  #netnsInode = 0;

  private constructor(h: NativeSocket, portid: number) {
    this.#h = h;
    this.portid = portid;
  }

  /** Opens, configures and binds a socket. Throws ErrnoError (or NativeAddonError if the addon is missing). */
  static open(opts: NetlinkSocketOptions = {}): NetlinkSocket {
    const path = resolveNetnsPath(opts.netns);
    for (const g of opts.groups ?? []) checkGroup(g);
    if (opts.receiveBufferSize !== undefined) {
      const n = opts.receiveBufferSize;
      if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) throw new RangeError(`invalid receiveBufferSize ${n}`);
    }
    if (opts.receiveThread !== undefined) {
      const n = opts.receiveThread;
      if (!Number.isInteger(n) || n < MIN_RECEIVE_THREAD_BUFFER || n > 2 ** 40) {
        throw new RangeError(`invalid receive thread buffer ${n}: an integer number of bytes, at least ${MIN_RECEIVE_THREAD_BUFFER}`);
      }
    }
    if (opts.maxDelayMs !== undefined) {
      const n = opts.maxDelayMs;
      if (!Number.isInteger(n) || n < 0 || n > 1000) throw new RangeError(`invalid maxDelayMs ${n}: an integer number of milliseconds, 0 to 1000`);
    }
    const native = loadNative();
    let h: NativeSocket;
    try {
      h = new native.NlSocket(NETLINK_NETFILTER, path);
    } catch (err) {
      const syscall = (err as { syscall?: unknown }).syscall;
      const ctx: ErrnoContext = {};
      if (syscall === 'open' && path !== null) ctx.path = path;
      if (syscall === 'setns' && path !== null) ctx.path = path;
      if (syscall === 'setns') ctx.capability = 'CAP_SYS_ADMIN';
      throw fromNativeError(err, ctx);
    }
    try {
      // Extended ACKs make kernel errors carry text; not fatal where unsupported.
      try {
        h.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1);
      } catch {
        // kernels before 4.12
      }
      if (opts.receiveBufferSize !== undefined) setReceiveBuffer(h, opts.receiveBufferSize);
      if (opts.noEnobufs) call(() => h.setsockopt(SOL_NETLINK, NETLINK_NO_ENOBUFS, 1), optionContext(SOL_NETLINK, NETLINK_NO_ENOBUFS));
      if (opts.batchBytes !== undefined) h.setBatchBytes(opts.batchBytes);
      if (opts.readAhead) h.setReadAhead(true);
      if (opts.receiveThread !== undefined) h.setReceiveThread(opts.receiveThread, opts.maxDelayMs);
      if (opts.programNames) h.setProgramNames(true);
      const portid = call(() => h.bind(0, 0), {});
      const sock = new NetlinkSocket(h, portid);
      sock.#netnsPath = path;
      sock.#netnsInode = h.netnsInode;
      for (const g of opts.groups ?? []) sock.addMembership(g);
      return sock;
    } catch (err) {
      h.close();
      throw err;
    }
  }

  /** Effective receive buffer in bytes (getsockopt SO_RCVBUF: the kernel doubles what was asked). */
  get receiveBufferSize(): number {
    if (this.#closed) return this.#lastRcvbuf;
    return this.getOption(SOL_SOCKET, SO_RCVBUF);
  }

  /**
   * True when the namespace the socket was opened in (by name or path) can no longer be
   * reached through that path: `ip netns del` removed it, or the process of a
   * /proc/PID/ns/net path ended (its nsfs inode is gone or another one is there now). No
   * new process can join it by that name; the socket keeps working for what is still
   * inside. False for the current namespace. One stat() per call.
   */
  /** Whether namespaceGone() can ever be true: the socket was opened by a namespace path. */
  get watchesNamespace(): boolean {
    return this.#netnsPath !== null && this.#netnsInode !== 0;
  }

  namespaceGone(): boolean {
    if (this.#netnsPath === null || this.#netnsInode === 0) return false;
    try {
      return statSync(this.#netnsPath).ino !== this.#netnsInode;
    } catch {
      return true;
    }
  }

  /** Messages the receive thread discarded so far because its buffer was full (0 without one). */
  localDrops(): number {
    return this.receiveStats().localDrops ?? 0;
  }

  /** The receive thread's figures: messages it discarded (buffer full), chunks in use. */
  receiveStats(): { localDrops?: number; chunks?: number; maxChunks?: number; chunkBytes?: number } {
    if (this.#closed) return {};
    return this.#h.receiveStats();
  }

  /**
   * The name of the process behind requester port id `portid` as the addon found it when
   * the event arrived (programNames option): a string; null when it looked and found
   * none; undefined when it never looked (option off, closed, too many at once). Waits up
   * to `waitMs` (at most 1000) for a lookup still running.
   */
  programName(portid: number, waitMs = 0): string | null | undefined {
    if (this.#closed) return undefined;
    return this.#h.programName(portid >>> 0, Math.max(0, Math.min(1000, Math.floor(waitMs))));
  }

  /** Figures of the program-name lookups: done, found, not asked for (queue full). */
  programNameStats(): { lookups: number; found: number; dropped: number } {
    if (this.#closed) return { lookups: 0, found: 0, dropped: 0 };
    return this.#h.programNameStats();
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Sends one datagram (one or more netlink messages) to the kernel. */
  send(datagram: Uint8Array): void {
    this.#ensureOpen('sendto');
    call(() => this.#h.send(datagram), { capability: 'CAP_NET_ADMIN' });
  }

  /** Joins multicast group `group` (NFNLGRP_*). Needs CAP_NET_ADMIN. */
  addMembership(group: number): void {
    checkGroup(group);
    this.setOption(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, group);
  }

  /** Leaves multicast group `group`. */
  dropMembership(group: number): void {
    checkGroup(group);
    this.setOption(SOL_NETLINK, NETLINK_DROP_MEMBERSHIP, group);
  }

  /** setsockopt() with an int value. */
  setOption(level: number, name: number, value: number): void {
    this.#ensureOpen('setsockopt');
    call(() => this.#h.setsockopt(level, name, value), optionContext(level, name, ` = ${value}`));
  }

  /** getsockopt() of an int value. */
  getOption(level: number, name: number): number {
    this.#ensureOpen('getsockopt');
    return call(() => this.#h.getsockopt(level, name), optionContext(level, name));
  }

  /** getsockopt() of a byte array of at most `size` bytes. */
  getOptionBytes(level: number, name: number, size: number): Uint8Array {
    this.#ensureOpen('getsockopt');
    return new Uint8Array(call(() => this.#h.getsockoptBytes(level, name, size), optionContext(level, name)));
  }

  /**
   * Messages the kernel dropped for this socket so far (SO_MEMINFO's SK_MEMINFO_DROPS,
   * counted by netlink_overrun for every multicast copy that did not fit).
   */
  drops(): number {
    const b = this.getOptionBytes(SOL_SOCKET, SO_MEMINFO, SK_MEMINFO_VARS * 4);
    return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(SK_MEMINFO_DROPS * 4, HOST_LITTLE_ENDIAN);
  }

  /**
   * Starts receiving: `cb` gets the items of each drain of the socket, in order;
   * `onError` gets a fatal receive error, after which receiving stops. Calling it
   * again replaces the callbacks. Datagram views stay valid as long as they are held.
   */
  onReceive(cb: (items: ReceiveItem[]) => void, onError: (err: ErrnoError) => void): void {
    this.#ensureOpen('recvmsg');
    const first = this.#onItems === undefined && this.#onBatch === undefined;
    this.#onItems = cb;
    this.#onBatch = undefined;
    this.#onError = onError;
    if (first) this.#start();
  }

  /**
   * onReceive without the items: `cb` gets each drain of the socket as the addon delivers
   * it, the datagrams back to back in `data` and RB_STRIDE words per item in `meta`
   * (client/receive-batch.ts); nothing is allocated per datagram. Replaces onReceive's
   * callback (and the other way round).
   */
  onReceiveBatch(cb: (data: Uint8Array, meta: Uint32Array) => void, onError: (err: ErrnoError) => void): void {
    this.#ensureOpen('recvmsg');
    const first = this.#onItems === undefined && this.#onBatch === undefined;
    this.#onBatch = cb;
    this.#onItems = undefined;
    this.#onError = onError;
    if (first) this.#start();
  }

  #start(): void {
    call(
      () => this.#h.start(this.#dispatch, (err) => this.#onError?.(fromNativeError(err) as ErrnoError)),
      {},
    );
  }

  /** Stops reading; the kernel queue (then overrun) absorbs what arrives meanwhile. */
  pause(): void {
    if (!this.#closed) call(() => this.#h.pause(), {});
  }

  /** Resumes reading after pause(). */
  resume(): void {
    if (!this.#closed) call(() => this.#h.resume(), {});
  }

  /** Lets an active socket keep the process alive (default). */
  ref(): void {
    if (!this.#closed) this.#h.ref();
  }

  /** Lets the process exit even while this socket is receiving. */
  unref(): void {
    if (!this.#closed) this.#h.unref();
  }

  /** Closes the socket; no callback fires afterwards. Idempotent. */
  close(): void {
    if (this.#closed) return;
    try {
      this.#lastRcvbuf = this.#h.getsockopt(SOL_SOCKET, SO_RCVBUF);
    } catch {
      // keep 0
    }
    this.#closed = true;
    this.#onItems = undefined;
    this.#onBatch = undefined;
    this.#onError = undefined;
    this.#h.close();
  }

  #ensureOpen(syscall: string): void {
    if (this.#closed) throw new ErrnoError(EBADF, syscall, { detail: 'socket is closed' });
  }

  #dispatch = (data: ArrayBuffer, meta: Uint32Array): void => {
    const batch = this.#onBatch;
    if (batch !== undefined) {
      batch(new Uint8Array(data), meta);
      return;
    }
    const cb = this.#onItems;
    if (!cb) return;
    const count = meta.length / META_STRIDE;
    const items: ReceiveItem[] = new Array(count);
    let offset = 0;
    for (let i = 0, m = 0; i < count; i++, m += META_STRIDE) {
      const len = meta[m]!;
      const flags = meta[m + 3]!;
      const timestampNs = BigInt(meta[m + 4]!) * 1_000_000_000n + BigInt(meta[m + 5]!);
      if (flags & RECV_FLAG_OVERRUN) {
        items[i] = { overrun: true, source: 'kernel', timestampNs };
        continue;
      }
      if (flags & RECV_FLAG_LOCAL_DROP) {
        items[i] = { overrun: true, source: 'buffer', lost: meta[m + 1]!, timestampNs };
        continue;
      }
      items[i] = {
        data: new Uint8Array(data, offset, len),
        pid: meta[m + 1]!,
        groups: meta[m + 2]!,
        truncated: (flags & RECV_FLAG_TRUNCATED) !== 0,
        timestampNs,
      };
      offset += len;
    }
    cb(items);
  };
}

/** Runs a native call, converting its errors to ErrnoError with `ctx`. */
function call<T>(fn: () => T, ctx: ErrnoContext): T {
  try {
    return fn();
  } catch (err) {
    throw fromNativeError(err, ctx);
  }
}

/** SO_RCVBUFFORCE (ignores net.core.rmem_max, needs CAP_NET_ADMIN), else SO_RCVBUF. */
function setReceiveBuffer(h: NativeSocket, size: number): void {
  try {
    h.setsockopt(SOL_SOCKET, SO_RCVBUFFORCE, size);
  } catch (err) {
    if ((err as { errno?: unknown }).errno !== EPERM) throw fromNativeError(err, optionContext(SOL_SOCKET, SO_RCVBUFFORCE));
    call(() => h.setsockopt(SOL_SOCKET, SO_RCVBUF, size), optionContext(SOL_SOCKET, SO_RCVBUF));
  }
}

/**
 * Read a per-namespace /proc file (e.g. /proc/thread-self/net/netlink) as seen from
 * inside `netns` (name, path or pid), without moving the process. Throws ErrnoError.
 */
export function readFileInNetns(netns: string, filePath: string, maxBytes = 16 * 1024 * 1024): Uint8Array {
  const ns = resolveNetnsPath(netns);
  if (ns === null) throw new TypeError('readFileInNetns needs a namespace');
  return new Uint8Array(call(() => loadNative().readFileInNetns(ns, filePath, maxBytes), { path: ns }));
}
