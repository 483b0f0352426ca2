/**
 * shoal-apiserver's flags: options, defaults and checks, from the command line and its --config
 * file. Parsed once at start and again whenever the config file changes (live-config.ts), so a
 * reloaded file is checked exactly as the first one was.
 */
import yargs from 'yargs';
import { DEFAULT_ETCD_REQUEST_TIMEOUT_MS } from './storage/etcd-client.js';
import { DEFAULT_MAX_TXN_OPS } from './storage/txn-coalescer.js';
import { parseAuthorizationModes } from './auth/authorizer.js';

export function apiserverFlags(args: string[], readConfig: (path: string) => object) {
  return yargs(args)
    .scriptName('shoal-apiserver')
    .usage('$0 --etcd-servers URL[,URL...] [--port N]\n\nServes the Shoal API over etcd.')
    .config('config', 'YAML or JSON file with any of these options (flags win); the live ones (README) take effect when it changes', readConfig)
    .option('etcd-servers', { type: 'string', demandOption: true, describe: 'Comma-separated etcd client URLs' })
    .option('port', { type: 'number', default: 6443, describe: 'Port to serve on' })
    .option('bind', { type: 'string', default: '127.0.0.1', describe: 'Address to listen on' })
    .option('tls-cert-file', { type: 'string', describe: 'Serve HTTPS with this certificate (PEM)' })
    .option('tls-private-key-file', { type: 'string', describe: 'Private key for --tls-cert-file (PEM)' })
    .option('etcd-cafile', { type: 'string', describe: 'CA to verify etcd with (enables TLS to etcd)' })
    .option('etcd-certfile', { type: 'string', describe: 'Client certificate for etcd' })
    .option('etcd-keyfile', { type: 'string', describe: 'Client key for etcd' })
    .option('watch-cache-size', { type: 'number', default: 20000, describe: 'Changes remembered per kind for watch resumption' })
    .option('watch-cache-compact-interval', {
      type: 'number',
      default: 30,
      describe: 'Seconds between sweeps that keep only the JSON of cached objects nothing read parsed since the last sweep (0: never)',
    })
    .option('max-request-bytes', { type: 'number', default: 3 * 1024 * 1024, describe: 'Largest request body accepted' })
    .option('etcd-startup-timeout', { type: 'number', default: 60, describe: 'Seconds to wait for etcd at start-up' })
    .option('etcd-request-timeout', {
      type: 'number',
      default: DEFAULT_ETCD_REQUEST_TIMEOUT_MS / 1000,
      describe: 'Seconds an etcd request may take before the API request fails with 503 (bounds every request while etcd has no quorum)',
    })
    .option('etcd-max-txn-ops', {
      type: 'number',
      default: DEFAULT_MAX_TXN_OPS,
      describe:
        "Compares in one etcd transaction when writes arriving together are committed together (creates, updates, deletes and their guards; bulk binds): at most etcd's own --max-txn-ops. 1: every write alone",
    })
    .option('etcd-compaction-interval', {
      type: 'number',
      default: 300,
      describe:
        "Seconds between compactions of etcd's history, each to the revision seen one interval before: a watch can resume from any resourceVersion younger than this, older ones get 410 Expired. Replicas take turns through etcd. 0: never compact",
    })
    .option('etcd-db-metric-poll-interval', {
      type: 'number',
      default: 30,
      describe: "Seconds between reads of etcd's database size for /metrics (shoal_etcd_db_size_bytes, shoal_etcd_db_size_in_use_bytes). 0: off",
    })
    .option('max-requests-per-second-per-user', {
      type: 'number',
      default: 0,
      describe: 'Requests per second each user (or, unauthenticated, each client address) may make; more are refused with 429 and Retry-After. 0: no limit',
    })
    .option('max-requests-inflight', {
      type: 'number',
      default: 128,
      describe:
        'Requests worked on at once (watches, logs and probes aside); more wait for a seat, Lease writes first, Event writes last, and one that waits longer than --request-queue-timeout gets 429. 0: no limit',
    })
    .option('request-queue-timeout', {
      type: 'number',
      default: 30,
      describe: 'Seconds a request may wait for a seat (--max-requests-inflight) before it is refused with 429 and Retry-After',
    })
    .option('rate-limit-burst', {
      type: 'number',
      describe: 'Requests a user may make at once after being idle (default: twice the per-second rate, at least 1)',
    })
    .option('audit-log-path', {
      type: 'string',
      describe:
        'Append every mutating request to this file as hash-chained JSON lines (check with `shoalctl audit verify FILE`); fsynced every second and on shutdown. Off when absent',
    })
    .option('client-ca-file', {
      type: 'string',
      describe: 'Authenticate clients by certificates this CA signed (PEM): CN is the user, O the groups. Needs --tls-cert-file',
    })
    .option('token-auth-file', {
      type: 'string',
      describe: 'Authenticate bearer tokens listed in this CSV file: token,user,uid,"group1,group2". Read again whenever it changes',
    })
    .option('anonymous-auth', {
      type: 'boolean',
      default: false,
      describe: 'With an authenticator configured, let requests without credentials through as system:anonymous (for authorization to judge) instead of 401',
    })
    .option('authorization-mode', {
      type: 'string',
      describe: 'Comma-separated modes tried in order: AlwaysAllow, AlwaysDeny, Node, RBAC (default: AlwaysAllow without authenticators, Node,RBAC with one)',
    })
    .option('agent-client-certificate', {
      type: 'string',
      describe:
        'Client certificate (PEM) presented to node agents that serve HTTPS, when relaying consoles (virtualmachines/log); its O must be one the agents admit (system:shoal-apiservers)',
    })
    .option('agent-client-key', { type: 'string', describe: 'Private key for --agent-client-certificate (PEM)' })
    .option('agent-certificate-authority', {
      type: 'string',
      describe: "CA (PEM) that signed the node agents' serving certificates; the system's CAs when absent",
    })
    .option('log-level', { type: 'string', default: 'warn', choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] })
    .check((a) => {
      if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) throw new Error(`--port must be an integer 0-65535, got ${a.port}`);
      if (Boolean(a['tls-cert-file']) !== Boolean(a['tls-private-key-file'])) throw new Error('--tls-cert-file and --tls-private-key-file go together');
      for (const url of String(a['etcd-servers']).split(','))
        if (!/^https?:\/\/[^/]+/.test(url)) throw new Error(`--etcd-servers: "${url}" is not an http(s) URL`);
      if (Boolean(a['etcd-certfile']) !== Boolean(a['etcd-keyfile'])) throw new Error('--etcd-certfile and --etcd-keyfile go together');
      if (a['etcd-cafile'] || a['etcd-certfile'] || a['etcd-keyfile']) {
        const plain = String(a['etcd-servers'])
          .split(',')
          .find((url) => !url.startsWith('https://'));
        if (plain) throw new Error(`--etcd-cafile, --etcd-certfile and --etcd-keyfile need https:// etcd URLs, got "${plain}"`);
      }
      if (!(a['watch-cache-size'] >= 1)) throw new Error('--watch-cache-size must be at least 1');
      if (!(a['watch-cache-compact-interval'] >= 0)) throw new Error('--watch-cache-compact-interval must be 0 (never) or a positive number of seconds');
      if (!(a['max-requests-per-second-per-user'] >= 0)) throw new Error('--max-requests-per-second-per-user must be 0 (no limit) or a positive number');
      if (a['rate-limit-burst'] !== undefined && !(a['rate-limit-burst'] >= 1)) throw new Error('--rate-limit-burst must be at least 1');
      if (!(Number.isInteger(a['max-requests-inflight']) && a['max-requests-inflight'] >= 0))
        throw new Error('--max-requests-inflight must be 0 (no limit) or a whole number of requests');
      if (!(a['request-queue-timeout'] > 0)) throw new Error('--request-queue-timeout must be a positive number of seconds');
      if (!(a['etcd-request-timeout'] > 0)) throw new Error('--etcd-request-timeout must be a positive number of seconds');
      if (!(a['etcd-compaction-interval'] >= 0)) throw new Error('--etcd-compaction-interval must be 0 (never) or a positive number of seconds');
      if (!(Number.isInteger(a['etcd-max-txn-ops']) && a['etcd-max-txn-ops'] >= 1)) throw new Error('--etcd-max-txn-ops must be a whole number, at least 1');
      if (!(a['etcd-db-metric-poll-interval'] >= 0)) throw new Error('--etcd-db-metric-poll-interval must be 0 (off) or a positive number of seconds');
      if (a['client-ca-file'] && !a['tls-cert-file'])
        throw new Error('--client-ca-file needs --tls-cert-file and --tls-private-key-file (client certificates come over TLS)');
      if (a['authorization-mode'] !== undefined) parseAuthorizationModes(a['authorization-mode']);
      if (Boolean(a['agent-client-certificate']) !== Boolean(a['agent-client-key']))
        throw new Error('--agent-client-certificate and --agent-client-key go together');
      return true;
    })
    .strict();
}

export type ApiserverFlags = Awaited<ReturnType<ReturnType<typeof apiserverFlags>['parseAsync']>>;

/** The flags, checked; a bad one (or config file) throws the message the command line would print. */
export function parseApiserverFlags(args: string[], readConfig: (path: string) => object): Promise<ApiserverFlags> {
  return apiserverFlags(args, readConfig)
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new Error(msg);
    })
    .parseAsync();
}
