/**
 * buildApp wires the apiserver: etcd store → watch cache → admission → resource service → routes.
 * It does not listen (STYLE.md §8): main.ts does, tests may use app.inject(). Nor does it start
 * anything: the watch cache, and the objects every cluster starts with are made
 * when the app becomes ready (listen(), or a test's first inject()) and stop when it closes.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import { Ajv, type ValidateFunction } from 'ajv';
import type { Etcd3 } from 'etcd3';
import { kinds as loadKinds } from '@shoal/api';
import { ObjectStore } from './storage/object-store.js';
import { WatchCache } from './storage/watch-cache.js';
import { ResourceService } from './registry/resource-service.js';
import { ensureBuiltinNamespaces } from './registry/builtin-namespaces.js';
import { registerBodyParsers } from './http/body-parsers.js';
import { registerErrorHandling } from './http/errors.js';
import { registerRateLimit, type RateLimitOptions } from './http/rate-limit.js';
import { registerRequestPriority, type RequestPriorityOptions } from './http/request-priority.js';
import { registerRequestChecks } from './http/request-checks.js';
import { registerKindSchemas } from './schemas-openapi.js';
import { resourceRoutes } from './routes/resources.js';
import { vmLogRoutes } from './routes/vm-logs.js';
import { usageMetricsRoutes } from './routes/usage-metrics.js';
import type { AgentTlsOptions } from './routes/agent-connection.js';
import { vmBindingRoutes } from './routes/vm-binding.js';
import { discoveryRoutes, SERVER_VERSION } from './routes/discovery.js';
import { openapiRoutes } from './routes/openapi.js';
import { answerClientError } from './http/client-errors.js';
import { healthRoutes } from './routes/health.js';
import { etcdSnapshotRoutes } from './routes/etcd-snapshot.js';
import { gitRepositoryWebhookRoutes } from './routes/gitrepository-webhook.js';
import { consoleRoutes } from './routes/console.js';
import { EtcdCompactor } from './storage/etcd-compactor.js';
import { EtcdDbSizeMonitor } from './metrics/etcd-db-size.js';
import { instrumentRequests, metricsRoutes } from './routes/metrics.js';
import { AuditLog } from './audit/audit-log.js';
import { auditRequests } from './audit/audit-requests.js';
import { AdmissionChain } from './admission/admission-chain.js';
import { NamespaceAdmission } from './admission/namespace-admission.js';
import { PriorityAdmission } from './admission/priority-admission.js';
import { storedPriorityClasses } from './admission/priority-classes.js';
import { QuotaAdmission } from './admission/quota-admission.js';
import { registerAuth, type AuthOptions } from './auth/plugin.js';
import { ensureBootstrapPolicy } from './auth/bootstrap-policy.js';

export interface AppOptions {
  etcd: Etcd3;
  /** Largest request body accepted, in bytes. */
  maxRequestBytes?: number;
  /** Changes remembered per kind for watch resumption. */
  watchCacheSize?: number;
  /** How often cached objects nothing read parsed go back to their JSON alone (WatchCache); 0: never. */
  watchCacheCompactIntervalMs?: number;
  /** Writes per etcd transaction when they arrive together (ObjectStore); 1: each alone. */
  etcdMaxTxnOps?: number;
  logger?: FastifyBaseLogger;
  /** With `ca` and `requestCert`, clients may authenticate with certificates (auth.clientCertificates). */
  https?: { cert: Buffer; key: Buffer; ca?: Buffer; requestCert?: boolean; rejectUnauthorized?: boolean };
  /** Authentication and authorization; without it the server is open (AlwaysAllow). */
  auth?: AuthOptions;
  /** Per-user token bucket (http/rate-limit.ts); no limit when absent. */
  rateLimit?: RateLimitOptions;
  /** Seats and priorities of requests (http/request-priority.ts); every request is worked on at once when absent. */
  requestPriority?: RequestPriorityOptions;
  /** Append every mutating request to this file as hash-chained JSON lines (audit/); no audit when absent. */
  auditLogPath?: string;
  /** How consoles are fetched from node agents that serve HTTPS (routes/agent-connection.ts). */
  agentTls?: AgentTlsOptions;
  /** Compact etcd's history every this many ms, to the revision seen one interval before (storage/etcd-compactor.ts); off when absent or 0. */
  etcdCompactionIntervalMs?: number;
  /** Read etcd's database size into /metrics every this many ms (metrics/etcd-db-size.ts); off when absent or 0. */
  etcdDbMetricPollIntervalMs?: number;
  /** The web console's built files, served at /ui/ (routes/console.ts); apps/console/dist of this checkout when absent. */
  consoleDir?: string;
}

export interface ApiServer {
  app: FastifyInstance;
  /** Closes the app, which stops its background work (onClose). */
  close(): Promise<void>;
}

/** Query strings and path parameters are checked by fastify; bodies by the resource service (Status errors, fieldValidation). */
const queryAjv = new Ajv({ coerceTypes: 'array', useDefaults: true, removeAdditional: false, allErrors: false, strict: false });
/**
 * One validator per distinct schema: every kind's routes ask for the same few query and path
 * schemas (about 450 asks, 31 schemas), each a fresh object, so ajv's own cache (by object) misses
 * and compiling them all was half a second of every apiserver's start.
 */
const queryValidators = new Map<string, ValidateFunction>();
function queryValidator(schema: object): ValidateFunction {
  const key = JSON.stringify(schema);
  let v = queryValidators.get(key);
  if (!v) queryValidators.set(key, (v = queryAjv.compile(schema)));
  return v;
}

export async function buildApp(opts: AppOptions): Promise<ApiServer> {
  const kinds = loadKinds().all;
  const store = new ObjectStore(opts.etcd, { maxTxnOps: opts.etcdMaxTxnOps });
  const cache = new WatchCache(opts.etcd, store, kinds, {
    windowSize: opts.watchCacheSize ?? 20_000,
    compactUnreadEveryMs: opts.watchCacheCompactIntervalMs,
  });
  const namespaceKind = loadKinds().find('Namespace')!;
  const [vmKind, quotaKind] = [loadKinds().find('VirtualMachine')!, loadKinds().find('ResourceQuota')!];
  const priority = new PriorityAdmission(storedPriorityClasses(store, cache, loadKinds().find('PriorityClass')!));
  // Mutating plugins run before the object is validated, validating plugins after (admission/admission.ts).
  const admission = new AdmissionChain(
    [priority],
    [new NamespaceAdmission(store, cache, namespaceKind), priority, new QuotaAdmission(store, cache, vmKind, quotaKind)],
  );
  const service = new ResourceService(store, cache, admission);

  const app = Fastify({
    ...(opts.logger ? { loggerInstance: opts.logger } : { logger: false }),
    bodyLimit: opts.maxRequestBytes ?? 3 * 1024 * 1024,
    ...(opts.https ? { https: opts.https } : {}),
    // Watches are long-lived; the server never times a request out by itself.
    requestTimeout: 0,
    forceCloseConnections: true,
    return503OnClosing: true,
    // Names may be 253 characters (and are refused with 404/422 when invalid), not cut at fastify's default 100 with a 414.
    maxParamLength: 1024,
    clientErrorHandler: answerClientError,
    // Becoming ready loads every object into the watch cache (onReady below), which takes as long
    // as the cluster is big: fastify's 10 s limit on plugins and ready hooks would fail a big start.
    pluginTimeout: 0,
  } as FastifyServerOptions);

  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? () => true : queryValidator(schema)));
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  registerBodyParsers(app);
  registerErrorHandling(app);
  instrumentRequests(app);
  const kindOf = (name: string) => loadKinds().find(name)!;
  const auth = registerAuth(app, opts.auth ?? {}, { cache, currentRevision: () => store.currentRevision(), kindOf });
  if (opts.rateLimit) registerRateLimit(app, opts.rateLimit);
  if (opts.requestPriority) registerRequestPriority(app, opts.requestPriority);
  const audit = opts.auditLogPath ? await AuditLog.open(opts.auditLogPath, { log: app.log }) : undefined;
  if (audit) auditRequests(app, audit);
  // Before the routes: every resource route gets them, the subresources with routes of their own too.
  registerRequestChecks(app);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Shoal', version: SERVER_VERSION.gitVersion, description: 'A Kubernetes-style control plane for microVMs' },
    },
    refResolver: { buildLocalReference: (json: { $id?: string }, _base: unknown, _frag: unknown, i: number) => json.$id ?? `def-${i}` },
  });
  registerKindSchemas(app, kinds);
  await app.register(discoveryRoutes, { kinds });
  await app.register(openapiRoutes);
  await app.register(healthRoutes, { store, cache });
  await app.register(metricsRoutes);
  await app.register(resourceRoutes, { kinds, service });
  await app.register(vmLogRoutes, { kinds, objects: service, agentTls: opts.agentTls });
  await app.register(usageMetricsRoutes, { kinds, service, agentTls: opts.agentTls });
  await app.register(vmBindingRoutes, { kinds, service });
  await app.register(etcdSnapshotRoutes, { etcd: opts.etcd });
  await app.register(gitRepositoryWebhookRoutes, { kinds, objects: cache, service });
  await app.register(consoleRoutes, { dir: opts.consoleDir });

  const compactor = opts.etcdCompactionIntervalMs
    ? new EtcdCompactor(opts.etcd, { intervalMs: opts.etcdCompactionIntervalMs, log: app.log, onCompacted: (revision) => cache.compacted(revision) })
    : undefined;
  const dbSize = opts.etcdDbMetricPollIntervalMs ? new EtcdDbSizeMonitor(opts.etcd, { intervalMs: opts.etcdDbMetricPollIntervalMs, log: app.log }) : undefined;

  app.addHook('onReady', async () => {
    await cache.start();
    await ensureBuiltinNamespaces(service, namespaceKind);
    if (auth.modes.includes('RBAC')) await ensureBootstrapPolicy(service, kindOf);
    compactor?.start();
    dbSize?.start();
  });
  // After the server has stopped taking requests; also when it never became ready.
  app.addHook('onClose', async () => {
    dbSize?.stop();
    await compactor?.stop();
    await audit?.close();
    await cache.stop();
  });

  return { app, close: () => app.close() };
}
