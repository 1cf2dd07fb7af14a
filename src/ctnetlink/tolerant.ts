/**
 * Decoding a netlink datagram that may hold a bad message: every good message is decoded,
 * and each bad one becomes a {@link MalformedMessage} in its place, instead of one error
 * losing the whole datagram (a dump reply can carry hundreds of entries).
 *
 *   datagram: [msg 0 ok][msg 1: bad attribute][msg 2 ok]...  ->  [Message, MalformedMessage, Message, ...]
 *
 * A message whose own header is unusable (nlmsg_len below 16 or past the end) loses the
 * framing of the rest of the datagram: it ends the list as the last MalformedMessage.
 * The fast path is decodeDatagram itself; the per-message walk runs only after it failed.
 */
import { HOST_LITTLE_ENDIAN } from '../netlink/constants.js';
import { NetlinkDecodeError } from '../netlink/errors.js';
import { messageLen, nextMessage } from '../netlink/message.js';
import { Reader } from '../netlink/reader.js';
import { decodeDatagram, decodeMessageAt } from './message.js';
import type { Message } from './model.js';

/** A message of a datagram that could not be decoded. */
export interface MalformedMessage {
  kind: 'malformed';
  /** Byte offset of the message in the datagram. */
  offset: number;
  /** Why (its own offset is from the start of the datagram too). */
  error: NetlinkDecodeError;
  /** The rest of the datagram could not be framed either. */
  rest: boolean;
}

/** decodeDatagram that decodes every good message and reports each bad one in its place. */
export function decodeDatagramItems(bytes: Uint8Array, le: boolean = HOST_LITTLE_ENDIAN): (Message | MalformedMessage)[] {
  try {
    return decodeDatagram(bytes, le);
  } catch (e) {
    if (!(e instanceof NetlinkDecodeError)) throw e;
  }
  const r = new Reader(bytes, le);
  const out: (Message | MalformedMessage)[] = [];
  const end = bytes.length;
  for (let off = 0; off < end; ) {
    let len: number;
    try {
      len = messageLen(r, off, end);
    } catch (e) {
      if (!(e instanceof NetlinkDecodeError)) throw e;
      out.push({ kind: 'malformed', offset: off, error: e, rest: true });
      break;
    }
    try {
      out.push(decodeMessageAt(r, off, len));
    } catch (e) {
      if (!(e instanceof NetlinkDecodeError)) throw e;
      out.push({ kind: 'malformed', offset: off, error: e, rest: false });
    }
    off = nextMessage(off, len, end);
  }
  return out;
}
