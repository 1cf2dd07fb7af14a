/// <reference types="node" />
/**
 * `ctevents`: the client, the model and the errors. Importing this module never loads the
 * native addon: a live socket is opened (and the addon loaded) only by the client.
 *
 * The rest lives in subpaths: `ctevents/codec` (bytes: decode, encode, request builders,
 * the nfnetlink registry, cttimeout), `ctevents/pcap` (captures), `ctevents/format` (the
 * line formats and their options), `ctevents/constants` (every kernel constant). Here: the
 * constants a client call needs (families, IP protocols, status bits, TCP states).
 */
export {
  ConntrackClient,
  DEFAULT_EVENT_BUFFER,
  type ConntrackOptions,
  type DumpOptions,
  type EntryRecord,
  type EventsOptions,
  type ExpectRecord,
} from './client/client.js';
export {
  Subscription,
  type ConntrackEvent,
  type DatagramBatch,
  type DecodeFailure,
  type EventItem,
  type ExpectEvent,
  type OverrunMarker,
  type SubscriptionOptions,
} from './client/events.js';
export { ClosedError, RequestChannel } from './client/requests.js';
export { TimeoutClient } from './client/timeouts.js';
// The library decodes cttimeout messages with the shared registry (the client loads the
// subsystem only on its first timeout request).
import './cttimeout/subsystem.js';
export { EmptyFilterError, type DeleteCounts, type DeleteFilter, type DeleteManyOptions, type DeleteWhereOptions, type DeleteWhereResult } from './client/evict.js';
export { readConntrackSysctls, writeConntrackSysctls, idleSeconds, type ConntrackSysctls } from './client/sysctls.js';
export type { OverrunItem, ReceivedDatagram, ReceiveItem, Transport, TransportFactory, TransportOptions } from './client/transport.js';
export { RB_FLAGS, RB_GROUPS, RB_LEN, RB_LOCAL_DROP, RB_NSEC, RB_OVERRUN, RB_PID, RB_SEC, RB_STRIDE, RB_TRUNCATED, batchItems, batchTimeNs } from './client/receive-batch.js';
export type { EntryKey, KernelFilter } from './ctnetlink/requests.js';

// The model.
export type * from './ctnetlink/model.js';
export type { CtTimeout, TimeoutMessage, TimeoutPolicy } from './cttimeout/model.js';
export type { RawAttribute } from './netlink/attribute.js';
export type { DonePayload, ErrorPayload, ExtAck, PolicyInfo } from './netlink/control.js';
export type { NlMsgHeader } from './netlink/message.js';
export type { NfGenMsg } from './nfnetlink/header.js';

// Errors.
export { NetlinkDecodeError, NetlinkEncodeError, NetlinkError } from './netlink/errors.js';
export { errnoName, errnoNumber } from './netlink/errno.js';
export { ErrnoError } from './socket/errno.js';
export { NativeAddonError } from './socket/native.js';
export { PcapError } from './pcap/errors.js';

// What client calls take and return.
export * from './ctnetlink/status.js';
export { AF_INET, AF_INET6, AF_UNSPEC } from './nfnetlink/constants.js';
export {
  IPPROTO_DCCP,
  IPPROTO_GRE,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPPROTO_SCTP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPPROTO_UDPLITE,
  IPS_ASSURED,
  IPS_CONFIRMED,
  IPS_DST_NAT,
  IPS_DST_NAT_DONE,
  IPS_DYING,
  IPS_EXPECTED,
  IPS_FIXED_TIMEOUT,
  IPS_HELPER,
  IPS_HW_OFFLOAD,
  IPS_NAMES,
  IPS_NAT_DONE_MASK,
  IPS_NAT_MASK,
  IPS_OFFLOAD,
  IPS_SEEN_REPLY,
  IPS_SEQ_ADJUST,
  IPS_SRC_NAT,
  IPS_SRC_NAT_DONE,
  IPS_TEMPLATE,
  IPS_UNTRACKED,
  TCP_CONNTRACK_CLOSE,
  TCP_CONNTRACK_CLOSE_WAIT,
  TCP_CONNTRACK_ESTABLISHED,
  TCP_CONNTRACK_FIN_WAIT,
  TCP_CONNTRACK_LAST_ACK,
  TCP_CONNTRACK_NONE,
  TCP_CONNTRACK_SYN_RECV,
  TCP_CONNTRACK_SYN_SENT,
  TCP_CONNTRACK_SYN_SENT2,
  TCP_CONNTRACK_TIME_WAIT,
} from './ctnetlink/constants.js';

// The live table mirror, conntrack pressure and the Prometheus exporter (on the client).
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
export * from './guard/index.js';
