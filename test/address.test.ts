/**
 * Address text must equal inet_ntop(3) (glibc), which conntrack(8) uses. The expected
 * strings were computed once with Python's socket.inet_ntop on glibc (Debian 12) and are
 * written inline; the random rows came from a seeded Python generator biased towards
 * zero runs, 1 and 0xffff words.
 */
import { describe, expect, it } from 'vitest';
import { addressBytes, formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from '../src/ctnetlink/address.js';
import { NetlinkEncodeError } from '../src/netlink/errors.js';
import { fromHex, toHex } from './helpers/hex.js';
import { Prng, seedFromEnv } from './helpers/prng.js';

/** [16 bytes as hex, socket.inet_ntop(AF_INET6, bytes)] */
const IPV6_RULES: [string, string][] = [
  ['00000000000000000000000000000000', '::'],
  ['00000000000000000000000000000001', '::1'],
  ['00000000000000000000000000000002', '::2'],
  ['00000000000000000000000000000102', '::102'],
  ['0000000000000000000000000000ffff', '::ffff'],
  ['00000000000000000000000001020304', '::1.2.3.4'],
  ['000000000000000000000000c0000201', '::192.0.2.1'],
  ['0000000000000000000000000a000001', '::10.0.0.1'],
  ['000000000000000000000000ffffffff', '::255.255.255.255'],
  ['00000000000000000000000000010000', '::0.1.0.0'],
  ['00000000000000000000000000100000', '::0.16.0.0'],
  ['00000000000000000000ffffc0000201', '::ffff:192.0.2.1'],
  ['00000000000000000000ffff00000000', '::ffff:0.0.0.0'],
  ['00000000000000000000fffe01020304', '::fffe:102:304'],
  ['0000000000000000ffff0000c0000201', '::ffff:0:c000:201'],
  ['000000000000000000010000c0000201', '::1:0:c000:201'],
  ['0000000000000000ffff000000000000', '::ffff:0:0:0'],
  ['10000000000000000000000000000000', '1000::'],
  ['00010000000000000000000000000000', '1::'],
  ['00000000000100000000000000000000', '0:0:1::'],
  ['00000001000000000000000000000001', '0:1::1'],
  ['20010db8000000000000000000000001', '2001:db8::1'],
  ['20010db8000000000000000000000000', '2001:db8::'],
  ['20010db8000000000001000000000001', '2001:db8::1:0:0:1'],
  ['20010db8000000010000000000000001', '2001:db8:0:1::1'],
  ['20010db8000100000000000100000001', '2001:db8:1::1:0:1'],
  ['20010db8000000000000000100000000', '2001:db8::1:0:0'],
  ['20010db8000000010001000100010001', '2001:db8:0:1:1:1:1:1'],
  ['20010db80000000000000000ffff0102', '2001:db8::ffff:102'],
  ['fe800000000000000000000000000001', 'fe80::1'],
  ['ff020000000000000000000000000001', 'ff02::1'],
  ['00010002000300040005000600070008', '1:2:3:4:5:6:7:8'],
  ['abcdef0123456789abcdef0123456789', 'abcd:ef01:2345:6789:abcd:ef01:2345:6789'],
];

/** Seeded random rows (Python random.seed(20261124)), same oracle. */
const IPV6_RANDOM: [string, string][] = [
  ['00000000000000000000000000007e19', '::7e19'],
  ['00014882000100000000b47800010000', '1:4882:1::b478:1:0'],
  ['ef06f54300000001ffff00005c4c0000', 'ef06:f543:0:1:ffff:0:5c4c:0'],
  ['0000000027160000dcbb000000000000', '0:0:2716:0:dcbb::'],
  ['0000318b0000000000010000ffffef87', '0:318b::1:0:ffff:ef87'],
  ['0000ffff000000000000000003200000', '0:ffff::320:0'],
  ['0000000000006f6f0000699500000000', '::6f6f:0:6995:0:0'],
  ['0000000000000001ffff0000652fffff', '::1:ffff:0:652f:ffff'],
  ['0001000000010001b6ed000000010000', '1:0:1:1:b6ed:0:1:0'],
  ['6cac2d26000000010000000000010000', '6cac:2d26:0:1::1:0'],
  ['0000777c00004551000000005c37b4d3', '0:777c:0:4551::5c37:b4d3'],
  ['669100000000000000000000000040f7', '6691::40f7'],
  ['0000000000010001ffff270d9d080000', '::1:1:ffff:270d:9d08:0'],
  ['0000000000000000000100000000ffff', '::1:0:0:ffff'],
  ['ffff50960000000100000001e3630000', 'ffff:5096:0:1:0:1:e363:0'],
  ['d357000011420000ede8000000000000', 'd357:0:1142:0:ede8::'],
  ['00000000de213a680000000000000000', '0:0:de21:3a68::'],
  ['0000ffff7be00001efc2ffff00000000', '0:ffff:7be0:1:efc2:ffff::'],
  ['0000ad7500000001f60f000071baa5ad', '0:ad75:0:1:f60f:0:71ba:a5ad'],
  ['ffff4c2b000000000000000000000000', 'ffff:4c2b::'],
  ['7f82000000000001000000005e1f0000', '7f82::1:0:0:5e1f:0'],
  ['0000e7ae0000000000006f0f9d44be42', '0:e7ae::6f0f:9d44:be42'],
  ['000000000000000000000000ffff0001', '::255.255.0.1'],
  ['000000001eebffff0000000000010000', '::1eeb:ffff:0:0:1:0'],
  ['00004c6f0000c2220000000010da0000', '0:4c6f:0:c222::10da:0'],
  ['00000001000000010000433b00000000', '0:1:0:1:0:433b::'],
  ['8c47ffff12cfdda00000000000000000', '8c47:ffff:12cf:dda0::'],
  ['00005897000163d20000000000000000', '0:5897:1:63d2::'],
  ['000000000000000000000000419762ae', '::65.151.98.174'],
  ['f1800000ffff00000000000000000000', 'f180:0:ffff::'],
  ['0000419900010000fcf56a2000000000', '0:4199:1:0:fcf5:6a20::'],
  ['67df0000000100002ef90000e3880000', '67df:0:1:0:2ef9:0:e388:0'],
  ['0000bbc8000000013ae7a71200000001', '0:bbc8:0:1:3ae7:a712:0:1'],
  ['086d0001cb23000100001b473e890001', '86d:1:cb23:1:0:1b47:3e89:1'],
  ['00000000000000000000fffffffff491', '::ffff:255.255.244.145'],
];

const IPV4: [string, string][] = [
  ['00000000', '0.0.0.0'],
  ['7f000001', '127.0.0.1'],
  ['c0000201', '192.0.2.1'],
  ['0a000001', '10.0.0.1'],
  ['01020304', '1.2.3.4'],
  ['ffffffff', '255.255.255.255'],
];

describe('formatIpv6 equals inet_ntop', () => {
  it.each([...IPV6_RULES, ...IPV6_RANDOM])('%s -> %s', (hex, text) => {
    // At a non-zero offset of a larger buffer, as inside a datagram.
    const b = new Uint8Array([0xaa, 0xbb, 0xcc, ...fromHex(hex), 0xdd]);
    expect(formatIpv6(b, 3)).toBe(text);
  });
});

describe('formatIpv4 equals inet_ntop', () => {
  it.each(IPV4)('%s -> %s', (hex, text) => {
    expect(formatIpv4(new Uint8Array([9, ...fromHex(hex)]), 1)).toBe(text);
  });
});

describe('parse', () => {
  it.each([...IPV6_RULES, ...IPV6_RANDOM])('parseIpv6(%s) is %s', (hex, text) => {
    expect(toHex(parseIpv6(text)!)).toBe(hex);
  });

  it.each([
    ['uppercase', '2001:DB8::A', '20010db800000000000000000000000a'],
    ['leading zeros', '2001:0db8:0000::0001', '20010db8000000000000000000000001'],
    ['full form', '0:0:0:0:0:0:0:1', '00000000000000000000000000000001'],
    ['"::" for one group', '1:2:3:4:5:6::8', '00010002000300040005000600000008'],
    ['"::" at the end for one group', '1:2:3:4:5:6:7::', '00010002000300040005000600070000'],
    ['dotted tail without "::"', '0:0:0:0:0:ffff:1.2.3.4', '00000000000000000000ffff01020304'],
    ['dotted tail after groups', '64:ff9b::192.0.2.33', '0064ff9b0000000000000000c0000221'],
  ])('accepts %s: %s', (_name, text, hex) => {
    expect(toHex(parseIpv6(text)!)).toBe(hex);
  });

  it.each([
    '',
    ':',
    ':::',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    '1::2::3',
    '12345::',
    'g::1',
    '1:2:3:4:5:6:7:8::',
    '::1.2.3',
    '::1.2.3.256',
    '::ffff:1.2.3.4:5',
    '1.2.3.4',
    ' ::1',
    '::1%eth0',
  ])('rejects IPv6 %j', (text) => {
    expect(parseIpv6(text)).toBeUndefined();
  });

  it.each(IPV4)('parseIpv4(%s) is %s', (hex, text) => {
    expect(toHex(parseIpv4(text)!)).toBe(hex);
  });

  it.each(['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '1.2.3.-4', '1.2.3.4 ', '1..2.3', '0x1.2.3.4', '1.2.3.1234', 'a.b.c.d'])('rejects IPv4 %j', (text) => {
    expect(parseIpv4(text)).toBeUndefined();
  });

  it('addressBytes picks the family by ":" and throws NetlinkEncodeError otherwise', () => {
    expect(addressBytes('192.0.2.1', 'p')).toEqual(fromHex('c0000201'));
    expect(addressBytes('::ffff:192.0.2.1', 'p')).toEqual(fromHex('00000000000000000000ffffc0000201'));
    expect(() => addressBytes('192.0.2.300', 'CTA_TUPLE_ORIG > src')).toThrow(NetlinkEncodeError);
    try {
      addressBytes('nope', 'CTA_TUPLE_ORIG > src');
    } catch (e) {
      expect(e).toBeInstanceOf(NetlinkEncodeError);
      expect((e as NetlinkEncodeError).path).toEqual(['CTA_TUPLE_ORIG > src']);
      expect((e as NetlinkEncodeError).message).toContain('"nope"');
    }
  });
});

describe('parse(format(x)) == x for random addresses', () => {
  const seed = seedFromEnv('CTEV_ADDRESS_SEED');
  it(`20,000 IPv6 and 5,000 IPv4 addresses (seed ${seed})`, () => {
    const rng = new Prng(seed);
    const word = (): number => {
      const r = rng.int(100);
      return r < 50 ? 0 : r < 60 ? 1 : r < 67 ? 0xffff : rng.int(65536);
    };
    for (let i = 0; i < 20000; i++) {
      const b = new Uint8Array(16);
      for (let w = 0; w < 8; w++) {
        const v = word();
        b[2 * w] = v >> 8;
        b[2 * w + 1] = v & 0xff;
      }
      if (rng.chance(0.2)) {
        b.fill(0, 0, 10);
        if (rng.chance(0.5)) b.fill(0xff, 10, 12);
      }
      const text = formatIpv6(b, 0);
      const back = parseIpv6(text);
      if (back === undefined || toHex(back) !== toHex(b)) {
        throw new Error(`seed ${seed} iteration ${i}: ${toHex(b)} -> ${text} -> ${back ? toHex(back) : 'unparsable'}`);
      }
      // inet_ntop invariants: lowercase, at most one "::", no group with a leading zero.
      expect(text).toBe(text.toLowerCase());
      expect(text.split('::').length).toBeLessThanOrEqual(2);
      expect(/(^|:)0[0-9a-f]/.test(text.replace(/\d+\.\d+\.\d+\.\d+$/, ''))).toBe(false);
    }
    for (let i = 0; i < 5000; i++) {
      const b = rng.bytes(4);
      const text = formatIpv4(b, 0);
      expect(toHex(parseIpv4(text)!)).toBe(toHex(b));
    }
  });
});
