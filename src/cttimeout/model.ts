/**
 * The decoded cttimeout model: one timeout policy (a named object, or the default policy
 * of a protocol) and the messages that carry it.
 */
import type { RawAttribute } from '../netlink/attribute.js';
import type { NlMsgHeader } from '../netlink/message.js';
import type { NfGenMsg } from '../nfnetlink/header.js';

/**
 * Timeouts in seconds by state, keyed by the kernel's state name lowercased
 * (CTA_TIMEOUT_TCP_SYN_SENT -> 'syn_sent', CTA_TIMEOUT_UDP_REPLIED -> 'replied',
 * CTA_TIMEOUT_ICMP_TIMEOUT -> 'timeout'); see POLICY_STATES in policy.ts. Keys keep the
 * order the attributes came in, and are encoded in that order.
 */
export type TimeoutPolicy = Record<string, number>;

/** The attributes of a cttimeout message (enum ctattr_timeout). */
export interface CtTimeout {
  /** CTA_TIMEOUT_NAME (named policies; absent for the defaults). */
  name?: string;
  /** CTA_TIMEOUT_L3PROTO: 2 AF_INET, 10 AF_INET6. */
  l3proto?: number;
  /** CTA_TIMEOUT_L4PROTO: 6 TCP, 17 UDP, ... 255 generic. */
  l4proto?: number;
  /** CTA_TIMEOUT_USE: references held on the policy (replies). */
  use?: number;
  /** CTA_TIMEOUT_DATA, decoded with the state names of l4proto. */
  policy?: TimeoutPolicy;
  /** CTA_TIMEOUT_DATA attributes that have no name for l4proto (kept, re-encoded as they came). */
  policyUnknown?: RawAttribute[];
  unknown?: RawAttribute[];
  /** Top-level attribute types in the order they came, when it differs from the kernel's. */
  attrOrder?: number[];
}

/**
 * Every cttimeout message: NEW / DELETE / GET requests, GET replies and dumps (sent as
 * IPCTNL_MSG_TIMEOUT_NEW), DEFAULT_SET and DEFAULT_GET requests and the DEFAULT_GET reply
 * (which the kernel sends with type IPCTNL_MSG_TIMEOUT_DEFAULT_SET).
 */
export interface TimeoutMessage {
  kind: 'timeout';
  header: NlMsgHeader;
  nfgen: NfGenMsg;
  timeout: CtTimeout;
}
