/**
 * Program names behind netlink port ids, read from /proc the way conntrack -E does: the
 * provider the CLI hands to the conntrack formatter as its `progname` option (formatters
 * do no I/O).
 */
import { closeSync, opendirSync, openSync, readFileSync, readlinkSync, type Dir } from 'node:fs';

function openDir(path: string): Dir | undefined {
  try {
    return opendirSync(path);
  } catch {
    return undefined;
  }
}

/** /proc/<pid>/stat "pid (comm) ...": comm up to the first ')' (fscanf "%*u (%m[^)]"). */
function pidName(proc: string, pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`${proc}/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  const m = /^\s*\d+ \(([^)]+)/.exec(stat);
  return m ? m[1] : undefined;
}

/** The name of `pid` when one of its fds is the socket `inode`. */
function portidToName(proc: string, pid: number, inode: string): string | undefined {
  const dir = openDir(`${proc}/${pid}/fd/`);
  if (dir === undefined) return undefined;
  try {
    for (let ent = dir.readSync(); ent !== null; ent = dir.readSync()) {
      if (!ent.isSymbolicLink()) continue;
      let target: string;
      try {
        target = readlinkSync(`${proc}/${pid}/fd/${ent.name}`);
      } catch {
        continue;
      }
      if (target.length > 128) continue;
      const m = /^socket:\[(\d+)\]/.exec(target);
      if (m && m[1] === inode) return pidName(proc, pid);
    }
  } finally {
    dir.closeSync();
  }
  return undefined;
}

function nameByPortid(proc: string, portid: number, inode: string): string | undefined {
  // Many netlink users take their process id as port id: try that process first.
  const first = portidToName(proc, portid, inode);
  if (first !== undefined) return first;
  const dir = openDir(proc);
  if (dir === undefined) return undefined;
  try {
    for (let ent = dir.readSync(); ent !== null; ent = dir.readSync()) {
      if (!ent.isDirectory() || !/^\d+$/.test(ent.name)) continue;
      const pid = Number(ent.name);
      if (pid <= 1 || pid === portid) continue;
      const name = portidToName(proc, pid, inode);
      if (name !== undefined) return name;
    }
  } finally {
    dir.closeSync();
  }
  return undefined;
}

/**
 * conntrack -E's way of naming the process behind an event's nlmsg_pid: find the
 * NETLINK_NETFILTER socket with that port id in <proc>/net/netlink (this process's network
 * namespace), then the process holding that socket inode (/proc/<portid>/fd first, then
 * every /proc/<pid>/fd in directory order), and take the comm field of its
 * /proc/<pid>/stat. Undefined when the socket or the process is gone. Like conntrack it
 * remembers the last (portid, inode) answer, found or not.
 *
 * `netlinkTable` reads the socket table of the namespace the events come from; by default
 * <proc>/net/netlink, this process's own. A caller whose sockets live in another namespace
 * passes a reader for that namespace's table (conntrack runs inside it and reads its own).
 */
export function procPortidResolver(
  proc: string = '/proc',
  netlinkTable: () => string = () => {
    const fd = openSync(`${proc}/net/netlink`, 'r');
    try {
      return readFileSync(fd, 'latin1');
    } finally {
      closeSync(fd);
    }
  },
): (portid: number) => string | undefined {
  let lastPortid = 0;
  let lastInode = '';
  let lastName: string | undefined;
  // The socket table, parsed, reused for up to TABLE_TTL_MS: a flush makes hundreds of
  // thousands of events carrying the same port id, and reading the table for each one
  // (about 17 µs) would make the printer fall behind the kernel. A port id missing from
  // the cached copy always triggers a fresh read, so new sockets are found as conntrack
  // would find them.
  let inodes: Map<number, string> | undefined;
  let readAt = 0;
  const load = (): Map<number, string> | undefined => {
    let table: string;
    try {
      table = netlinkTable();
    } catch {
      return undefined;
    }
    const m = new Map<number, string>();
    for (const line of table.split('\n')) {
      // sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || !/^[0-9a-fA-F]+$/.test(f[0]!) || !/^\d+$/.test(f[9]!)) continue;
      if (Number(f[1]) !== 12) continue;
      m.set(Number(f[2]) >>> 0, f[9]!);
    }
    readAt = Date.now();
    return m;
  };
  return (portid) => {
    let inode = Date.now() - readAt < TABLE_TTL_MS ? inodes?.get(portid) : undefined;
    if (inode === undefined) {
      inodes = load();
      inode = inodes?.get(portid);
      if (inode === undefined) return undefined;
    }
    if (lastPortid === portid && lastInode === inode) return lastName;
    lastName = nameByPortid(proc, portid, inode);
    lastPortid = portid;
    lastInode = inode;
    return lastName;
  };
}

const TABLE_TTL_MS = 1000;
