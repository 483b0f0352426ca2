/**
 * `npm run soak`: the chaos soak, minutes long (see soak/README.md).
 *
 *   npm run soak                                   10 minutes, 6 VMs, a random seed (printed)
 *   npm run soak -- --seed 42 --duration 300       replay seed 42's schedule over 5 minutes
 *   npm run soak -- --vms 4 --fault-gap 5          fewer VMs, faults more often
 *
 * Needs root (network namespaces, veths, nftables). Exits 0 when every invariant held, 1 when
 * one failed (the summary says which, and how to replay), 2 on bad flags. Ctrl-C stops it and
 * still tears everything down.
 */
import { randomInt } from 'node:crypto';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { DEFAULT_OPTIONS } from './options.js';
import { runSoak } from './soak.js';

const argv = await yargs(hideBin(process.argv))
  .scriptName('npm run soak --')
  .option('seed', { type: 'number', describe: 'Seed of the fault schedule and the workload (default: random, printed)' })
  .option('duration', { type: 'number', default: DEFAULT_OPTIONS.durationMs / 1000, describe: 'Seconds of chaos (faults and workload)' })
  .option('vms', { type: 'number', default: DEFAULT_OPTIONS.vms, describe: 'VM names the workload uses' })
  .option('memory-mib', { type: 'number', default: DEFAULT_OPTIONS.memoryMiB, describe: 'Memory of each VM' })
  .option('fault-gap', { type: 'number', default: DEFAULT_OPTIONS.faultGapMs / 1000, describe: 'Mean seconds between fault arrivals' })
  .option('convergence-bound', {
    type: 'number',
    default: DEFAULT_OPTIONS.convergenceBoundMs / 1000,
    describe: 'Seconds every VM has to reach its declared state after the faults stop',
  })
  .option('logs', { choices: ['always', 'on-failure'] as const, default: DEFAULT_OPTIONS.keepLogs, describe: 'Write every process output beside the JSON' })
  .check((a) => {
    if (a.seed !== undefined && !(Number.isInteger(a.seed) && a.seed >= 0 && a.seed < 2 ** 32)) throw new Error('--seed must be a whole number in [0, 2^32)');
    if (!(a.duration >= 30)) throw new Error('--duration must be at least 30 seconds');
    if (!(Number.isInteger(a.vms) && a.vms >= 1 && a.vms <= 32)) throw new Error('--vms must be a whole number from 1 to 32');
    if (!(a['memory-mib'] >= 64)) throw new Error('--memory-mib must be at least 64');
    if (!(a['fault-gap'] > 0)) throw new Error('--fault-gap must be above 0');
    if (!(a['convergence-bound'] > 0)) throw new Error('--convergence-bound must be above 0');
    if (process.getuid?.() !== 0) throw new Error('the soak needs root: it makes network namespaces, veths and nftables rules');
    return true;
  })
  .strict()
  .fail((msg, err) => {
    process.stderr.write(`soak: ${msg ?? err?.message}\nRun with --help for usage.\n`);
    process.exit(2);
  })
  .parseAsync();

const stop = new AbortController();
process.once('SIGINT', () => {
  process.stderr.write('soak: interrupted; tearing down\n');
  stop.abort();
});
const report = await runSoak(
  {
    ...DEFAULT_OPTIONS,
    seed: argv.seed ?? randomInt(2 ** 32),
    durationMs: argv.duration * 1000,
    vms: argv.vms,
    memoryMiB: argv['memory-mib'],
    faultGapMs: argv['fault-gap'] * 1000,
    convergenceBoundMs: argv['convergence-bound'] * 1000,
    keepLogs: argv.logs,
    log: (line) => process.stderr.write(`soak: ${line}\n`),
  },
  stop.signal,
);
process.exit(report.passed ? 0 : 1);
