/**
 * Lazy loader for the nlsock N-API addon (src/native/nlsock.c).
 *
 * The addon is loaded only when a live socket is opened, never at import time, so
 * decoding, pcap replay and tests work where it was never built. It is looked up
 * at <package root>/src/native/build/Release/nlsock.node, where the package root is
 * the nearest ancestor of this file that holds package.json: that is the same
 * directory whether this module runs as src/socket/native.ts (vitest) or as
 * dist/socket/native.js (compiled).
 */

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** meta[] flag: the kernel had more bytes than were taken (MSG_TRUNC). */
export const RECV_FLAG_TRUNCATED = 1;
/** meta[] flag: recvmsg failed with ENOBUFS here; messages were dropped. */
export const RECV_FLAG_OVERRUN = 2;
/** meta[] flag: the receive thread's buffer was full; meta[1] messages were discarded here. */
export const RECV_FLAG_LOCAL_DROP = 4;
/** meta[] words per received item: length, nl_pid (or lost count), nl_groups, flags, receive time s, ns. */
export const META_STRIDE = 6;

/** One raw netlink socket of the addon. Methods throw an Error with `errno` and `syscall`. */
export interface NativeSocket {
  /** File descriptor, or -1 after close. */
  readonly fd: number;
  /** bind() with a port id (0 = kernel assigns) and a legacy group bitmask; returns the bound port id. */
  bind(portid: number, groups: number): number;
  setsockopt(level: number, name: number, value: number): void;
  getsockopt(level: number, name: number): number;
  getsockoptBytes(level: number, name: number, size: number): ArrayBuffer;
  setBatchBytes(bytes: number): void;
  setReadAhead(on: boolean): void;
  /** Receive on a dedicated thread into a buffer of at most `bytes` (before start()). */
  setReceiveThread(bytes: number, holdMs?: number): void;
  /** The receive thread's figures (empty object without one). */
  receiveStats(): { localDrops?: number; chunks?: number; maxChunks?: number; chunkBytes?: number };
  /** nsfs inode of the namespace file the socket was created through (0: the current namespace). */
  readonly netnsInode: number;
  /** Look up the program behind each event's nlmsg_pid as it arrives, on a thread of the addon (before start()). */
  setProgramNames(on: boolean): void;
  /**
   * That program's name: a string, null (looked up, none found, or still looking after
   * `waitMs`), undefined (never looked up: not enabled, queue full, forgotten).
   */
  programName(portid: number, waitMs: number): string | null | undefined;
  /** The lookup thread's figures (zeros without one). */
  programNameStats(): { lookups: number; found: number; dropped: number };
  /** sendto() the kernel; returns the number of bytes sent. */
  send(datagram: Uint8Array): number;
  /**
   * Starts (or re-targets) receiving. `onBatch` gets the datagrams of one drain
   * back to back in `data`, and META_STRIDE words per item in `meta`.
   * `onError` gets an Error with `errno` and `syscall` when receiving stops.
   */
  start(onBatch: (data: ArrayBuffer, meta: Uint32Array) => void, onError: (err: Error) => void): void;
  pause(): void;
  resume(): void;
  ref(): void;
  unref(): void;
  close(): void;
}

/** The addon's exports. */
export interface NativeBinding {
  /** `new NlSocket(protocol, netnsPath)`: socket(AF_NETLINK, SOCK_RAW, protocol), inside netnsPath if given. */
  NlSocket: new (protocol: number, netnsPath: string | null) => NativeSocket;
  /** Read a file while the calling thread is inside the network namespace at nsPath. */
  readFileInNetns(nsPath: string, filePath: string, maxBytes: number): ArrayBuffer;
  /** Tests only: make the next `count` operations of a kind fail ('realloc', 'scope', 'chunk'). */
  _fault(name: 'realloc' | 'scope' | 'chunk', count: number): number;
  RECV_FLAG_TRUNCATED: number;
  RECV_FLAG_OVERRUN: number;
  RECV_FLAG_LOCAL_DROP: number;
  META_STRIDE: number;
}

/** Thrown when the addon file is missing or cannot be loaded. */
export class NativeAddonError extends Error {
  override name = 'NativeAddonError';
  readonly code = 'ERR_CTEVENTS_NATIVE_NOT_BUILT';
  constructor(
    /** Where the addon was expected. */
    readonly addonPath: string,
    cause?: unknown,
  ) {
    const reason =
      cause instanceof Error ? `it could not be loaded (${cause.message})` : `${addonPath} does not exist`;
    super(
      `The native netlink addon was not built: ${reason}. Live sockets need it; decoding and ` +
        `\`ctevents read\` work without it. Build it with \`npm rebuild\` or \`node src/native/build.mjs\` ` +
        `(needs a C compiler, make, python3 and the Node headers).`,
      cause === undefined ? undefined : { cause },
    );
  }
}

/** The package root: the nearest ancestor directory of this module with a package.json. */
function packageRoot(): string {
  // import.meta.dirname (Node 20.11+) spares the URL round trip at start-up.
  const start = import.meta.dirname ?? dirname(fileURLToPath(import.meta.url));
  let dir = start;
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return join(start, '..', '..');
}

/** Absolute path where the addon is expected. */
export function nativeAddonPath(): string {
  return join(packageRoot(), 'src', 'native', 'build', 'Release', 'nlsock.node');
}

let binding: NativeBinding | undefined;

/**
 * Loads the addon once and returns it.
 * Throws NativeAddonError if it was not built or does not load.
 */
export function loadNative(): NativeBinding {
  if (binding) return binding;
  const path = nativeAddonPath();
  if (!existsSync(path)) throw new NativeAddonError(path);
  try {
    // What require() does for a .node file, without resolving the path again.
    const m = { exports: {} as unknown };
    process.dlopen(m, path);
    binding = m.exports as NativeBinding;
  } catch (err) {
    throw new NativeAddonError(path, err);
  }
  return binding;
}
