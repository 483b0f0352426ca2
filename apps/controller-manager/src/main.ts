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
import { join } from 'node:path';
import pino from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { hideBin } from 'yargs/helpers';
import { ShoalClient } from '@shoal/client';
import { defaultIdentity, LeaseElector, parseFlagsFile } from '@shoal/controller-runtime';
import { selectControllers } from './controllers.js';
import { controllerManagerFlags, controllerSettings, electionTiming, NAME } from './flags.js';
import { startHealthServer, type HealthServer } from './http-server.js';
import { watchControllerManagerConfig } from './live-config.js';
import { ControllerManager } from './manager.js';

/** A stop that has not finished by then is stuck: leave anyway, non-zero. */
const STOP_TIMEOUT_MS = 15_000;

const args = hideBin(process.argv);
/** The --config file's text as read at start: what the reload compares the file with. */
let configText = '';
const argv = await controllerManagerFlags(args, (path) => parseFlagsFile((configText = readFileSync(path, 'utf8')), path))
  .fail((msg, err) => {
    process.stderr.write(`${NAME}: ${msg ?? err?.message}\nRun with --help for usage.\n`);
    process.exit(2);
  })
  .parseAsync();

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

const settings = controllerSettings(argv);
const manager = new ControllerManager({
  client,
  clientFor,
  controllers: selected,
  registry,
  // One object, read by the controllers at each use: a reload of the config file changes it in place.
  settings,
  log,
  electorFor: argv['leader-elect']
    ? (controller) => new LeaseElector({ client: clientFor(controller), name: `${NAME}-${controller}`, identity, timing, log: log.child({ controller }) })
    : undefined,
});

let health: HealthServer | undefined;
let config: Awaited<ReturnType<typeof watchControllerManagerConfig>> | undefined;
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
    await config?.close();
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
  const configPath = argv.config as string | undefined;
  // Before the ready line, so no change after it is missed.
  if (configPath)
    config = await watchControllerManagerConfig({
      args,
      path: configPath,
      initial: { config: argv, text: configText },
      settings,
      resync: (c) => manager.resync(c),
      registry,
      log,
    });
  await manager.start();
  if (!stopping) console.log(`${NAME} ready on http://${argv.bind}:${health.port} (controllers: ${manager.names.join(',')})`);
} catch (err) {
  if (!stopping) {
    process.stderr.write(`${NAME}: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
