/**
 * connlabel.conf: the label names `conntrack -o labels` prints, read from the host and
 * handed to the conntrack formatter as its `labels` option (formatters do no I/O).
 */
import { readFileSync } from 'node:fs';

/** Where conntrack (libnetfilter_conntrack) reads label names. */
export const CONNLABEL_CONF = '/etc/xtables/connlabel.conf';

/** strtoul(s, &end, 0) on an ASCII string: [value, index after the number] or undefined. */
function strtoul0(s: string): [number, number] | undefined {
  let i = 0;
  while (i < s.length && ' \t\n\v\f\r'.includes(s[i]!)) i++;
  let neg = false;
  if (s[i] === '+' || s[i] === '-') neg = s[i++] === '-';
  let base = 10;
  if (s[i] === '0' && (s[i + 1] === 'x' || s[i + 1] === 'X') && /[0-9a-fA-F]/.test(s[i + 2] ?? '')) {
    base = 16;
    i += 2;
  } else if (s[i] === '0') base = 8;
  const digits = base === 16 ? /[0-9a-fA-F]/ : base === 8 ? /[0-7]/ : /[0-9]/;
  const from = i;
  let v = 0;
  while (i < s.length && digits.test(s[i]!)) v = Math.min(v * base + parseInt(s[i++]!, base), Number.MAX_SAFE_INTEGER);
  if (i === from) return undefined;
  return [neg && v !== 0 ? Number.MAX_SAFE_INTEGER : v, i];
}

const SPACE = ' \f\r\t\v';

/**
 * Label names from connlabel.conf text, by libnetfilter_conntrack's rules: "<bit> <name>"
 * per line, '#' in the first column comments, bit (strtoul base 0) below 1024, the first
 * line for a bit and for a name wins, names only of [A-Za-z0-9 -]. Lines are read in
 * 1023-byte pieces like fgets with a 1024-byte buffer.
 */
export function parseConnlabelConf(text: string): Map<number, string> {
  const map = new Map<number, string>();
  const names = new Set<string>();
  const pieces: string[] = [];
  for (const raw of text.split(/(?<=\n)/)) for (let i = 0; i < raw.length; i += 1023) pieces.push(raw.slice(i, i + 1023));
  for (const piece of pieces) {
    if (piece[0] === '#') continue;
    const num = strtoul0(piece);
    if (num === undefined || num[0] >= 1024 || map.has(num[0])) continue;
    let label = piece.slice(num[1]);
    let a = 0;
    while (a < label.length && SPACE.includes(label[a]!)) a++;
    label = label.slice(a);
    const nl = label.indexOf('\n');
    if (nl >= 0) label = label.slice(0, nl);
    let e = label.length;
    while (e > 1 && SPACE.includes(label[e - 1]!)) e--;
    label = label.slice(0, e);
    if (label === '' || !/^[A-Za-z0-9 -]*$/.test(label) || names.has(label)) continue;
    names.add(label);
    map.set(num[0], label);
  }
  return map;
}

/**
 * The label map conntrack -o labels uses, or undefined when the file cannot be read or
 * names no label (conntrack then prints no labels at all).
 */
export function loadConnlabels(path: string = CONNLABEL_CONF): Map<number, string> | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'latin1');
  } catch {
    return undefined;
  }
  const map = parseConnlabelConf(text);
  return map.size > 0 ? map : undefined;
}
