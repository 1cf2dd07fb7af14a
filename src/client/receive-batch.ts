/**
 * Receive batches left as the transport received them (issue 14, the CPU of listening):
 * one call per drain of the socket with every datagram back to back in one buffer and one
 * row of RB_STRIDE u32 words per item, instead of an object, a view and a bigint per
 * datagram. A consumer that decodes the bytes itself (the CLI's lean print path) loops
 * over the rows without allocating.
 *
 *   data  the datagrams' bytes, back to back, in arrival order (markers take no bytes)
 *   meta  RB_STRIDE (6) x u32 per item, in arrival order:
 *         [RB_LEN]    byte length of the datagram in `data` (0 for a marker)
 *         [RB_PID]    sender nl_pid (0 = the kernel); for RB_LOCAL_DROP: messages lost
 *         [RB_GROUPS] sender nl_groups (multicast group mask; 0 = unicast)
 *         [RB_FLAGS]  RB_TRUNCATED (MSG_TRUNC) | RB_OVERRUN (ENOBUFS: the kernel dropped
 *                     messages here) | RB_LOCAL_DROP (the receive thread's buffer was full)
 *         [RB_SEC]    receive time, CLOCK_REALTIME seconds
 *         [RB_NSEC]   receive time, nanoseconds within the second
 *
 * This is exactly the addon's onBatch layout (src/native/nlsock.c, socket/native.ts
 * META_STRIDE and RECV_FLAG_*); batchItems() turns a batch into the ReceiveItems that
 * Transport.onReceive delivers, so both forms say the same thing.
 */
import type { ReceiveItem } from './transport.js';

export const RB_STRIDE = 6;
export const RB_LEN = 0;
export const RB_PID = 1;
export const RB_GROUPS = 2;
export const RB_FLAGS = 3;
export const RB_SEC = 4;
export const RB_NSEC = 5;
export const RB_TRUNCATED = 1;
export const RB_OVERRUN = 2;
export const RB_LOCAL_DROP = 4;

/** The receive time of the row at word `m` of `meta`, ns since the epoch. */
export function batchTimeNs(meta: Uint32Array, m: number): bigint {
  return BigInt(meta[m + RB_SEC]!) * 1_000_000_000n + BigInt(meta[m + RB_NSEC]!);
}

/** The items of a batch as Transport.onReceive hands them over (views into `data`). */
export function batchItems(data: Uint8Array, meta: Uint32Array): ReceiveItem[] {
  const count = Math.floor(meta.length / RB_STRIDE);
  const items: ReceiveItem[] = new Array(count);
  let off = 0;
  for (let i = 0, m = 0; i < count; i++, m += RB_STRIDE) {
    const flags = meta[m + RB_FLAGS]!;
    const timestampNs = batchTimeNs(meta, m);
    if (flags & RB_OVERRUN) {
      items[i] = { overrun: true, source: 'kernel', timestampNs };
    } else if (flags & RB_LOCAL_DROP) {
      items[i] = { overrun: true, source: 'buffer', lost: meta[m + RB_PID]!, timestampNs };
    } else {
      const len = meta[m + RB_LEN]!;
      items[i] = { data: data.subarray(off, off + len), pid: meta[m + RB_PID]!, groups: meta[m + RB_GROUPS]!, truncated: (flags & RB_TRUNCATED) !== 0, timestampNs };
      off += len;
    }
  }
  return items;
}
