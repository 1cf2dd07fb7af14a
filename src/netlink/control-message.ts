/**
 * Netlink control messages as whole messages (types below NLMSG_MIN_TYPE = 0x10), owned
 * by the netlink layer so that no subsystem has to know them:
 *
 *   NLMSG_NOOP    (1)  empty payload
 *   NLMSG_ERROR   (2)  struct nlmsgerr + ext-ack TLVs: an ACK when error is 0 (control.ts)
 *   NLMSG_DONE    (3)  s32 status + ext-ack TLVs: the end of a dump (control.ts)
 *   NLMSG_OVERRUN (4)  empty payload
 *
 * Anything a decoder does not understand (a control type with an unexpected payload, a
 * subsystem nobody registered) is an OtherMessage: its payload bytes are kept and written
 * back unchanged, nlmsg_len included (it may be unaligned).
 */
import type { Builder } from './builder.js';
import { checkBytes, checkObject, checkU16, checkU32 } from './check.js';
import { NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN } from './constants.js';
import {
  type DonePayload,
  type ErrorPayload,
  decodeDonePayload,
  decodeErrorPayload,
  encodeDonePayload,
  encodeErrorPayload,
} from './control.js';
import type { NlMsgHeader } from './message.js';
import { type Reader, getBytes } from './reader.js';

export type ErrorMessage = { header: NlMsgHeader; kind: 'error'; error: ErrorPayload };
export type DoneMessage = { header: NlMsgHeader; kind: 'done'; done: DonePayload };
export type NoopMessage = { header: NlMsgHeader; kind: 'noop' };
export type OverrunMessage = { header: NlMsgHeader; kind: 'overrun' };
/** Anything else (other subsystems, unknown types): kept as raw payload bytes. */
export type OtherMessage = { header: NlMsgHeader; kind: 'other'; payload: Uint8Array };

export type ControlMessage = ErrorMessage | DoneMessage | NoopMessage | OverrunMessage;

const CONTROL_NAMES = ['NLMSG_0', 'NLMSG_NOOP', 'NLMSG_ERROR', 'NLMSG_DONE', 'NLMSG_OVERRUN'];

/** Kernel name of a control message type ("NLMSG_DONE"), or "NLMSG_<n>". */
export function controlTypeName(type: number): string {
  return CONTROL_NAMES[type] ?? `NLMSG_${type}`;
}

/** The payload [p, end) kept as it is. */
export function otherMessage(r: Reader, header: NlMsgHeader, p: number, end: number): OtherMessage {
  return { kind: 'other', header, payload: getBytes(r, p, end - p) };
}

/** Decode a control message whose payload is [p, end); header.type < NLMSG_MIN_TYPE. */
export function decodeControl(r: Reader, header: NlMsgHeader, p: number, end: number): ControlMessage | OtherMessage {
  switch (header.type) {
    case NLMSG_ERROR: return { kind: 'error', header, error: decodeErrorPayload(r, header.flags, p, end) };
    case NLMSG_DONE: return { kind: 'done', header, done: decodeDonePayload(r, header.flags, p, end) };
    case NLMSG_NOOP: if (p === end) return { kind: 'noop', header }; break;
    case NLMSG_OVERRUN: if (p === end) return { kind: 'overrun', header }; break;
  }
  return otherMessage(r, header, p, end);
}

/** Write the payload of a control or opaque message (the nlmsghdr is the caller's). */
export function encodeControlPayload(b: Builder, m: ControlMessage | OtherMessage): void {
  switch (m.kind) {
    case 'error': encodeErrorPayload(b, m.error); break;
    case 'done': encodeDonePayload(b, m.done); break;
    case 'noop':
    case 'overrun': break;
    case 'other': b.putRaw(m.payload); break;
  }
}

const NLMSGHDR = ['nlmsghdr'];

/**
 * The wire checks of a request that no subsystem checks (control and raw messages): it
 * is an object, its nlmsghdr fields fit (type u16, flags u16, seq u32, pid u32), and a raw
 * payload is bytes. Throws NetlinkEncodeError (netlink/check.ts).
 */
export function checkControlRequest(m: unknown): void {
  checkRequestHeader(m);
  if (m.kind === 'other') checkBytes(m.payload, 'payload');
}

/**
 * The part every subsystem's request check shares: the message is an object and its
 * nlmsghdr fields fit (type u16, flags u16, seq u32, pid u32).
 */
export function checkRequestHeader(m: unknown): asserts m is Record<string, unknown> & { header: Record<string, unknown> } {
  checkObject(m, 'message');
  const h = m.header;
  checkObject(h, 'header', NLMSGHDR);
  checkU16(h.type, 'header.type', NLMSGHDR, 'nlmsg_type');
  checkU16(h.flags, 'header.flags', NLMSGHDR, 'nlmsg_flags');
  checkU32(h.seq, 'header.seq', NLMSGHDR, 'nlmsg_seq');
  checkU32(h.pid, 'header.pid', NLMSGHDR, 'nlmsg_pid');
}
