/**
 * Wire-level checks of a cttimeout request before a byte is written (the codec calls them
 * for every message with NLM_F_REQUEST through NfnlSubsystem.checkRequest): every value the
 * encoder would put fits its attribute, so nothing is wrapped, truncated or cut at a NUL.
 *
 *   nlmsghdr         nlmsg_type u16, nlmsg_flags u16, nlmsg_seq u32, nlmsg_pid u32
 *   nfgenmsg         nfgen_family u8, version u8, res_id u16
 *   CTA_TIMEOUT_*    NAME string (no NUL, at most CTNL_TIMEOUT_NAME_MAX - 1 bytes),
 *                    L3PROTO u16, L4PROTO u8, USE u32, DATA: each state's seconds u32
 *                    (the state names are checked by the encoder, which knows l4proto)
 *   unknown          raw attributes: type u16, data Uint8Array (top level and in DATA)
 *
 * Throws NetlinkEncodeError with the field and attribute path (netlink/check.ts).
 */
import { checkObject, checkRawAttributes, checkString, checkU16, checkU32, checkU8, fail, showValue } from '../netlink/check.js';
import { checkControlRequest } from '../netlink/control-message.js';
import { CTNL_TIMEOUT_NAME_MAX } from './constants.js';

const NFGENMSG = ['nfgenmsg'];
const DATA = ['CTA_TIMEOUT_DATA'];

export function checkTimeoutRequest(m: unknown): void {
  checkControlRequest(m); // an object with a representable nlmsghdr
  const o = m as Record<string, unknown>;
  const g = o.nfgen;
  checkObject(g, 'nfgen', NFGENMSG);
  checkU8(g.family, 'nfgen.family', NFGENMSG, 'nfgen_family');
  checkU8(g.version, 'nfgen.version', NFGENMSG, 'version');
  checkU16(g.resId, 'nfgen.resId', NFGENMSG, 'res_id');
  const t = o.timeout;
  checkObject(t, 'timeout');
  if (t.name !== undefined) checkString(t.name, 'timeout.name', [], 'CTA_TIMEOUT_NAME', CTNL_TIMEOUT_NAME_MAX - 1);
  if (t.l3proto !== undefined) checkU16(t.l3proto, 'timeout.l3proto', [], 'CTA_TIMEOUT_L3PROTO');
  if (t.l4proto !== undefined) checkU8(t.l4proto, 'timeout.l4proto', [], 'CTA_TIMEOUT_L4PROTO');
  if (t.use !== undefined) checkU32(t.use, 'timeout.use', [], 'CTA_TIMEOUT_USE');
  if (t.policy !== undefined) {
    checkObject(t.policy, 'timeout.policy', [], 'CTA_TIMEOUT_DATA');
    for (const [state, seconds] of Object.entries(t.policy)) checkU32(seconds, `timeout.policy.${state}`, DATA, state);
  }
  if (t.policyUnknown !== undefined) checkRawAttributes(t.policyUnknown, 'timeout.policyUnknown', DATA);
  if (t.unknown !== undefined) checkRawAttributes(t.unknown, 'timeout.unknown');
  if (t.attrOrder !== undefined) {
    if (!Array.isArray(t.attrOrder)) fail(`${showValue(t.attrOrder)} is not an array`, 'timeout.attrOrder', [], undefined, t.attrOrder);
    else t.attrOrder.forEach((type: unknown, i: number) => checkU16(type, `timeout.attrOrder[${i}]`, [], 'nla_type'));
  }
}
