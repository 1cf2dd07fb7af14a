/**
 * Checkers for values about to be put on the wire: the builder's put* helpers write what
 * they are given (a DataView wraps 70000 to 4464, NaN to 0), so every request value passes
 * one of these first. Each returns nothing on success and throws NetlinkEncodeError with
 *
 *   path   the attribute path, outermost first: base + attr, e.g.
 *          ["CTA_TUPLE_ORIG", "CTA_TUPLE_PROTO"] + "CTA_PROTO_SRC_PORT"
 *   field  the model field, e.g. "orig.srcPort"
 *   value  the offending value, as given
 *
 * The path array is built only on failure; success allocates nothing.
 *
 *   u8 / u16 / u32   JavaScript integers (typeof 'number', Number.isInteger) in range
 *   u64              bigint 0 .. 2^64-1 (64-bit values are bigint in this codebase)
 *   bytes            Uint8Array that fits an nlattr (<= 65531 bytes)
 *   string           no NUL inside (the kernel would stop there), fits its nlattr
 */
import { NetlinkEncodeError } from './errors.js';

/** Largest payload of one nlattr (nla_len is a u16 that counts the 4-byte header). */
export const NLA_MAX_PAYLOAD = 0xffff - 4;

const NO_PATH: readonly string[] = [];

/** A short, safe rendering of any value for an error message. */
export function showValue(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}...` : v);
    case 'bigint':
      return `${v}n`;
    case 'number':
      return Object.is(v, -0) ? '-0' : String(v);
    case 'object':
      if (v === null) return 'null';
      if (v instanceof Uint8Array) return `Uint8Array(${v.length})`;
      if (Array.isArray(v)) return `an array of ${v.length}`;
      return 'an object';
    case 'function':
      return 'a function';
    case 'symbol':
      return 'a symbol';
    default:
      return String(v);
  }
}

/** Throw the NetlinkEncodeError for `field` (attribute path base + attr). */
export function fail(reason: string, field: string, base: readonly string[] = NO_PATH, attr?: string, ...value: [] | [unknown]): never {
  const path = attr === undefined ? [...base] : [...base, attr];
  const details: { field: string; value?: unknown } = { field };
  if (value.length > 0) details.value = value[0];
  const prefix = field === '' ? '' : `${field}: `;
  throw new NetlinkEncodeError(`${prefix}${reason}`, path, details);
}

function badInt(v: unknown, kind: string, max: number | bigint, field: string, base: readonly string[], attr: string | undefined): never {
  return fail(`${showValue(v)} is not a ${kind} (an integer 0..${max})`, field, base, attr, v);
}

/** An integer 0..max (max <= 2^53-1). */
export function checkUint(v: unknown, max: number, kind: string, field: string, base: readonly string[] = NO_PATH, attr?: string): asserts v is number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) badInt(v, kind, max, field, base, attr);
}

export function checkU8(v: unknown, field: string, base: readonly string[] = NO_PATH, attr?: string): asserts v is number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xff) badInt(v, 'u8', 255, field, base, attr);
}

export function checkU16(v: unknown, field: string, base: readonly string[] = NO_PATH, attr?: string): asserts v is number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffff) badInt(v, 'u16', 65535, field, base, attr);
}

export function checkU32(v: unknown, field: string, base: readonly string[] = NO_PATH, attr?: string): asserts v is number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) badInt(v, 'u32', 4294967295, field, base, attr);
}

const U64_MAX = (1n << 64n) - 1n;

export function checkU64(v: unknown, field: string, base: readonly string[] = NO_PATH, attr?: string): asserts v is bigint {
  if (typeof v !== 'bigint' || v < 0n || v > U64_MAX) {
    fail(`${showValue(v)} is not a u64 (a bigint 0n..${U64_MAX}n)`, field, base, attr, v);
  }
}

export function checkBytes(v: unknown, field: string, base: readonly string[] = NO_PATH, attr?: string, maxLen = NLA_MAX_PAYLOAD): asserts v is Uint8Array {
  if (!(v instanceof Uint8Array)) fail(`${showValue(v)} is not a Uint8Array`, field, base, attr, v);
  if (v.length > maxLen) fail(`${v.length} bytes is more than the ${maxLen} allowed`, field, base, attr, v);
}

const utf8 = new TextEncoder();

/** A string put NUL-terminated: no NUL inside, at most maxBytes of UTF-8 before the NUL. */
export function checkString(v: unknown, field: string, base: readonly string[] = NO_PATH, attr?: string, maxBytes = NLA_MAX_PAYLOAD - 1): asserts v is string {
  if (typeof v !== 'string') fail(`${showValue(v)} is not a string`, field, base, attr, v);
  if (v.includes('\0')) fail(`${showValue(v)} contains a NUL character (the kernel would cut the string there)`, field, base, attr, v);
  if (v.length > maxBytes || utf8.encode(v).length > maxBytes) {
    fail(`${showValue(v)} is longer than ${maxBytes} bytes`, field, base, attr, v);
  }
}

export function checkBoolean(v: unknown, field: string): asserts v is boolean {
  if (typeof v !== 'boolean') fail(`${showValue(v)} is not a boolean`, field, NO_PATH, undefined, v);
}

/** A plain object (not null, not an array, not a byte array). */
export function checkObject(v: unknown, field: string, base: readonly string[] = NO_PATH, attr?: string): asserts v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) {
    fail(`${showValue(v)} is not an object`, field, base, attr, v);
  }
}

/** A list of raw attributes kept from a decode ({type: u16 with flag bits, data}). */
export function checkRawAttributes(v: unknown, field: string, base: readonly string[] = NO_PATH): void {
  if (!Array.isArray(v)) fail(`${showValue(v)} is not an array of raw attributes`, field, base, undefined, v);
  for (let i = 0; i < v.length; i++) {
    const a: unknown = v[i];
    const f = `${field}[${i}]`;
    checkObject(a, f, base);
    checkU16(a.type, `${f}.type`, base, 'nla_type');
    checkBytes(a.data, `${f}.data`, base);
  }
}
