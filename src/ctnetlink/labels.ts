/**
 * Conntrack labels (CTA_LABELS): a bitmap of NF_CT_LABELS_MAX_SIZE = 16 bytes (labels
 * 0..127) laid out as the kernel's array of native `unsigned long`. On a little-endian
 * host label n is byte n >> 3, bit n & 7; on a big-endian 64-bit host the bytes of each
 * 8-byte word are reversed. labelBitmap() builds the bitmap from label numbers and refuses
 * a number that is not a label (100000, -1, 1.5, "7") instead of writing a wrong byte.
 */
import { HOST_LITTLE_ENDIAN } from '../netlink/constants.js';
import { fail, showValue } from '../netlink/check.js';

export const CT_LABELS_MAX = 128;

/** The CTA_LABELS bitmap (16 bytes) with the given labels set. Throws NetlinkEncodeError. */
export function labelBitmap(labels: readonly number[], le: boolean = HOST_LITTLE_ENDIAN): Uint8Array {
  if (!Array.isArray(labels)) fail(`${showValue(labels)} is not an array of label numbers`, 'labels', [], 'CTA_LABELS', labels);
  const out = new Uint8Array(CT_LABELS_MAX / 8);
  for (let i = 0; i < labels.length; i++) {
    const n: unknown = labels[i];
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n >= CT_LABELS_MAX) {
      fail(`${showValue(n)} is not a label number (an integer 0..${CT_LABELS_MAX - 1})`, `labels[${i}]`, [], 'CTA_LABELS', n);
    }
    const byte = le ? n >> 3 : (n >> 6) * 8 + (7 - ((n >> 3) & 7));
    out[byte] = out[byte]! | (1 << (n & 7));
  }
  return out;
}

/** The label numbers set in a CTA_LABELS bitmap (inverse of labelBitmap). */
export function labelNumbers(bitmap: Uint8Array, le: boolean = HOST_LITTLE_ENDIAN): number[] {
  const out: number[] = [];
  for (let byte = 0; byte < bitmap.length; byte++) {
    const v = bitmap[byte]!;
    if (v === 0) continue;
    const base = le ? byte * 8 : ((byte >> 3) * 8 + (7 - (byte & 7))) * 8;
    for (let bit = 0; bit < 8; bit++) if (v & (1 << bit)) out.push(base + bit);
  }
  return out.sort((a, b) => a - b);
}
