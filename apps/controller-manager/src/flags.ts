/**
 * shoal-controller-manager's flags: options, defaults and checks, from the command line and its
 * --config file. Parsed once at start and again whenever the config file changes
 * (live-config.ts), so a reloaded file is checked exactly as the first one was.
 */
import { resolve } from 'node:path';
import yargs from 'yargs';
import { checkTiming, DEFAULT_ELECTION_TIMING, type ElectionTiming } from '@shoal/controller-runtime';
import { CONTROLLER_NAMES, DEFAULT_SETTINGS, selectControllers, type ControllerSettings } from './controllers.js';
import { defaultGitopsCacheDir } from './controller-env.js';

export const NAME = 'shoal-controller-manager';

export function controllerManagerFlags(args: string[], readConfig: (path: string) => object) {
  return yargs(args)
    .scriptName(NAME)
    .usage(`$0 --server URL [--controllers ${CONTROLLER_NAMES.join(',')}] [--port N]\n\nRuns Shoal's controllers against an API server.`)
    .config('config', 'YAML or JSON file with any of these options (flags win); the live ones (README) take effect when it changes', readConfig)
    .option('server', { type: 'string', describe: 'API server URL, or several comma-separated to fail over between (default: $SHOAL_SERVER)' })
    .option('controllers', { type: 'string', default: '*', describe: `Comma-separated controllers to run, or * for all (${CONTROLLER_NAMES.join(', ')})` })
    .option('port', { type: 'number', default: 10257, describe: 'Port for /healthz, /readyz and /metrics (0: any free port)' })
    .option('bind', { type: 'string', default: '127.0.0.1', describe: 'Address for /healthz, /readyz and /metrics' })
    .option('certificate-authority', { type: 'string', describe: 'PEM file of the CA that signed the API server certificate' })
    .option('token', { type: 'string', describe: 'Bearer token for the API server' })
    .option('controller-tokens-dir', {
      type: 'string',
      describe:
        'Directory with one token file per controller (<controller>.token): each controller then uses its own credentials (least privilege) instead of --token',
    })
    .option('leader-elect', {
      type: 'boolean',
      default: false,
      describe:
        'Run each controller only while this process holds its Lease (shoal-system/shoal-controller-manager-<controller>): one leader, any number of standbys',
    })
    .option('leader-elect-lease-duration', {
      type: 'number',
      default: DEFAULT_ELECTION_TIMING.leaseDurationMs / 1000,
      describe: 'Seconds a standby waits after it last saw the leader renew before it takes over (whole seconds)',
    })
    .option('leader-elect-renew-deadline', {
      type: 'number',
      default: DEFAULT_ELECTION_TIMING.renewDeadlineMs / 1000,
      describe: 'Seconds the leader keeps leading without a successful renewal; less than the lease duration',
    })
    .option('leader-elect-retry-period', {
      type: 'number',
      default: DEFAULT_ELECTION_TIMING.retryPeriodMs / 1000,
      describe: 'Seconds between renewals by the leader and between attempts by a standby',
    })
    .option('leader-elect-identity', { type: 'string', describe: 'Holder identity written on the Leases; unique per process (default: <hostname>_<random>)' })
    .option('preemption-min-priority-gap', {
      type: 'number',
      default: DEFAULT_SETTINGS.preemptionMinPriorityGap,
      describe: 'Preemption evicts only VMs whose priority is at least this much lower than the preempting VM (≥ 1)',
    })
    .option('node-monitor-grace-period', {
      type: 'number',
      default: DEFAULT_SETTINGS.nodeMonitorGracePeriodSeconds,
      describe: 'Seconds without a lease renewal before a node is NotReady (0: the lease duration the agent chose)',
    })
    .option('migration-min-completion-timeout', {
      type: 'number',
      default: DEFAULT_SETTINGS.migrationMinCompletionTimeoutSeconds,
      describe: "Seconds a migration's transfer may always take before it is abandoned, however small the VM (> 0)",
    })
    .option('migration-target-ready-timeout', {
      type: 'number',
      default: DEFAULT_SETTINGS.migrationTargetReadyTimeoutSeconds,
      describe: "Seconds a migration's target node may take to get ready, and its source node then to start the transfer (> 0)",
    })
    .option('gitops-cache-dir', {
      type: 'string',
      default: defaultGitopsCacheDir(),
      describe: 'Directory where the gitops controllers keep the repositories they fetch and the commits they check out (read at start)',
    })
    .option('log-level', { type: 'string', default: 'warn', choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] })
    .check((a) => {
      if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) throw new Error(`--port must be an integer 0-65535, got ${a.port}`);
      const server = a.server ?? process.env.SHOAL_SERVER;
      if (!server) throw new Error('--server URL (or $SHOAL_SERVER) is required');
      for (const url of server.split(',')) if (!/^https?:\/\/[^/]+/.test(url.trim())) throw new Error(`--server: "${url}" is not an http(s) URL`);
      selectControllers(a.controllers);
      const gap = a['preemption-min-priority-gap'];
      if (!(Number.isInteger(gap) && gap >= 1)) throw new Error('--preemption-min-priority-gap must be a whole number ≥ 1');
      if (!(a['node-monitor-grace-period'] >= 0)) throw new Error('--node-monitor-grace-period must be ≥ 0 seconds');
      for (const flag of ['migration-min-completion-timeout', 'migration-target-ready-timeout'] as const)
        if (!(a[flag] > 0 && Number.isFinite(a[flag]))) throw new Error(`--${flag} must be more than 0 seconds`);
      try {
        checkTiming(electionTiming(a));
      } catch (err) {
        throw new Error(
          `--leader-elect-lease-duration ${a['leader-elect-lease-duration']} --leader-elect-renew-deadline ${a['leader-elect-renew-deadline']} --leader-elect-retry-period ${a['leader-elect-retry-period']}: ${(err as Error).message}`,
        );
      }
      if (!a['gitops-cache-dir'].trim()) throw new Error('--gitops-cache-dir must name a directory');
      const identity = a['leader-elect-identity'];
      if (identity !== undefined && (identity.trim() === '' || identity.length > 1024))
        throw new Error('--leader-elect-identity must be 1-1024 characters, not blank');
      return true;
    })
    .strict();
}

export function electionTiming(a: {
  'leader-elect-lease-duration': number;
  'leader-elect-renew-deadline': number;
  'leader-elect-retry-period': number;
}): ElectionTiming {
  return {
    leaseDurationMs: Math.round(a['leader-elect-lease-duration'] * 1000),
    renewDeadlineMs: Math.round(a['leader-elect-renew-deadline'] * 1000),
    retryPeriodMs: Math.round(a['leader-elect-retry-period'] * 1000),
  };
}

export type ControllerManagerFlags = Awaited<ReturnType<ReturnType<typeof controllerManagerFlags>['parseAsync']>>;

/** The flags, checked; a bad one (or config file) throws the message the command line would print. */
export function parseControllerManagerFlags(args: string[], readConfig: (path: string) => object): Promise<ControllerManagerFlags> {
  return controllerManagerFlags(args, readConfig)
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new Error(msg);
    })
    .parseAsync();
}

/** The controllers' settings the flags give (controller-env.ts). */
export function controllerSettings(a: ControllerManagerFlags): ControllerSettings {
  return {
    preemptionMinPriorityGap: a['preemption-min-priority-gap'],
    nodeMonitorGracePeriodSeconds: a['node-monitor-grace-period'],
    migrationMinCompletionTimeoutSeconds: a['migration-min-completion-timeout'],
    migrationTargetReadyTimeoutSeconds: a['migration-target-ready-timeout'],
    gitopsCacheDir: resolve(a['gitops-cache-dir']),
  };
}
