/** shoal-agent: the node agent's command line. */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { join } from 'node:path';
import { hideBin } from 'yargs/helpers';
import pino from 'pino';
import { HOSTNAME_LABEL } from '@shoal/api';
import { parseFlagsFile } from '@shoal/controller-runtime';
import { Agent } from './agent.js';
import type { AgentEndpointTls } from './http-server.js';
import { defaultFenceTimeoutSeconds } from './fencing/timing.js';
import { agentFlags, allowedGroups, metricsAllowedGroups, parseLabels, parseTopology, topologyLabels } from './flags.js';
import { watchAgentConfig } from './live-config.js';

const args = hideBin(process.argv);
/** The --config file's text as read at start: what the reload compares the file with. */
let configText = '';
const argv = await agentFlags(args, (path) => parseFlagsFile((configText = readFileSync(path, 'utf8')), path))
  .fail((msg, err) => {
    process.stderr.write(`shoal-agent: ${msg ?? err?.message}\nRun with --help for usage.\n`);
    process.exit(2);
  })
  .parseAsync();

/** The endpoint's certificates, read and checked now: a bad file is a bad flag (exit 2), not a failed start. */
function endpointTls(): AgentEndpointTls | undefined {
  if (!argv['tls-cert-file']) return undefined;
  const read = (flag: 'tls-cert-file' | 'tls-private-key-file' | 'client-ca-file') => {
    try {
      return readFileSync(argv[flag]!);
    } catch (err) {
      throw new Error(`--${flag}: cannot read ${argv[flag]}: ${(err as Error).message}`);
    }
  };
  const tls = { cert: read('tls-cert-file'), key: read('tls-private-key-file'), clientCa: read('client-ca-file') };
  try {
    createSecureContext({ cert: tls.cert, key: tls.key, ca: tls.clientCa });
  } catch (err) {
    throw new Error(`--tls-cert-file, --tls-private-key-file, --client-ca-file: ${(err as Error).message}`);
  }
  return { ...tls, allowedGroups: allowedGroups(argv['client-allowed-groups']), metricsAllowedGroups: metricsAllowedGroups(argv['metrics-allowed-groups']) };
}

let tls: AgentEndpointTls | undefined;
try {
  tls = endpointTls();
} catch (err) {
  process.stderr.write(`shoal-agent: ${(err as Error).message}\nRun with --help for usage.\n`);
  process.exit(2);
}

const log = pino({ name: 'shoal-agent', level: argv['log-level'] });
if (!tls)
  log.warn(
    'the agent endpoint is plain HTTP and open: anyone who reaches its port reads VM consoles and metrics. Give --tls-cert-file, --tls-private-key-file and --client-ca-file to serve them only to the apiserver',
  );
const simulated = argv['simulate-nodes'];
/** Where other hosts reach this one, for migrations and the Networks' overlay: --bind, unless that is a wildcard. */
const hostAddress = ['0.0.0.0', '::'].includes(argv.bind) ? '127.0.0.1' : argv.bind;
const nodeNames = simulated ? Array.from({ length: simulated }, (_, i) => `${argv['node-name']}-${i}`) : [argv['node-name']];
const topology = argv['simulate-topology'] === undefined ? undefined : parseTopology(argv['simulate-topology']);
const configuredLabels = parseLabels(argv.labels);
/** --labels, then the simulated topology, then the hostname label (always the node's own name). */
const labelsOf = (nodeName: string, i: number) => ({ ...configuredLabels, ...(topology ? topologyLabels(topology, i) : {}), [HOSTNAME_LABEL]: nodeName });
const agents = nodeNames.map(
  (nodeName, i) =>
    new Agent({
      server: argv.server!,
      token: argv.token,
      caFile: argv['certificate-authority'],
      nodeName,
      dataDir: simulated ? join(argv['data-dir'], nodeName) : argv['data-dir'],
      runtime: argv.runtime,
      labels: labelsOf(nodeName, i),
      bind: argv.bind,
      port: simulated ? 0 : argv.port,
      tls,
      migration: {
        tls: argv['migration-cert-file']
          ? { certFile: argv['migration-cert-file'], keyFile: argv['migration-key-file']!, caFile: argv['migration-ca-file']! }
          : undefined,
        address: argv['migration-address'] ?? hostAddress,
      },
      vmNetworks:
        (argv['vm-networks'] ?? (argv.runtime === 'qemu' && process.getuid?.() === 0)) ? { overlayAddress: argv['overlay-address'] ?? hostAddress } : undefined,
      leaseDurationSeconds: argv['lease-duration'],
      fenceTimeoutSeconds: argv['fence-timeout'] ?? defaultFenceTimeoutSeconds(argv['lease-duration']),
      stopGraceSeconds: argv['stop-grace'],
      bootTimeoutSeconds: argv['boot-timeout'],
      imageRetrySeconds: argv['image-retry'],
      imageGc: { intervalSeconds: argv['image-gc-interval'], graceSeconds: argv['image-gc-grace'] },
      backupBandwidthMiBps: argv['backup-bandwidth'],
      usageIntervalSeconds: argv['usage-interval'],
      restartBackoff: {
        baseMs: argv['crash-loop-backoff-base'] * 1000,
        maxMs: argv['crash-loop-backoff-max'] * 1000,
        resetAfterMs: argv['crash-loop-backoff-reset'] * 1000,
      },
      stopVmsOnExit: argv['stop-vms-on-exit'],
      capacity: { vcpus: argv.vcpus, memoryMiB: argv['memory-mib'] },
      simulatedBootMs: argv['simulate-boot-ms'],
      log: log.child({ node: nodeName }),
    }),
);

const configPath = argv.config as string | undefined;
let config: Awaited<ReturnType<typeof watchAgentConfig>> | undefined;
try {
  // Simulated nodes start a few at a time so a thousand of them do not all list at once.
  for (let i = 0; i < agents.length; i += 25) await Promise.all(agents.slice(i, i + 25).map((a) => a.start()));
  // Watched once the agents run, since the live settings are put in force through them; before the ready line, so no change after it is missed.
  if (configPath) config = await watchAgentConfig({ args, path: configPath, initial: { config: argv, text: configText }, agents, log });
  const where = agents.length === 1 ? agents[0]!.address : `${agents.length} simulated nodes`;
  console.log(`shoal-agent ${argv['node-name']} ready on ${where} (runtime ${argv.runtime})`);
} catch (err) {
  process.stderr.write(`shoal-agent: ${(err as Error).message}\n`);
  process.exit(1);
}
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await config?.close();
  await Promise.all(agents.map((a) => a.stop().catch((err) => log.error({ err }, 'stop failed'))));
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
