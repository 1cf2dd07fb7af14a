/**
 * Small string helpers shared by the formatters' hot paths (not part of the package API).
 *
 * Lines are built by string concatenation; every `+` of a result 13 characters or longer
 * makes a rope node that the output later walks to flatten the line, so strings kept for
 * reuse are stored flat, and constant parts are merged into as few pieces as possible.
 */

/**
 * A flat copy of `s`, for strings kept to be pasted into many lines: a string built by
 * concatenation is a rope, and every line it is pasted into would walk it again.
 */
export function flat(s: string): string {
  // Results under 13 characters are never ropes.
  return s.length < 13 ? s : (JSON.parse(JSON.stringify(s)) as string);
}

/**
 * `make(status)` remembered per status word: the last one at once, others from a map
 * bounded at 4,096 (a table sees few distinct status words).
 */
export function statusMemo<T>(make: (status: number) => T): (status: number) => T {
  const cache = new Map<number, T>();
  let last = -1;
  let lastValue: T | undefined;
  return (status) => {
    if (status !== last) {
      let t = cache.get(status);
      if (t === undefined) {
        t = make(status);
        if (cache.size >= 4096) cache.clear();
        cache.set(status, t);
      }
      last = status;
      lastValue = t;
    }
    return lastValue as T;
  };
}

/** A table of `n` empty slots (allocated whole, so that it keeps fast elements). */
export function slots(n: number): (string | undefined)[] {
  return new Array<string | undefined>(n).fill(undefined);
}

let DIGITS: string[] | undefined;
let PAD4: string[] | undefined;

/**
 * String(n) for integers in [0, 2^32) (ids, ports, marks, port ids), from two tables of
 * 10,000 strings: no number-to-string conversion, and no entry in V8's number-string
 * cache (which keeps every converted string alive into the old generation). On a stream
 * of distinct conntrack ids and ports this saves about 0.1 us per line. Other values:
 * '' + n.
 */
export function u32(n: number): string {
  if (!(n >= 0 && n <= 0xffffffff) || n !== Math.floor(n)) return '' + n;
  if (DIGITS === undefined || PAD4 === undefined) {
    DIGITS = [];
    PAD4 = [];
    for (let i = 0; i < 10000; i++) {
      DIGITS.push(String(i));
      PAD4.push(String(i).padStart(4, '0'));
    }
  }
  if (n < 10000) return DIGITS[n]!;
  const lo = n % 10000;
  const rest = (n - lo) / 10000;
  if (rest < 10000) return DIGITS[rest]! + PAD4[lo]!;
  const mid = rest % 10000;
  return DIGITS[(rest - mid) / 10000]! + PAD4[mid]! + PAD4[lo]!;
}
