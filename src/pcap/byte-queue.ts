/**
 * FIFO of input chunks for the capture parser: contiguous peeks, copying only when a peek
 * spans chunks (see parser.ts).
 */
const EMPTY = new Uint8Array(0);
const EMPTY_VIEW = new DataView(EMPTY.buffer);

/**
 * FIFO of input chunks with contiguous peeks; copies only when a peek spans chunks. The
 * chunk holding the next unconsumed byte is exposed as `cur` (with one DataView over it
 * and the read position `pos`) so that the parser can read what lies inside it in place.
 */
export class ByteQueue {
  /** Chunks with unconsumed bytes from index `head` on; chunks[head] is `cur`. */
  private chunks: Uint8Array[] = [];
  private head = 0;
  /** The chunk of the next unconsumed byte (EMPTY when nothing is pending). */
  cur: Uint8Array = EMPTY;
  /** A DataView over the whole of `cur`. */
  view: DataView = EMPTY_VIEW;
  /** Position of the next unconsumed byte in `cur`. */
  pos = 0;
  /** Bytes pushed and not yet skipped. */
  available = 0;
  /** File offset of the first unconsumed byte. */
  offset = 0;

  push(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    this.chunks.push(chunk);
    this.available += chunk.byteLength;
    if (this.chunks.length - this.head === 1) this.setCurrent(chunk);
  }

  private setCurrent(chunk: Uint8Array): void {
    this.cur = chunk;
    this.view = chunk.byteLength === 0 ? EMPTY_VIEW : new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }

  /** `n` contiguous bytes starting `from` bytes ahead, or undefined if not all there yet. */
  peek(n: number, from = 0): Uint8Array | undefined {
    if (this.available < from + n) return undefined;
    if (n === 0) return EMPTY;
    let i = this.head;
    let p = this.pos + from;
    while (p >= this.chunks[i]!.byteLength) p -= this.chunks[i++]!.byteLength;
    const first = this.chunks[i]!;
    if (first.byteLength - p >= n) return first.subarray(p, p + n);
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[i++]!;
      const take = Math.min(c.byteLength - p, n - filled);
      out.set(c.subarray(p, p + take), filled);
      filled += take;
      p = 0;
    }
    return out;
  }

  /** Consumes `n` bytes (n <= available), releasing chunks that are fully consumed. */
  skip(n: number): void {
    this.available -= n;
    this.offset += n;
    let p = this.pos + n;
    if (p < this.cur.byteLength) {
      this.pos = p; // still inside the current chunk: the common case
      return;
    }
    while (this.head < this.chunks.length && p >= this.chunks[this.head]!.byteLength) {
      p -= this.chunks[this.head]!.byteLength;
      this.chunks[this.head++] = EMPTY; // drop our reference now; records may still view it
    }
    this.pos = p;
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
      this.setCurrent(EMPTY);
    } else {
      if (this.head >= 64) {
        this.chunks = this.chunks.slice(this.head);
        this.head = 0;
      }
      this.setCurrent(this.chunks[this.head]!);
    }
  }
}
