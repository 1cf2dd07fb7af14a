/**
 * Public API. Importing this module never loads the native addon: the codec and the pcap
 * reader work everywhere; a live socket is opened (and the addon loaded) only by the client.
 */
export * from './netlink/constants.js';
export { NetlinkDecodeError, NetlinkEncodeError, NetlinkError } from './netlink/errors.js';
export { errnoName, errnoNumber } from './netlink/errno.js';
export type { RawAttribute } from './netlink/attribute.js';
export type { ErrorPayload, DonePayload, ExtAck, PolicyInfo } from './netlink/control.js';
export type { NlMsgHeader } from './netlink/message.js';
export { Builder } from './netlink/builder.js';
export { Reader } from './netlink/reader.js';
export * from './nfnetlink/constants.js';
export { type NfGenMsg, nfType, subsysOf, msgTypeOf } from './nfnetlink/header.js';
export * from './ctnetlink/constants.js';
export type * from './ctnetlink/model.js';
export {
  decodeDatagram,
  decodeMessage,
  encodeMessage,
  encodeMessages,
  messageTypeName,
} from './ctnetlink/message.js';
export * from './ctnetlink/requests.js';
export * from './ctnetlink/status.js';
export { labelBitmap, labelNumbers } from './ctnetlink/labels.js';
export { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from './ctnetlink/address.js';
export * from './client/index.js';
export { ErrnoError } from './socket/errno.js';
export { NativeAddonError } from './socket/native.js';
export * from './pcap/index.js';
export * from './table/index.js';
export * from './pressure/index.js';
export {
  ExpositionWriter,
  ExpositionError,
  MetricsServer,
  renderMetrics,
  TableSource,
  type MetricsSource,
  type MetricsServerOptions,
} from './metrics/index.js';
