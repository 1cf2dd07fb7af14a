/**
 * Decoded byte fields are copies: a model never aliases the buffer it was decoded from,
 * even when that buffer is a Node Buffer (whose slice() returns a view).
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { decodeDatagram } from '../src/ctnetlink/message.js';
import { netlinkPayload, parseCapture } from '../src/pcap/index.js';

it('labels decoded from a Buffer do not change when the Buffer does', () => {
  const file = readFileSync(new URL('../captures/zones-marks-labels.pcap', import.meta.url));
  let checked = 0;
  for (const rec of parseCapture(file)) {
    const p = netlinkPayload(rec)!;
    expect(Buffer.isBuffer(p.data)).toBe(true);
    for (const m of decodeDatagram(p.data)) {
      if (m.kind !== 'conntrack' || !m.conntrack.labels) continue;
      const before = Array.from(m.conntrack.labels);
      p.data.fill(0xee);
      expect(Array.from(m.conntrack.labels)).toEqual(before);
      expect(m.conntrack.labels.buffer).not.toBe(file.buffer);
      checked++;
      break;
    }
  }
  expect(checked).toBeGreaterThan(0);
});
