/**
 * Request checks through the nfnetlink registry: every request the codec encodes, whatever
 * registry and whoever built it, is checked by its subsystem (NfnlSubsystem.checkRequest:
 * ctnetlink fields.ts, cttimeout check.ts) or, for control and raw messages, by the netlink
 * layer, before a byte is written. Replies and events are not checked.
 */
import { describe, expect, it } from 'vitest';
import '../src/ctnetlink/subsystem.js';
import { timeoutDefaultSetRequest, timeoutNewRequest } from '../src/cttimeout/index.js';
import * as R from '../src/ctnetlink/requests.js';
import { NLM_F_REQUEST } from '../src/netlink/constants.js';
import { NetlinkEncodeError } from '../src/netlink/errors.js';
import { encodeNfnlMessages } from '../src/nfnetlink/codec.js';

function refusal(fn: () => unknown): NetlinkEncodeError {
  try {
    fn();
  } catch (e) {
    if (e instanceof NetlinkEncodeError) return e;
    throw new Error(`expected NetlinkEncodeError, got ${String(e)}`);
  }
  throw new Error('expected NetlinkEncodeError, nothing was thrown');
}

describe('requests through the shared registry are checked', () => {
  it('a ctnetlink request with a port that does not fit', () => {
    const m = R.getRequest({ family: 2, orig: { src: '192.0.2.1', dst: '192.0.2.2', proto: 17, srcPort: 1, dstPort: 2 } });
    if (m.kind !== 'conntrack') throw new Error('not a conntrack request');
    m.conntrack.orig!.srcPort = 70000;
    const e = refusal(() => encodeNfnlMessages([m]));
    expect(e.field).toBe('orig.srcPort');
  });

  it('cttimeout: a NUL in the name, a use count or nfgenmsg field that does not fit, a bad seq', () => {
    const base = () => timeoutNewRequest({ name: 'p', l3proto: 2, l4proto: 17, policy: { unreplied: 5 } });
    const nul = base();
    nul.timeout.name = 'a\0b';
    expect(refusal(() => encodeNfnlMessages([nul])).message).toMatch(/timeout\.name: .*NUL/);
    const use = base();
    use.timeout.use = 2 ** 32;
    expect(refusal(() => encodeNfnlMessages([use])).field).toBe('timeout.use');
    const fam = base();
    (fam.nfgen as { family: unknown }).family = 'ipv4';
    expect(refusal(() => encodeNfnlMessages([fam])).field).toBe('nfgen.family');
    const seq = base();
    seq.header.seq = -1;
    expect(refusal(() => encodeNfnlMessages([seq])).field).toBe('header.seq');
    const secs = timeoutDefaultSetRequest({ l3proto: 2, l4proto: 17, policy: { replied: 2 ** 32 } });
    expect(refusal(() => encodeNfnlMessages([secs])).field).toBe('timeout.policy.replied');
  });

  it('not a message at all, and a raw message with a payload that is not bytes', () => {
    expect(refusal(() => encodeNfnlMessages([null as never])).field).toBe('message');
    const raw = { kind: 'other', header: { type: 0x0801, flags: NLM_F_REQUEST, seq: 1, pid: 0 }, payload: 'x' };
    expect(refusal(() => encodeNfnlMessages([raw as never])).field).toBe('payload');
  });

  it('a reply (no NLM_F_REQUEST) is written as it is', () => {
    const m = timeoutNewRequest({ name: 'p', l3proto: 2, l4proto: 17, policy: { unreplied: 5 } });
    m.header.flags &= ~NLM_F_REQUEST;
    m.timeout.use = 1;
    expect(() => encodeNfnlMessages([m])).not.toThrow();
  });
});
