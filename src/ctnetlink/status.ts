/**
 * CTA_STATUS bits (enum ip_conntrack_status) by name. Bits this table does not know
 * (newer kernels) are named "BIT_<n>" and survive a names -> bits round trip.
 */
import { IPS_NAMES, TCP_STATE_NAMES, SCTP_STATE_NAMES, DCCP_STATE_NAMES } from './constants.js';

/** ["SEEN_REPLY", "ASSURED", "CONFIRMED"] for 0x0e. */
export function statusNames(status: number): string[] {
  const out: string[] = [];
  for (let bit = 0; bit < 32; bit++) {
    if (status & (1 << bit)) out.push(IPS_NAMES[bit] ?? `BIT_${bit}`);
  }
  return out;
}

/** Bits for names as statusNames() writes them (case-insensitive, "IPS_" prefix allowed). */
export function parseStatus(names: readonly string[]): number {
  let bits = 0;
  for (const raw of names) {
    const name = raw.trim().toUpperCase().replace(/^IPS_/, '');
    let bit = IPS_NAMES.indexOf(name);
    const m = /^BIT_(\d+)$/.exec(name);
    if (bit < 0 && m) bit = Number(m[1]);
    if (bit < 0 || bit > 31) throw new RangeError(`unknown conntrack status flag: ${raw}`);
    bits |= 1 << bit;
  }
  return bits >>> 0;
}

/** TCP state name as conntrack(8) prints it; out-of-range states print as NONE like libnetfilter_conntrack. */
export function tcpStateName(state: number): string {
  return TCP_STATE_NAMES[state] ?? 'NONE';
}

export function sctpStateName(state: number): string {
  return SCTP_STATE_NAMES[state] ?? 'NONE';
}

export function dccpStateName(state: number): string {
  return DCCP_STATE_NAMES[state] ?? 'NONE';
}

/** TCP state number for a name ("ESTABLISHED"), or undefined. */
export function parseTcpState(name: string): number | undefined {
  const i = TCP_STATE_NAMES.indexOf(name.trim().toUpperCase());
  return i < 0 ? undefined : i;
}
