/**
 * shoal-controller-manager: parses flags, serves /healthz /readyz /metrics, runs the selected
 * controllers, prints one ready line once their caches are synced, and stops cleanly on
 * SIGTERM. Bad flags exit 2 with a message; a failure to start exits 1.
 *
 * With --leader-elect each controller runs only while this process holds its Lease
 * (shoal-system/shoal-controller-manager-<controller>); otherwise it stands by, ready (its
 * caches are synced), and takes over when the leader's Lease expires or is released.
 *
 * With --controller-tokens-dir DIR each controller runs as its own user (Kubernetes'
 * --use-service-account-credentials): its informers, writes, Events and leader election use the
 * token in DIR/<controller>.token, so it holds only its own role's rights (system:shoal:<controller>).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { parse as parseYaml } from 'yaml';
import { ShoalClient } from '@shoal/client';
import { checkTiming, defaultIdentity, DEFAULT_ELECTION_TIMING, LeaseElector, type ElectionTiming } from '@shoal/controller-runtime';
import { CONTROLLER_NAMES, DEFAULT_SETTINGS, selectControllers } from './controllers.js';
import { defaultGitopsCacheDir } from './controller-env.js';
import { startHealthServer, type HealthServer } from './http-server.js';
import { ControllerManager } from './manager.js';

const NAME = 'shoal-controller-manager';
/** A stop that has not finished by then is stuck: leave anyway, non-zero. */
const STOP_TIMEOUT_MS = 15_000;

const argv = await yargs(hideBin(process.argv))
  .scriptName(NAME)
  .usage(`$0 --server URL [--controllers ${CONTROLLER_NAMES.join(',')}] [--port N]\n\nRuns Shoal's controllers against an API server.`)
  .config('config', 'YAML or JSON file with any of these options (flags win)', (path) => parseYaml(readFileSync(path, 'utf8')) as object)
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
  .strict()
  .fail((msg, err) => {
    process.stderr.write(`${NAME}: ${msg ?? err?.message}\nRun with --help for usage.\n`);
    process.exit(2);
  })
  .parseAsync();

function electionTiming(a: {
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

const log = pino({ name: NAME, level: argv['log-level'] }, pino.destination(2));
const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'shoal_controller_manager_' });

const selected = selectControllers(argv.controllers);
const newClient = (token: string | undefined, controller?: string) =>
  new ShoalClient({
    server: argv.server ?? process.env.SHOAL_SERVER!,
    caFile: argv['certificate-authority'],
    token,
    userAgent: controller ? `${NAME}/0.1.0 (${controller})` : `${NAME}/0.1.0`,
  });

let client: ShoalClient;
/** Per controller, its own client (--controller-tokens-dir); empty: every controller uses `client`. */
const controllerClients = new Map<string, ShoalClient>();
try {
  client = newClient(argv.token);
  const dir = argv['controller-tokens-dir'];
  if (dir !== undefined) {
    for (const { name } of selected) {
      const file = join(dir, `${name}.token`);
      let token: string;
      try {
        token = readFileSync(file, 'utf8').trim();
      } catch (err) {
        throw new Error(`--controller-tokens-dir: cannot read ${file}: ${(err as Error).message}`);
      }
      if (!token || /\s/.test(token)) throw new Error(`--controller-tokens-dir: ${file} must hold one token`);
      controllerClients.set(name, newClient(token, name));
    }
  }
} catch (err) {
  process.stderr.write(`${NAME}: ${(err as Error).message}\n`);
  process.exit(2);
}
const clientFor = (controller: string) => controllerClients.get(controller) ?? client;

const identity = argv['leader-elect-identity'] ?? defaultIdentity();
const timing = electionTiming(argv);
if (argv['leader-elect']) log.info({ identity, ...timing }, 'leader election on');

const manager = new ControllerManager({
  client,
  clientFor,
  controllers: selected,
  registry,
  settings: {
    preemptionMinPriorityGap: argv['preemption-min-priority-gap'],
    nodeMonitorGracePeriodSeconds: argv['node-monitor-grace-period'],
    migrationMinCompletionTimeoutSeconds: argv['migration-min-completion-timeout'],
    migrationTargetReadyTimeoutSeconds: argv['migration-target-ready-timeout'],
    gitopsCacheDir: resolve(argv['gitops-cache-dir']),
  },
  log,
  electorFor: argv['leader-elect']
    ? (controller) => new LeaseElector({ client: clientFor(controller), name: `${NAME}-${controller}`, identity, timing, log: log.child({ controller }) })
    : undefined,
});

let health: HealthServer | undefined;
let stopping = false;

async function stop(why: string, code = 0): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ why }, 'stopping');
  setTimeout(() => {
    process.stderr.write(`${NAME}: did not stop within ${STOP_TIMEOUT_MS} ms; exiting\n`);
    process.exit(1);
  }, STOP_TIMEOUT_MS).unref();
  try {
    await manager.stop();
    await health?.close();
    await client.close();
    for (const c of controllerClients.values()) await c.close();
  } catch (err) {
    log.error({ err: (err as Error).message }, 'error while stopping');
    code ||= 1;
  }
  process.exit(code);
}

process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));

try {
  health = await startHealthServer({
    port: argv.port,
    bind: argv.bind,
    registry,
    notReady: () => (manager.ready ? [] : [stopping ? 'stopping' : 'informers not synced']),
  });
  await manager.start();
  if (!stopping) console.log(`${NAME} ready on http://${argv.bind}:${health.port} (controllers: ${manager.names.join(',')})`);
} catch (err) {
  if (!stopping) {
    process.stderr.write(`${NAME}: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
