/**
 * Attributes kept as they came: unknown types (newer kernels) survive decode and are
 * re-emitted verbatim (flag bits included), after the known attributes of their nest.
 */
import type { Builder } from './builder.js';
import { NLA_HDRLEN } from './constants.js';
import type { Reader } from './reader.js';
import { attrRawType, getBytes } from './reader.js';

export interface RawAttribute {
  /** nla_type as sent, NLA_F_NESTED / NLA_F_NET_BYTEORDER bits included. */
  type: number;
  /** Payload copy (no header, no padding). */
  data: Uint8Array;
}

/** Append the attribute at `off` (header validated, length `len`) to `list`. */
export function keepUnknown(list: RawAttribute[] | undefined, r: Reader, off: number, len: number): RawAttribute[] {
  const out = list ?? [];
  out.push({ type: attrRawType(r, off), data: getBytes(r, off + NLA_HDRLEN, len - NLA_HDRLEN) });
  return out;
}

export function putUnknown(b: Builder, list: RawAttribute[] | undefined): void {
  if (list === undefined) return;
  for (const a of list) b.putAttr(a.type, a.data);
}
