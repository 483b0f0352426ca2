/** How a running process was started, from /proc: what a test reads to see which flags a component got. */
import { readdir, readFile } from 'node:fs/promises';

/** The argv of process `pid` (argv[0] the program), or undefined once it is gone. */
export async function commandLine(pid: number): Promise<string[] | undefined> {
  const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => undefined);
  return raw?.split('\0').slice(0, -1);
}

/** The argv of the first running process whose argv `matches`: one a test did not start itself (`shoal up`'s children). */
export async function commandLineOf(matches: (argv: string[]) => boolean): Promise<string[]> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const argv = await commandLine(Number(entry));
    if (argv && matches(argv)) return argv;
  }
  throw new Error('no running process has a command line like that');
}

/** The flags node was given before the script of `command` (bin/<command>.js) in `argv`; undefined when that script is not in it. */
export function nodeFlagsBefore(argv: string[], command: string): string[] | undefined {
  const script = argv.findIndex((a) => a.endsWith(`/bin/${command}.js`));
  return script < 0 ? undefined : argv.slice(1, script);
}
