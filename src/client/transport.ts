/**
 * The transport seam: whole datagrams in and out, and the types that cross it (owned
 * here; socket/netlink-socket.ts implements them). The live NetlinkSocket implements it;
 * tests and offline tools can implement it over recorded captures, so the client's
 * framing and matching code runs unchanged on real kernel bytes.
 */
/**
 * One received datagram (the live NetlinkSocket produces these). `data` is a view into
 * the batch's buffer (borrowed, not copied).
 */
export interface ReceivedDatagram {
  data: Uint8Array;
  /** Sender port id; 0 for the kernel. */
  pid: number;
  /** Multicast group mask the datagram was sent to (bit g-1 for group g); 0 for unicast. */
  groups: number;
  /** The datagram was longer than `data` (MSG_TRUNC); the rest is lost. */
  truncated: boolean;
  /** Receive time, ns since the epoch (CLOCK_REALTIME right after recvmsg). */
  timestampNs?: bigint;
}

/**
 * Where messages were lost: `kernel` (ENOBUFS: the socket's receive queue overflowed;
 * the kernel's own count is SO_MEMINFO's drops) or `buffer` (the receive thread's buffer
 * was full: `lost` messages were read and discarded).
 */
export interface OverrunItem {
  overrun: true;
  source?: 'kernel' | 'buffer';
  /** For `buffer`: netlink messages discarded at this point. */
  lost?: number;
  timestampNs?: bigint;
}

/** A received datagram, or the point where messages were dropped. */
export type ReceiveItem = ReceivedDatagram | OverrunItem;

export interface Transport {
  /** Our port id (nlmsg_pid of replies addressed to us). */
  readonly portid: number;
  /** Send one datagram to the kernel. */
  send(datagram: Uint8Array): void;
  /** Start delivering received items, in order, in batches. */
  onReceive(cb: (items: ReceiveItem[]) => void, onError: (err: Error) => void): void;
  /**
   * Instead of onReceive: each drain of the socket as one buffer and its rows, undecoded
   * (layout in receive-batch.ts), when the transport can. Not both on one transport.
   */
  onReceiveBatch?(cb: (data: Uint8Array, meta: Uint32Array) => void, onError: (err: Error) => void): void;
  /** Stop reading (the kernel's queue holds what arrives meanwhile). */
  pause(): void;
  resume(): void;
  close(): void;
  /** Messages the kernel dropped for this transport so far, when it can tell. */
  drops?(): number;
  /** Messages the transport's own receive buffer discarded so far (full backlog), when it has one. */
  localDrops?(): number;
  /** True once the network namespace it was opened in was deleted, when it can tell. */
  namespaceGone?(): boolean;
  /**
   * False when namespaceGone() has nothing to watch (opened in the caller's own namespace):
   * then nobody polls it (an idle listener wakes for nothing). Undefined: watch.
   */
  readonly watchesNamespace?: boolean;
  /**
   * The program behind requester port id `portid`, named when the datagram arrived
   * (TransportOptions.programNames): a name, null (none found), undefined (not known).
   */
  programName?(portid: number, waitMs?: number): string | null | undefined;
  /** Let the process exit while this transport is open. */
  unref?(): void;
  /** Keep the process alive while this transport is open (the default). */
  ref?(): void;
}

export interface TransportOptions {
  /** nfnetlink multicast groups to join. */
  groups?: number[];
  receiveBufferSize?: number;
  /** Bytes handed over per wake-up, at most (dumps use a small bound: see client.ts). */
  batchBytes?: number;
  /** Read ahead of the consumer on another thread, losing nothing (dumps: see client.ts). */
  readAhead?: boolean;
  /** Drain the socket on a receive thread into a buffer of at most this many bytes (subscriptions). */
  receiveThread?: number;
  /** With receiveThread: the longest a steady stream waits there before JS is woken, ms (default 40). */
  maxDelayMs?: number;
  /** Name each event's requester (nlmsg_pid) as its datagram arrives (see programName). */
  programNames?: boolean;
}

/** Opens a transport; the client calls it for its request socket, each dump and each subscription. */
export type TransportFactory = (opts: TransportOptions) => Transport;
