/**
 * Whole messages: netlink control messages and every ctnetlink / ctnetlink_exp message,
 * decoded into the `Message` union of model.ts and encoded back, through the nfnetlink
 * codec (nfnetlink/codec.ts) with the ctnetlink subsystems (subsystem.ts) registered.
 *
 *   nlmsghdr (16, host order) | nfgenmsg (4) | attributes ...      (nfnetlink messages)
 *   nlmsghdr (16, host order) | control payload                   (types < 0x10)
 *
 * Messages of other subsystems come out as kind 'other' (raw, re-encoded byte for byte);
 * decodeNfnlDatagram (nfnetlink/codec.ts) decodes every registered subsystem, cttimeout
 * included.
 */
import { Builder } from '../netlink/builder.js';
import { HOST_LITTLE_ENDIAN } from '../netlink/constants.js';
import { NetlinkDecodeError } from '../netlink/errors.js';
import { messageLen, nextMessage } from '../netlink/message.js';
import { Reader } from '../netlink/reader.js';
import {
  decodeNfnlMessageAt,
  encodeNfnlMessageInto,
  nfnlTypeName,
} from '../nfnetlink/codec.js';
import type { Message } from './model.js';
import { CTNETLINK_REGISTRY } from './subsystem.js';

/** Kernel name of a message type: "IPCTNL_MSG_CT_NEW", "NLMSG_DONE", or "0x0a01". */
export function messageTypeName(type: number): string {
  return nfnlTypeName(type, CTNETLINK_REGISTRY);
}

/**
 * Decode the message at `off` (already length-checked to `len` bytes).
 * Throws NetlinkDecodeError whose path starts with the message type name.
 */
export function decodeMessageAt(r: Reader, off: number, len: number): Message {
  return decodeNfnlMessageAt(CTNETLINK_REGISTRY, r, off, len);
}

/** Decode every message of one netlink datagram. `le`: byte order of its headers. */
export function decodeDatagram(bytes: Uint8Array, le: boolean = HOST_LITTLE_ENDIAN): Message[] {
  // decodeNfnlDatagram's loop, written here so that the hot path has one frame less.
  const r = new Reader(bytes, le);
  const out: Message[] = [];
  const end = bytes.length;
  for (let off = 0; off < end; ) {
    const len = messageLen(r, off, end);
    out.push(decodeNfnlMessageAt(CTNETLINK_REGISTRY, r, off, len));
    off = nextMessage(off, len, end);
  }
  return out;
}

/** Decode a datagram that must hold exactly one message. */
export function decodeMessage(bytes: Uint8Array, le: boolean = HOST_LITTLE_ENDIAN): Message {
  const ms = decodeDatagram(bytes, le);
  if (ms.length !== 1) throw new NetlinkDecodeError(`expected one message, found ${ms.length}`, 0);
  return ms[0]!;
}

/** Append one message to the builder. */
export function encodeMessageInto(b: Builder, m: Message): void {
  // Requests are checked field by field before a byte is written (fields.ts, through the
  // subsystem's checkRequest: see encodeNfnlMessageInto).
  encodeNfnlMessageInto(CTNETLINK_REGISTRY, b, m);
}

/** Encode messages into one datagram. */
export function encodeMessages(ms: readonly Message[], le: boolean = HOST_LITTLE_ENDIAN): Uint8Array {
  const b = new Builder(512, le);
  for (const m of ms) encodeMessageInto(b, m);
  return b.finish();
}

export function encodeMessage(m: Message, le: boolean = HOST_LITTLE_ENDIAN): Uint8Array {
  return encodeMessages([m], le);
}
