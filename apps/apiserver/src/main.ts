/** shoal-apiserver: parses flags, builds the app, listens, and stops cleanly on SIGTERM. */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { parse as parseYaml } from 'yaml';
import pino from 'pino';
import { connectEtcd, DEFAULT_ETCD_REQUEST_TIMEOUT_MS } from './storage/etcd-client.js';
import { buildApp } from './app.js';
import { parseAuthorizationModes } from './auth/authorizer.js';
import { TokenAuthenticator } from './auth/token-file.js';
import type { AgentTlsOptions } from './routes/agent-connection.js';

const argv = await yargs(hideBin(process.argv))
  .scriptName('shoal-apiserver')
  .usage('$0 --etcd-servers URL[,URL...] [--port N]\n\nServes the Shoal API over etcd.')
  .config('config', 'YAML or JSON file with any of these options (flags win)', (path) => parseYaml(readFileSync(path, 'utf8')) as object)
  .option('etcd-servers', { type: 'string', demandOption: true, describe: 'Comma-separated etcd client URLs' })
  .option('port', { type: 'number', default: 6443, describe: 'Port to serve on' })
  .option('bind', { type: 'string', default: '127.0.0.1', describe: 'Address to listen on' })
  .option('tls-cert-file', { type: 'string', describe: 'Serve HTTPS with this certificate (PEM)' })
  .option('tls-private-key-file', { type: 'string', describe: 'Private key for --tls-cert-file (PEM)' })
  .option('etcd-cafile', { type: 'string', describe: 'CA to verify etcd with (enables TLS to etcd)' })
  .option('etcd-certfile', { type: 'string', describe: 'Client certificate for etcd' })
  .option('etcd-keyfile', { type: 'string', describe: 'Client key for etcd' })
  .option('watch-cache-size', { type: 'number', default: 20000, describe: 'Changes remembered per kind for watch resumption' })
  .option('max-request-bytes', { type: 'number', default: 3 * 1024 * 1024, describe: 'Largest request body accepted' })
  .option('etcd-startup-timeout', { type: 'number', default: 60, describe: 'Seconds to wait for etcd at start-up' })
  .option('etcd-request-timeout', {
    type: 'number',
    default: DEFAULT_ETCD_REQUEST_TIMEOUT_MS / 1000,
    describe: 'Seconds an etcd request may take before the API request fails with 503 (bounds every request while etcd has no quorum)',
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
  .option('token-auth-file', { type: 'string', describe: 'Authenticate bearer tokens listed in this CSV file: token,user,uid,"group1,group2"' })
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
    if (!(a['max-requests-per-second-per-user'] >= 0)) throw new Error('--max-requests-per-second-per-user must be 0 (no limit) or a positive number');
    if (a['rate-limit-burst'] !== undefined && !(a['rate-limit-burst'] >= 1)) throw new Error('--rate-limit-burst must be at least 1');
    if (!(a['etcd-request-timeout'] > 0)) throw new Error('--etcd-request-timeout must be a positive number of seconds');
    if (!(a['etcd-compaction-interval'] >= 0)) throw new Error('--etcd-compaction-interval must be 0 (never) or a positive number of seconds');
    if (!(a['etcd-db-metric-poll-interval'] >= 0)) throw new Error('--etcd-db-metric-poll-interval must be 0 (off) or a positive number of seconds');
    if (a['client-ca-file'] && !a['tls-cert-file'])
      throw new Error('--client-ca-file needs --tls-cert-file and --tls-private-key-file (client certificates come over TLS)');
    if (a['authorization-mode'] !== undefined) parseAuthorizationModes(a['authorization-mode']);
    if (Boolean(a['agent-client-certificate']) !== Boolean(a['agent-client-key']))
      throw new Error('--agent-client-certificate and --agent-client-key go together');
    return true;
  })
  .strict()
  .fail((msg, err) => {
    process.stderr.write(`shoal-apiserver: ${msg ?? err?.message}\nRun with --help for usage.\n`);
    process.exit(2);
  })
  .parseAsync();

/** What the apiserver shows node agents and trusts of them; a file it cannot read is a bad flag (exit 2). */
function agentTls(): AgentTlsOptions | undefined {
  const flags = ['agent-client-certificate', 'agent-client-key', 'agent-certificate-authority'] as const;
  if (!flags.some((f) => argv[f])) return undefined;
  const read = (flag: (typeof flags)[number]) => {
    if (!argv[flag]) return undefined;
    try {
      return readFileSync(argv[flag]!);
    } catch (err) {
      process.stderr.write(`shoal-apiserver: --${flag}: cannot read ${argv[flag]}: ${(err as Error).message}\nRun with --help for usage.\n`);
      process.exit(2);
    }
  };
  const tls = { cert: read('agent-client-certificate'), key: read('agent-client-key'), ca: read('agent-certificate-authority') };
  try {
    createSecureContext(tls);
  } catch (err) {
    process.stderr.write(`shoal-apiserver: --agent-client-certificate, --agent-client-key, --agent-certificate-authority: ${(err as Error).message}\n`);
    process.exit(2);
  }
  return tls;
}

const log = pino({ name: 'shoal-apiserver', level: argv['log-level'] });
const agentClient = agentTls();
const etcd = connectEtcd({
  servers: argv['etcd-servers'].split(','),
  caFile: argv['etcd-cafile'],
  certFile: argv['etcd-certfile'],
  keyFile: argv['etcd-keyfile'],
  requestTimeoutMs: argv['etcd-request-timeout'] * 1000,
});

function rateLimitOf(perSecond: number, burst: number | undefined) {
  if (!perSecond) return undefined;
  return { perSecond, burst: burst ?? Math.max(1, Math.ceil(2 * perSecond)) };
}

/** etcd may still be starting (as under `shoal up`): wait for it, within reason. */
async function waitForEtcd(): Promise<void> {
  const deadline = Date.now() + argv['etcd-startup-timeout'] * 1000;
  for (;;) {
    try {
      await etcd.get('/registry/').exec();
      return;
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error(`etcd at ${argv['etcd-servers']} did not answer within ${argv['etcd-startup-timeout']} s: ${(err as Error).message}`);
      log.warn({ err: (err as Error).message }, 'waiting for etcd');
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

try {
  await waitForEtcd();
  const server = await buildApp({
    etcd,
    logger: log,
    maxRequestBytes: argv['max-request-bytes'],
    watchCacheSize: argv['watch-cache-size'],
    rateLimit: rateLimitOf(argv['max-requests-per-second-per-user'], argv['rate-limit-burst']),
    auditLogPath: argv['audit-log-path'],
    agentTls: agentClient,
    etcdCompactionIntervalMs: argv['etcd-compaction-interval'] * 1000,
    etcdDbMetricPollIntervalMs: argv['etcd-db-metric-poll-interval'] * 1000,
    https: argv['tls-cert-file']
      ? {
          cert: readFileSync(argv['tls-cert-file']),
          key: readFileSync(argv['tls-private-key-file']!),
          // Ask for a client certificate but let requests without one through: they may carry a token.
          ...(argv['client-ca-file'] ? { ca: readFileSync(argv['client-ca-file']), requestCert: true, rejectUnauthorized: false } : {}),
        }
      : undefined,
    auth: {
      tokens: argv['token-auth-file'] ? TokenAuthenticator.fromFile(argv['token-auth-file']) : undefined,
      clientCertificates: Boolean(argv['client-ca-file']),
      anonymousAuth: argv['anonymous-auth'],
      authorizationModes: argv['authorization-mode'] === undefined ? undefined : parseAuthorizationModes(argv['authorization-mode']),
    },
  });
  await server.app.listen({ port: argv.port, host: argv.bind });
  const scheme = argv['tls-cert-file'] ? 'https' : 'http';
  const { port } = server.app.server.address() as { port: number };
  console.log(`shoal-apiserver listening on ${scheme}://${argv.bind}:${port}`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await server.close();
    etcd.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} catch (err) {
  process.stderr.write(`shoal-apiserver: ${(err as Error).message}\n`);
  process.exit(1);
}
