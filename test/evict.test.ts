/**
 * Eviction without a kernel: the fast delete encoder writes the same bytes as the general
 * codec, and the policy/filter helpers decide what a kernel-side flush may do.
 */
import { describe, expect, it } from 'vitest';
import { writeDelete, MAX_DELETE_BYTES } from '../src/client/delete-encoder.js';
import { compileDeleteFilter, flushCanExpress, kernelAtLeast } from '../src/client/evict.js';
import { idleSeconds, timeoutSysctlOf } from '../src/client/sysctls.js';
import { deleteRequest, type EntryKey } from '../src/ctnetlink/requests.js';
import { encodeMessage } from '../src/ctnetlink/message.js';
import { NLM_F_ACK } from '../src/netlink/constants.js';

function general(key: EntryKey, seq: number, flags = 0): Uint8Array {
  const m = deleteRequest(key);
  m.header.seq = seq;
  m.header.flags |= flags;
  return encodeMessage(m);
}

function fast(key: EntryKey, seq: number, flags = 0): Uint8Array | undefined {
  const b = new Uint8Array(MAX_DELETE_BYTES + 8);
  const v = new DataView(b.buffer);
  const n = writeDelete(b, v, 4, key, seq, flags);
  return n < 0 ? undefined : b.slice(4, 4 + n);
}

describe('fast CT_DELETE encoder', () => {
  const keys: EntryKey[] = [
    { family: 2, orig: { src: '10.0.0.1', dst: '10.0.0.2', proto: 17, srcPort: 1000, dstPort: 53 } },
    { family: 2, orig: { src: '255.255.255.255', dst: '0.0.0.0', proto: 6, srcPort: 65535, dstPort: 0 }, zone: 7, id: 0xfedcba98 },
    { family: 10, orig: { src: 'fd00::1', dst: '2001:db8::ffff:1', proto: 6, srcPort: 1, dstPort: 443 }, id: 1 },
    { family: 2, orig: { src: '192.0.2.1', dst: '192.0.2.2', proto: 1, icmpId: 77, icmpType: 8, icmpCode: 0 } },
    { family: 10, orig: { src: '::1', dst: '::1', proto: 58, icmpId: 9, icmpType: 128, icmpCode: 0 }, zone: 1 },
    { family: 2, orig: { src: '10.0.0.1', dst: '10.0.0.2', proto: 132, srcPort: 5, dstPort: 6 } },
  ];
  for (const k of keys) {
    it(`${k.family} ${k.orig!.proto} ${k.orig!.src}`, () => {
      expect(fast(k, 0x12345678)).toEqual(general(k, 0x12345678));
      expect(fast(k, 1, NLM_F_ACK)).toEqual(general(k, 1, NLM_F_ACK));
    });
  }
  it('declines what it cannot write', () => {
    expect(fast({ family: 2, orig: { src: '10.0.0.1', dst: '10.0.0.2', proto: 47 } }, 1)).toBeUndefined();
    expect(fast({ family: 2, orig: { src: '10.0.0.1', dst: '10.0.0.2', proto: 6, srcPort: 1, dstPort: 2, zone: 3 } }, 1)).toBeUndefined();
    expect(fast({ family: 2, orig: { src: '10.0.0.256', dst: '10.0.0.2', proto: 6, srcPort: 1, dstPort: 2 } }, 1)).toBeUndefined();
    expect(fast({ family: 2, orig: { src: '10.0.0', dst: '10.0.0.2', proto: 6, srcPort: 1, dstPort: 2 } }, 1)).toBeUndefined();
    expect(fast({ family: 2, reply: { src: '10.0.0.1', dst: '10.0.0.2', proto: 6, srcPort: 1, dstPort: 2 } }, 1)).toBeUndefined();
  });
});

describe('what a kernel-side flush may do', () => {
  it('only filters the kernel evaluates exactly', () => {
    expect(flushCanExpress({ kernel: { status: 4 } }, '6.18.1')).toBe(true);
    expect(flushCanExpress({ kernel: { family: 2, orig: { src: '10.0.0.1' } } }, '6.18.1')).toBe(true);
    expect(flushCanExpress({ kernel: { family: 2, orig: { src: '10.0.0.1' } } }, '6.11.9')).toBe(false);
    expect(flushCanExpress({ kernel: { orig: { src: '10.0.0.1' } } }, '6.18.1')).toBe(false);
    expect(flushCanExpress({ kernel: { zone: 0 } }, '6.18.1')).toBe(false);
    expect(flushCanExpress({ kernel: { mark: 1, markMask: 0 } }, '6.18.1')).toBe(false);
    expect(flushCanExpress({ kernel: { status: 4 }, idleOver: 5 }, '6.18.1')).toBe(false);
    expect(flushCanExpress({ kernel: { status: 4 }, match: () => true }, '6.18.1')).toBe(false);
    expect(flushCanExpress({}, '6.18.1')).toBe(false);
    expect(kernelAtLeast('6.12.0-rc1', 6, 12)).toBe(true);
    expect(kernelAtLeast('5.15.0', 6, 12)).toBe(false);
  });
  it('idle = configured timeout of the state - remaining', () => {
    const sysctls = { nf_conntrack_tcp_timeout_established: 432000, nf_conntrack_udp_timeout: 30, nf_conntrack_udp_timeout_stream: 120 };
    const tcp = { family: 2, orig: { proto: 6 }, protoinfo: { tcp: { state: 3 } }, timeout: 1000 };
    expect(timeoutSysctlOf(tcp)).toBe('nf_conntrack_tcp_timeout_established');
    expect(idleSeconds(tcp, sysctls)).toBe(431000);
    expect(idleSeconds({ family: 2, orig: { proto: 17 }, status: 4, timeout: 100 }, sysctls)).toBe(20);
    expect(idleSeconds({ family: 2, orig: { proto: 17 }, status: 0, timeout: 100 }, sysctls)).toBe(0);
    const f = compileDeleteFilter({ idleOver: 400000, kernel: { family: 2 } }, sysctls);
    expect(f(tcp)).toBe(true);
    expect(f({ ...tcp, timeout: 431000 })).toBe(false);
    expect(f({ ...tcp, family: 10 })).toBe(false);
  });
});
