/**
 * Netlink core: bounds-checked reader, message splitting, builder, control messages
 * (NLMSG_ERROR / ACK, ext-ack TLVs with the policy nest, NLMSG_DONE).
 *
 * Table-driven: each row is {name, bytes, want} or {name, bytes, error}; error rows check
 * that NetlinkDecodeError carries the right byte offset and attribute path. Fixtures are
 * hex, one 4-byte row per line, annotated; the control-message fixtures were received from
 * a Linux 6.18 kernel (test/fixtures/kernel/corpus.jsonl) and are repeated here inline.
 */
import { describe, expect, it } from 'vitest';
import { putNfgenmsg } from '../src/nfnetlink/header.js';
import { Builder } from '../src/netlink/builder.js';
import { NLM_F_ACK_TLVS, NLM_F_CAPPED, NLM_F_MULTI } from '../src/netlink/constants.js';
import {
  type DonePayload,
  type ErrorPayload,
  decodeDonePayload,
  decodeErrorPayload,
  encodeDonePayload,
  encodeErrorPayload,
} from '../src/netlink/control.js';
import { NetlinkDecodeError, NetlinkEncodeError } from '../src/netlink/errors.js';
import { messageLen, nextMessage, readHeader, splitMessages } from '../src/netlink/message.js';
import {
  Reader,
  attrLen,
  attrRawType,
  attrType,
  getBytes,
  getStringz,
  getU16be,
  getU32be,
  getU32host,
  getU64be,
  getU8,
  getZeroLength,
  nextAttr,
} from '../src/netlink/reader.js';
import { decodeDatagram, encodeMessages } from '../src/ctnetlink/message.js';
import { fromHex, toHex } from './helpers/hex.js';

interface DecodeErrorWant {
  offset: number;
  path: string[];
  reason?: RegExp;
}

function catchDecodeError(fn: () => unknown): NetlinkDecodeError {
  try {
    fn();
  } catch (e) {
    if (e instanceof NetlinkDecodeError) return e;
    throw new Error(`expected NetlinkDecodeError, got ${String(e)}`);
  }
  throw new Error('expected NetlinkDecodeError, nothing was thrown');
}

function expectDecodeError(fn: () => unknown, want: DecodeErrorWant): void {
  const e = catchDecodeError(fn);
  expect({ offset: e.offset, path: e.path }).toEqual({ offset: want.offset, path: want.path });
  if (want.reason) expect(e.reason).toMatch(want.reason);
  expect(e.message).toContain(`at byte offset ${want.offset}`);
}

// ---------------------------------------------------------------------------------------
describe('reader: attrLen', () => {
  const rows: { name: string; bytes: string; off?: number; end?: number; le?: boolean; want?: number; error?: DecodeErrorWant }[] = [
    { name: 'u32 attribute', bytes: '08 00 01 00  00 00 00 2a', want: 8 },
    { name: 'header-only attribute', bytes: '04 00 05 00', want: 4 },
    { name: 'unpadded last attribute', bytes: '05 00 01 00  06', want: 5 },
    { name: 'second attribute', bytes: '05 00 01 00  06 00 00 00  06 00 02 00  12 34', off: 8, want: 6 },
    { name: 'big-endian header', bytes: '00 08 00 01  00 00 00 2a', le: false, want: 8 },
    { name: 'end bounds the walk (nest end)', bytes: '08 00 01 00  00 00 00 2a  08 00 02 00', end: 8, want: 8 },
    {
      name: 'nla_len 0',
      bytes: '00 00 01 00  00 00 00 00',
      error: { offset: 0, path: [], reason: /attribute length 0 is shorter than its header/ },
    },
    { name: 'nla_len 3', bytes: '03 00 01 00', error: { offset: 0, path: [], reason: /length 3 is shorter/ } },
    {
      name: 'nla_len past the end',
      bytes: '0c 00 07 00  00 00 00 00',
      error: { offset: 0, path: [], reason: /attribute type 7 length 12 exceeds the 8 bytes left/ },
    },
    {
      name: 'nla_len past the nest end',
      bytes: '08 00 01 00  00 00 00 2a  08 00 02 00  00 00 00 00',
      off: 8,
      end: 12,
      error: { offset: 8, path: [], reason: /exceeds the 4 bytes left/ },
    },
    { name: '3 bytes left', bytes: '08 00 01 00  00 00 00 2a  01 02 03', off: 8, error: { offset: 8, path: [], reason: /3 trailing bytes/ } },
    { name: 'flag bits are masked in the message', bytes: '10 00 ff bf  00 00 00 00', error: { offset: 0, path: [], reason: /type 16383 length 16/ } },
  ];
  it.each(rows)('$name', ({ bytes, off = 0, end, le = true, want, error }) => {
    const b = fromHex(bytes);
    const r = new Reader(b, le);
    const e = end ?? b.length;
    if (error) expectDecodeError(() => attrLen(r, off, e), error);
    else expect(attrLen(r, off, e)).toBe(want);
  });
});

describe('reader: nextAttr, attrType, attrRawType', () => {
  it.each([
    { name: 'aligned', off: 0, len: 8, end: 16, want: 8 },
    { name: 'padded to 4', off: 0, len: 5, end: 16, want: 8 },
    { name: 'last attribute without padding', off: 0, len: 5, end: 5, want: 5 },
    { name: 'padding cut by the end', off: 4, len: 6, end: 10, want: 10 },
    { name: 'header-only', off: 12, len: 4, end: 32, want: 16 },
  ])('nextAttr $name', ({ off, len, end, want }) => {
    expect(nextAttr(off, len, end)).toBe(want);
  });

  it.each([
    { name: 'plain', bytes: '08 00 01 00', type: 1, raw: 0x0001 },
    { name: 'NLA_F_NESTED', bytes: '08 00 01 80', type: 1, raw: 0x8001 },
    { name: 'NLA_F_NET_BYTEORDER', bytes: '08 00 03 40', type: 3, raw: 0x4003 },
    { name: 'all bits', bytes: '08 00 ff ff', type: 0x3fff, raw: 0xffff },
  ])('type of $name', ({ bytes, type, raw }) => {
    const r = new Reader(fromHex(bytes));
    expect(attrType(r, 0)).toBe(type);
    expect(attrRawType(r, 0)).toBe(raw);
  });
});

describe('reader: exact-length scalars', () => {
  type Read = (r: Reader, p: number, n: number, name: string) => unknown;
  const rows: { name: string; read: Read; bytes: string; want?: unknown; error?: DecodeErrorWant }[] = [
    { name: 'u8', read: getU8, bytes: '05 00 01 00  06', want: 6 },
    { name: 'u16 BE', read: getU16be, bytes: '06 00 02 00  c3 50', want: 50000 },
    { name: 'u32 BE', read: getU32be, bytes: '08 00 03 00  de ad be ef', want: 0xdeadbeef },
    { name: 'u32 host (LE)', read: getU32host, bytes: '08 00 02 00  48 00 00 00', want: 72 },
    { name: 'u64 BE', read: getU64be, bytes: '0c 00 01 00  18 ea 7b 0b  a5 0f 1d 6e', want: 0x18ea7b0ba50f1d6en },
    { name: 'u64 BE all ones', read: getU64be, bytes: '0c 00 01 00  ff ff ff ff  ff ff ff ff', want: 18446744073709551615n },
    { name: 'stringz', read: getStringz, bytes: '08 00 01 00  66 74 70 00', want: 'ftp' },
    { name: 'stringz UTF-8', read: getStringz, bytes: '07 00 01 00  c3 a9 00', want: 'é' },
    { name: 'stringz of one NUL', read: getStringz, bytes: '05 00 01 00  00', want: '' },
    { name: 'stringz without payload', read: getStringz, bytes: '04 00 01 00', want: '' },
    { name: 'zero-length', read: getZeroLength, bytes: '04 00 05 00', want: undefined },
    { name: 'u8 of 2 bytes', read: getU8, bytes: '06 00 01 00  06 00', error: { offset: 0, path: ['X'], reason: /expected 1-byte payload, got 2 bytes/ } },
    { name: 'u8 of 0 bytes', read: getU8, bytes: '04 00 01 00', error: { offset: 0, path: ['X'], reason: /got 0 bytes/ } },
    { name: 'u16 of 3 bytes', read: getU16be, bytes: '07 00 02 00  00 50 00', error: { offset: 0, path: ['X'], reason: /expected 2-byte payload, got 3 bytes/ } },
    { name: 'u32 of 3 bytes', read: getU32be, bytes: '07 00 03 00  00 00 08', error: { offset: 0, path: ['X'], reason: /expected 4-byte payload, got 3/ } },
    { name: 'u32 host of 8 bytes', read: getU32host, bytes: '0c 00 02 00  00 00 00 00  00 00 00 00', error: { offset: 0, path: ['X'], reason: /4-byte/ } },
    { name: 'u64 of 4 bytes', read: getU64be, bytes: '08 00 01 00  00 00 00 01', error: { offset: 0, path: ['X'], reason: /expected 8-byte payload, got 4/ } },
    { name: 'stringz without NUL', read: getStringz, bytes: '07 00 01 00  66 74 70', error: { offset: 0, path: ['X'], reason: /not NUL-terminated/ } },
    { name: 'stringz with bytes after NUL', read: getStringz, bytes: '08 00 01 00  66 00 00 00', error: { offset: 0, path: ['X'], reason: /2 bytes after the string terminator/ } },
    { name: 'zero-length with payload', read: getZeroLength, bytes: '05 00 05 00  00', error: { offset: 0, path: ['X'], reason: /expected empty payload, got 1/ } },
  ];
  it.each(rows)('$name', ({ read, bytes, want, error }) => {
    // The attribute sits at offset 12 of a larger buffer: offsets are buffer offsets.
    const b = new Uint8Array([...new Uint8Array(12).fill(0xee), ...fromHex(bytes)]);
    const r = new Reader(b.subarray(0));
    const len = attrLen(r, 12, b.length);
    if (error) expectDecodeError(() => read(r, 16, len - 4, 'X'), { ...error, offset: error.offset + 12 });
    else expect(read(r, 16, len - 4, 'X')).toEqual(want);
  });

  it('reads through a subarray view with a byteOffset', () => {
    const backing = fromHex('ff ff ff ff  08 00 03 00  00 00 00 2a  ff ff');
    const r = new Reader(backing.subarray(4, 12));
    expect(attrLen(r, 0, 8)).toBe(8);
    expect(getU32be(r, 4, 4, 'X')).toBe(42);
    expect(getBytes(r, 4, 4)).toEqual(fromHex('00 00 00 2a'));
  });

  it('getBytes copies (the model never pins the receive buffer)', () => {
    const b = fromHex('08 00 16 00  01 02 03 04');
    const got = getBytes(new Reader(b), 4, 4);
    b[4] = 0xff;
    expect(got).toEqual(fromHex('01 02 03 04'));
    expect(got.buffer).not.toBe(b.buffer);
  });
});

// ---------------------------------------------------------------------------------------
describe('message splitting', () => {
  const DONE = `
    14 00 00 00   # nlmsg_len 20
    03 00 02 00   # NLMSG_DONE, NLM_F_MULTI
    0e 10 00 00   # seq 4110
    7e d9 2f 9f   # pid
    00 00 00 00   # status 0`;
  const rows: { name: string; bytes: string; want?: { offset: number; length: number }[]; error?: DecodeErrorWant }[] = [
    { name: 'empty datagram', bytes: '', want: [] },
    { name: 'one message', bytes: DONE, want: [{ offset: 0, length: 20 }] },
    { name: 'two messages', bytes: DONE + DONE, want: [{ offset: 0, length: 20 }, { offset: 20, length: 20 }] },
    {
      name: 'unaligned first message is padded',
      bytes: '15 00 00 00 03 00 00 00 00 00 00 00 00 00 00 00  00 00 00 00 01  00 00 00' + '\n' + DONE,
      want: [{ offset: 0, length: 21 }, { offset: 24, length: 20 }],
    },
    { name: 'last message without its padding', bytes: '15 00 00 00 03 00 00 00 00 00 00 00 00 00 00 00  00 00 00 00 01', want: [{ offset: 0, length: 21 }] },
    { name: 'header only', bytes: '10 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00', want: [{ offset: 0, length: 16 }] },
    { name: '8 trailing bytes', bytes: DONE + '\n00 00 00 00 00 00 00 00', error: { offset: 20, path: ['nlmsghdr'], reason: /8 trailing bytes, too short/ } },
    { name: '1 byte', bytes: '14', error: { offset: 0, path: ['nlmsghdr'], reason: /1 trailing bytes/ } },
    { name: 'nlmsg_len 15', bytes: '0f 00 00 00 03 00 00 00 00 00 00 00 00 00 00 00', error: { offset: 0, path: ['nlmsghdr'], reason: /nlmsg_len 15 is shorter than the 16-byte header/ } },
    { name: 'nlmsg_len 0', bytes: '00 00 00 00 03 00 00 00 00 00 00 00 00 00 00 00', error: { offset: 0, path: ['nlmsghdr'], reason: /nlmsg_len 0/ } },
    { name: 'nlmsg_len past the end', bytes: '18 00 00 00 03 00 02 00 00 00 00 00 00 00 00 00 00 00 00 00', error: { offset: 0, path: ['nlmsghdr'], reason: /nlmsg_len 24 exceeds the 20 bytes left/ } },
    { name: 'second message past the end', bytes: DONE + '\nff ff 00 00 03 00 02 00 00 00 00 00 00 00 00 00', error: { offset: 20, path: ['nlmsghdr'], reason: /nlmsg_len 65535 exceeds the 16 bytes/ } },
  ];
  it.each(rows)('$name', ({ bytes, want, error }) => {
    const b = fromHex(bytes);
    const r = new Reader(b);
    if (error) {
      expectDecodeError(() => splitMessages(r), error);
      // decodeDatagram applies the same framing rules.
      expectDecodeError(() => decodeDatagram(b), error);
    } else expect(splitMessages(r)).toEqual(want);
  });

  it('messageLen, nextMessage and readHeader', () => {
    const b = fromHex(DONE);
    const r = new Reader(b);
    expect(messageLen(r, 0, 20)).toBe(20);
    expect(nextMessage(0, 21, 100)).toBe(24);
    expect(nextMessage(0, 21, 22)).toBe(22);
    expect(readHeader(r, 0)).toEqual({ type: 3, flags: NLM_F_MULTI, seq: 4110, pid: 0x9f2fd97e });
  });

  it('big-endian headers', () => {
    const b = fromHex('00 00 00 14  00 03 00 02  00 00 10 0e  9f 2f d9 7e  00 00 00 00');
    const r = new Reader(b, false);
    expect(splitMessages(r)).toEqual([{ offset: 0, length: 20 }]);
    expect(readHeader(r, 0)).toEqual({ type: 3, flags: 2, seq: 4110, pid: 0x9f2fd97e });
    expect(decodeDatagram(b, false)).toEqual([{ kind: 'done', header: { type: 3, flags: 2, seq: 4110, pid: 0x9f2fd97e }, done: { error: 0 } }]);
    expect(encodeMessages(decodeDatagram(b, false), false)).toEqual(b);
  });
});

// ---------------------------------------------------------------------------------------
describe('builder', () => {
  it('writes a message with nlmsg_len back-patched', () => {
    const b = new Builder();
    b.beginMessage(0x0101, 0x0301, 7, 0);
    putNfgenmsg(b, 2, 0, 0);
    b.putU32be(8, 5);
    b.endMessage();
    expect(toHex(b.finish())).toBe(
      toHex(
        fromHex(`
          1c 00 00 00   # nlmsg_len 28
          01 01 01 03   # IPCTNL_MSG_CT_GET, NLM_F_REQUEST|NLM_F_DUMP
          07 00 00 00   # seq 7
          00 00 00 00   # pid 0
          02 00 00 00   # nfgenmsg: AF_INET, v0, res_id 0
          08 00 08 00   # CTA_MARK
          00 00 00 05   #   5 (BE)`),
      ),
    );
  });

  it('back-patches nests (two levels) and sets NLA_F_NESTED', () => {
    const b = new Builder();
    const outer = b.nestStart(1);
    const inner = b.nestStart(2);
    b.putU16be(2, 0x1234);
    b.nestEnd(inner);
    b.putU8(3, 6);
    b.nestEnd(outer);
    expect(b.finish()).toEqual(
      fromHex(`
        18 00 01 80   # nest 1, len 24
        0c 00 02 80   #   nest 2, len 12
        06 00 02 00   #     u16
        12 34 00 00   #     0x1234 + zero pad
        05 00 03 00   #   u8
        06 00 00 00   #   6 + zero pad`),
    );
  });

  it('nestCancel drops the nest and what was put in it', () => {
    const b = new Builder();
    b.putU8(1, 1);
    const n = b.nestStart(2);
    b.putU32be(3, 3);
    b.nestCancel(n);
    b.putU8(4, 4);
    expect(b.finish()).toEqual(fromHex('05 00 01 00 01 00 00 00  05 00 04 00 04 00 00 00'));
  });

  it('zeroes padding even when the buffer is reused', () => {
    const b = new Builder(16);
    b.putAttr(1, new Uint8Array(8).fill(0xff));
    expect(b.finish()).toEqual(fromHex('0c 00 01 00 ff ff ff ff ff ff ff ff'));
    b.putU8(2, 0xab);
    b.putStringz(3, 'ab');
    b.putU16be(4, 1);
    expect(b.finish()).toEqual(fromHex('05 00 02 00 ab 00 00 00  07 00 03 00 61 62 00 00  06 00 04 00 00 01 00 00'));
  });

  it('grows from a tiny initial buffer and keeps what it wrote', () => {
    const b = new Builder(4);
    const want: number[] = [];
    b.beginMessage(0x0100, 0, 1, 2);
    want.push(0, 0, 0, 0, 0x00, 0x01, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0);
    for (let i = 0; i < 1000; i++) {
      b.putU32be(i & 0x3fff, i * 2654435761);
      const v = (i * 2654435761) >>> 0;
      want.push(8, 0, i & 0xff, (i >> 8) & 0x3f, v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
    }
    b.endMessage();
    const total = 16 + 8000;
    want[0] = total & 0xff;
    want[1] = total >> 8;
    expect(b.length).toBe(total);
    expect(b.finish()).toEqual(new Uint8Array(want));
    expect(b.length).toBe(0);
  });

  it('scalar helpers', () => {
    const b = new Builder();
    b.putEmpty(5);
    b.putU64be(1, 2n ** 64n - 1n);
    b.putU64be(2, -1n);
    b.putU32be(3, -1);
    b.putU32host(4, 0x01020304);
    b.putU8Pair(5, 0x23, 0x01);
    b.putRawU32host(-22);
    putNfgenmsg(b, 10, 1, 0x0102);
    b.putRaw(fromHex('aa bb cc'));
    expect(b.finish()).toEqual(
      fromHex(`
        04 00 05 00                                 # empty
        0c 00 01 00  ff ff ff ff  ff ff ff ff       # u64 max
        0c 00 02 00  ff ff ff ff  ff ff ff ff       # -1n as u64
        08 00 03 00  ff ff ff ff                    # -1 as u32 BE
        08 00 04 00  04 03 02 01                    # u32 host
        06 00 05 00  23 01 00 00                    # flags + mask
        ea ff ff ff                                 # -22 host
        0a 01 01 02                                 # nfgenmsg: res_id BE
        aa bb cc 00                                 # raw, zero padded`),
    );
  });

  it('big-endian builder writes headers big-endian', () => {
    const b = new Builder(64, false);
    b.beginMessage(0x0003, 0x0002, 1, 2);
    b.putU32host(2, 72);
    b.endMessage();
    expect(b.finish()).toEqual(fromHex('00 00 00 18  00 03 00 02  00 00 00 01  00 00 00 02  00 08 00 02  00 00 00 48'));
  });

  it('several messages in one datagram', () => {
    const b = new Builder();
    for (let seq = 1; seq <= 3; seq++) {
      b.beginMessage(3, 2, seq, 0);
      b.putRawU32host(0);
      b.endMessage();
    }
    const d = b.finish();
    expect(splitMessages(new Reader(d))).toEqual([0, 20, 40].map((offset) => ({ offset, length: 20 })));
  });

  it.each([
    { name: 'beginMessage inside a message', fn: (b: Builder) => (b.beginMessage(1, 0, 0, 0), b.beginMessage(1, 0, 0, 0)) },
    { name: 'endMessage without beginMessage', fn: (b: Builder) => b.endMessage() },
    { name: 'finish inside a message', fn: (b: Builder) => (b.beginMessage(1, 0, 0, 0), b.finish()) },
    { name: 'attribute longer than 65535', fn: (b: Builder) => b.putAttr(1, new Uint8Array(65532)) },
    {
      name: 'nest longer than 65535',
      fn: (b: Builder) => {
        const n = b.nestStart(1);
        for (let i = 0; i < 3; i++) b.putAttr(2, new Uint8Array(30000));
        b.nestEnd(n);
      },
    },
  ])('refuses: $name', ({ fn }) => {
    expect(() => fn(new Builder())).toThrow(NetlinkEncodeError);
  });

  it('accepts the largest attribute', () => {
    const b = new Builder();
    b.putAttr(1, new Uint8Array(65531));
    const d = b.finish();
    expect(d.length).toBe(65536);
    expect(attrLen(new Reader(d), 0, d.length)).toBe(65535);
  });
});

// ---------------------------------------------------------------------------------------
// Control messages. ACK, errors and DONE below were received from the kernel.

/** A positive ACK (always capped) for a CT_NEW of 160 bytes. */
const ACK = `
  24 00 00 00   # nlmsg_len 36
  02 00 00 01   # NLMSG_ERROR, NLM_F_CAPPED
  01 10 00 00   # seq 4097
  7e d9 2f 9f   # pid of the requester
  00 00 00 00   # error 0
  a0 00 00 00   # request: nlmsg_len 160
  00 01 05 06   #   IPCTNL_MSG_CT_NEW, REQUEST|ACK|EXCL|CREATE
  01 10 00 00   #   seq 4097
  00 00 00 00   #   pid 0`;

/** EEXIST on a NETLINK_CAP_ACK socket: capped, no request payload. */
const EEXIST_CAPPED = `
  24 00 00 00   # nlmsg_len 36
  02 00 00 01   # NLMSG_ERROR, NLM_F_CAPPED
  03 10 00 00   # seq 4099
  38 99 21 c8   # pid
  ef ff ff ff   # error -17 (EEXIST)
  a0 00 00 00   # request: nlmsg_len 160
  00 01 05 06   #   IPCTNL_MSG_CT_NEW
  03 10 00 00   #   seq
  00 00 00 00   #   pid`;

/** EINVAL for a CT_GET carrying CTA_TIMESTAMP_EVENT (NLA_REJECT), with ext-ack. */
const EINVAL_EXTACK = `
  98 00 00 00   # nlmsg_len 152
  02 00 00 02   # NLMSG_ERROR, NLM_F_ACK_TLVS
  09 10 00 00   # seq 4105
  7e d9 2f 9f   # pid
  ea ff ff ff   # error -22 (EINVAL)
  54 00 00 00   # request: nlmsg_len 84
  01 01 05 00   #   IPCTNL_MSG_CT_GET, REQUEST|ACK
  09 10 00 00   #   seq
  00 00 00 00   #   pid
  02 00 00 00   # request payload: nfgenmsg AF_INET
  34 00 01 80   #   CTA_TUPLE_ORIG
  14 00 01 80   #     CTA_TUPLE_IP
  08 00 01 00   #       CTA_IP_V4_SRC
  c6 33 64 01   #         198.51.100.1
  08 00 02 00   #       CTA_IP_V4_DST
  c6 33 64 02   #         198.51.100.2
  1c 00 02 80   #     CTA_TUPLE_PROTO
  05 00 01 00   #       CTA_PROTO_NUM
  11 00 00 00   #         17
  06 00 02 00   #       CTA_PROTO_SRC_PORT
  0b b8 00 00   #         3000
  06 00 03 00   #       CTA_PROTO_DST_PORT
  0f a0 00 00   #         4000
  0c 00 1b 00   #   CTA_TIMESTAMP_EVENT (offset 72 of the request)
  00 00 00 00   #
  00 00 00 01   #
  27 00 01 00   # NLMSGERR_ATTR_MSG, len 39
  41 74 74 72   #   "Attribute failed policy validation\\0"
  69 62 75 74
  65 20 66 61
  69 6c 65 64
  20 70 6f 6c
  69 63 79 20
  76 61 6c 69
  64 61 74 69
  6f 6e 00 00
  08 00 02 00   # NLMSGERR_ATTR_OFFS
  48 00 00 00   #   72`;

/** ERANGE for a 3-byte CTA_STATUS: ext-ack with the violated policy (NLA_U32 range). */
const ERANGE_POLICY_TLVS = `
  27 00 01 00   # NLMSGERR_ATTR_MSG
  41 74 74 72 69 62 75 74 65 20 66 61 69 6c 65 64 20 70 6f 6c
  69 63 79 20 76 61 6c 69 64 61 74 69 6f 6e 00 00
  08 00 02 00   # NLMSGERR_ATTR_OFFS
  7c 00 00 00   #   124
  24 00 04 80   # NLMSGERR_ATTR_POLICY (nested)
  0c 00 04 00   #   NL_POLICY_TYPE_ATTR_MIN_VALUE_U
  00 00 00 00   #     0
  00 00 00 00
  0c 00 05 00   #   NL_POLICY_TYPE_ATTR_MAX_VALUE_U
  ff ff ff ff   #     0xffffffff
  00 00 00 00
  08 00 01 00   #   NL_POLICY_TYPE_ATTR_TYPE (last, as the kernel writes it)
  04 00 00 00   #     NL_ATTR_TYPE_U32`;

const DONE_MULTI = `
  14 00 00 00   # nlmsg_len 20
  03 00 02 00   # NLMSG_DONE, NLM_F_MULTI
  0e 10 00 00   # seq 4110
  7e d9 2f 9f   # pid
  00 00 00 00   # status 0`;

const REQUEST_PAYLOAD_84 = fromHex(EINVAL_EXTACK).slice(36, 36 + 68);

describe('control messages: NLMSG_ERROR', () => {
  const rows: { name: string; bytes: string; want: ErrorPayload }[] = [
    {
      name: 'ACK (kernel, capped)',
      bytes: ACK,
      want: { error: 0, request: { len: 160, type: 0x0100, flags: 0x0605, seq: 4097, pid: 0 } },
    },
    {
      name: 'EEXIST on a CAP_ACK socket (kernel, capped)',
      bytes: EEXIST_CAPPED,
      want: { error: -17, request: { len: 160, type: 0x0100, flags: 0x0605, seq: 4099, pid: 0 } },
    },
    {
      name: 'EINVAL with echoed request and ext-ack message and offset (kernel)',
      bytes: EINVAL_EXTACK,
      want: {
        error: -22,
        request: { len: 84, type: 0x0101, flags: 0x0005, seq: 4105, pid: 0 },
        requestPayload: REQUEST_PAYLOAD_84,
        extAck: { message: 'Attribute failed policy validation', offset: 72 },
      },
    },
    {
      name: 'EINVAL without ext-ack: flags 0, request echoed',
      bytes: EINVAL_EXTACK.split('\n').slice(0, 27).join('\n').replace('98 00 00 00', '68 00 00 00').replace('02 00 00 02', '02 00 00 00'),
      want: {
        error: -22,
        request: { len: 84, type: 0x0101, flags: 0x0005, seq: 4105, pid: 0 },
        requestPayload: REQUEST_PAYLOAD_84,
      },
    },
    {
      name: 'ERANGE with the policy nest (kernel TLVs, capped request)',
      bytes: `
        78 00 00 00   # nlmsg_len 120
        02 00 00 03   # NLMSG_ERROR, NLM_F_CAPPED|NLM_F_ACK_TLVS
        0b 10 00 00   # seq
        7e d9 2f 9f   # pid
        de ff ff ff   # error -34
        8c 00 00 00 00 01 05 04 0b 10 00 00 00 00 00 00   # request header
        ${ERANGE_POLICY_TLVS}`,
      want: {
        error: -34,
        request: { len: 140, type: 0x0100, flags: 0x0405, seq: 4107, pid: 0 },
        extAck: {
          message: 'Attribute failed policy validation',
          offset: 124,
          policy: { minValueU: 0n, maxValueU: 0xffffffffn, type: 4 },
        },
      },
    },
    {
      name: 'request echo of an unaligned length is padded',
      bytes: `
        28 00 00 00  02 00 00 00  01 00 00 00  00 00 00 00   # NLMSG_ERROR, nlmsg_len 40
        ea ff ff ff                                          # -22
        13 00 00 00  10 00 01 00  01 00 00 00  00 00 00 00   # request len 19
        61 62 63 00                                          # 3 payload bytes + pad`,
      want: { error: -22, request: { len: 19, type: 0x10, flags: 1, seq: 1, pid: 0 }, requestPayload: fromHex('61 62 63') },
    },
    {
      name: 'every ext-ack TLV (hand-built, kernel order)',
      bytes: `
        88 00 00 00  02 00 00 03  05 00 00 00  00 00 00 00   # NLMSG_ERROR, CAPPED|ACK_TLVS
        f3 ff ff ff                                          # -13
        14 00 00 00  00 01 05 04  05 00 00 00  00 00 00 00   # request header
        06 00 01 00  78 00 00 00                             # MSG "x"
        07 00 03 00  01 02 03 00                             # COOKIE 01 02 03
        08 00 02 00  14 00 00 00                             # OFFS 20
        34 00 04 80                                          # POLICY
        0c 00 02 00  00 00 00 00 00 00 00 80                 #   MIN_VALUE_S -2^63
        0c 00 03 00  ff ff ff ff ff ff ff 7f                 #   MAX_VALUE_S 2^63-1
        08 00 06 00  01 00 00 00                             #   MIN_LENGTH 1
        08 00 07 00  10 00 00 00                             #   MAX_LENGTH 16
        08 00 01 00  0a 00 00 00                             #   TYPE NL_ATTR_TYPE_BINARY
        08 00 05 00  1b 00 00 00                             # MISS_TYPE 27
        08 00 06 00  24 00 00 00                             # MISS_NEST 36
        08 00 09 00  aa bb cc dd                             # unknown TLV 9`,
      want: {
        error: -13,
        request: { len: 20, type: 0x0100, flags: 0x0405, seq: 5, pid: 0 },
        extAck: {
          message: 'x',
          cookie: fromHex('01 02 03'),
          offset: 20,
          policy: { minValueS: -(2n ** 63n), maxValueS: 2n ** 63n - 1n, minLength: 1, maxLength: 16, type: 10 },
          missingType: 27,
          missingNest: 36,
          unknown: [{ type: 9, data: fromHex('aa bb cc dd') }],
        },
      },
    },
    {
      name: 'policy nest: mask, bitfield32, nested policy, PAD skipped, unknown kept',
      bytes: `
        60 00 00 00  02 00 00 03  05 00 00 00  00 00 00 00
        ea ff ff ff
        14 00 00 00  00 01 05 04  05 00 00 00  00 00 00 00
        3c 00 04 80                                          # POLICY
        04 00 0b 00                                          #   PAD (zero length): skipped
        08 00 08 00  03 00 00 00                             #   POLICY_IDX 3
        08 00 09 00  09 00 00 00                             #   POLICY_MAXTYPE 9
        08 00 0a 00  ff 0f 00 00                             #   BITFIELD32_MASK
        0c 00 0c 00  ff 0f 00 00 00 00 00 00                 #   MASK 0xfff
        08 00 01 00  0d 00 00 00                             #   TYPE NL_ATTR_TYPE_NESTED
        06 00 0e 00  01 02 00 00                             #   unknown 14`,
      want: {
        error: -22,
        request: { len: 20, type: 0x0100, flags: 0x0405, seq: 5, pid: 0 },
        extAck: {
          policy: { policyIdx: 3, policyMaxType: 9, bitfield32Mask: 0xfff, mask: 0xfffn, type: 13, unknown: [{ type: 14, data: fromHex('01 02') }] },
        },
      },
    },
  ];
  it.each(rows)('$name', ({ bytes, want }) => {
    const b = fromHex(bytes);
    const r = new Reader(b);
    const flags = readHeader(r, 0).flags;
    expect(decodeErrorPayload(r, flags, 16, b.length)).toEqual(want);
    const [m] = decodeDatagram(b);
    expect(m).toMatchObject({ kind: 'error', error: want });
  });

  // Rows whose bytes are canonical re-encode byte for byte.
  it.each(rows.filter((r) => !r.name.startsWith('policy nest')))('re-encodes: $name', ({ bytes }) => {
    const b = fromHex(bytes);
    expect(toHex(encodeMessages(decodeDatagram(b)))).toBe(toHex(b));
  });

  it('encodeErrorPayload of a model built by hand', () => {
    const bld = new Builder();
    bld.beginMessage(2, NLM_F_CAPPED | NLM_F_ACK_TLVS, 1, 2);
    encodeErrorPayload(bld, { error: -2, request: { len: 36, type: 0x0102, flags: 5, seq: 1, pid: 0 }, extAck: { missingType: 1 } });
    bld.endMessage();
    const d = bld.finish();
    expect(d).toEqual(
      fromHex(`
        2c 00 00 00  02 00 00 03  01 00 00 00  02 00 00 00
        fe ff ff ff
        24 00 00 00  02 01 05 00  01 00 00 00  00 00 00 00
        08 00 05 00  01 00 00 00`),
    );
  });

  const errorRows: { name: string; bytes: string; error: DecodeErrorWant }[] = [
    {
      name: 'payload shorter than struct nlmsgerr',
      bytes: '23 00 00 00 02 00 00 01 00 00 00 00 00 00 00 00  00 00 00 00 10 00 00 00 03 00 00 00 00 00 00 00 00 00 00',
      error: { offset: 16, path: ['NLMSG_ERROR', 'nlmsgerr'], reason: /19 bytes is shorter than struct nlmsgerr/ },
    },
    {
      name: 'echoed request longer than the message',
      bytes: '28 00 00 00 02 00 00 00 00 00 00 00 00 00 00 00  ea ff ff ff  64 00 00 00 01 01 05 00 00 00 00 00 00 00 00 00  02 00 00 00',
      error: { offset: 20, path: ['NLMSG_ERROR', 'nlmsgerr'], reason: /echoed request of 100 bytes exceeds/ },
    },
    {
      name: 'bytes after the echo without NLM_F_ACK_TLVS',
      bytes: '2c 00 00 00 02 00 00 01 00 00 00 00 00 00 00 00  00 00 00 00  14 00 00 00 01 01 05 00 00 00 00 00 00 00 00 00  08 00 01 00 78 00 00 00',
      error: { offset: 36, path: ['NLMSG_ERROR', 'nlmsgerr'], reason: /8 unexpected bytes after struct nlmsgerr/ },
    },
    {
      name: 'NLMSGERR_ATTR_OFFS of 3 bytes',
      bytes: '2c 00 00 00 02 00 00 03 00 00 00 00 00 00 00 00  ea ff ff ff  14 00 00 00 01 01 05 00 00 00 00 00 00 00 00 00  07 00 02 00 48 00 00 00',
      error: { offset: 36, path: ['NLMSG_ERROR', 'nlmsgerr ext-ack', 'NLMSGERR_ATTR_OFFS'], reason: /expected 4-byte payload, got 3/ },
    },
    {
      name: 'NLMSGERR_ATTR_MSG without NUL',
      bytes: '2c 00 00 00 02 00 00 03 00 00 00 00 00 00 00 00  ea ff ff ff  14 00 00 00 01 01 05 00 00 00 00 00 00 00 00 00  08 00 01 00 61 62 63 64',
      error: { offset: 36, path: ['NLMSG_ERROR', 'nlmsgerr ext-ack', 'NLMSGERR_ATTR_MSG'], reason: /not NUL-terminated/ },
    },
    {
      name: 'ext-ack TLV past the end',
      bytes: '2c 00 00 00 02 00 00 03 00 00 00 00 00 00 00 00  ea ff ff ff  14 00 00 00 01 01 05 00 00 00 00 00 00 00 00 00  10 00 01 00 61 62 63 00',
      error: { offset: 36, path: ['NLMSG_ERROR', 'nlmsgerr ext-ack'], reason: /attribute type 1 length 16 exceeds the 8 bytes left/ },
    },
    {
      name: 'policy MIN_VALUE_S of 4 bytes',
      bytes: '30 00 00 00 02 00 00 03 00 00 00 00 00 00 00 00  ea ff ff ff  14 00 00 00 01 01 05 00 00 00 00 00 00 00 00 00  0c 00 04 80 08 00 02 00 00 00 00 80',
      error: { offset: 40, path: ['NLMSG_ERROR', 'nlmsgerr ext-ack', 'NLMSGERR_ATTR_POLICY', 'NL_POLICY_TYPE_ATTR_MIN_VALUE_S'], reason: /expected 8-byte payload, got 4/ },
    },
    {
      name: 'policy TYPE of 2 bytes (kernel bytes, one length changed)',
      bytes: `
        78 00 00 00 02 00 00 03 0b 10 00 00 7e d9 2f 9f  de ff ff ff  8c 00 00 00 00 01 05 04 0b 10 00 00 00 00 00 00
        ${ERANGE_POLICY_TLVS.replace('08 00 01 00   #   NL_POLICY_TYPE_ATTR_TYPE', '06 00 01 00   #   NL_POLICY_TYPE_ATTR_TYPE')}`,
      error: { offset: 112, path: ['NLMSG_ERROR', 'nlmsgerr ext-ack', 'NLMSGERR_ATTR_POLICY', 'NL_POLICY_TYPE_ATTR_TYPE'], reason: /got 2 bytes/ },
    },
  ];
  it.each(errorRows)('error: $name', ({ bytes, error }) => {
    expectDecodeError(() => decodeDatagram(fromHex(bytes)), error);
  });
});

describe('control messages: NLMSG_DONE', () => {
  const rows: { name: string; bytes: string; want: DonePayload; canonical: boolean }[] = [
    { name: 'end of a dump (kernel)', bytes: DONE_MULTI, want: { error: 0 }, canonical: true },
    { name: 'without payload', bytes: '10 00 00 00 03 00 02 00 00 00 00 00 00 00 00 00', want: { error: 0 }, canonical: false },
    { name: 'failed dump: -EINTR', bytes: '14 00 00 00 03 00 02 00 01 00 00 00 00 00 00 00  fc ff ff ff', want: { error: -4 }, canonical: true },
    {
      name: 'with ext-ack TLVs',
      bytes: `
        28 00 00 00   # nlmsg_len 40
        03 00 02 02   # NLMSG_DONE, NLM_F_MULTI|NLM_F_ACK_TLVS
        01 00 00 00   # seq
        00 00 00 00   # pid
        ea ff ff ff   # -22
        0a 00 01 00   # NLMSGERR_ATTR_MSG, len 10: "abcde" NUL
        61 62 63 64
        65 00 00 00
        08 00 02 00   # NLMSGERR_ATTR_OFFS
        24 00 00 00   #   36`,
      want: { error: -22, extAck: { message: 'abcde', offset: 36 } },
      canonical: true,
    },
    { name: 'ACK_TLVS flag without TLVs', bytes: '14 00 00 00 03 00 02 02 01 00 00 00 00 00 00 00  00 00 00 00', want: { error: 0, extAck: {} }, canonical: true },
  ];
  it.each(rows)('$name', ({ bytes, want, canonical }) => {
    const b = fromHex(bytes);
    const r = new Reader(b);
    expect(decodeDonePayload(r, readHeader(r, 0).flags, 16, b.length)).toEqual(want);
    const re = encodeMessages(decodeDatagram(b));
    if (canonical) expect(toHex(re)).toBe(toHex(b));
    else expect(decodeDatagram(re)).toEqual(decodeDatagram(b));
  });

  it('encodeDonePayload', () => {
    const bld = new Builder();
    bld.beginMessage(3, NLM_F_MULTI | NLM_F_ACK_TLVS, 9, 0);
    encodeDonePayload(bld, { error: -105, extAck: { message: 'no' } });
    bld.endMessage();
    expect(bld.finish()).toEqual(fromHex('1c 00 00 00 03 00 02 02 09 00 00 00 00 00 00 00  97 ff ff ff  07 00 01 00 6e 6f 00 00'));
  });

  it.each([
    { name: '2-byte status', bytes: '12 00 00 00 03 00 02 00 00 00 00 00 00 00 00 00 00 00', error: { offset: 16, path: ['NLMSG_DONE', 'status'], reason: /2 bytes is shorter than its 4-byte status/ } },
    { name: 'extra bytes without NLM_F_ACK_TLVS', bytes: '18 00 00 00 03 00 02 00 00 00 00 00 00 00 00 00 00 00 00 00 08 00 01 00', error: { offset: 20, path: ['NLMSG_DONE', 'status'], reason: /4 unexpected bytes after the NLMSG_DONE status/ } },
    { name: 'TLV of 2 bytes', bytes: '18 00 00 00 03 00 02 02 00 00 00 00 00 00 00 00 00 00 00 00 02 00 01 00', error: { offset: 20, path: ['NLMSG_DONE', 'ext-ack'], reason: /length 2 is shorter/ } },
  ])('error: $name', ({ bytes, error }) => {
    expectDecodeError(() => decodeDatagram(fromHex(bytes)), error);
  });
});

describe('control messages: NOOP, OVERRUN, unknown types', () => {
  it.each([
    { name: 'NLMSG_NOOP', bytes: '10 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00', kind: 'noop' },
    { name: 'NLMSG_OVERRUN', bytes: '10 00 00 00 04 00 00 00 00 00 00 00 00 00 00 00', kind: 'overrun' },
    { name: 'NLMSG_NOOP with payload', bytes: '14 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 01 02 03 04', kind: 'other' },
    { name: 'type 0', bytes: '14 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01 02 03 04', kind: 'other' },
    { name: 'other nfnetlink subsystem (nf_tables)', bytes: '18 00 00 00 0a 0a 00 00 00 00 00 00 00 00 00 00 02 00 00 00 04 00 01 00', kind: 'other' },
  ])('$name', ({ bytes, kind }) => {
    const b = fromHex(bytes);
    const ms = decodeDatagram(b);
    expect(ms.map((m) => m.kind)).toEqual([kind]);
    expect(encodeMessages(ms)).toEqual(b);
  });

  it('an unknown message with an unaligned payload keeps its length', () => {
    const b = fromHex('13 00 00 00 0a 0a 00 00 00 00 00 00 00 00 00 00 02 00 00');
    const ms = decodeDatagram(b);
    expect(ms).toEqual([{ kind: 'other', header: { type: 0x0a0a, flags: 0, seq: 0, pid: 0 }, payload: fromHex('02 00 00') }]);
    expect(decodeDatagram(encodeMessages(ms))).toEqual(ms);
  });
});
