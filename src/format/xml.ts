/**
 * The `xml` output format: what `conntrack -o xml` (libnetfilter_conntrack 1.0.9's XML
 * printer) writes, one `<flow>` element per line, checked against conntrack's output on
 * the recorded captures (captures/*.conntrack.xml) and live (test/cli.xml.live.test.ts).
 *
 * Entry / event layout (elements appear only when their attribute is present):
 *
 *   <flow[ type="new|update|destroy"]>
 *     <meta direction="original">
 *       <layer3 protonum="2" protoname="ipv4"><src>A</src><dst>B</dst></layer3>
 *       <layer4 protonum="6" protoname="tcp"><sport>P</sport><dport>Q</dport></layer4>
 *       <zone>Z</zone>  <counters><packets>N</packets><bytes>N</bytes></counters>
 *     </meta>
 *     <meta direction="reply"> ...the same... </meta>
 *     <meta direction="independent">
 *       <state>S</state> <timeout>T</timeout> <mark>M</mark> <secmark>M</secmark> <zone>Z</zone>
 *       <labels><label>name</label>...</labels> <use>U</use> <id>I</id> <assured/> <unreplied/>
 *       <timestamp><start>ns</start><stop>ns</stop></timestamp><deltatime>s</deltatime>
 *     </meta>
 *     <helper>name</helper>
 *   </flow>
 *
 * Events caused by a process end, after </flow>, with " [USERSPACE] portid=N[ progname=NAME]"
 * as in the default format (progname from `o.progname`; none when it is not given).
 * (ICMP tuples have an empty layer4; ports are printed for TCP, UDP, UDP-Lite, SCTP, DCCP.)
 * Expectations: <flow[ type=..]><layer3 ..><expected>..</expected><mask>..</mask><master>..
 * </master></layer3><layer4 ..>(the same with ports)</layer4><meta><helper-name>h
 * </helper-name><timeout>T</timeout><class>C</class></meta></flow>.
 *
 * The document header and footer (`<?xml ...?>` + `<conntrack>` or `<expect>`, and the
 * closing tag) belong to the stream, not to a line: see xmlHeader / xmlFooter.
 */
import { IPPROTO_DCCP, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE, IPS_ASSURED, IPS_SEEN_REPLY } from '../ctnetlink/constants.js';
import type { Conntrack, Counters, Expectation, Message, Tuple } from '../ctnetlink/model.js';
import { dccpStateName, sctpStateName, tcpStateName } from '../ctnetlink/status.js';
import { NLM_F_REQUEST } from '../netlink/constants.js';
import { familyName, protoName, type ConntrackFormatOptions } from './conntrack.js';
import type { FormatContext } from './index.js';

const PORT_PROTOS = new Set([IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE, IPPROTO_SCTP, IPPROTO_DCCP]);
const NS_PER_S = 1_000_000_000n;

/** The document start conntrack prints before the first flow (`root`: conntrack or expect). */
export function xmlHeader(root: 'conntrack' | 'expect'): string {
  return `<?xml version="1.0" encoding="utf-8"?>\n<${root}>`;
}

/** The line that closes the document. */
export function xmlFooter(root: 'conntrack' | 'expect'): string {
  return `</${root}>`;
}

function esc(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

function layer3(family: number): string {
  return `<layer3 protonum="${family & 0xff}" protoname="${familyName(family)}">`;
}

function layer4(p: number): string {
  return `<layer4 protonum="${p}" protoname="${protoName(p)}">`;
}

function counters(c: Counters | undefined): string {
  if (c === undefined || c.packets === undefined || c.bytes === undefined) return '';
  return `<counters><packets>${c.packets}</packets><bytes>${c.bytes}</bytes></counters>`;
}

function direction(name: string, family: number, t: Tuple | undefined, c: Counters | undefined): string {
  if (t === undefined) return '';
  const p = t.proto ?? 0;
  let s = `<meta direction="${name}">${layer3(family)}<src>${t.src ?? ''}</src><dst>${t.dst ?? ''}</dst></layer3>${layer4(p)}`;
  if (PORT_PROTOS.has(p)) s += `<sport>${t.srcPort ?? 0}</sport><dport>${t.dstPort ?? 0}</dport>`;
  s += '</layer4>';
  if (t.zone !== undefined) s += `<zone>${t.zone}</zone>`;
  return s + counters(c) + '</meta>';
}

function labels(bits: Uint8Array, names: ReadonlyMap<number, string>): string {
  let s = '';
  for (let i = 0; i < bits.length * 8; i++) {
    if (bits[i >> 3]! & (1 << (i & 7))) {
      const n = names.get(i);
      if (n !== undefined) s += `<label>${esc(n)}</label>`;
    }
  }
  return s === '' ? '' : `<labels>${s}</labels>`;
}

/** One conntrack entry or event as `conntrack -o xml` prints it. */
export function formatConntrackXml(ct: Conntrack, event: string | undefined, ctx: FormatContext, o: ConntrackFormatOptions): string {
  let s = event === undefined ? '<flow>' : `<flow type="${event}">`;
  s += direction('original', ct.family, ct.orig, ct.countersOrig);
  s += direction('reply', ct.family, ct.reply, ct.countersReply);
  s += '<meta direction="independent">';
  const pi = ct.protoinfo;
  const state = pi?.tcp?.state !== undefined ? tcpStateName(pi.tcp.state) : pi?.sctp?.state !== undefined ? sctpStateName(pi.sctp.state) : pi?.dccp?.state !== undefined ? dccpStateName(pi.dccp.state) : undefined;
  if (state !== undefined) s += `<state>${state}</state>`;
  if (ct.timeout !== undefined) s += `<timeout>${ct.timeout}</timeout>`;
  if (ct.mark !== undefined) s += `<mark>${ct.mark >>> 0}</mark>`;
  if (ct.secmark !== undefined) s += `<secmark>${ct.secmark >>> 0}</secmark>`;
  if (ct.secctx !== undefined) s += `<secctx>${esc(ct.secctx)}</secctx>`;
  if (ct.zone !== undefined) s += `<zone>${ct.zone}</zone>`;
  if (o.labels !== undefined && ct.labels !== undefined) s += labels(ct.labels, o.labels);
  if (ct.use !== undefined) s += `<use>${ct.use >>> 0}</use>`;
  if (ct.id !== undefined) s += `<id>${ct.id >>> 0}</id>`;
  if (ct.status !== undefined) {
    if (ct.status & IPS_ASSURED) s += '<assured/>';
    if (!(ct.status & IPS_SEEN_REPLY)) s += '<unreplied/>';
  }
  const ts = ct.timestamp;
  if (ts !== undefined && (ts.start !== undefined || ts.stop !== undefined)) {
    s += '<timestamp>';
    if (ts.start !== undefined) s += `<start>${ts.start}</start>`;
    if (ts.stop !== undefined) s += `<stop>${ts.stop}</stop>`;
    s += '</timestamp>';
    if (ts.start !== undefined) {
      // Whole seconds from start to stop; live entries: to now (the receive time).
      const end = ts.stop !== undefined && ts.stop !== 0n ? ts.stop : (ctx.timestampNs ?? (o.now ? o.now() : BigInt(Date.now()) * 1_000_000n));
      const d = end / NS_PER_S - ts.start / NS_PER_S;
      s += `<deltatime>${d < 0n ? 0n : d}</deltatime>`;
    }
  }
  s += '</meta>';
  if (ct.helper?.name !== undefined) s += `<helper>${esc(ct.helper.name.slice(0, 15))}</helper>`;
  return s + '</flow>';
}

function expTuples(family: number, x: Expectation): string {
  const parts: [string, Tuple | undefined][] = [['expected', x.tuple], ['mask', x.mask], ['master', x.master]];
  let l3 = layer3(family);
  for (const [n, t] of parts) if (t !== undefined) l3 += `<${n}><src>${t.src ?? ''}</src><dst>${t.dst ?? ''}</dst></${n}>`;
  const p = x.tuple?.proto ?? x.master?.proto ?? 0;
  let l4 = layer4(p);
  if (PORT_PROTOS.has(p)) for (const [n, t] of parts) if (t !== undefined) l4 += `<${n}><sport>${t.srcPort ?? 0}</sport><dport>${t.dstPort ?? 0}</dport></${n}>`;
  return `${l3}</layer3>${l4}</layer4>`;
}

/** One expectation as `conntrack -L expect -o xml` / `-E expect -o xml` print it. */
export function formatExpectationXml(x: Expectation, event: string | undefined): string {
  let s = event === undefined ? '<flow>' : `<flow type="${event}">`;
  s += expTuples(x.family, x) + '<meta>';
  if (x.helpName !== undefined) s += `<helper-name>${esc(x.helpName)}</helper-name>`;
  if (x.timeout !== undefined) s += `<timeout>${x.timeout}</timeout>`;
  if (x.zone !== undefined) s += `<zone>${x.zone}</zone>`;
  if (x.class !== undefined) s += `<class>${x.class}</class>`;
  return s + '</meta></flow>';
}

/** A line formatter for `-o xml` (with `labels` from -o labels); other messages print nothing. */
export function createXmlFormatter(o: ConntrackFormatOptions = {}): (m: Message, ctx?: FormatContext) => string | undefined {
  return (m, ctx = {}) => {
    if (m.header.flags & NLM_F_REQUEST) return undefined;
    if (m.kind === 'conntrack') {
      const line = formatConntrackXml(m.conntrack, m.event, ctx, o);
      // Like the default format, conntrack -E -o xml names the process behind an event.
      const pid = m.header.pid >>> 0;
      if (m.event === undefined || pid === 0) return line;
      const prog = o.progname?.(pid);
      return prog === undefined ? `${line} [USERSPACE] portid=${pid}` : `${line} [USERSPACE] portid=${pid} progname=${prog}`;
    }
    if (m.kind === 'expect') {
      // The event type as the decoder decided it (the kernel's EXP_NEW events always carry
      // NLM_F_CREATE|NLM_F_EXCL, so they are never libnetfilter_conntrack's 'update').
      return formatExpectationXml(m.expect, m.event);
    }
    return undefined;
  };
}
