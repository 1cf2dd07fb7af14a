/** Conntrack entries for tests that build a table over ctnetlink (guard, table view). */
import { IPS_ASSURED, IPS_SEEN_REPLY } from '../../src/ctnetlink/constants.js';
import type { Conntrack } from '../../src/ctnetlink/model.js';

export const ESTABLISHED = 3;
export const TIME_WAIT = 7;

/** A TCP entry src:sport -> 10.9.9.9:80 in `state`, ASSURED (and SEEN_REPLY) unless told. */
export function tcpEntry(src: string, sport: number, state: number, timeout: number, assured = true): Conntrack {
  return {
    family: 2,
    orig: { src, dst: '10.9.9.9', proto: 6, srcPort: sport, dstPort: 80 },
    reply: { src: '10.9.9.9', dst: src, proto: 6, srcPort: 80, dstPort: sport },
    timeout, status: assured ? IPS_ASSURED | IPS_SEEN_REPLY : 0, protoinfo: { tcp: { state } },
  };
}
