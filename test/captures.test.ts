/**
 * Recorded captures (captures/*.pcap, see captures/README.md), each decoded with our codec
 * and compared field by field with two decoders we did not write, recorded at the same time:
 *
 *   conntrack-tools   NAME.conntrack.xml  (`conntrack -E/-L -o xml,id,ktimestamp`)
 *                     NAME.conntrack.txt  (`-o extended,id,ktimestamp` text, `-S`, `-C`, expect)
 *   Wireshark         NAME.tshark.json    (`tshark -T json`, reduced by tools/captures/tshark.ts)
 *
 * Events are matched in order (by id and type when the capture overran), dump/GET replies by
 * the seq of our request and the conntrack id. Nothing here needs root: it reads files. The
 * live tshark check (the pcap still opens, message counts agree) is skipped with a printed
 * reason when tshark is not installed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeDatagram, encodeMessages } from '../src/ctnetlink/message.js';
import type { Message } from '../src/ctnetlink/model.js';
import { netlinkPayload, parseCapture, PcapWriter, readCapture } from '../src/pcap/index.js';
import {
  compareExpect,
  compareFlow,
  compareTshark,
  Mismatches,
  where,
  type Located,
  type TsharkFrame,
} from './helpers/captures-compare.js';
import {
  expectFromText,
  expectFromXml,
  flowFromText,
  flowFromXml,
  parseConnlabel,
  statsFromText,
  textSections,
  xmlSections,
  type OracleFlow,
} from './helpers/captures-oracles.js';
// The reducer the recorder used for NAME.tshark.json, reused for the live run.
import { reduceTshark, tsharkJsonArgs } from '../tools/captures/tshark.js';

const DIR = join(import.meta.dirname, '..', 'captures');
const NLM_F_REQUEST = 0x1;
/** A listing is taken right after our dump: timeouts may have ticked down meanwhile. */
const LIST_TIMEOUT_SLACK = 2;

interface ManifestEntry {
  pcap: string;
  records: number;
  messages: number;
  overrun: { afterRecords: number }[] | null;
  connlabelConf?: string | null;
  files: string[];
}

const manifest = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8')) as { captures: Record<string, ManifestEntry> };
const names = Object.keys(manifest.captures);

interface Capture {
  name: string;
  entry: ManifestEntry;
  /** Raw datagrams, one per pcap record. */
  datagrams: { data: Uint8Array; timestampNs: bigint }[];
  messages: Located[];
  /** nlmsg_len of every message, per record (for the tshark comparison). */
  lens: number[][];
}

/** nlmsg_len of each message in a datagram, walked independently of the codec. */
function messageLengths(d: Uint8Array): number[] {
  const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const out: number[] = [];
  for (let off = 0; off + 16 <= d.byteLength; ) {
    const len = dv.getUint32(off, true);
    if (len < 16) break;
    out.push(len);
    off += (len + 3) & ~3;
  }
  return out;
}

const cache = new Map<string, Capture>();
async function load(name: string): Promise<Capture> {
  const hit = cache.get(name);
  if (hit) return hit;
  const entry = manifest.captures[name]!;
  const datagrams: Capture['datagrams'] = [];
  for await (const rec of readCapture(join(DIR, entry.pcap))) {
    const p = netlinkPayload(rec);
    if (!p) throw new Error(`${name} record ${rec.index}: not a netlink frame`);
    expect(p.protocol, `${name} record ${rec.index}: netlink protocol`).toBe(12);
    datagrams.push({ data: p.data.slice(), timestampNs: rec.timestampNs });
  }
  const messages: Located[] = [];
  const lens: number[][] = [];
  datagrams.forEach((d, record) => {
    decodeDatagram(d.data).forEach((msg, index) => messages.push({ record, index, timestampNs: d.timestampNs, msg }));
    lens.push(messageLengths(d.data));
  });
  const c = { name, entry, datagrams, messages, lens };
  cache.set(name, c);
  return c;
}

const fromKernel = (l: Located) => (l.msg.header.flags & NLM_F_REQUEST) === 0;
const ctEvents = (c: Capture) => c.messages.filter((l) => l.msg.kind === 'conntrack' && l.msg.event !== undefined && fromKernel(l));
const expEvents = (c: Capture) => c.messages.filter((l) => l.msg.kind === 'expect' && l.msg.event !== undefined && fromKernel(l));
const replies = (c: Capture, seq: number, kind: Message['kind']) =>
  c.messages.filter((l) => fromKernel(l) && l.msg.header.seq === seq && l.msg.kind === kind);
const idOf = (l: Located) => (l.msg.kind === 'conntrack' ? l.msg.conntrack.id : undefined);

function report(m: Mismatches): void {
  expect(m.checks, 'no field was compared').toBeGreaterThan(0);
  expect(m.list, `${m.list.length} disagreement(s):\n${m.list.join('\n')}`).toEqual([]);
}

/**
 * Pairs our events with the oracle's. In order and one to one, unless the capture overran:
 * then ours must be a subsequence of the oracle's (conntrack -E had a large buffer).
 */
function pairEvents<O extends { type?: string; id?: number }>(
  m: Mismatches,
  name: string,
  what: string,
  ours: Located[],
  theirs: O[],
  overran: boolean,
  key: (l: Located) => number | undefined,
  theirKey: (o: O) => number | undefined,
): [Located, O][] {
  if (!overran) {
    if (ours.length !== theirs.length) m.fail(name, `${what}: ${ours.length} events in the pcap, ${theirs.length} printed by conntrack`);
    return ours.slice(0, theirs.length).map((l, i) => [l, theirs[i]!]);
  }
  const pairs: [Located, O][] = [];
  let j = 0;
  for (const l of ours) {
    const ev = (l.msg as { event?: string }).event;
    while (j < theirs.length && !(theirs[j]!.type === ev && theirKey(theirs[j]!) === key(l))) j++;
    if (j === theirs.length) {
      m.fail(where(name, l), `${what}: event not found in order among conntrack's`);
      break;
    }
    pairs.push([l, theirs[j++]!]);
  }
  return pairs;
}

function readOptional(file: string): string | undefined {
  const p = join(DIR, file);
  return existsSync(p) ? readFileSync(p, 'utf8') : undefined;
}

const tshark = spawnSync('tshark', ['--version'], { encoding: 'utf8' });
const haveTshark = tshark.status === 0;
if (!haveTshark) console.log('captures.test: tshark is not installed: the live tshark checks are skipped (.ci/run installs it)');

describe.each(names)('capture %s', (name) => {
  const entry = manifest.captures[name]!;
  const overran = (entry.overrun?.length ?? 0) > 0;
  const xml = readOptional(`${name}.conntrack.xml`);
  const txt = readOptional(`${name}.conntrack.txt`);
  const labelMap = entry.connlabelConf ? parseConnlabel(entry.connlabelConf) : undefined;

  it('decodes every record, message counts as recorded', async () => {
    const c = await load(name);
    expect(c.datagrams.length).toBe(entry.records);
    expect(c.messages.length).toBe(entry.messages);
    c.datagrams.forEach((d, i) => expect(c.messages.filter((l) => l.record === i).length, `record ${i}`).toBe(c.lens[i]!.length));
  });

  // Declared only for captures that have this oracle (stats has no XML; some have no text).
  if (xml !== undefined) it('agrees with conntrack-tools XML (events and listings)', async () => {
    const c = await load(name);
    const m = new Mismatches();
    for (const s of xmlSections(xml!)) {
      if (s.tag === 'events') {
        if (s.expect) {
          const theirs = s.flows.map(expectFromXml);
          for (const [l, o] of pairEvents(m, name, s.command, expEvents(c), theirs, overran, () => undefined, () => undefined)) {
            compareExpect(m, `${where(name, l)} vs ${s.command}`, l.msg, o);
          }
        } else {
          const theirs = s.flows.map(flowFromXml);
          for (const [l, o] of pairEvents(m, name, s.command, ctEvents(c), theirs, overran, idOf, (o) => o.id)) {
            compareFlow(m, `${where(name, l)} vs ${s.command}`, l.msg, o, { labelMap });
          }
        }
        continue;
      }
      // A listing taken right after our request with the same seq.
      if (s.seq === undefined) continue;
      if (s.expect) {
        const ours = replies(c, s.seq, 'expect');
        const theirs = s.flows.map(expectFromXml);
        if (ours.length !== theirs.length) m.fail(name, `seq ${s.seq}: ${ours.length} expectations, ${s.command} printed ${theirs.length}`);
        ours.forEach((l, i) => theirs[i] && compareExpect(m, `${where(name, l)} vs ${s.command}`, l.msg, theirs[i]!, LIST_TIMEOUT_SLACK));
        continue;
      }
      const ours = replies(c, s.seq, 'conntrack');
      const theirs = new Map<number, OracleFlow>();
      for (const f of s.flows.map(flowFromXml)) theirs.set(f.id!, f);
      const seen = new Set<number>();
      for (const l of ours) {
        const id = idOf(l)!;
        const o = theirs.get(id);
        if (!o) {
          m.fail(where(name, l), `seq ${s.seq}: id ${id} not printed by ${s.command}`);
          continue;
        }
        seen.add(id);
        compareFlow(m, `${where(name, l)} vs ${s.command}`, l.msg, o, { timeoutSlack: LIST_TIMEOUT_SLACK, labelMap, recordTimeNs: l.timestampNs });
      }
      for (const id of theirs.keys()) if (!seen.has(id)) m.fail(name, `seq ${s.seq}: ${s.command} printed id ${id}, our reply has no such entry`);
    }
    report(m);
  });

  if (txt !== undefined) it('agrees with conntrack-tools text output (ICMP fields, portids, stats, expectations)', async () => {
    const c = await load(name);
    const m = new Mismatches();
    for (const s of textSections(txt!)) {
      const cmd = s.command.replace(/^conntrack /, '');
      const at = (l: Located) => `${where(name, l)} vs ${s.command}`;
      if (cmd.startsWith('-E expect')) {
        const theirs = s.lines.map(expectFromText);
        for (const [l, o] of pairEvents(m, name, s.command, expEvents(c), theirs, overran, () => undefined, () => undefined)) compareExpect(m, at(l), l.msg, o);
      } else if (cmd.startsWith('-E')) {
        const theirs = s.lines.map(flowFromText);
        for (const [l, o] of pairEvents(m, name, s.command, ctEvents(c), theirs, overran, idOf, (o) => o.id)) {
          compareFlow(m, at(l), l.msg, o, { text: true, labelMap, headerPid: l.msg.header.pid });
        }
      } else if (s.seq === undefined) {
        continue; // conntrack's own requests (errors scenario): checked below
      } else if (cmd.startsWith('-L expect')) {
        const ours = replies(c, s.seq, 'expect');
        const theirs = s.lines.map(expectFromText);
        if (ours.length !== theirs.length) m.fail(name, `seq ${s.seq}: ${ours.length} expectations, ${s.command} printed ${theirs.length}`);
        ours.forEach((l, i) => theirs[i] && compareExpect(m, at(l), l.msg, theirs[i]!, LIST_TIMEOUT_SLACK));
      } else if (cmd.startsWith('-L') || cmd.startsWith('-G')) {
        const theirs = new Map(s.lines.map(flowFromText).map((f) => [f.id!, f]));
        const ours = replies(c, s.seq, 'conntrack');
        if (ours.length !== theirs.size) m.fail(name, `seq ${s.seq}: ${ours.length} entries, ${s.command} printed ${theirs.size}`);
        for (const l of ours) {
          const o = theirs.get(idOf(l)!);
          if (!o) m.fail(where(name, l), `seq ${s.seq}: id ${idOf(l)} not printed by ${s.command}`);
          else compareFlow(m, at(l), l.msg, o, { text: true, timeoutSlack: LIST_TIMEOUT_SLACK, labelMap, recordTimeNs: l.timestampNs });
        }
      } else if (cmd === '-S expect') {
        const theirs = statsFromText(s.lines);
        const ours = replies(c, s.seq, 'expect-stats-cpu');
        m.eq(name, `${s.command}: CPUs`, ours.length, theirs.size);
        for (const l of ours) {
          if (l.msg.kind !== 'expect-stats-cpu') continue;
          const t = theirs.get(l.msg.stats.cpu) ?? {};
          m.eq(at(l), 'expect_new', l.msg.stats.new, t.expect_new);
          m.eq(at(l), 'expect_create', l.msg.stats.create, t.expect_create);
          m.eq(at(l), 'expect_delete', l.msg.stats.delete, t.expect_delete);
        }
      } else if (cmd === '-S') {
        const theirs = statsFromText(s.lines);
        const ours = replies(c, s.seq, 'stats-cpu');
        m.eq(name, `${s.command}: CPUs`, ours.length, theirs.size);
        const keys: [string, string][] = [
          ['found', 'found'], ['invalid', 'invalid'], ['ignore', 'ignore'], ['insert', 'insert'], ['insert_failed', 'insertFailed'],
          ['drop', 'drop'], ['early_drop', 'earlyDrop'], ['error', 'error'], ['search_restart', 'searchRestart'],
          ['clash_resolve', 'clashResolve'], ['chaintoolong', 'chainTooLong'], ['searched', 'searched'], ['new', 'new'],
          ['delete', 'delete'], ['delete_list', 'deleteList'],
        ];
        for (const l of ours) {
          if (l.msg.kind !== 'stats-cpu') continue;
          const t = theirs.get(l.msg.stats.cpu) ?? {};
          const s2 = l.msg.stats as unknown as Record<string, number | undefined>;
          for (const [theirName, ourName] of keys) m.eq(at(l), theirName, s2[ourName], t[theirName]);
        }
      } else if (cmd === '-C') {
        const ours = replies(c, s.seq, 'stats');
        m.eq(name, `${s.command}: replies`, ours.length, 1);
        const l = ours[0];
        if (l?.msg.kind === 'stats') m.eq(at(l), 'entries', l.msg.stats.entries, Number(s.lines[0]));
      } else {
        m.fail(name, `no comparison for section ${s.command}`);
      }
    }
    report(m);
  });

  it('agrees with tshark (stored decode): message types, tuples, status, timeout, id, ...', async () => {
    const c = await load(name);
    const frames = JSON.parse(readFileSync(join(DIR, `${name}.tshark.json`), 'utf8')) as TsharkFrame[];
    const m = new Mismatches();
    m.eq(name, 'frames', frames.length, c.datagrams.length);
    for (const f of frames) {
      const record = f.frame - 1;
      const ours = c.messages.filter((l) => l.record === record);
      if (f.expert) m.fail(`${name} record ${record}`, `tshark expert info ${JSON.stringify(f.expert)}`);
      if (ours.length !== f.messages.length) {
        m.fail(`${name} record ${record}`, `${ours.length} messages, tshark ${f.messages.length}`);
        continue;
      }
      ours.forEach((l, i) => compareTshark(m, where(name, l), l.msg, c.lens[record]![i]!, f.messages[i]!));
    }
    report(m);
  });

  it.skipIf(!haveTshark)('opens in tshark without errors; its message count equals ours', async () => {
    const c = await load(name);
    const r = spawnSync('tshark', tsharkJsonArgs(join(DIR, entry.pcap)), { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
    expect(r.status, r.stderr).toBe(0);
    const stderr = r.stderr.split('\n').filter((l) => l.trim() && !/Running as user "root"/.test(l));
    expect(stderr).toEqual([]);
    expect(r.stdout).not.toMatch(/_ws\.(malformed|expert)/);
    const frames = reduceTshark(JSON.parse(r.stdout)) as TsharkFrame[];
    expect(frames.length).toBe(c.datagrams.length);
    const counts = frames.map((f) => f.messages.length);
    expect(counts).toEqual(c.lens.map((l) => l.length));
  });
});

describe('captures: details the oracles cannot see', () => {
  it('overrun: the position is recorded and later datagrams still decode', async () => {
    const c = await load('overrun');
    const o = c.entry.overrun;
    expect(o?.length).toBeGreaterThan(0);
    expect(o![0]!.afterRecords).toBeLessThanOrEqual(c.datagrams.length);
    expect(ctEvents(c).length).toBeGreaterThan(0);
  });

  it('errors: errno of each failed request, extended ACK on the EINVALs, conntrack-tools agrees on the texts', async () => {
    const c = await load('errors');
    const errs = c.messages.filter((l) => l.msg.kind === 'error').map((l) => (l.msg.kind === 'error' ? l.msg.error : undefined)!);
    const codes = errs.map((e) => e.error);
    expect(codes).toEqual([0, -17, 0, 0, 0, -2, -2, -22, -22]);
    // CT_GET carrying CTA_TIMESTAMP_EVENT fails top-level policy validation, which reports
    // a message and the offset of the attribute. CTA_FILTER with an unknown flag bit also
    // fails with EINVAL, but its nest is parsed without an extack: no TLVs (kernel 6.18).
    const [policy, filter] = errs.filter((x) => x.error === -22);
    expect(policy!.extAck?.message).toBe('Attribute failed policy validation');
    expect(policy!.extAck?.offset).toBe(policy!.request.len - 12); // the 12-byte CTA_TIMESTAMP_EVENT, last in the request
    expect(filter!.extAck).toBeUndefined();
    for (const e of errs.filter((x) => x.error !== -22)) expect(e.extAck).toBeUndefined();
    const txt = textSections(readFileSync(join(DIR, 'errors.conntrack.txt'), 'utf8'));
    const inserts = txt.filter((s) => s.command.includes(' -I '));
    expect(inserts[1]?.notes.join(' ')).toMatch(/exists/);
    const gets = txt.filter((s) => s.command.includes(' -G ') && s.seq === undefined);
    expect(gets[0]?.notes.join(' ')).toMatch(/doesn't exist/);
  });
});

describe('captures: PcapWriter round trip', () => {
  it('a capture written through PcapWriter decodes to the same messages as were written', async () => {
    for (const name of names) {
      const c = await load(name);
      const chunks: Uint8Array[] = [];
      const w = new PcapWriter({ write: (b) => chunks.push(b) });
      const written: Message[][] = [];
      c.datagrams.forEach((d, record) => {
        const ms = c.messages.filter((l) => l.record === record).map((l) => l.msg);
        written.push(ms);
        w.writeDatagram(encodeMessages(ms), d.timestampNs);
      });
      const file = Buffer.concat(chunks);
      const back: Message[][] = [];
      const times: bigint[] = [];
      for (const rec of parseCapture(file)) {
        back.push(decodeDatagram(netlinkPayload(rec)!.data));
        times.push(rec.timestampNs);
      }
      expect(back, name).toEqual(written);
      expect(times, name).toEqual(c.datagrams.map((d) => (d.timestampNs / 1000n) * 1000n));
    }
  });

  it('re-encoding each recorded datagram gives back its bytes', async () => {
    const diffs: string[] = [];
    for (const name of names) {
      const c = await load(name);
      c.datagrams.forEach((d, record) => {
        const ms = c.messages.filter((l) => l.record === record).map((l) => l.msg);
        const again = encodeMessages(ms);
        if (Buffer.compare(Buffer.from(again), Buffer.from(d.data)) !== 0) diffs.push(`${name} record ${record}`);
      });
    }
    expect(diffs).toEqual([]);
  });
});
