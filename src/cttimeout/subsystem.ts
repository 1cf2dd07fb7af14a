/**
 * cttimeout (NFNL_SUBSYS_CTNETLINK_TIMEOUT = 8) as an nfnetlink subsystem: every message
 * type decodes to kind 'timeout' (model.ts). Registers itself in the shared registry
 * (nfnetlink/registry.ts) when imported.
 */
import type { Builder } from '../netlink/builder.js';
import type { NlMsgHeader } from '../netlink/message.js';
import type { Reader } from '../netlink/reader.js';
import { NFNL_SUBSYS_CTNETLINK_TIMEOUT } from '../nfnetlink/constants.js';
import type { NfGenMsg } from '../nfnetlink/header.js';
import { type NfnlSubsystem, NfnlRegistry, nfnlSubsystems } from '../nfnetlink/registry.js';
import { checkTimeoutRequest } from './check.js';
import { IPCTNL_MSG_TIMEOUT_MAX } from './constants.js';
import type { TimeoutMessage } from './model.js';
import { decodeTimeout, encodeTimeout } from './timeout.js';

const NAMES = ['IPCTNL_MSG_TIMEOUT_NEW', 'IPCTNL_MSG_TIMEOUT_GET', 'IPCTNL_MSG_TIMEOUT_DELETE',
  'IPCTNL_MSG_TIMEOUT_DEFAULT_SET', 'IPCTNL_MSG_TIMEOUT_DEFAULT_GET'];

export const CTTIMEOUT: NfnlSubsystem<TimeoutMessage> = {
  id: NFNL_SUBSYS_CTNETLINK_TIMEOUT,
  name: 'cttimeout',
  kinds: ['timeout'],
  knows: (msg) => msg < IPCTNL_MSG_TIMEOUT_MAX,
  typeName: (msg) => NAMES[msg],
  decode: (r: Reader, header: NlMsgHeader, nfgen: NfGenMsg, start: number, end: number): TimeoutMessage => ({
    kind: 'timeout',
    header,
    nfgen,
    timeout: decodeTimeout(r, start, end),
  }),
  encode: (b: Builder, m: TimeoutMessage) => encodeTimeout(b, m.timeout),
  checkRequest: checkTimeoutRequest,
};

/** A registry holding cttimeout alone (what the timeout client decodes with). */
export const CTTIMEOUT_REGISTRY = new NfnlRegistry<TimeoutMessage>().register(CTTIMEOUT);

nfnlSubsystems.register(CTTIMEOUT);
