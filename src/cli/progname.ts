/**
 * The process behind an event's netlink port id, for `[USERSPACE] portid=N progname=NAME`,
 * looked up the way conntrack -E does (port id -> socket inode in the namespace's
 * /proc/net/netlink -> the process holding that inode -> comm from /proc/<pid>/stat), but
 * sooner and faster, so that we find the name whenever conntrack can:
 *
 * - The requester (e.g. `conntrack -D`) usually exits right after its request, and both
 *   tools look it up after the fact: whoever looks first wins. conntrack looks as soon as
 *   it receives the event; we look when the datagram arrives (prime(), called from the
 *   client's datagram observer, before the batch is decoded and printed) and keep the
 *   answer for the printer.
 * - A requester's second netlink socket has a random port id, not its pid, so the holder
 *   is found by scanning /proc/<pid>/fd. conntrack scans in directory order (oldest pid
 *   first); the requester is nearly always among the newest processes, so we scan from the
 *   highest pid down, which finds it in a fraction of the time.
 *
 * Answers are kept per (port id, inode) for a short while, so a flush's 100,000 events from
 * one requester cost one lookup, and a port id reused by a new socket is looked up again.
 *
 * Sooner still: when the live subscription's addon names requesters itself (attach(); the
 * receive thread queues each new nlmsg_pid for a lookup thread the moment recvmsg returns,
 * see src/native/progname.c), its answer is taken, and this module only looks up what the
 * addon did not (never asked: queue full, no lookup thread).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

// The host's byte order, without loading node:os (~1 ms at start-up, issue 14).
const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** How long an answer (found or not) is reused for the same port id and inode. */
const KEEP_MS = 2000;
/** The socket table is re-read after this long, or at once for a port id it lacks. */
const TABLE_MS = 200;
/** How long the printer waits for the addon's lookup still running (its scan is bounded alike). */
export const SHIM_WAIT_MS = 250;

/** The addon's answer: a name, null (it looked, none found), undefined (it did not look). */
export type ShimNames = (portid: number, waitMs: number) => string | null | undefined;

export interface PortidResolver {
  /** Look `portid` up now (from the receive path); cheap when it is already known. */
  prime(portid: number): void;
  /** The name for the printer: the primed answer, or a lookup now. */
  name(portid: number): string | undefined;
  /** Take names from the subscription's addon from now on (JS priming stops). */
  attach(shim: ShimNames): void;
}

function comm(proc: string, pid: string): string | undefined {
  try {
    const m = /^\s*\d+ \(([^)]+)/.exec(readFileSync(`${proc}/${pid}/stat`, 'latin1'));
    return m ? m[1] : undefined;
  } catch {
    return undefined;
  }
}

function holds(proc: string, pid: string, target: string): boolean {
  let fds: string[];
  try {
    fds = readdirSync(`${proc}/${pid}/fd`);
  } catch {
    return false;
  }
  for (const fd of fds) {
    try {
      if (readlinkSync(`${proc}/${pid}/fd/${fd}`) === target) return true;
    } catch {
      /* closed meanwhile */
    }
  }
  return false;
}

/**
 * `table` returns the text of the events' namespace's /proc/net/netlink (by default this
 * process's own).
 */
export function createPortidResolver(table: () => string = () => readFileSync('/proc/net/netlink', 'latin1'), proc = '/proc'): PortidResolver {
  let inodes = new Map<number, string>();
  let tableAt = 0;
  const answers = new Map<number, { inode: string; name: string | undefined; at: number }>();
  /** Port ids absent from the table read at the given time. */
  const missing = new Map<number, number>();

  const loadTable = (): void => {
    let text: string;
    try {
      text = table();
    } catch {
      inodes = new Map();
      tableAt = Date.now();
      return;
    }
    const m = new Map<number, string>();
    for (const line of text.split('\n')) {
      // sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || Number(f[1]) !== 12 || !/^\d+$/.test(f[9]!)) continue;
      m.set(Number(f[2]) >>> 0, f[9]!);
    }
    inodes = m;
    tableAt = Date.now();
  };

  const lookup = (portid: number): string | undefined => {
    const now = Date.now();
    const fresh = now - tableAt < TABLE_MS;
    let inode = fresh ? inodes.get(portid) : undefined;
    // A port id missing from a fresh table stays missing (its socket is gone): a flush by a
    // process that has exited makes 100,000 events with its port id, and re-reading the
    // table for each would stall the printer.
    if (inode === undefined && !(fresh && missing.get(portid) === tableAt)) {
      loadTable();
      inode = inodes.get(portid);
      if (inode === undefined) {
        if (missing.size > 1024) missing.clear();
        missing.set(portid, tableAt);
      }
    }
    const known = answers.get(portid);
    // Gone from the table: a fresh answer (primed while it was there) still stands.
    if (inode === undefined) return known !== undefined && now - known.at < KEEP_MS ? known.name : undefined;
    if (known && known.inode === inode && now - known.at < KEEP_MS) return known.name;
    const target = `socket:[${inode}]`;
    let name: string | undefined;
    // Many netlink users bind their first socket to their pid: try that process first.
    if (holds(proc, String(portid), target)) name = comm(proc, String(portid));
    else {
      let pids: number[] = [];
      try {
        pids = readdirSync(proc).filter((e) => /^\d+$/.test(e)).map(Number);
      } catch {
        /* no /proc */
      }
      pids.sort((a, b) => b - a);
      for (const pid of pids) {
        if (pid <= 1 || pid === process.pid) continue;
        if (holds(proc, String(pid), target)) {
          name = comm(proc, String(pid));
          break;
        }
      }
    }
    if (answers.size > 1024) answers.clear();
    answers.set(portid, { inode, name, at: now });
    return name;
  };

  let shim: ShimNames | undefined;
  // The addon's last definitive answer: a flush prints 100,000 lines with one port id.
  let shimPortid = -1;
  let shimName: string | undefined;
  let shimAt = 0;
  return {
    prime: (portid) => {
      if (portid !== 0 && shim === undefined) lookup(portid >>> 0);
    },
    attach: (s) => {
      shim = s;
    },
    name: (portid) => {
      if (shim !== undefined) {
        const p = portid >>> 0;
        const now = Date.now();
        if (p === shimPortid && now - shimAt < KEEP_MS) return shimName;
        const n = shim(p, SHIM_WAIT_MS);
        if (n !== undefined) {
          shimPortid = p;
          shimName = n ?? undefined;
          shimAt = now;
          return shimName;
        }
      }
      const a = answers.get(portid >>> 0);
      // A primed answer stands (the process may be gone by the time the line is printed).
      if (a !== undefined && Date.now() - a.at < KEEP_MS) return a.name;
      return lookup(portid >>> 0);
    },
  };
}

/** nlmsg_pid of every message in a datagram (host byte order, as the kernel writes it). */
export function requesterPortids(d: Uint8Array, out: (portid: number) => void): void {
  const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
  for (let off = 0; off + 16 <= d.byteLength; ) {
    const len = v.getUint32(off, LE);
    const pid = v.getUint32(off + 12, LE);
    if (pid !== 0) out(pid);
    if (len < 16) break;
    off += (len + 3) & ~3;
  }
}
