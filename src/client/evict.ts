/**
 * Fast eviction: batched, pipelined deletes (deleteMany) and filtered deletion
 * (deleteWhere) on a dedicated request socket.
 *
 * deleteMany: many IPCTNL_MSG_CT_DELETE messages per send (one datagram of up to
 * `batch` messages, each: nlmsghdr | nfgenmsg | CTA_TUPLE_ORIG{ip,proto} [| CTA_ZONE]
 * [| CTA_ID]). Only the last message of a datagram carries NLM_F_ACK; the others answer
 * only when they fail. The kernel handles a datagram's messages in order inside send(),
 * so the batch's ACK arrives after every error of that batch: errors are matched to keys
 * by sequence number (seq - first seq of the batch = index), and when the ACK of batch N
 * arrives batch N is complete. At most `window` batches are unacknowledged at a time, so
 * error replies (each ~100 bytes) can never overflow the socket's 4 MiB receive buffer.
 * ENOENT (the entry went away between choosing it and deleting it, or its id changed:
 * the tuple was reused by a new connection) is counted as `missing`, not an error.
 * EPERM and other refusals are counted by errno and the first one is kept.
 *
 * deleteWhere: when the filter is one the kernel evaluates itself (family, mark/mask,
 * status/mask, zone, and on 6.12+ CTA_FILTER partial tuples) and nothing else is asked,
 * one filtered flush (CT_DELETE without a tuple, with the filter) removes the entries
 * inside the kernel. Otherwise a streaming dump (kernel-side pre-filter) feeds the matching
 * entries into deleteMany while the dump goes on. An empty filter is refused: a whole-table
 * flush happens only through flush() without a filter.
 */
import { NLM_F_ACK, NLMSG_ERROR } from '../netlink/constants.js';
import { NetlinkError } from '../netlink/errors.js';
import { errnoName } from '../netlink/errno.js';
import { decodeMessage, encodeMessage } from '../ctnetlink/message.js';
import type { Conntrack as Entry } from '../ctnetlink/model.js';
import { deleteRequest, type EntryKey, type KernelFilter } from '../ctnetlink/requests.js';
import { ClosedError } from './requests.js';
import type { ReceiveItem, Transport } from './transport.js';
import { idleSeconds, readConntrackSysctls, type ConntrackSysctls } from './sysctls.js';
import { MAX_DELETE_BYTES, writeDelete } from './delete-encoder.js';
import { writeDeleteFields, type DeleteFields } from './delete-compact.js';

/** The key onError reports for a delete queued by DeletePipeline.addFields (no key object kept). */
export const RAW_KEY: EntryKey = Object.freeze({ family: 0 });

export interface DeleteCounts {
  /** Delete messages sent. */
  requested: number;
  /** Entries the kernel deleted (requested - missing - failed), or an estimate for a flush. */
  deleted: number;
  /** ENOENT: already gone (expired, deleted by someone else) or its tuple was reused. */
  missing: number;
  /** Other refusals (EPERM, ...). */
  failed: number;
  /** Refusals by errno name (ENOENT included). */
  errors: Record<string, number>;
  /** The first refusal other than ENOENT. */
  firstError?: NetlinkError;
  /** Replies were lost (receive buffer overrun): counts of missing/failed are lower bounds. */
  repliesLost: boolean;
  seconds: number;
}

export interface DeleteManyOptions {
  /** Messages per datagram (default 1024). */
  batch?: number;
  /** Unacknowledged datagrams at most (default 4). */
  window?: number;
  /** Called for each refused key (ENOENT included). */
  onError?: (key: EntryKey, err: NetlinkError) => void;
  signal?: AbortSignal;
}

/** What the client lends to eviction: a fresh request transport, and its namespace. */
export interface EvictHost {
  openTransport(): Transport;
  releaseTransport(t: Transport): void;
  netns?: string;
  dumpBatches(filter: KernelFilter | undefined, opts: { signal?: AbortSignal }): AsyncGenerator<Entry[]>;
  flush(filter: KernelFilter): Promise<void>;
  count(): Promise<number>;
}

const DEFAULT_BATCH = 1024;
const DEFAULT_WINDOW = 4;

interface InFlight {
  firstSeq: number;
  ackSeq: number;
  keys: EntryKey[];
  done: () => void;
}

/** Pipelined deleter over one transport. add() keys, then finish(). */
export class DeletePipeline {
  private readonly t: Transport;
  private readonly batchSize: number;
  private readonly window: number;
  private readonly onError: DeleteManyOptions['onError'];
  private seq = (Date.now() & 0x3fffffff) >>> 0;
  private buf: Uint8Array;
  private view: DataView;
  private bytes = 0;
  private lastOff = 0;
  private keys: EntryKey[] = [];
  private firstSeq = 0;
  private readonly inflight: InFlight[] = [];
  private readonly started = process.hrtime.bigint();
  private fatal: Error | undefined;
  private wake: (() => void) | undefined;
  readonly counts: DeleteCounts = { requested: 0, deleted: 0, missing: 0, failed: 0, errors: {}, repliesLost: false, seconds: 0 };

  constructor(t: Transport, opts: DeleteManyOptions = {}) {
    this.t = t;
    this.batchSize = Math.max(1, Math.min(opts.batch ?? DEFAULT_BATCH, 4096));
    this.window = Math.max(1, opts.window ?? DEFAULT_WINDOW);
    this.onError = opts.onError;
    this.buf = new Uint8Array(this.batchSize * MAX_DELETE_BYTES);
    this.view = new DataView(this.buf.buffer);
    t.onReceive(
      (items) => this.receive(items),
      (err) => this.fail(err),
    );
  }

  private fail(err: Error): void {
    this.fatal = err;
    for (const f of this.inflight.splice(0)) f.done();
    this.wakeUp();
  }

  private wakeUp(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private receive(items: ReceiveItem[]): void {
    for (const item of items) {
      if ('overrun' in item) {
        // Error replies were dropped: we cannot know which; release every waiting batch
        // (their ACKs may be among the lost) and say the counts are lower bounds.
        this.counts.repliesLost = true;
        for (const f of this.inflight.splice(0)) f.done();
        this.wakeUp();
        continue;
      }
      const d = item.data;
      const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
      for (let off = 0; off + 16 <= d.length; ) {
        const len = v.getUint32(off, true);
        if (len < 16 || off + len > d.length) break;
        const type = v.getUint16(off + 4, true);
        const seq = v.getUint32(off + 8, true);
        if (type === NLMSG_ERROR && len >= 20) this.onReply(seq, v.getInt32(off + 16, true), d, off, len);
        off += (len + 3) & ~3;
      }
    }
  }

  private onReply(seq: number, error: number, d: Uint8Array, off: number, len: number): void {
    // Find the batch this seq belongs to (the oldest ones first: replies come in order).
    let k = 0;
    for (; k < this.inflight.length; k++) {
      const f = this.inflight[k]!;
      if (((seq - f.firstSeq) >>> 0) <= ((f.ackSeq - f.firstSeq) >>> 0)) break;
    }
    const f = this.inflight[k];
    if (error !== 0) {
      const errno = -error;
      const code = errnoName(errno);
      const c = this.counts;
      c.errors[code] = (c.errors[code] ?? 0) + 1;
      if (code === 'ENOENT') c.missing++;
      else c.failed++;
      if (code !== 'ENOENT' || this.onError) {
        let err: NetlinkError;
        try {
          const m = decodeMessage(d.subarray(off, off + len));
          err = m.kind === 'error' ? new NetlinkError(m.error.error, seq, m.error.extAck, 'delete') : new NetlinkError(errno, seq, undefined, 'delete');
        } catch {
          err = new NetlinkError(errno, seq, undefined, 'delete');
        }
        if (code !== 'ENOENT' && !c.firstError) c.firstError = err;
        const key = f ? f.keys[(seq - f.firstSeq) >>> 0] : undefined;
        if (key && this.onError) this.onError(key, err);
      }
    }
    if (f && seq === f.ackSeq) {
      // Everything of batches up to and including this one has been answered.
      for (const g of this.inflight.splice(0, k + 1)) g.done();
      this.wakeUp();
    }
  }

  /** Queue one delete; resolves at once unless the window is full. */
  add(key: EntryKey): Promise<void> | undefined {
    if (this.fatal) throw this.fatal;
    const seq = (this.seq = (this.seq + 1) >>> 0 || 1);
    if (this.keys.length === 0) this.firstSeq = seq;
    let len = this.buf.length - this.bytes >= MAX_DELETE_BYTES ? writeDelete(this.buf, this.view, this.bytes, key, seq, 0) : -1;
    if (len < 0) {
      const msg = deleteRequest(key);
      msg.header.seq = seq;
      const bytes = encodeMessage(msg);
      this.reserve(bytes.length);
      this.buf.set(bytes, this.bytes);
      len = bytes.length;
    }
    this.lastOff = this.bytes;
    this.bytes += (len + 3) & ~3;
    this.keys.push(key);
    this.counts.requested++;
    if (this.keys.length >= this.batchSize) return this.sendBatch();
    return undefined;
  }

  /**
   * Queue one delete written from delete fields (delete-compact.ts: no key object); false
   * when the fields cannot be written that way (the caller then uses add() with a key).
   * Refusals of these deletes are counted; onError gets RAW_KEY for them.
   */
  addFields(f: DeleteFields): Promise<void> | undefined | false {
    if (this.fatal) throw this.fatal;
    if (this.buf.length - this.bytes < MAX_DELETE_BYTES) this.reserve(MAX_DELETE_BYTES);
    const seq = ((this.seq + 1) >>> 0) || 1;
    const len = writeDeleteFields(this.buf, this.view, this.bytes, f, seq, 0);
    if (len < 0) return false;
    this.seq = seq;
    if (this.keys.length === 0) this.firstSeq = seq;
    this.lastOff = this.bytes;
    this.bytes += (len + 3) & ~3;
    this.keys.push(RAW_KEY);
    this.counts.requested++;
    if (this.keys.length >= this.batchSize) return this.sendBatch();
    return undefined;
  }

  /**
   * Send what is queued now (the kernel has processed it when this resolves or returns: it
   * handles a datagram's messages inside send()), without waiting for the replies.
   */
  sendQueued(): Promise<void> {
    return this.sendBatch();
  }

  private reserve(n: number): void {
    if (this.buf.length - this.bytes >= n + MAX_DELETE_BYTES) return;
    const b = new Uint8Array((this.buf.length + n + MAX_DELETE_BYTES) * 2);
    b.set(this.buf.subarray(0, this.bytes));
    this.buf = b;
    this.view = new DataView(b.buffer);
  }

  private async sendBatch(): Promise<void> {
    if (this.keys.length === 0) return;
    // NLM_F_ACK on the last message only. send() copies the datagram into the kernel
    // before it returns, so the buffer is reused for the next batch.
    const v = this.view;
    v.setUint16(this.lastOff + 6, v.getUint16(this.lastOff + 6, true) | NLM_F_ACK, true);
    const f: InFlight = { firstSeq: this.firstSeq, ackSeq: this.seq, keys: this.keys, done: () => {} };
    const datagram = this.buf.subarray(0, this.bytes);
    this.bytes = 0;
    this.keys = [];
    this.inflight.push(f);
    this.t.ref?.();
    this.t.send(datagram);
    while (this.inflight.length >= this.window && !this.fatal) await new Promise<void>((r) => (this.wake = r));
    if (this.fatal) throw this.fatal;
  }

  /** Send what is queued and wait for every reply; returns the counts. */
  async finish(): Promise<DeleteCounts> {
    await this.sendBatch();
    while (this.inflight.length > 0 && !this.fatal) await new Promise<void>((r) => (this.wake = r));
    if (this.fatal) throw this.fatal;
    const c = this.counts;
    c.deleted = c.requested - c.missing - c.failed;
    c.seconds = Number(process.hrtime.bigint() - this.started) / 1e9;
    return c;
  }
}

/** Delete many entries by key, batched and pipelined. Keys: any (async) iterable. */
export async function deleteMany(
  host: EvictHost,
  keys: Iterable<EntryKey> | AsyncIterable<EntryKey>,
  opts: DeleteManyOptions = {},
): Promise<DeleteCounts> {
  const t = host.openTransport();
  try {
    const p = new DeletePipeline(t, opts);
    for await (const k of keys as AsyncIterable<EntryKey>) {
      if (opts.signal?.aborted) break;
      const w = p.add(k);
      if (w) await w;
    }
    return await p.finish();
  } finally {
    host.releaseTransport(t);
  }
}

/** The key deleteMany needs for a dumped entry: orig tuple, zone and id (id: never a reused tuple). */
export function keyOf(ct: Entry): EntryKey {
  const k: EntryKey = { family: ct.family };
  if (ct.orig) k.orig = ct.orig;
  else if (ct.reply) k.reply = ct.reply;
  if (ct.zone !== undefined) k.zone = ct.zone;
  if (ct.id !== undefined) k.id = ct.id;
  return k;
}

export interface DeleteFilter {
  /** What the kernel can filter (a dump pre-filter, or the flush filter itself). */
  kernel?: KernelFilter;
  /** A further test in the tool (applied to every dumped entry). */
  match?: (ct: Entry) => boolean;
  /** Seconds since the last packet, more than (idle = configured timeout - remaining). */
  idleOver?: number;
  idleUnder?: number;
  /** Remaining timeout (CTA_TIMEOUT), less than / more than, in seconds. */
  remainingUnder?: number;
  remainingOver?: number;
  /** Configured timeouts for idle bounds (default: read from the namespace's sysctls). */
  sysctls?: ConntrackSysctls;
}

export interface DeleteWhereOptions extends DeleteManyOptions {
  /** Count what would be deleted, delete nothing. */
  dryRun?: boolean;
  /** 'auto' (default): kernel flush when it can express the whole filter, else dump + delete. */
  method?: 'auto' | 'flush' | 'dump';
  /** Group matched entries for the result (e.g. by protocol and state). */
  groupBy?: (ct: Entry) => string;
  /** Kernel release, for the CTA_FILTER-in-flush check (default: os.release()). */
  kernelRelease?: string;
}

export interface DeleteWhereResult extends DeleteCounts {
  method: 'flush' | 'dump';
  /** Entries that matched (dump method), or that the flush removed by the table count. */
  matched: number;
  /** True when deleted/matched are estimates (flush: table count before - after). */
  approximate: boolean;
  groups: Record<string, number>;
  dryRun: boolean;
}

/** A filter must say something: an empty one would be a whole-table flush. */
export class EmptyFilterError extends Error {
  override readonly name = 'EmptyFilterError';
  constructor() {
    super('deleteWhere needs a filter; flush the whole table with flush()');
  }
}

function kernelFilterEmpty(k: KernelFilter | undefined): boolean {
  if (!k) return true;
  return k.family === undefined && k.mark === undefined && k.status === undefined && k.zone === undefined && k.orig === undefined && k.reply === undefined;
}

/** Kernel version >= major.minor */
export function kernelAtLeast(release: string, major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) return false;
  const a = Number(m[1]);
  const b = Number(m[2]);
  return a > major || (a === major && b >= minor);
}

/**
 * Can one kernel flush do exactly this filter? Yes when only the kernel filter is given,
 * without a zone of 0 (the kernel's zone filter ignores the default zone id, so zone 0
 * would match every zone), with a mark mask that is not 0, and with tuple filters only on
 * 6.12+ (older kernels take a CT_DELETE with CTA_TUPLE_ORIG as a delete by tuple).
 */
export function flushCanExpress(f: DeleteFilter, release: string): boolean {
  if (f.match || f.idleOver !== undefined || f.idleUnder !== undefined || f.remainingUnder !== undefined || f.remainingOver !== undefined) return false;
  const k = f.kernel;
  if (!k || kernelFilterEmpty(k)) return false;
  if (k.zone === 0) return false;
  if (k.mark !== undefined && (k.markMask ?? 0xffffffff) === 0) return false;
  if (k.status !== undefined && (k.statusMask ?? k.status) === 0) return false;
  if ((k.orig || k.reply) && !kernelAtLeast(release, 6, 12)) return false;
  if ((k.orig || k.reply) && !k.family) return false;
  return true;
}

/** The filter as a test on one entry (what the tool applies on the dump path). */
export function compileDeleteFilter(f: DeleteFilter, sysctls?: ConntrackSysctls): (ct: Entry) => boolean {
  const tests: ((ct: Entry) => boolean)[] = [];
  const k = f.kernel;
  if (k?.family) tests.push((ct) => ct.family === k.family);
  if (k?.mark !== undefined) {
    const mask = k.markMask ?? 0xffffffff;
    tests.push((ct) => (((ct.mark ?? 0) & mask) >>> 0) === ((k.mark! & mask) >>> 0));
  }
  if (k?.status !== undefined) {
    const mask = k.statusMask ?? k.status;
    tests.push((ct) => (((ct.status ?? 0) & mask) >>> 0) === ((k.status! & mask) >>> 0));
  }
  if (k?.zone !== undefined) tests.push((ct) => (ct.zone ?? 0) === k.zone);
  for (const dir of ['orig', 'reply'] as const) {
    const t = k?.[dir];
    if (!t) continue;
    tests.push((ct) => {
      const c = ct[dir];
      if (!c) return false;
      return (
        (t.src === undefined || c.src === t.src) &&
        (t.dst === undefined || c.dst === t.dst) &&
        (t.proto === undefined || c.proto === t.proto) &&
        (t.srcPort === undefined || c.srcPort === t.srcPort) &&
        (t.dstPort === undefined || c.dstPort === t.dstPort) &&
        (t.icmpType === undefined || c.icmpType === t.icmpType) &&
        (t.icmpCode === undefined || c.icmpCode === t.icmpCode) &&
        (t.icmpId === undefined || c.icmpId === t.icmpId)
      );
    });
  }
  if (f.match) tests.push(f.match);
  if (f.remainingUnder !== undefined) tests.push((ct) => ct.timeout !== undefined && ct.timeout < f.remainingUnder!);
  if (f.remainingOver !== undefined) tests.push((ct) => ct.timeout !== undefined && ct.timeout > f.remainingOver!);
  if (f.idleOver !== undefined || f.idleUnder !== undefined) {
    const s = sysctls ?? f.sysctls ?? {};
    if (f.idleOver !== undefined) tests.push((ct) => idleSeconds(ct, s) > f.idleOver!);
    if (f.idleUnder !== undefined) tests.push((ct) => idleSeconds(ct, s) < f.idleUnder!);
  }
  return (ct) => {
    for (const t of tests) if (!t(ct)) return false;
    return true;
  };
}

/** Delete what the filter matches; see the header comment for the two methods. */
export async function deleteWhere(host: EvictHost, filter: DeleteFilter, opts: DeleteWhereOptions = {}): Promise<DeleteWhereResult> {
  const hasBounds = filter.idleOver !== undefined || filter.idleUnder !== undefined || filter.remainingUnder !== undefined || filter.remainingOver !== undefined;
  if (kernelFilterEmpty(filter.kernel) && !filter.match && !hasBounds) throw new EmptyFilterError();
  const release = opts.kernelRelease ?? (await import('node:os')).release();
  const canFlush = flushCanExpress(filter, release);
  const method = opts.method ?? 'auto';
  if (method === 'flush' && !canFlush) throw new Error('deleteWhere: this filter cannot be done by a kernel-side flush (method "dump" or "auto")');
  const started = process.hrtime.bigint();
  const groups: Record<string, number> = {};

  if (canFlush && method !== 'dump' && !opts.dryRun && !opts.groupBy) {
    const before = await host.count();
    await host.flush(filter.kernel!);
    const after = await host.count();
    const n = Math.max(0, before - after);
    return {
      method: 'flush', matched: n, deleted: n, requested: 0, missing: 0, failed: 0, errors: {}, repliesLost: false,
      seconds: Number(process.hrtime.bigint() - started) / 1e9, approximate: true, groups, dryRun: false,
    };
  }

  let sysctls = filter.sysctls;
  if ((filter.idleOver !== undefined || filter.idleUnder !== undefined) && !sysctls) sysctls = readConntrackSysctls(host.netns);
  const test = compileDeleteFilter(filter, sysctls);
  let matched = 0;
  const kernel = kernelFilterEmpty(filter.kernel) ? undefined : dumpSafeKernelFilter(filter.kernel!);
  const dumpOpts = opts.signal ? { signal: opts.signal } : {};
  // One walk over the dump: count (and group) what matches; unless this is a dry run,
  // delete it through the pipeline as it goes.
  const t = opts.dryRun ? undefined : host.openTransport();
  let counts: DeleteCounts | undefined;
  try {
    const p = t ? new DeletePipeline(t, opts) : undefined;
    for await (const batch of host.dumpBatches(kernel, dumpOpts)) {
      for (const ct of batch) {
        if (!test(ct)) continue;
        matched++;
        if (opts.groupBy) {
          const g = opts.groupBy(ct);
          groups[g] = (groups[g] ?? 0) + 1;
        }
        if (p) {
          const w = p.add(keyOf(ct));
          if (w) await w;
        }
      }
    }
    counts = await p?.finish();
  } finally {
    if (t) host.releaseTransport(t);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (!counts) {
    return {
      method: 'dump', matched, deleted: 0, requested: 0, missing: 0, failed: 0, errors: {}, repliesLost: false,
      seconds, approximate: false, groups, dryRun: true,
    };
  }
  counts.seconds = seconds;
  return { ...counts, method: 'dump', matched, approximate: false, groups, dryRun: false };
}

/** A dump pre-filter: zone 0 is left to the tool (the kernel ignores the default zone id). */
function dumpSafeKernelFilter(k: KernelFilter): KernelFilter | undefined {
  if (k.zone !== 0) return k;
  const { zone: _z, ...rest } = k;
  return kernelFilterEmpty(rest) ? undefined : rest;
}

export { ClosedError };
