/**
 * Who a soak run is, and what it leaves behind when it dies.
 *
 * Every run has a random id (6 hex digits, independent of the seed: two runs of one seed must
 * not clash). Everything it creates carries that id, so parallel runs never touch each other
 * and a crashed run's leftovers can be found and removed by the next one:
 *
 *   /tmp/shoal-soak-<id>/          run dir: etcd data, agents' data dirs (VM run dirs), owner.json
 *   shsk<id>-n<i>                  network namespaces, one per agent ("host")
 *   shsk<id>br, shsk<id>h<i>       the bridge and the host-side veths (interface names: ≤ 15 chars)
 *   SHOAL_SOAK_RUN=<id>            in the environment of every process the run starts (etcd,
 *                                  apiservers, controller-managers, agents, and through them the
 *                                  VM supervisors and QEMUs), so a leftover process is found by
 *                                  its /proc/<pid>/environ even when its parent is long gone
 *
 * owner.json holds the soak process's pid and start time (from /proc/<pid>/stat, so a reused
 * pid is not mistaken for the owner). A run is a leftover when its owner is not alive; only
 * leftovers are cleaned up.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

export const RUN_ENV = 'SHOAL_SOAK_RUN';
export const INTERFACE_PREFIX = 'shsk';
const RUN_DIR_PREFIX = 'shoal-soak-';
const ID = /^[0-9a-f]{6}$/;

export interface RunIdentity {
  id: string;
  dir: string;
}

/** The start time of a process in clock ticks since boot (field 22 of /proc/<pid>/stat), or undefined when it is gone. */
async function startTime(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

/** A new run: its id, its dir with owner.json, and SHOAL_SOAK_RUN in this process's environment (so every child inherits it). */
export async function newRun(): Promise<RunIdentity> {
  const id = randomBytes(3).toString('hex');
  const dir = join(tmpdir(), `${RUN_DIR_PREFIX}${id}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'owner.json'), JSON.stringify({ pid: process.pid, startTime: await startTime(process.pid) }));
  process.env[RUN_ENV] = id;
  return { id, dir };
}

/** Whether the run owning `dir` still runs. A dir without owner.json yet is a run starting this very moment, unless it is old. */
async function ownerAlive(dir: string): Promise<boolean> {
  const owner = JSON.parse(await readFile(join(dir, 'owner.json'), 'utf8').catch(() => 'null')) as { pid: number; startTime: string } | null;
  if (!owner) return Date.now() - ((await stat(dir).catch(() => undefined))?.mtimeMs ?? 0) < 60_000;
  return (await startTime(owner.pid)) === owner.startTime;
}

/** Pids of every process whose environment says it belongs to run `id`. */
export async function processesOfRun(id: string): Promise<number[]> {
  const pids: number[] = [];
  const needle = `\0${RUN_ENV}=${id}\0`;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const environ = await readFile(`/proc/${entry}/environ`, 'latin1').catch(() => '');
    if (`\0${environ}`.includes(needle)) pids.push(Number(entry));
  }
  return pids;
}

/** The run ids named by network namespaces and interfaces on this machine. */
async function idsInKernel(): Promise<Set<string>> {
  const ids = new Set<string>();
  const namespaces = await execa('ip', ['netns', 'list'], { reject: false });
  const links = await execa('ip', ['-o', 'link', 'show'], { reject: false });
  const pattern = new RegExp(`\\b${INTERFACE_PREFIX}([0-9a-f]{6})`, 'g');
  for (const m of `${namespaces.stdout}\n${links.stdout}`.matchAll(pattern)) ids.add(m[1]!);
  return ids;
}

/** Removes everything of run `id`: its processes (SIGKILL), namespaces, interfaces and run dir. */
export async function removeRun(id: string): Promise<void> {
  for (const pid of await processesOfRun(id)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  const namespaces = (await execa('ip', ['netns', 'list'], { reject: false })).stdout;
  for (const ns of namespaces.matchAll(new RegExp(`^(${INTERFACE_PREFIX}${id}-\\S+)`, 'gm'))) await execa('ip', ['netns', 'delete', ns[1]!], { reject: false });
  const links = (await execa('ip', ['-o', 'link', 'show'], { reject: false })).stdout;
  for (const link of links.matchAll(new RegExp(`^\\d+: (${INTERFACE_PREFIX}${id}[^:@\\s]*)`, 'gm')))
    await execa('ip', ['link', 'delete', link[1]!], { reject: false });
  await rm(join(tmpdir(), `${RUN_DIR_PREFIX}${id}`), { recursive: true, force: true });
}

/** Finds the runs whose owner is gone (crashed, killed) and removes what they left; answers their ids. Live runs are left alone. */
export async function removeLeftoverRuns(): Promise<string[]> {
  const candidates = await idsInKernel();
  const live = new Set<string>();
  for (const entry of await readdir(tmpdir()).catch(() => [] as string[])) {
    if (!entry.startsWith(RUN_DIR_PREFIX)) continue;
    const id = entry.slice(RUN_DIR_PREFIX.length);
    if (!ID.test(id)) continue;
    if (await ownerAlive(join(tmpdir(), entry))) live.add(id);
    else candidates.add(id);
  }
  const removed: string[] = [];
  for (const id of candidates) {
    if (live.has(id)) continue;
    await removeRun(id);
    removed.push(id);
  }
  return removed;
}
