/**
 * Request builders for cttimeout: the messages nfct sends, as models (encode them with
 * encodeNfnlMessages, or send them through a client). The client adds NLM_F_ACK, the
 * sequence number, and NLM_F_DUMP for dumps.
 *
 *   timeoutNewRequest           IPCTNL_MSG_TIMEOUT_NEW, NLM_F_CREATE (| NLM_F_EXCL)
 *   timeoutGetRequest           IPCTNL_MSG_TIMEOUT_GET with a name (without: a dump)
 *   timeoutDeleteRequest        IPCTNL_MSG_TIMEOUT_DELETE (without a name: every unused policy)
 *   timeoutDefaultSetRequest    IPCTNL_MSG_TIMEOUT_DEFAULT_SET: the netns's default timeouts
 *   timeoutDefaultGetRequest    IPCTNL_MSG_TIMEOUT_DEFAULT_GET
 */
import { NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST } from '../netlink/constants.js';
import { NetlinkEncodeError } from '../netlink/errors.js';
import { NFNL_SUBSYS_CTNETLINK_TIMEOUT, NFNETLINK_V0 } from '../nfnetlink/constants.js';
import { nfType } from '../nfnetlink/header.js';
import * as C from './constants.js';
import type { CtTimeout, TimeoutMessage, TimeoutPolicy } from './model.js';

/** The protocol a policy is for: family (AF_INET / AF_INET6) and IP protocol (255: generic). */
export interface TimeoutProto {
  l3proto: number;
  l4proto: number;
}

function message(msg: number, flags: number, timeout: CtTimeout): TimeoutMessage {
  return {
    kind: 'timeout',
    header: { type: nfType(NFNL_SUBSYS_CTNETLINK_TIMEOUT, msg), flags: NLM_F_REQUEST | flags, seq: 0, pid: 0 },
    nfgen: { family: 0, version: NFNETLINK_V0, resId: 0 },
    timeout,
  };
}

function needProto(p: Partial<TimeoutProto>, what: string): void {
  if (p.l3proto === undefined || p.l4proto === undefined) {
    throw new NetlinkEncodeError(`${what} needs l3proto and l4proto`);
  }
}

function needName(name: string | undefined, what: string): void {
  if (typeof name !== 'string' || name.length === 0) throw new NetlinkEncodeError(`${what} needs a policy name`);
}

/** Create (or, without `exclusive`, update) a named policy. */
export function timeoutNewRequest(p: TimeoutProto & { name: string; policy: TimeoutPolicy; exclusive?: boolean }): TimeoutMessage {
  needName(p.name, 'timeoutNewRequest');
  needProto(p, 'timeoutNewRequest');
  return message(C.IPCTNL_MSG_TIMEOUT_NEW, NLM_F_CREATE | (p.exclusive ? NLM_F_EXCL : 0), {
    name: p.name,
    l3proto: p.l3proto,
    l4proto: p.l4proto,
    policy: p.policy,
  });
}

/** Get one named policy; without a name, the request of a dump of all of them. */
export function timeoutGetRequest(name?: string): TimeoutMessage {
  return message(C.IPCTNL_MSG_TIMEOUT_GET, 0, name === undefined ? {} : { name });
}

/** Delete a named policy (EBUSY while in use); without a name, every unused policy. */
export function timeoutDeleteRequest(name?: string): TimeoutMessage {
  return message(C.IPCTNL_MSG_TIMEOUT_DELETE, 0, name === undefined ? {} : { name });
}

/** Change the network namespace's default timeouts of a protocol (the states given only). */
export function timeoutDefaultSetRequest(p: TimeoutProto & { policy: TimeoutPolicy }): TimeoutMessage {
  needProto(p, 'timeoutDefaultSetRequest');
  return message(C.IPCTNL_MSG_TIMEOUT_DEFAULT_SET, 0, { l3proto: p.l3proto, l4proto: p.l4proto, policy: p.policy });
}

/** Read the network namespace's default timeouts of a protocol. */
export function timeoutDefaultGetRequest(p: TimeoutProto): TimeoutMessage {
  needProto(p, 'timeoutDefaultGetRequest');
  return message(C.IPCTNL_MSG_TIMEOUT_DEFAULT_GET, 0, { l3proto: p.l3proto, l4proto: p.l4proto });
}
