/**
 * The client's request channel: the generic netlink request/ACK/dump plumbing
 * (netlink/request-channel.ts) with the ctnetlink message model.
 *
 * Every non-dump request is sent with NLM_F_ACK and completes on its NLMSG_ERROR: error 0
 * resolves with the replies that came before it (a GET's entry, a stats reply), a negative
 * errno rejects with NetlinkError carrying the extended-ACK text. Dumps stream until
 * NLMSG_DONE, pausing the transport when the consumer falls behind.
 */
import { NetlinkDecodeError } from '../netlink/errors.js';
import { ClosedError, NetlinkRequestChannel } from '../netlink/request-channel.js';
import { decodeMessageAt, encodeMessage } from '../ctnetlink/message.js';
import type { Message } from '../ctnetlink/model.js';
import type { Transport } from './transport.js';

const CTNETLINK_CODEC = { decodeAt: decodeMessageAt, encode: (m: Message) => encodeMessage(m) };

export class RequestChannel extends NetlinkRequestChannel<Message> {
  override readonly transport: Transport;

  constructor(transport: Transport) {
    super(transport, CTNETLINK_CODEC);
    this.transport = transport;
  }
}

export { ClosedError, NetlinkDecodeError };
