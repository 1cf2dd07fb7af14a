/**
 * The transport seam: whole datagrams in and out. The live NetlinkSocket implements it;
 * tests and offline tools can implement it over recorded captures, so the client's
 * framing and matching code runs unchanged on real kernel bytes.
 */
import type { ReceiveItem } from '../socket/netlink-socket.js';

export type { ReceiveItem, ReceivedDatagram } from '../socket/netlink-socket.js';

export interface Transport {
  /** Our port id (nlmsg_pid of replies addressed to us). */
  readonly portid: number;
  /** Send one datagram to the kernel. */
  send(datagram: Uint8Array): void;
  /** Start delivering received items, in order, in batches. */
  onReceive(cb: (items: ReceiveItem[]) => void, onError: (err: Error) => void): void;
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
  /** Read one batch ahead of the consumer on another thread (dumps: see client.ts). */
  readAhead?: boolean;
  /** Drain the socket on a receive thread into a buffer of at most this many bytes (subscriptions). */
  receiveThread?: number;
}

/** Opens a transport; the client calls it for its request socket, each dump and each subscription. */
export type TransportFactory = (opts: TransportOptions) => Transport;
