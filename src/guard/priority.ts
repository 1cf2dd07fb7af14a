/**
 * The guard's CPU priority. Under an insert flood the guard and the attacker share the same
 * cores, and the table stays under its maximum only while the guard deletes faster than the
 * attacker inserts: the guard's share of the CPU is part of the defence. conntrackd has the
 * same knob for the same reason (`Nice` in conntrackd.conf, -20 in its example).
 *
 * setpriority(PRIO_PROCESS, tid) on Linux sets one thread's nice value: every thread of the
 * process that exists now (/proc/self/task) gets it, and threads created later inherit it
 * from their creator. Lowering the nice value needs CAP_SYS_NICE (root has it); a refusal is
 * returned, never thrown.
 */
import { readdirSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

export interface PriorityResult {
  /** The nice value before. */
  before: number;
  /** The nice value asked for. */
  nice: number;
  /** Threads changed. */
  threads: number;
  /** Why it could not be set (EACCES, EPERM), when it could not. */
  error?: string;
}

export function setProcessNice(nice: number): PriorityResult {
  const before = getPriority(0);
  const out: PriorityResult = { before, nice, threads: 0 };
  try {
    setPriority(0, nice);
    out.threads = 1;
  } catch (e) {
    out.error = (e as Error).message;
    return out;
  }
  let tids: string[] = [];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return out;
  }
  for (const t of tids) {
    const tid = Number(t);
    if (!Number.isInteger(tid) || tid === process.pid) continue;
    try {
      setPriority(tid, nice);
      out.threads++;
    } catch {
      /* a thread that ended meanwhile */
    }
  }
  return out;
}
