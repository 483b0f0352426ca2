/** shoal-apiserver: parses flags, builds the app, listens, and stops cleanly on SIGTERM. */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { hideBin } from 'yargs/helpers';
import pino from 'pino';
// The module alone, not the package: the rest of controller-runtime is for controllers, and every start would load it.
import { parseFlagsFile } from '@shoal/controller-runtime/config-reload';
import { connectEtcd } from './storage/etcd-client.js';
import { buildApp } from './app.js';
import { parseAuthorizationModes } from './auth/authorizer.js';
import { parseTokenFile, TokenAuthenticator } from './auth/token-file.js';
import type { AgentTlsOptions } from './routes/agent-connection.js';
import { apiserverFlags } from './flags.js';
import { watchApiserverConfig, watchTokenFile } from './live-config.js';

const args = hideBin(process.argv);
/** The --config file's text as read at start: what the reload compares the file with. */
let configText = '';
const argv = await apiserverFlags(args, (path) => parseFlagsFile((configText = readFileSync(path, 'utf8')), path))
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
  const tokenFile = argv['token-auth-file'];
  const tokenFileText = tokenFile ? readFileSync(tokenFile, 'utf8') : '';
  const tokenMap = tokenFile ? parseTokenFile(tokenFileText, tokenFile) : undefined;
  const tokens = tokenMap && new TokenAuthenticator(tokenMap);
  const server = await buildApp({
    etcd,
    logger: log,
    maxRequestBytes: argv['max-request-bytes'],
    watchCacheSize: argv['watch-cache-size'],
    watchCacheCompactIntervalMs: argv['watch-cache-compact-interval'] * 1000,
    etcdMaxTxnOps: argv['etcd-max-txn-ops'],
    rateLimit: rateLimitOf(argv['max-requests-per-second-per-user'], argv['rate-limit-burst']),
    requestPriority: argv['max-requests-inflight']
      ? { maxInflight: argv['max-requests-inflight'], queueTimeoutMs: argv['request-queue-timeout'] * 1000 }
      : undefined,
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
      tokens,
      clientCertificates: Boolean(argv['client-ca-file']),
      anonymousAuth: argv['anonymous-auth'],
      authorizationModes: argv['authorization-mode'] === undefined ? undefined : parseAuthorizationModes(argv['authorization-mode']),
    },
  });
  await server.app.listen({ port: argv.port, host: argv.bind });
  const scheme = argv['tls-cert-file'] ? 'https' : 'http';
  const { port } = server.app.server.address() as { port: number };
  // Watched before the ready line, so no change after it is missed.
  const configPath = argv.config as string | undefined;
  const reloaders = await Promise.all([
    configPath ? watchApiserverConfig({ args, path: configPath, initial: { config: argv, text: configText }, log }) : undefined,
    tokenFile && tokens ? watchTokenFile({ path: tokenFile, initial: { tokens: tokenMap!, text: tokenFileText }, authenticator: tokens, log }) : undefined,
  ]);
  console.log(`shoal-apiserver listening on ${scheme}://${argv.bind}:${port}`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await Promise.all(reloaders.map((r) => r?.close()));
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
