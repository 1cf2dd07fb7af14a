/**
 * The nfnetlink codec: splits a datagram into messages, decodes control messages itself
 * (netlink/control-message.ts), reads nlmsghdr + nfgenmsg and hands the attributes to the
 * subsystem registered for the high byte of nlmsg_type; a message of a subsystem or type
 * nobody registered stays raw ('other') and re-encodes to the same bytes.
 *
 *   nlmsghdr (16, host order) | nfgenmsg (4: family, version, res_id BE) | attributes
 *   nlmsghdr (16, host order) | control payload                          (types < 0x10)
 */
import { Builder } from '../netlink/builder.js';
import { HOST_LITTLE_ENDIAN, NLM_F_REQUEST, NLMSG_HDRLEN, NLMSG_MIN_TYPE } from '../netlink/constants.js';
import {
  type ControlMessage,
  type OtherMessage,
  checkControlRequest,
  controlTypeName,
  decodeControl,
  encodeControlPayload,
  otherMessage,
} from '../netlink/control-message.js';
import { NetlinkDecodeError, NetlinkEncodeError, rethrowIn } from '../netlink/errors.js';
import { type NlMsgHeader, messageLen, nextMessage, readHeader } from '../netlink/message.js';
import { Reader } from '../netlink/reader.js';
import { NFGENMSG_LEN, msgTypeOf, putNfgenmsg, readNfgenmsg, subsysOf } from './header.js';
import { type NfnlMessageBase, type NfnlRegistry, nfnlSubsystems } from './registry.js';

/** What the nfnetlink codec produces with a registry of subsystems decoding to M. */
export type NfnlMessage<M extends NfnlMessageBase = NfnlMessageBase> = M | ControlMessage | OtherMessage;

/** Kernel name of a message type: "IPCTNL_MSG_CT_NEW", "NLMSG_DONE", or "0x0a01". */
export function nfnlTypeName(type: number, registry: NfnlRegistry<any> = nfnlSubsystems): string {
  if (type < NLMSG_MIN_TYPE) return controlTypeName(type);
  const name = registry.get(subsysOf(type))?.typeName(msgTypeOf(type));
  return name ?? `0x${type.toString(16).padStart(4, '0')}`;
}

function decodeBody<M extends NfnlMessageBase>(registry: NfnlRegistry<M>, r: Reader, header: NlMsgHeader, p: number, end: number): NfnlMessage<M> {
  if (header.type < NLMSG_MIN_TYPE) return decodeControl(r, header, p, end);
  const sub = registry.get(subsysOf(header.type));
  if (sub === undefined || !sub.knows(msgTypeOf(header.type))) return otherMessage(r, header, p, end);
  const nfgen = readNfgenmsg(r, p, end);
  return sub.decode(r, header, nfgen, p + NFGENMSG_LEN, end);
}

/** Decode the message at `off` (already length-checked to `len` bytes). */
export function decodeNfnlMessageAt<M extends NfnlMessageBase>(registry: NfnlRegistry<M>, r: Reader, off: number, len: number): NfnlMessage<M> {
  const header = readHeader(r, off);
  try {
    return decodeBody(registry, r, header, off + NLMSG_HDRLEN, off + len);
  } catch (e) {
    return rethrowIn(nfnlTypeName(header.type, registry), e, off);
  }
}

/** Decode every message of one datagram. `le`: byte order of its headers. */
export function decodeNfnlDatagram<M extends NfnlMessageBase = NfnlMessageBase>(
  bytes: Uint8Array,
  le: boolean = HOST_LITTLE_ENDIAN,
  registry: NfnlRegistry<M> = nfnlSubsystems as unknown as NfnlRegistry<M>,
): NfnlMessage<M>[] {
  const r = new Reader(bytes, le);
  const out: NfnlMessage<M>[] = [];
  const end = bytes.length;
  for (let off = 0; off < end; ) {
    const len = messageLen(r, off, end);
    out.push(decodeNfnlMessageAt(registry, r, off, len));
    off = nextMessage(off, len, end);
  }
  return out;
}

/**
 * Check a request before a byte of it is written: the subsystem that encodes its kind
 * checks it (NfnlSubsystem.checkRequest); control and raw messages, or a value that is no
 * message at all, get the netlink layer's checks (checkControlRequest).
 */
function checkRequest<M extends NfnlMessageBase>(registry: NfnlRegistry<M>, m: unknown): void {
  const kind = (m as { kind?: unknown } | null | undefined)?.kind;
  const sub = typeof kind === 'string' ? registry.forKind(kind) : undefined;
  if (sub?.checkRequest) sub.checkRequest(m);
  else checkControlRequest(m);
}

/** Append one message to the builder. Requests (NLM_F_REQUEST) are checked first. */
export function encodeNfnlMessageInto<M extends NfnlMessageBase>(registry: NfnlRegistry<M>, b: Builder, m: NfnlMessage<M>): void {
  const h = (m as NfnlMessage<M> | undefined)?.header;
  if (typeof h?.flags !== 'number' || (h.flags & NLM_F_REQUEST) !== 0) checkRequest(registry, m);
  b.beginMessage(h!.type, h!.flags, h!.seq, h!.pid);
  switch (m.kind) {
    case 'error':
    case 'done':
    case 'noop':
    case 'overrun':
    case 'other':
      encodeControlPayload(b, m as ControlMessage | OtherMessage);
      break;
    default: {
      const sm = m as M;
      const sub = registry.forKind(sm.kind);
      if (sub === undefined) throw new NetlinkEncodeError(`no registered nfnetlink subsystem encodes messages of kind '${sm.kind}'`);
      putNfgenmsg(b, sm.nfgen.family, sm.nfgen.version, sm.nfgen.resId);
      sub.encode(b, sm);
    }
  }
  // An opaque payload keeps its exact length (nlmsg_len may be unaligned).
  b.endMessage(m.kind === 'other');
}

/** Encode messages into one datagram. */
export function encodeNfnlMessages<M extends NfnlMessageBase = NfnlMessageBase>(
  ms: readonly NfnlMessage<M>[],
  le: boolean = HOST_LITTLE_ENDIAN,
  registry: NfnlRegistry<M> = nfnlSubsystems as unknown as NfnlRegistry<M>,
): Uint8Array {
  const b = new Builder(512, le);
  for (const m of ms) encodeNfnlMessageInto(registry, b, m);
  return b.finish();
}

export { NetlinkDecodeError };
