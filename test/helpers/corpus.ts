/**
 * The codec's test corpus: real bytes, never bytes produced by our own encoder.
 *
 * 1. test/fixtures/kernel/corpus.jsonl, recorded by test/fixtures/kernel/record.py on a
 *    Linux 6.18 host: one JSON object per datagram, {source, what, hex}, where source is
 *    "kernel" (received from the kernel), "conntrack-tools" (what conntrack(8) sent, taken
 *    from strace) or "script" (a request the recorder built by hand with Python's struct).
 * 2. Every captures/*.pcap / *.pcapng (nlmon recordings made by the capture recorder),
 *    read through src/pcap; only NETLINK_NETFILTER datagrams are kept. The directory may
 *    be empty or absent.
 *
 * Headers in both are little-endian (recorded on x86-64).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromHex } from './hex.js';

export type CorpusSource = 'kernel' | 'conntrack-tools' | 'script' | 'capture';

export interface CorpusEntry {
  source: CorpusSource;
  /** What was being done when the datagram was recorded. */
  what: string;
  bytes: Uint8Array;
  /** Where it came from: "corpus.jsonl:12" or "captures/x.pcap#3". */
  origin: string;
}

const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(HERE, '..', '..');
export const KERNEL_CORPUS = join(ROOT, 'test', 'fixtures', 'kernel', 'corpus.jsonl');
export const CAPTURES_DIR = join(ROOT, 'captures');

const NETLINK_NETFILTER = 12;

let kernelCache: CorpusEntry[] | undefined;

/** The recorded fixture (synchronous; parsed once). */
export function kernelCorpus(): CorpusEntry[] {
  if (kernelCache) return kernelCache;
  const out: CorpusEntry[] = [];
  const lines = readFileSync(KERNEL_CORPUS, 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const rec = JSON.parse(line) as { source: CorpusSource; what: string; hex: string };
    out.push({ source: rec.source, what: rec.what, bytes: fromHex(rec.hex), origin: `corpus.jsonl:${i + 1}` });
  });
  kernelCache = out;
  return out;
}

/** Capture files present in captures/ (none is fine). */
export function captureFiles(): string[] {
  if (!existsSync(CAPTURES_DIR)) return [];
  return readdirSync(CAPTURES_DIR)
    .filter((f) => /\.(pcap|pcapng)$/.test(f))
    .sort()
    .map((f) => join(CAPTURES_DIR, f));
}

export interface CaptureCorpus {
  entries: CorpusEntry[];
  /** Files that could not be read (message per file). */
  errors: string[];
}

/**
 * NETLINK_NETFILTER datagrams of every capture file. src/pcap is imported lazily so that a
 * tree without captures never depends on it.
 */
export async function captureCorpus(): Promise<CaptureCorpus> {
  const files = captureFiles();
  const entries: CorpusEntry[] = [];
  const errors: string[] = [];
  if (files.length === 0) return { entries, errors };
  let pcap: typeof import('../../src/pcap/index.js');
  try {
    pcap = await import('../../src/pcap/index.js');
  } catch (e) {
    return { entries, errors: [`src/pcap could not be loaded: ${String(e)}`] };
  }
  for (const file of files) {
    const name = relative(ROOT, file);
    try {
      let n = 0;
      for (const rec of pcap.parseCapture(new Uint8Array(readFileSync(file)))) {
        const p = pcap.netlinkPayload(rec);
        if (p === undefined || p.protocol !== NETLINK_NETFILTER || p.data.length === 0) continue;
        // Truncated records (snaplen) are not whole datagrams; they are not corpus material.
        if (rec.originalLength !== rec.data.length) continue;
        entries.push({ source: 'capture', what: `${name} record ${rec.index}`, bytes: p.data.slice(), origin: `${name}#${rec.index}` });
        n++;
      }
      if (n === 0) errors.push(`${name}: no NETLINK_NETFILTER datagrams`);
    } catch (e) {
      errors.push(`${name}: ${String(e)}`);
    }
  }
  return { entries, errors };
}

/** Fixture plus captures. */
export async function loadCorpus(): Promise<CorpusEntry[]> {
  return [...kernelCorpus(), ...(await captureCorpus()).entries];
}

/** Entries whose `what` contains `what` (and optionally of one source); throws if none. */
export function find(what: string, source?: CorpusSource): CorpusEntry[] {
  const hits = kernelCorpus().filter((e) => e.what.includes(what) && (source === undefined || e.source === source));
  if (hits.length === 0) throw new Error(`no corpus entry matches ${JSON.stringify(what)}`);
  return hits;
}

// ---------------------------------------------------------------------------------------
// Schema-free structure of a datagram, for fixtures and structure-aware fuzzing.
//
// Messages are walked by nlmsg_len; attribute lists are found where netlink puts them
// (after nfgenmsg for types >= 0x10; the ext-ack TLVs of NLMSG_ERROR / NLMSG_DONE when
// NLM_F_ACK_TLVS is set) and nests are recognised by NLA_F_NESTED, which every kernel
// since 5.2 and libmnl set on nests. The walk stops quietly at the first malformed length.

const LE = true;

export interface AttrInfo {
  /** Offset of the nlattr header. */
  off: number;
  /** nla_len. */
  len: number;
  /** nla_type as sent (flag bits included). */
  rawType: number;
  /** The list that holds it. */
  list: AttrList;
  /** Its payload as an attribute list, when NLA_F_NESTED is set. */
  children?: AttrList;
}

export interface AttrList {
  start: number;
  end: number;
  /** Offsets of the u16 nla_len of every enclosing nest, innermost last. */
  nestLenOffsets: number[];
  /** Offset of the u32 nlmsg_len of the enclosing message. */
  msgLenOffset: number;
  attrs: AttrInfo[];
  depth: number;
}

export interface MessageInfo {
  off: number;
  len: number;
  type: number;
  flags: number;
  /** Top-level attribute list, if the message has one. */
  attrs?: AttrList;
}

export interface DatagramStructure {
  messages: MessageInfo[];
  /** Every attribute list, top level and nested. */
  lists: AttrList[];
  /** Every attribute. */
  attrs: AttrInfo[];
}

function u16(b: Uint8Array, off: number): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint16(off, LE);
}

function u32(b: Uint8Array, off: number): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(off, LE);
}

function walkList(b: Uint8Array, s: DatagramStructure, start: number, end: number, nestLenOffsets: number[], msgLenOffset: number, depth: number): AttrList {
  const list: AttrList = { start, end, nestLenOffsets, msgLenOffset, attrs: [], depth };
  s.lists.push(list);
  for (let off = start; off + 4 <= end; ) {
    const len = u16(b, off);
    if (len < 4 || len > end - off) break;
    const rawType = u16(b, off + 2);
    const a: AttrInfo = { off, len, rawType, list };
    list.attrs.push(a);
    s.attrs.push(a);
    if ((rawType & 0x8000) !== 0 && depth < 16) {
      a.children = walkList(b, s, off + 4, off + len, [...nestLenOffsets, off], msgLenOffset, depth + 1);
    }
    off += (len + 3) & ~3;
  }
  return list;
}

/** Messages, attribute lists and attributes of a datagram (host order = little-endian). */
export function walkDatagram(b: Uint8Array): DatagramStructure {
  const s: DatagramStructure = { messages: [], lists: [], attrs: [] };
  for (let off = 0; off + 16 <= b.length; ) {
    const len = u32(b, off);
    if (len < 16 || len > b.length - off) break;
    const type = u16(b, off + 4);
    const flags = u16(b, off + 6);
    const m: MessageInfo = { off, len, type, flags };
    const end = off + len;
    let start = -1;
    if (type >= 0x10) start = off + 20;
    else if (type === 2 && (flags & 0x200) !== 0 && len >= 36) {
      const reqLen = u32(b, off + 20);
      start = off + 36 + ((flags & 0x100) === 0 && reqLen > 16 ? (reqLen - 16 + 3) & ~3 : 0);
    } else if (type === 3 && (flags & 0x200) !== 0) start = off + 20;
    if (start >= 0 && start <= end) m.attrs = walkList(b, s, start, end, [], off, 0);
    s.messages.push(m);
    off += (len + 3) & ~3;
  }
  return s;
}

/**
 * Offset of the attribute reached by following `path` (types, flag bits ignored) from the
 * top-level list of message `msgIndex`. Throws when there is no such attribute.
 */
export function locate(b: Uint8Array, path: readonly number[], msgIndex = 0): number {
  const m = walkDatagram(b).messages[msgIndex];
  let list = m?.attrs;
  let found: AttrInfo | undefined;
  for (const t of path) {
    found = list?.attrs.find((a) => (a.rawType & 0x3fff) === t);
    if (found === undefined) throw new Error(`no attribute path ${path.join('/')} in message ${msgIndex}`);
    list = found.children;
  }
  if (found === undefined) throw new Error('empty attribute path');
  return found.off;
}

/**
 * Insert `ins` (whole attributes, a multiple of 4 bytes) at offset `pos`, a boundary of
 * `list`, and add its length to every enclosing nest and to the message. Returns undefined
 * when a nest would outgrow 16 bits.
 */
export function insertAt(b: Uint8Array, list: AttrList, pos: number, ins: Uint8Array): Uint8Array | undefined {
  const out = new Uint8Array(b.length + ins.length);
  out.set(b.subarray(0, pos), 0);
  out.set(ins, pos);
  out.set(b.subarray(pos), pos + ins.length);
  return addToLengths(out, list, ins.length) ? out : undefined;
}

/** Add `delta` to the nla_len of every nest enclosing `list` and to its nlmsg_len. */
export function addToLengths(b: Uint8Array, list: AttrList, delta: number): boolean {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (const off of list.nestLenOffsets) {
    const n = v.getUint16(off, LE) + delta;
    if (n > 0xffff || n < 4) return false;
    v.setUint16(off, n, LE);
  }
  v.setUint32(list.msgLenOffset, v.getUint32(list.msgLenOffset, LE) + delta, LE);
  return true;
}

/** The attribute list reached by `path` (top-level list for []), in message `msgIndex`. */
export function listAt(b: Uint8Array, path: readonly number[], msgIndex = 0): AttrList {
  const m = walkDatagram(b).messages[msgIndex];
  let list = m?.attrs;
  for (const t of path) list = list?.attrs.find((a) => (a.rawType & 0x3fff) === t)?.children;
  if (list === undefined) throw new Error(`no attribute list at ${path.join('/')} in message ${msgIndex}`);
  return list;
}

/** An attribute's bytes: header, payload, zero padding. */
export function attrBytes(rawType: number, payload: Uint8Array | readonly number[]): Uint8Array {
  const p = payload instanceof Uint8Array ? payload : new Uint8Array(payload);
  const a = new Uint8Array((4 + p.length + 3) & ~3);
  const v = new DataView(a.buffer);
  v.setUint16(0, 4 + p.length, LE);
  v.setUint16(2, rawType, LE);
  a.set(p, 4);
  return a;
}
