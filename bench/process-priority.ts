/**
 * Lowers a running process's CPU priority, every thread of it.
 *
 * On Linux a nice value belongs to a thread, not to a process: setpriority(pid) reaches only the
 * thread whose id is the pid. A Node process already runs V8's and libuv's threads, so each of
 * /proc/<pid>/task is set; threads it starts later inherit the value from the thread that
 * starts them.
 */
import { readdirSync } from 'node:fs';
import { setPriority } from 'node:os';

/** Sets `niceness` (-20..19, higher yields more) on every thread of `pid`; answers how many. */
export function reniceProcess(pid: number, niceness: number): number {
  let threads = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      setPriority(Number(tid), niceness);
      threads++;
    } catch (err) {
      // A thread that ended between the listing and here has nothing left to lower.
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
  return threads;
}
