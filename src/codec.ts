/// <reference types="node" />
/**
 * `ctevents/codec`: the byte-level codec, with no socket and no addon.
 *
 * - netlink: Reader / Builder, the attribute and message framing, control messages (ACK,
 *   error with extended ACK, DONE), decode/encode errors, errno names;
 * - nfnetlink: the subsystem registry and the codec that dispatches to it
 *   (decodeNfnlDatagram decodes every registered subsystem; others stay raw);
 * - ctnetlink: decodeDatagram / encodeMessage (the ctnetlink view) and request builders;
 * - cttimeout: timeout policies (registered by importing this module).
 */
export { NetlinkDecodeError, NetlinkEncodeError, NetlinkError } from './netlink/errors.js';
export { errnoName, errnoNumber } from './netlink/errno.js';
export { type RawAttribute, keepUnknown, putUnknown } from './netlink/attribute.js';
export {
  type DonePayload,
  type ErrorPayload,
  type ExtAck,
  type PolicyInfo,
  decodeDonePayload,
  decodeErrorPayload,
  decodeExtAck,
  encodeDonePayload,
  encodeErrorPayload,
  encodeExtAck,
} from './netlink/control.js';
export {
  type ControlMessage,
  type DoneMessage,
  type ErrorMessage,
  type NoopMessage,
  type OtherMessage,
  type OverrunMessage,
  controlTypeName,
  decodeControl,
} from './netlink/control-message.js';
export { type MessageSpan, type NlMsgHeader, messageLen, nextMessage, readHeader, splitMessages } from './netlink/message.js';
export { Builder } from './netlink/builder.js';
export {
  Reader,
  attrLen,
  attrRawType,
  attrType,
  getBytes,
  getStringz,
  getU16be,
  getU32be,
  getU32host,
  getU64be,
  getU8,
  nextAttr,
} from './netlink/reader.js';
export {
  type ChannelItem,
  type DatagramPort,
  type MessageCodec,
  ClosedError,
  NetlinkRequestChannel,
} from './netlink/request-channel.js';
export { NFGENMSG_LEN, type NfGenMsg, msgTypeOf, nfType, readNfgenmsg, subsysOf } from './nfnetlink/header.js';
export { type NfnlMessageBase, type NfnlSubsystem, NfnlRegistry, nfnlSubsystems } from './nfnetlink/registry.js';
export {
  type NfnlMessage,
  decodeNfnlDatagram,
  decodeNfnlMessageAt,
  encodeNfnlMessageInto,
  encodeNfnlMessages,
  nfnlTypeName,
} from './nfnetlink/codec.js';
export type * from './ctnetlink/model.js';
export {
  decodeDatagram,
  decodeMessage,
  decodeMessageAt,
  encodeMessage,
  encodeMessageInto,
  encodeMessages,
  messageTypeName,
} from './ctnetlink/message.js';
export { CTNETLINK, CTNETLINK_EXP, CTNETLINK_REGISTRY } from './ctnetlink/subsystem.js';
export * from './ctnetlink/requests.js';
export * from './ctnetlink/status.js';
export { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from './ctnetlink/address.js';
export { labelBitmap, labelNumbers } from './ctnetlink/labels.js';
export { CompactEntry, decodeCompactDatagram } from './ctnetlink/compact.js';
export type { CtTimeout, TimeoutMessage, TimeoutPolicy } from './cttimeout/model.js';
export { decodePolicy, encodePolicy, policyAttrName, policyStates } from './cttimeout/policy.js';
export { decodeTimeout, encodeTimeout } from './cttimeout/timeout.js';
export { CTTIMEOUT, CTTIMEOUT_REGISTRY } from './cttimeout/subsystem.js';
export * from './cttimeout/requests.js';
