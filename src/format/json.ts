/**
 * The `json` format: one JSON object per message, one per line. Stable schema, version 1.
 *
 * ## Conventions
 * - A key is omitted when its attribute was absent from the message; no key is ever null.
 * - 64-bit values are JSON strings of decimal digits so that every JSON parser keeps them
 *   exact: counters (`packets`, `bytes`), nanosecond timestamps (`timestampNs`, `start`,
 *   `stop`, `event`), the DCCP `handshakeSeq` and 64-bit ext-ack policy bounds. Every other
 *   number fits in 32 bits (unsigned, except the signed `seqAdj` offsets and `errno`).
 * - Byte strings (`hex`, `helperInfo`, `payload`, ...) are lowercase hex.
 * - Keys come in the order listed here. New keys may be added in later versions; existing
 *   keys keep their meaning.
 *
 * ## Keys on every line
 * - `type`: `"new"` | `"update"` | `"destroy"` (conntrack events), `"entry"` (conntrack dump
 *   entry or GET reply), `"expect-new"` | `"expect-destroy"` (expectation events),
 *   `"expect"` (expectation entry), `"stats-cpu"`, `"expect-stats-cpu"`, `"stats"`,
 *   `"request"`, `"error"`, `"ack"`, `"done"`, `"overrun"`, `"other"`, `"malformed"` (read: a record that did not frame or decode, with `record`, `offset`, `error`, `fatal`).
 * - `time`: receive or capture time, ISO-8601 UTC with microseconds
 *   (`"2026-11-24T15:07:01.745528Z"`); `timestampNs`: the same in ns since the epoch
 *   (string). Both absent when the time is unknown.
 * - Netlink header: `msgType` (kernel name, e.g. `"IPCTNL_MSG_CT_NEW"`, `"NLMSG_ERROR"`, or
 *   `"0x0a01"`), `seq`, `pid`, `flags` (nlmsg_flags as a number). Events (conntrack and
 *   expectation) carry only `pid`, and only when it is non-zero: the netlink port id of
 *   the process whose request caused the event (`[USERSPACE] portid=` in conntrack -E).
 *   Entries (`entry`, `expect`) carry the header the kernel sent them in, in live runs
 *   (`dump`, `get`) as in `read`: the request's `seq`, the requester's port id as `pid`,
 *   `flags` NLM_F_MULTI (2), plus NLM_F_DUMP_FILTERED (32) when the kernel filtered.
 *
 * ## Conntrack: `new`, `update`, `destroy`, `entry` (and the body of conntrack requests)
 * - `family`: `"ipv4"` | `"ipv6"` | number (nfgen_family; 0 in some requests).
 * - `proto`: `"tcp"` `"udp"` `"udplite"` `"icmp"` `"icmpv6"` `"sctp"` `"gre"` `"dccp"` or
 *   `"unknown"`; `protoNum`: the IP protocol number. Both from the original tuple.
 * - `state`: TCP / SCTP / DCCP state name (`"ESTABLISHED"`).
 * - `orig`, `reply`, `master`: tuples `{src, dst, sport, dport, type, code, id, zone,
 *   protoNum, unknown}`: addresses as inet_ntop writes them; `sport`/`dport` for TCP, UDP,
 *   UDP-Lite, SCTP, DCCP and GRE (where they hold the GRE keys); `type`/`code`/`id` for
 *   ICMP and ICMPv6; `zone` = CTA_TUPLE_ZONE; `protoNum` only when it differs from the
 *   top-level one.
 * - `status`: array of IPS_* names without the prefix (`["SEEN_REPLY","ASSURED",
 *   "CONFIRMED"]`), `"BIT_<n>"` for bits this version does not know.
 * - `timeout` (seconds), `mark`, `secmark`, `zone`, `id`, `use`.
 * - `counters`: `{orig: {packets, bytes}, reply: {packets, bytes}}` (strings).
 * - `timestamps`: `{start, stop, event}` ns since the epoch (strings); `event` is
 *   CTA_TIMESTAMP_EVENT.
 * - `labels`: array of the set label bit numbers (`[1, 5]`).
 * - `helper`: helper name; `helperInfo`: CTA_HELP_INFO bytes (hex).
 * - `secctx`: security context.
 * - `seqAdj`: `{orig: {correctionPos, offsetBefore, offsetAfter}, reply: {...}}`.
 * - `synproxy`: `{isn, its, tsoff}`.
 * - `protoinfo`: `{tcp: {state, stateName, wscaleOriginal, wscaleReply, flagsOriginal:
 *   {flags, mask}, flagsReply}, sctp: {state, stateName, vtagOriginal, vtagReply},
 *   dccp: {state, stateName, role, handshakeSeq}}`.
 * - Request-only: `natSrc`/`natDst`: `{minIp, maxIp, minPort, maxPort}`, `markMask`,
 *   `statusMask`, `labelsMask` (bit numbers), `filter`: `{origFlags, replyFlags}`.
 * - `unknown`: `[{type, hex}]`, attributes this version does not decode (`type` with its
 *   NLA_F_* bits); nested objects carry their own `unknown` (tuples add `nest: "ip" |
 *   "proto"` for those found inside CTA_TUPLE_IP / CTA_TUPLE_PROTO).
 *
 * ## Expectations: `expect-new`, `expect-destroy`, `expect`
 * `family`, `proto`, `protoNum` (of the expected tuple), `tuple` (the expected connection),
 * `mask`, `master` (tuples as above), `timeout`, `id`, `helper`, `zone`, `expectFlags`
 * (`["PERMANENT","INACTIVE","USERSPACE"]`, `"BIT_<n>"` otherwise), `class`,
 * `nat`: `{dir: "orig" | "reply" | number, tuple}`, `fn`, `unknown`.
 *
 * ## Statistics
 * - `stats-cpu`: `cpu` then the counters present, named as `conntrack -S` names them:
 *   `searched`, `found`, `new`, `invalid`, `ignore`, `delete`, `delete_list`, `insert`,
 *   `insert_failed`, `drop`, `early_drop`, `error`, `search_restart`, `clash_resolve`,
 *   `chaintoolong`; `unknown` for newer counters.
 * - `expect-stats-cpu`: `cpu`, `expect_new`, `expect_create`, `expect_delete`.
 * - `stats`: `entries`, `max` (nf_conntrack_max).
 *
 * ## Control messages and the rest
 * - `error`: `errno` (positive), `code` (`"ENOENT"`), `message` (ext-ack text), `extAck`
 *   `{offset, missingType, missingNest, cookie, policy, unknown}`, `request` (the echoed
 *   header `{msgType, len, flags, seq, pid}` and `payload` hex when not capped).
 * - `ack`: `request` as for errors.
 * - `done`: `errno`, `code`, `message` when the dump ended with an error.
 * - `request`: `family` and the request's body (conntrack or expectation keys above, or
 *   `unknown`).
 * - `overrun`: no further keys (ctevents adds `lost` when it knows how many, and `source`: "kernel" or "buffer", who dropped).
 * - `other`: `payload` (hex) of a message this version does not decode (`NLMSG_NOOP`,
 *   other subsystems).
 */
import type { Message } from '../ctnetlink/model.js';
import type { FormatContext } from './index.js';
import { line } from './json-line.js';
import { toJson } from './json-object.js';

export { isoTime, stringifyJson } from './json-time.js';
export { toJson, type JsonObject, type JsonValue } from './json-object.js';

export interface JsonFormatOptions {
  /** Indentation for JSON.stringify (default none: one object per line). */
  space?: number;
}

export function createJsonFormatter(opts: JsonFormatOptions = {}): (m: Message, ctx?: FormatContext) => string | undefined {
  const space = opts.space;
  // Indented output is for people, not floods: the generic path.
  if (space !== undefined && space > 0) return (m, ctx = {}) => JSON.stringify(toJson(m, ctx), undefined, space);
  return (m, ctx = NO_CONTEXT) => line(m, ctx);
}

const NO_CONTEXT: FormatContext = {};

/** The JSON line for a message (never undefined: every message gets a line). */
export function formatMessage(m: Message, ctx: FormatContext = NO_CONTEXT): string | undefined {
  return line(m, ctx);
}
