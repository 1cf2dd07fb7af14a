/**
 * The ctnetlink golden corpus (test/fixtures/kernel/corpus.jsonl, recorded by record.py on
 * Linux 6.18 with conntrack-tools 1.4.7) and the helpers the ctnetlink.*.test.ts files
 * share: the entry at a line, its decoded messages, the attribute tree of a datagram
 * without layout, and the NetlinkDecodeError a call throws.
 */
import { NLM_F_REQUEST } from '../../src/netlink/constants.js';
import { NetlinkDecodeError } from '../../src/netlink/errors.js';
import { decodeDatagram } from '../../src/ctnetlink/message.js';
import type { Message } from '../../src/ctnetlink/model.js';
import { type AttrList, type CorpusEntry, kernelCorpus, walkDatagram } from './corpus.js';
import { toHex } from './hex.js';

export const CORPUS = kernelCorpus();

/** The corpus entry at corpus.jsonl:`n`, checking that it is the one the test means. */
export function line(n: number, what: string): CorpusEntry {
  const e = CORPUS[n - 1];
  if (e === undefined || !e.what.includes(what)) {
    throw new Error(`corpus.jsonl:${n} is ${JSON.stringify(e?.what)}, expected "${what}" (corpus re-recorded?)`);
  }
  return e;
}

export function decodeLine(n: number, what: string): Message[] {
  return decodeDatagram(line(n, what).bytes);
}

export function isRequest(b: Uint8Array): boolean {
  return b.length >= 8 && (b[6]! & NLM_F_REQUEST) !== 0;
}

/** Attribute tree with each list sorted and padding ignored (compares information, not layout). */
export function canonicalTree(b: Uint8Array): unknown {
  const s = walkDatagram(b);
  const list = (l: AttrList): unknown[] =>
    l.attrs
      .map((a) => (a.children ? { t: a.rawType, c: list(a.children) } : { t: a.rawType, v: toHex(b.subarray(a.off + 4, a.off + a.len)) }))
      .sort((x, y) => (JSON.stringify(x) < JSON.stringify(y) ? -1 : 1));
  return s.messages.map((m) => ({
    header: toHex(b.subarray(m.off, m.off + 16)),
    fixed: toHex(b.subarray(m.off + 16, m.attrs ? m.attrs.start : m.off + m.len)),
    attrs: m.attrs ? list(m.attrs) : [],
  }));
}

export function catchDecodeError(fn: () => unknown): NetlinkDecodeError {
  try {
    fn();
  } catch (e) {
    if (e instanceof NetlinkDecodeError) return e;
    throw new Error(`expected NetlinkDecodeError, got ${String(e)}`);
  }
  throw new Error('expected NetlinkDecodeError, nothing was thrown');
}
