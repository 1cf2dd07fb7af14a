/**
 * nfnetlink framing: the nlmsg_type split and struct nfgenmsg.
 *
 *   nlmsg_type = (subsystem << 8) | message type
 *
 *   struct nfgenmsg (4 bytes, right after nlmsghdr)
 *   +----------------+-----------------+------------------------+
 *   | nfgen_family u8| version u8      | res_id u16 BIG-ENDIAN  |
 *   +----------------+-----------------+------------------------+
 *   res_id is the CPU number in per-CPU stats replies and 0 elsewhere in ctnetlink.
 */
import type { Builder } from '../netlink/builder.js';
import { NetlinkDecodeError } from '../netlink/errors.js';
import type { Reader } from '../netlink/reader.js';

export const NFGENMSG_LEN = 4;

export interface NfGenMsg {
  family: number;
  version: number;
  resId: number;
}

export function subsysOf(type: number): number {
  return (type & 0xff00) >> 8;
}

export function msgTypeOf(type: number): number {
  return type & 0x00ff;
}

export function nfType(subsys: number, msg: number): number {
  return ((subsys & 0xff) << 8) | (msg & 0xff);
}

/** Read nfgenmsg at `off`; `end` bounds the message. */
export function readNfgenmsg(r: Reader, off: number, end: number): NfGenMsg {
  if (end - off < NFGENMSG_LEN) {
    throw new NetlinkDecodeError(`${end - off} payload bytes, too short for struct nfgenmsg (4)`, off, ['nfgenmsg']);
  }
  return { family: r.bytes[off]!, version: r.bytes[off + 1]!, resId: r.view.getUint16(off + 2, false) };
}

/** Append struct nfgenmsg (family, version, res_id big-endian) to the message being built. */
export function putNfgenmsg(b: Builder, family: number, version: number, resId: number): void {
  b.putStruct([family & 0xff, version & 0xff, (resId >> 8) & 0xff, resId & 0xff]);
}
