/**
 * shoal-agent's flags: options, defaults and checks, from the command line and its --config
 * file. Parsed once at start and again whenever the config file changes (live-config.ts), so a
 * reloaded file is checked exactly as the first one was.
 */
import { hostname } from 'node:os';
import yargs from 'yargs';
import { AGENT_CLIENT_GROUP, DATACENTER_LABEL, MONITORING_GROUP, HOSTNAME_LABEL, RACK_LABEL, ZONE_LABEL } from '@shoal/api';
import { DEFAULT_LEASE_DURATION_SECONDS, defaultFenceTimeoutSeconds, fencingTimingError } from './fencing/timing.js';
import { KUBELET_RESTART_BACKOFF, restartBackoffFlagsError } from './vm/restart-backoff.js';

export function parseLabels(s: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (s ?? '').split(',').filter(Boolean)) {
    const [k, v = ''] = pair.split('=');
    if (!k) throw new Error(`--labels: cannot parse "${pair}" (want key=value)`);
    out[k.trim()] = v.trim();
  }
  return out;
}

export interface SimulatedTopology {
  datacenters: number;
  zonesPerDatacenter: number;
  racksPerZone: number;
}

export function parseTopology(s: string): SimulatedTopology {
  const m = /^(\d+)x(\d+)x(\d+)$/.exec(s.trim());
  const [datacenters, zonesPerDatacenter, racksPerZone] = (m ?? []).slice(1).map(Number);
  if (!m || !(datacenters! >= 1 && zonesPerDatacenter! >= 1 && racksPerZone! >= 1))
    throw new Error(`--simulate-topology: cannot parse "${s}" (want DATACENTERSxZONESxRACKS, each at least 1, e.g. 3x3x4)`);
  return { datacenters: datacenters!, zonesPerDatacenter: zonesPerDatacenter!, racksPerZone: racksPerZone! };
}

/**
 * Simulated node i's place: round-robin over datacenters first, then zones, then racks, so any
 * number of nodes spreads evenly (node 0 → dc-0/z-0/r-0, node 1 → dc-1/z-0/r-0, ...). Zone and
 * rack names carry their parents' names, so they are unique across the whole cluster.
 */
export function topologyLabels(t: SimulatedTopology, i: number): Record<string, string> {
  const d = i % t.datacenters;
  const z = Math.floor(i / t.datacenters) % t.zonesPerDatacenter;
  const r = Math.floor(i / (t.datacenters * t.zonesPerDatacenter)) % t.racksPerZone;
  return {
    [DATACENTER_LABEL]: `dc-${d}`,
    [ZONE_LABEL]: `dc-${d}-z-${z}`,
    [RACK_LABEL]: `dc-${d}-z-${z}-r-${r}`,
  };
}

/** --client-allowed-groups (or `fallback` when not given) as a list. */
export function allowedGroups(s: string | undefined, fallback = AGENT_CLIENT_GROUP): string[] {
  return (s ?? fallback)
    .split(',')
    .map((g) => g.trim())
    .filter(Boolean);
}

/** --metrics-allowed-groups as a list: system:monitoring when not given, none when given empty. */
export const metricsAllowedGroups = (s: string | undefined): string[] => allowedGroups(s, MONITORING_GROUP);

export function agentFlags(args: string[], readConfig: (path: string) => object) {
  return yargs(args)
    .scriptName('shoal-agent')
    .usage('$0 --server URL --node-name NAME --data-dir DIR [--runtime qemu|simulated]\n\nRuns the microVMs bound to this node.')
    .config('config', 'YAML or JSON file with any of these options (flags win); the live ones (README) take effect when it changes', readConfig)
    .option('server', { type: 'string', default: process.env.SHOAL_SERVER, describe: 'API server URL, or several comma-separated to fail over between' })
    .option('token', { type: 'string', describe: "Bearer token for the API server (the node's user: system:node:<node name>, group system:nodes)" })
    .option('certificate-authority', { type: 'string', describe: 'PEM file of the CA that signed the API server certificate' })
    .option('node-name', { type: 'string', default: hostname(), describe: 'Name of this node' })
    .option('data-dir', { type: 'string', demandOption: true, describe: 'Where VM run directories and state live' })
    .option('runtime', { choices: ['qemu', 'simulated'] as const, default: 'qemu' as const, describe: 'VM runtime driver' })
    .option('labels', { type: 'string', describe: 'Node labels, e.g. topology.shoal.dev/zone=a,topology.shoal.dev/rack=r1' })
    .option('bind', { type: 'string', default: '127.0.0.1', describe: 'Address of the agent endpoint (logs, health, metrics)' })
    .option('port', { type: 'number', default: 10250, describe: 'Port of the agent endpoint (0: any free port)' })
    .option('tls-cert-file', {
      type: 'string',
      describe:
        'Serve the agent endpoint over HTTPS with this certificate (PEM; names the address in --bind). Needs --tls-private-key-file and --client-ca-file',
    })
    .option('tls-private-key-file', { type: 'string', describe: 'Private key for --tls-cert-file (PEM)' })
    .option('client-ca-file', {
      type: 'string',
      describe: 'Consoles and /metrics only for client certificates this CA signed (PEM) and in --client-allowed-groups: the apiserver',
    })
    .option('client-allowed-groups', {
      type: 'string',
      describe: `Comma-separated groups (O of the client certificate) admitted to consoles and /metrics (default: ${AGENT_CLIENT_GROUP}, the apiserver's)`,
    })
    .option('metrics-allowed-groups', {
      type: 'string',
      describe: `Comma-separated groups (O of the client certificate) admitted to /metrics only, besides --client-allowed-groups (default: ${MONITORING_GROUP}, a Prometheus's; "" for none)`,
    })
    .option('migration-cert-file', {
      type: 'string',
      describe:
        "This node's certificate for live migrations (PEM, CN=system:node:<node name>, serverAuth and clientAuth, naming --migration-address): the only one the other nodes' QEMUs accept from it. Needs --migration-key-file and --migration-ca-file; without it this node takes part in no migration",
    })
    .option('migration-key-file', { type: 'string', describe: 'Private key for --migration-cert-file (PEM)' })
    .option('migration-ca-file', { type: 'string', describe: "The cluster CA that signed every node's migration certificate (PEM)" })
    .option('migration-address', {
      type: 'string',
      describe: 'Address this node receives live migrations on (default: --bind, or 127.0.0.1 when that is a wildcard)',
    })
    .option('vm-networks', {
      type: 'boolean',
      describe:
        'Attach VMs to Networks (spec.networks): a bridge and VXLAN segment per Network, a tap per NIC, DHCP and NAT on this host. Needs root; default: on for the qemu runtime when running as root (without it such VMs wait, saying why, and others keep user-mode networking)',
    })
    .option('overlay-address', {
      type: 'string',
      describe: "This host's underlay address for the Networks' VXLAN overlay, published on its Node (default: --migration-address's default)",
    })
    .option('lease-duration', {
      type: 'number',
      default: DEFAULT_LEASE_DURATION_SECONDS,
      describe: 'Seconds a node lease is valid; renewed every quarter of it',
    })
    .option('fence-timeout', {
      type: 'number',
      describe: `Seconds without a successful lease renewal after which this node's VMs are stopped, so they can run elsewhere (default: 1.5 × --lease-duration, ${defaultFenceTimeoutSeconds(DEFAULT_LEASE_DURATION_SECONDS)} with the default lease)`,
    })
    .option('stop-grace', { type: 'number', default: 30, describe: 'Seconds a guest gets to shut down before it is killed' })
    .option('crash-loop-backoff-base', {
      type: 'number',
      default: KUBELET_RESTART_BACKOFF.baseMs / 1000,
      describe: 'Seconds a VM restarted after its guest exited waits; doubled for each exit in a row (CrashLoopBackOff, as the kubelet)',
    })
    .option('crash-loop-backoff-max', {
      type: 'number',
      default: KUBELET_RESTART_BACKOFF.maxMs / 1000,
      describe: 'The longest wait, in seconds, before restarting a VM whose guest keeps exiting',
    })
    .option('crash-loop-backoff-reset', {
      type: 'number',
      default: KUBELET_RESTART_BACKOFF.resetAfterMs / 1000,
      describe: 'Seconds a run must last to end a crash loop: its exit waits --crash-loop-backoff-base again',
    })
    .option('boot-timeout', {
      type: 'number',
      default: 0,
      describe:
        'Seconds a guest may take to boot (its boot marker on the console) before it is killed and restarted per its runStrategy, with a BootTimedOut Event (0: wait for ever)',
    })
    .option('image-retry', {
      type: 'number',
      default: 30,
      describe: 'Seconds a failed image fetch (unreachable URL, wrong digest) is reported before it is tried again',
    })
    .option('image-gc-interval', { type: 'number', default: 60, describe: 'Seconds between collections of the image cache' })
    .option('image-gc-grace', {
      type: 'number',
      default: 600,
      describe: 'Seconds an image file no VM or Volume of this node uses is kept before it is removed from the cache',
    })
    .option('backup-bandwidth', {
      type: 'number',
      default: 0,
      describe: "MiB/s a running VM's disk backup may read, so a backup does not starve the guest's own I/O (0: no limit)",
    })
    .option('usage-interval', {
      type: 'number',
      default: 10,
      describe: "Seconds between samples of each VM's CPU and memory; the window `shoalctl top` averages CPU over",
    })
    .option('stop-vms-on-exit', { type: 'boolean', default: false, describe: 'Stop all VMs when the agent stops (all-in-one use)' })
    .option('vcpus', { type: 'number', describe: 'vCPUs offered to VMs (default: host CPUs)' })
    .option('memory-mib', { type: 'number', describe: 'Memory offered to VMs in MiB (default: host memory minus 1 GiB)' })
    .option('simulate-nodes', {
      type: 'number',
      default: 0,
      describe: 'With --runtime simulated: run this many nodes (NAME-0, NAME-1, ...) in this one process',
    })
    .option('simulate-boot-ms', {
      type: 'number',
      default: 200,
      describe: 'With --runtime simulated: how long a guest takes to boot; 0: it runs as it starts, so its first status already says Running',
    })
    .option('simulate-topology', {
      type: 'string',
      describe:
        'With --simulate-nodes: DATACENTERSxZONESxRACKS (e.g. 3x3x4, racks per zone); gives the nodes topology.shoal.dev/datacenter, zone and rack labels, round-robin',
    })
    .option('log-level', { type: 'string', default: 'warn', choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] })
    .check((a) => {
      if (!a.server) throw new Error('--server (or SHOAL_SERVER) is required');
      for (const url of a.server.split(',')) if (!/^https?:\/\/[^/]+/.test(url.trim())) throw new Error(`--server: "${url}" is not an http(s) URL`);
      if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(a['node-name']))
        throw new Error(`--node-name: "${a['node-name']}" is not a valid name (lower case letters, digits, '-', '.')`);
      for (const [flag, v] of Object.entries(a)) if (Array.isArray(v) && flag !== '_') throw new Error(`--${flag} was given more than once`);
      const fencingError = fencingTimingError({
        leaseDurationSeconds: a['lease-duration'],
        fenceTimeoutSeconds: a['fence-timeout'] ?? defaultFenceTimeoutSeconds(a['lease-duration']),
      });
      if (fencingError) throw new Error(fencingError);
      const backoffError = restartBackoffFlagsError({
        base: a['crash-loop-backoff-base'],
        max: a['crash-loop-backoff-max'],
        reset: a['crash-loop-backoff-reset'],
      });
      if (backoffError) throw new Error(backoffError);
      parseLabels(a.labels);
      if (Boolean(a['tls-cert-file']) !== Boolean(a['tls-private-key-file'])) throw new Error('--tls-cert-file and --tls-private-key-file go together');
      // HTTPS without a client CA would admit nobody to consoles, or everybody: neither is wanted.
      if (Boolean(a['tls-cert-file']) !== Boolean(a['client-ca-file']))
        throw new Error('--tls-cert-file and --client-ca-file go together: the endpoint serves consoles over HTTPS, to the client certificates that CA signed');
      if (a['client-allowed-groups'] !== undefined) {
        if (!a['client-ca-file']) throw new Error('--client-allowed-groups needs --client-ca-file');
        if (!allowedGroups(a['client-allowed-groups']).length) throw new Error('--client-allowed-groups: give at least one group');
      }
      if (a['metrics-allowed-groups'] !== undefined && !a['client-ca-file']) throw new Error('--metrics-allowed-groups needs --client-ca-file');
      if (!(a['boot-timeout'] >= 0)) throw new Error('--boot-timeout must be a number of seconds ≥ 0');
      if (!(a['image-retry'] > 0)) throw new Error('--image-retry must be a number of seconds > 0');
      if (!(a['image-gc-interval'] > 0)) throw new Error('--image-gc-interval must be a number of seconds > 0');
      if (!(a['usage-interval'] > 0)) throw new Error('--usage-interval must be a number of seconds > 0');
      if (!(a['backup-bandwidth'] >= 0)) throw new Error('--backup-bandwidth must be a number of MiB/s ≥ 0');
      if (!(a['image-gc-grace'] >= 0)) throw new Error('--image-gc-grace must be a number of seconds ≥ 0');
      const migrationFlags = [a['migration-cert-file'], a['migration-key-file'], a['migration-ca-file']].filter(Boolean).length;
      if (migrationFlags !== 0 && migrationFlags !== 3) throw new Error('--migration-cert-file, --migration-key-file and --migration-ca-file go together');
      if (a['simulate-nodes'] && a.runtime !== 'simulated') throw new Error('--simulate-nodes needs --runtime simulated');
      if (!(a['simulate-boot-ms'] >= 0)) throw new Error('--simulate-boot-ms must be 0 or more');
      if (!(Number.isInteger(a['simulate-nodes']) && a['simulate-nodes'] >= 0)) throw new Error('--simulate-nodes must be a whole number');
      if (a['simulate-topology'] !== undefined) {
        if (!a['simulate-nodes']) throw new Error('--simulate-topology needs --simulate-nodes');
        parseTopology(a['simulate-topology']);
      }
      // Every node's name is also its shoal.dev/hostname label value, which is at most 63 characters.
      const longest = a['simulate-nodes'] ? `${a['node-name']}-${a['simulate-nodes'] - 1}` : a['node-name'];
      if (longest.length > 63) throw new Error(`--node-name: "${longest}" is longer than 63 characters, so it cannot be the node's ${HOSTNAME_LABEL} label`);
      return true;
    })
    .strict();
}

export type AgentFlags = Awaited<ReturnType<ReturnType<typeof agentFlags>['parseAsync']>>;

/** The flags, checked; a bad one (or config file) throws the message the command line would print. */
export function parseAgentFlags(args: string[], readConfig: (path: string) => object): Promise<AgentFlags> {
  return agentFlags(args, readConfig)
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new Error(msg);
    })
    .parseAsync();
}
