// The JSON line writer's caches (line start reused from the last line, fragments kept per
// value): a sequence of lines where consecutive lines differ in exactly one input of a
// cached part must still equal JSON.stringify(toJson(m)) line by line.

import { describe, expect, it } from 'vitest';
import type { Conntrack, Message } from '../src/ctnetlink/model.js';
import { formatMessage as formatJson, toJson } from '../src/format/json.js';

type CtMessage = Message & { kind: 'conntrack' };

function entry(over: Partial<{ type: number; flags: number; seq: number; pid: number; event: 'new' | 'update' | 'destroy' }>, ct: Conntrack): CtMessage {
  const m = {
    kind: 'conntrack',
    header: { type: over.type ?? 0x100, flags: over.flags ?? 2, seq: over.seq ?? 7, pid: over.pid ?? 1234 },
    nfgen: { family: ct.family, version: 0, resId: 0 },
    conntrack: ct,
  } as unknown as CtMessage;
  if (over.event !== undefined) (m as { event?: string }).event = over.event;
  return m;
}

function ct(i: number, over: Partial<Conntrack> = {}): Conntrack {
  return {
    family: 2,
    orig: { src: '10.0.0.1', dst: `10.1.0.${i & 255}`, proto: 17, srcPort: 1000 + i, dstPort: 53 },
    reply: { src: `10.1.0.${i & 255}`, dst: '10.0.0.1', proto: 17, srcPort: 53, dstPort: 1000 + i },
    status: i & 1 ? 8 : 10,
    timeout: 30 - (i % 3),
    mark: i % 2,
    id: 0x80000000 + i,
    use: 1 + (i % 2),
    ...over,
  };
}

describe('json line caches', () => {
  it('follow every change of type, time, header, family and protocol between consecutive lines', () => {
    const ctxA = { timestampNs: 1_795_532_821_745_528_999n };
    const ctxB = { timestampNs: 1_795_532_821_745_529_999n };
    const seq: [CtMessage, { timestampNs?: bigint }][] = [];
    const variants: ((i: number) => [CtMessage, { timestampNs?: bigint }])[] = [
      (i) => [entry({}, ct(i)), ctxA],
      (i) => [entry({}, ct(i)), ctxB],
      (i) => [entry({}, ct(i)), {}],
      (i) => [entry({ seq: 8 }, ct(i)), ctxA],
      (i) => [entry({ pid: 0 }, ct(i)), ctxA],
      (i) => [entry({ flags: 2 | 32 }, ct(i)), ctxA],
      (i) => [entry({ type: 0x101 }, ct(i)), ctxA],
      (i) => [entry({ flags: 1 }, ct(i)), ctxA],
      (i) => [entry({ event: 'new' }, ct(i)), ctxA],
      (i) => [entry({ event: 'destroy' }, ct(i)), ctxA],
      (i) => [entry({ event: 'destroy', pid: 0 }, ct(i)), ctxA],
      (i) => [entry({}, ct(i, { family: 10, orig: { src: '::1', dst: '::2', proto: 17, srcPort: 1, dstPort: 2 }, reply: undefined })), ctxA],
      (i) => [entry({}, ct(i, { orig: { src: '10.0.0.1', dst: '10.0.0.2', proto: 6, srcPort: 1, dstPort: 2 }, protoinfo: { tcp: { state: 3 } } })), ctxA],
      (i) => [entry({}, ct(i, { orig: undefined, reply: undefined })), ctxA],
      (i) => [entry({}, ct(i, { timeout: undefined, mark: undefined, use: undefined, status: undefined })), ctxA],
      // Same slot of the status/timeout/mark table (index: timeout ^ status >>> 3 ^ mark * 5, mod 64).
      (i) => [entry({}, ct(i, { timeout: 30, mark: 0, status: 8 })), ctxA],
      (i) => [entry({}, ct(i, { timeout: 30, mark: 64, status: 8 })), ctxA],
      (i) => [entry({}, ct(i, { timeout: 94, mark: 0, status: 8 })), ctxA],
      (i) => [entry({}, ct(i, { timeout: 30, mark: 0, status: 10 })), ctxA],
    ];
    for (let round = 0; round < 3; round++) {
      for (let a = 0; a < variants.length; a++) {
        for (let b = 0; b < variants.length; b++) {
          seq.push(variants[a]!(round * 1000 + a * 31 + b), variants[a]!(round * 1000 + a * 31 + b + 1), variants[b]!(b));
        }
      }
    }
    for (const [m, c] of seq) expect(formatJson(m, c)).toBe(JSON.stringify(toJson(m, c)));
  });
});
