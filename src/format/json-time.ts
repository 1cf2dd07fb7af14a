/**
 * Scalar text of the JSON format: ISO-8601 timestamps with microseconds
 * ("2026-11-24T15:07:44.922001Z", the per-second prefix cached) and stringifyJson.
 */
const NS_PER_S = 1_000_000_000n;

/** isoTime the long way (any ns, negative included). */
export function isoTimeSlow(ns: bigint): string {
  const sec = ns >= 0n ? ns / NS_PER_S : (ns - NS_PER_S + 1n) / NS_PER_S;
  const usec = String((ns - sec * NS_PER_S) / 1000n).padStart(6, '0');
  return new Date(Number(sec) * 1000).toISOString().replace(/\.\d{3}Z$/, `.${usec}Z`);
}

// The last second seen by isoDigits: its decimal digits and "2026-11-24T15:07:01." for it.
let isoSecDigits = '';
let isoSecPrefix = '';

/**
 * isoTime for `digits` = ns.toString(). For times from 1970-01-01T00:00:01Z on, the
 * seconds and microseconds are slices of the digits, and the date part is computed once
 * per second (a flood of events shares a handful of seconds).
 */
export function isoDigits(ns: bigint, digits: string): string {
  const n = digits.length;
  if (n <= 9 || digits.charCodeAt(0) === 45 /* '-' */) return isoTimeSlow(ns);
  const sec = digits.slice(0, n - 9);
  if (sec !== isoSecDigits) {
    const iso = new Date(Number(sec) * 1000).toISOString();
    // "...T15:07:01.000Z" -> "...T15:07:01."
    isoSecPrefix = iso.slice(0, iso.length - 4);
    isoSecDigits = sec;
  }
  return isoSecPrefix + digits.slice(n - 9, n - 3) + 'Z';
}

/** "2026-11-24T15:07:01.745528Z" for ns since the epoch (UTC, microseconds, truncated). */
export function isoTime(ns: bigint): string {
  return isoDigits(ns, ns.toString());
}

/** JSON.stringify that writes bigint as a decimal string instead of throwing. */
export function stringifyJson(v: unknown, space?: number): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x), space);
}
