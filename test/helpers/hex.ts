/**
 * Hex helpers for fixtures and failure messages.
 *
 * fromHex accepts annotated fixtures: whitespace is ignored and "#" or "//" starts a
 * comment that runs to the end of the line, so a fixture can be written one 4-byte row
 * per line in libmnl's mnl_nlmsg_fprintf layout:
 *
 *   fromHex(`
 *     14 00 00 00   # nlmsg_len 20
 *     03 00 02 00   # NLMSG_DONE, NLM_F_MULTI
 *   `)
 */

export function fromHex(text: string): Uint8Array {
  const clean = text
    .split('\n')
    .map((line) => line.replace(/(#|\/\/).*$/, ''))
    .join('')
    .replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) throw new Error(`not hex: ${JSON.stringify(text.slice(0, 80))}`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

/** Classic 16-bytes-per-row hexdump with offsets (for assertion messages). */
export function hexdump(bytes: Uint8Array, max = 4096): string {
  const rows: string[] = [];
  const n = Math.min(bytes.length, max);
  for (let off = 0; off < n; off += 16) {
    const chunk = Array.from(bytes.subarray(off, Math.min(off + 16, n)));
    const hex = chunk.map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const ascii = chunk.map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    rows.push(`${off.toString(16).padStart(6, '0')}  ${hex.padEnd(47)}  ${ascii}`);
  }
  if (bytes.length > n) rows.push(`... ${bytes.length - n} more bytes`);
  return rows.join('\n');
}

/** Offset of the first differing byte, or -1 when equal. */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}
