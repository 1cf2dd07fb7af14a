/**
 * The CLI's address filters: parsed once (bytes and prefix length), whole addresses
 * matched against the decoder's text, CIDR prefixes matched per distinct address text.
 */
import { describe, expect, it } from 'vitest';
import { compileFilter } from '../src/cli/filter.js';
import type { Conntrack } from '../src/ctnetlink/model.js';

const v4 = (src: string, dst = '192.0.2.9'): Conntrack => ({ family: 2, orig: { src, dst, proto: 17, srcPort: 1, dstPort: 2 }, reply: { src: dst, dst: src } });
const v6 = (src: string): Conntrack => ({ family: 10, orig: { src, dst: '2001:db8::9', proto: 6 }, reply: { src: '2001:db8::9', dst: src } });

describe('address filters', () => {
  it('an IPv4 CIDR matches by prefix, repeatedly, and the kernel gets only the family', () => {
    const f = compileFilter({ src: '10.0.0.0/8' });
    expect(f.kernel).toEqual({ family: 2 });
    for (let i = 0; i < 3; i++) {
      expect(f.match(v4('10.1.2.3'))).toBe(true);
      expect(f.match(v4('11.0.0.1'))).toBe(false);
      expect(f.match(v4('10.255.255.255'))).toBe(true);
    }
    expect(compileFilter({ src: '192.0.2.128/25' }).match(v4('192.0.2.127'))).toBe(false);
    expect(compileFilter({ src: '192.0.2.128/25' }).match(v4('192.0.2.200'))).toBe(true);
    expect(compileFilter({ src: '0.0.0.0/0' }).match(v4('203.0.113.1'))).toBe(true);
  });

  it('an IPv6 prefix, and the other family never matches', () => {
    const f = compileFilter({ src: '2001:db8:1::/48' });
    expect(f.match(v6('2001:db8:1:ffff::1'))).toBe(true);
    expect(f.match(v6('2001:db8:2::1'))).toBe(false);
    expect(f.match(v4('10.0.0.1'))).toBe(false);
  });

  it('a whole address is matched exactly, on the canonical text, and asked of the kernel', () => {
    const f = compileFilter({ dst: '2001:0db8:0000::0009' });
    expect(f.kernel.orig?.dst).toBe('2001:db8::9');
    expect(f.match(v6('2001:db8::1'))).toBe(true);
    const g = compileFilter({ replySrc: '192.0.2.9' });
    expect(g.match(v4('10.0.0.1'))).toBe(true);
    expect(g.match(v4('10.0.0.1', '192.0.2.8'))).toBe(false);
  });

  it('many distinct addresses (past the memo limit) still match correctly', () => {
    const f = compileFilter({ src: '10.128.0.0/9' });
    let hits = 0;
    for (let i = 0; i < 70_000; i++) if (f.match(v4(`10.${(i >> 8) & 255}.${i & 255}.1`))) hits++;
    let want = 0;
    for (let i = 0; i < 70_000; i++) if (((i >> 8) & 255) >= 128) want++;
    expect(hits).toBe(want);
  });
});
