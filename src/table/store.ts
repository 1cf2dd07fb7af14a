/**
 * The mirror's columnar row store: one row per conntrack entry, in typed arrays, with an
 * open-addressing hash index on the entry's key (family, proto, original src/dst, ports or
 * ICMP id/type/code, zone). No object per entry: 47 bytes per row plus 8 bytes of index
 * per row at the default load factor, plus 32 bytes per IPv6 row in a side store.
 *
 *   column     type          per row   content
 *   addr       Uint32Array   2 words   IPv4: orig src, orig dst (big-endian words);
 *                                      IPv6: word 0 = slot in `v6`
 *   v6         Uint32Array   8 words   per IPv6 row: orig src (words 0-3), orig dst (4-7);
 *                                      free slots are chained through word 0
 *   ports      Uint32Array   1         sport << 16 | dport (ICMP: id << 16 | type << 8 | code)
 *   meta       Uint8Array    4         family, proto, tcp state (255 = none), generation
 *   status     Uint32Array   1         IPS_* bits
 *   timeout    Uint32Array   1         remaining seconds when last seen
 *   seen       Uint32Array   1         when that was: seconds since the store's epoch (x10)
 *   zone       Uint16Array   1
 *   mark, id   Uint32Array   1 each
 *   hash       Uint32Array   1         key hash (free rows: next free row + 1)
 *   flags      Uint8Array    1         ROW_WATCHED: an event was seen for this entry
 *
 * Index: Int32Array of a power-of-two size >= 2 x capacity, slot = row + 1 (0 = empty),
 * linear probing, deletion by backward shift (no tombstones). Deleted rows go on a free
 * list threaded through `hash`. Capacity doubles when full; rows never move.
 */
import { CompactEntry } from '../ctnetlink/compact.js';

export const NO_STATE = 255;
/** flags bit: the kernel sent an event for this entry (it has an event cache). */
export const ROW_WATCHED = 1;
const EMPTY_GEN = 0;

function hashKey(fam: number, proto: number, a: Uint32Array, ab: number, ports: number, zone: number): number {
  let h = Math.imul(fam ^ (proto << 8) ^ (zone << 16), 0x9e3779b1);
  for (let i = 0; i < 8; i++) {
    h = Math.imul(h ^ a[ab + i]!, 0x85ebca6b);
    h ^= h >>> 13;
  }
  h = Math.imul(h ^ ports, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class RowStore {
  capacity: number;
  /** Rows in use. */
  size = 0;
  /** Highest row number ever used + 1 (iteration bound). */
  top = 0;
  addr: Uint32Array;
  v6: Uint32Array;
  private v6Top = 0;
  private v6Free = -1;
  ports: Uint32Array;
  meta: Uint8Array;
  status: Uint32Array;
  timeout: Uint32Array;
  seen: Uint32Array;
  zone: Uint16Array;
  mark: Uint32Array;
  id: Uint32Array;
  hash: Uint32Array;
  flags: Uint8Array;
  private index: Int32Array;
  private mask: number;
  private freeHead = -1;
  /** Hash of the key of the last find() (insert() after a miss reuses it). */
  private lastHash = 0;
  private lastKey: CompactEntry | undefined;

  constructor(capacity = 1024) {
    this.capacity = capacity;
    this.addr = new Uint32Array(capacity * 2);
    this.v6 = new Uint32Array(64 * 8);
    this.ports = new Uint32Array(capacity);
    this.meta = new Uint8Array(capacity * 4);
    this.status = new Uint32Array(capacity);
    this.timeout = new Uint32Array(capacity);
    this.seen = new Uint32Array(capacity);
    this.zone = new Uint16Array(capacity);
    this.mark = new Uint32Array(capacity);
    this.id = new Uint32Array(capacity);
    this.hash = new Uint32Array(capacity);
    this.flags = new Uint8Array(capacity);
    let slots = 1;
    while (slots < capacity * 2) slots <<= 1;
    this.index = new Int32Array(slots);
    this.mask = slots - 1;
  }

  /** Bytes held by the typed arrays. */
  get bytes(): number {
    return this.capacity * (8 + 4 + 4 + 4 + 4 + 4 + 4 + 2 + 4 + 4 + 4 + 1) + this.index.length * 4 + this.v6.byteLength;
  }

  /** Is `row` in use? (meta generation byte 0 means free) */
  used(row: number): boolean {
    return this.meta[row * 4 + 3] !== EMPTY_GEN;
  }

  family(row: number): number {
    return this.meta[row * 4]!;
  }
  proto(row: number): number {
    return this.meta[row * 4 + 1]!;
  }
  tcpState(row: number): number {
    return this.meta[row * 4 + 2]!;
  }
  gen(row: number): number {
    return this.meta[row * 4 + 3]!;
  }
  setGen(row: number, g: number): void {
    this.meta[row * 4 + 3] = g;
  }

  private keyEquals(row: number, e: CompactEntry, ports: number, h: number): boolean {
    if (this.hash[row] !== h) return false;
    const m = row * 4;
    if (this.meta[m] !== e.family || this.meta[m + 1] !== e.proto || this.ports[row] !== ports || this.zone[row] !== e.zone) return false;
    const x = e.addr;
    if (e.family !== 10) return this.addr[row * 2] === x[0] && this.addr[row * 2 + 1] === x[4];
    const a = this.v6;
    const b = this.addr[row * 2]! * 8;
    for (let i = 0; i < 8; i++) if (a[b + i] !== x[i]) return false;
    return true;
  }

  /** Row of the entry with e's key, or -1. */
  find(e: CompactEntry): number {
    const ports = ((e.sport << 16) | e.dport) >>> 0;
    const h = hashKey(e.family, e.proto, e.addr, 0, ports, e.zone);
    this.lastHash = h;
    this.lastKey = e;
    const idx = this.index;
    for (let s = h & this.mask; ; s = (s + 1) & this.mask) {
      const v = idx[s]!;
      if (v === 0) return -1;
      if (this.keyEquals(v - 1, e, ports, h)) return v - 1;
    }
  }

  /** Add a row for e's key (the caller checked it is absent); fills the key columns. */
  insert(e: CompactEntry, gen: number): number {
    if (this.size >= this.capacity) this.grow();
    let row: number;
    if (this.freeHead >= 0) {
      row = this.freeHead;
      this.freeHead = this.hash[row]! - 1;
    } else row = this.top++;
    const ports = ((e.sport << 16) | e.dport) >>> 0;
    // The caller normally find()s first with the same record: reuse that hash.
    const h = this.lastKey === e ? this.lastHash : hashKey(e.family, e.proto, e.addr, 0, ports, e.zone);
    this.lastKey = undefined;
    this.hash[row] = h;
    this.ports[row] = ports;
    this.zone[row] = e.zone;
    if (e.family === 10) {
      const slot = this.v6Alloc();
      this.addr[row * 2] = slot;
      this.v6.set(e.addr, slot * 8);
    } else {
      this.addr[row * 2] = e.addr[0]!;
      this.addr[row * 2 + 1] = e.addr[4]!;
    }
    const m = row * 4;
    this.meta[m] = e.family;
    this.meta[m + 1] = e.proto;
    this.meta[m + 2] = NO_STATE;
    this.meta[m + 3] = gen;
    this.status[row] = 0;
    this.timeout[row] = 0;
    this.seen[row] = 0;
    this.mark[row] = 0;
    this.id[row] = 0;
    this.flags[row] = 0;
    this.place(row, h);
    this.size++;
    return row;
  }

  private place(row: number, h: number): void {
    const idx = this.index;
    let s = h & this.mask;
    while (idx[s] !== 0) s = (s + 1) & this.mask;
    idx[s] = row + 1;
  }

  /** Free a row and unlink it from the index (backward-shift deletion). */
  remove(row: number): void {
    const idx = this.index;
    const mask = this.mask;
    let s = this.hash[row]! & mask;
    while (idx[s] !== row + 1) s = (s + 1) & mask;
    // Shift later members of the probe run back into the hole.
    let hole = s;
    for (let j = (hole + 1) & mask; idx[j] !== 0; j = (j + 1) & mask) {
      const home = this.hash[idx[j]! - 1]! & mask;
      // Move j to the hole if its home is not in (hole, j] cyclically.
      const between = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (!between) {
        idx[hole] = idx[j]!;
        hole = j;
      }
    }
    idx[hole] = 0;
    if (this.meta[row * 4] === 10) {
      const slot = this.addr[row * 2]!;
      this.v6[slot * 8] = this.v6Free + 1;
      this.v6Free = slot;
    }
    this.meta[row * 4 + 3] = EMPTY_GEN;
    this.hash[row] = this.freeHead + 1;
    this.freeHead = row;
    this.size--;
  }

  private grow(): void {
    const cap = this.capacity * 2;
    const grow32 = (a: Uint32Array, k = 1) => {
      const n = new Uint32Array(cap * k);
      n.set(a);
      return n;
    };
    this.addr = grow32(this.addr, 2);
    this.ports = grow32(this.ports);
    this.status = grow32(this.status);
    this.timeout = grow32(this.timeout);
    this.seen = grow32(this.seen);
    this.mark = grow32(this.mark);
    this.id = grow32(this.id);
    this.hash = grow32(this.hash);
    const meta = new Uint8Array(cap * 4);
    meta.set(this.meta);
    this.meta = meta;
    const zone = new Uint16Array(cap);
    zone.set(this.zone);
    this.zone = zone;
    const flags = new Uint8Array(cap);
    flags.set(this.flags);
    this.flags = flags;
    this.capacity = cap;
    let slots = 1;
    while (slots < cap * 2) slots <<= 1;
    this.index = new Int32Array(slots);
    this.mask = slots - 1;
    for (let r = 0; r < this.top; r++) if (this.used(r)) this.place(r, this.hash[r]!);
  }

  private v6Alloc(): number {
    if (this.v6Free >= 0) {
      const slot = this.v6Free;
      this.v6Free = this.v6[slot * 8]! - 1;
      return slot;
    }
    if ((this.v6Top + 1) * 8 > this.v6.length) {
      const n = new Uint32Array(this.v6.length * 2);
      n.set(this.v6);
      this.v6 = n;
    }
    return this.v6Top++;
  }

  /** The array holding a row's addresses and the offset of its source (destination: +1 for IPv4, +4 for IPv6). */
  addrArray(row: number): Uint32Array {
    return this.meta[row * 4] === 10 ? this.v6 : this.addr;
  }
  addrOffset(row: number): number {
    return this.meta[row * 4] === 10 ? this.addr[row * 2]! * 8 : row * 2;
  }

  /** Remove everything (keeps the capacity). */
  clear(): void {
    this.v6Top = 0;
    this.v6Free = -1;
    this.index.fill(0);
    this.meta.fill(0);
    this.size = 0;
    this.top = 0;
    this.freeHead = -1;
  }
}
