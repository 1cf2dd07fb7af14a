/**
 * Statistics replies; every counter is a u32 BE attribute.
 *   IPCTNL_MSG_CT_GET_STATS_CPU  one message per possible CPU, nfgenmsg.res_id = CPU
 *                                (enum ctattr_stats_cpu), then NLMSG_DONE
 *   IPCTNL_MSG_CT_GET_STATS      one message: entries in use and nf_conntrack_max
 *   IPCTNL_MSG_EXP_GET_STATS_CPU replies typed 0x0103 (enum ctattr_expect_stats)
 * Counters are emitted in enum order, which the encoder follows.
 */
import { keepUnknown, putUnknown } from '../netlink/attribute.js';
import { NLA_HDRLEN } from '../netlink/constants.js';
import type { Builder } from '../netlink/builder.js';
import { type Reader, attrLen, attrType, getU32be, nextAttr } from '../netlink/reader.js';
import * as C from './constants.js';
import type { CpuStats, ExpectCpuStats, GlobalStats } from './model.js';

type CpuKey = Exclude<keyof CpuStats, 'cpu' | 'unknown'>;

/** enum ctattr_stats_cpu: attribute type, model field, kernel name. */
export const CPU_STATS_FIELDS: readonly (readonly [number, CpuKey, string])[] = [
  [C.CTA_STATS_SEARCHED, 'searched', 'CTA_STATS_SEARCHED'],
  [C.CTA_STATS_FOUND, 'found', 'CTA_STATS_FOUND'],
  [C.CTA_STATS_NEW, 'new', 'CTA_STATS_NEW'],
  [C.CTA_STATS_INVALID, 'invalid', 'CTA_STATS_INVALID'],
  [C.CTA_STATS_IGNORE, 'ignore', 'CTA_STATS_IGNORE'],
  [C.CTA_STATS_DELETE, 'delete', 'CTA_STATS_DELETE'],
  [C.CTA_STATS_DELETE_LIST, 'deleteList', 'CTA_STATS_DELETE_LIST'],
  [C.CTA_STATS_INSERT, 'insert', 'CTA_STATS_INSERT'],
  [C.CTA_STATS_INSERT_FAILED, 'insertFailed', 'CTA_STATS_INSERT_FAILED'],
  [C.CTA_STATS_DROP, 'drop', 'CTA_STATS_DROP'],
  [C.CTA_STATS_EARLY_DROP, 'earlyDrop', 'CTA_STATS_EARLY_DROP'],
  [C.CTA_STATS_ERROR, 'error', 'CTA_STATS_ERROR'],
  [C.CTA_STATS_SEARCH_RESTART, 'searchRestart', 'CTA_STATS_SEARCH_RESTART'],
  [C.CTA_STATS_CLASH_RESOLVE, 'clashResolve', 'CTA_STATS_CLASH_RESOLVE'],
  [C.CTA_STATS_CHAIN_TOOLONG, 'chainTooLong', 'CTA_STATS_CHAIN_TOOLONG'],
];

export function decodeCpuStats(r: Reader, cpu: number, start: number, end: number): CpuStats {
  const s: CpuStats = { cpu };
  for (let off = start; off < end; ) {
    const len = attrLen(r, off, end);
    const type = attrType(r, off);
    const f = type >= 1 && type <= 15 ? CPU_STATS_FIELDS[type - 1]! : undefined;
    if (f) s[f[1]] = getU32be(r, off + NLA_HDRLEN, len - NLA_HDRLEN, f[2]);
    else s.unknown = keepUnknown(s.unknown, r, off, len);
    off = nextAttr(off, len, end);
  }
  return s;
}

export function encodeCpuStats(b: Builder, s: CpuStats): void {
  for (const [type, key] of CPU_STATS_FIELDS) {
    const v = s[key];
    if (v !== undefined) b.putU32be(type, v);
  }
  putUnknown(b, s.unknown);
}

export function decodeGlobalStats(r: Reader, start: number, end: number): GlobalStats {
  const s: GlobalStats = {};
  for (let off = start; off < end; ) {
    const len = attrLen(r, off, end);
    switch (attrType(r, off)) {
      case C.CTA_STATS_GLOBAL_ENTRIES: s.entries = getU32be(r, off + NLA_HDRLEN, len - NLA_HDRLEN, 'CTA_STATS_GLOBAL_ENTRIES'); break;
      case C.CTA_STATS_GLOBAL_MAX_ENTRIES: s.maxEntries = getU32be(r, off + NLA_HDRLEN, len - NLA_HDRLEN, 'CTA_STATS_GLOBAL_MAX_ENTRIES'); break;
      default: s.unknown = keepUnknown(s.unknown, r, off, len);
    }
    off = nextAttr(off, len, end);
  }
  return s;
}

export function encodeGlobalStats(b: Builder, s: GlobalStats): void {
  if (s.entries !== undefined) b.putU32be(C.CTA_STATS_GLOBAL_ENTRIES, s.entries);
  if (s.maxEntries !== undefined) b.putU32be(C.CTA_STATS_GLOBAL_MAX_ENTRIES, s.maxEntries);
  putUnknown(b, s.unknown);
}

export function decodeExpectCpuStats(r: Reader, cpu: number, start: number, end: number): ExpectCpuStats {
  const s: ExpectCpuStats = { cpu };
  for (let off = start; off < end; ) {
    const len = attrLen(r, off, end);
    switch (attrType(r, off)) {
      case C.CTA_STATS_EXP_NEW: s.new = getU32be(r, off + NLA_HDRLEN, len - NLA_HDRLEN, 'CTA_STATS_EXP_NEW'); break;
      case C.CTA_STATS_EXP_CREATE: s.create = getU32be(r, off + NLA_HDRLEN, len - NLA_HDRLEN, 'CTA_STATS_EXP_CREATE'); break;
      case C.CTA_STATS_EXP_DELETE: s.delete = getU32be(r, off + NLA_HDRLEN, len - NLA_HDRLEN, 'CTA_STATS_EXP_DELETE'); break;
      default: s.unknown = keepUnknown(s.unknown, r, off, len);
    }
    off = nextAttr(off, len, end);
  }
  return s;
}

export function encodeExpectCpuStats(b: Builder, s: ExpectCpuStats): void {
  if (s.new !== undefined) b.putU32be(C.CTA_STATS_EXP_NEW, s.new);
  if (s.create !== undefined) b.putU32be(C.CTA_STATS_EXP_CREATE, s.create);
  if (s.delete !== undefined) b.putU32be(C.CTA_STATS_EXP_DELETE, s.delete);
  putUnknown(b, s.unknown);
}
