/** Prometheus metrics: request counts and latency by verb, resource and code, plus process metrics. */
import type { FastifyInstance } from 'fastify';
import { Counter, Histogram, collectDefaultMetrics, register } from 'prom-client';

const requests = new Counter({ name: 'shoal_apiserver_requests_total', help: 'API requests by verb, resource and code.', labelNames: ['verb', 'resource', 'code'] });
const latency = new Histogram({
  name: 'shoal_apiserver_request_duration_seconds',
  help: 'API request latency by verb and resource.',
  labelNames: ['verb', 'resource'],
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
});

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Plural of the kind a route serves, for metrics. */
    resource?: string;
    /** Kubernetes verb of the route (get, list, create, ...). */
    verb?: string;
  }
}

let defaultsCollected = false;

/** Counts every request of the app; call on the root instance so the hook sees all routes. */
export function instrumentRequests(app: FastifyInstance): void {
  if (!defaultsCollected) {
    collectDefaultMetrics({ prefix: 'shoal_apiserver_' });
    defaultsCollected = true;
  }
  app.addHook('onResponse', async (req, reply) => {
    const cfg = req.routeOptions.config as { resource?: string; verb?: string };
    const verb = cfg.verb ?? req.method.toLowerCase();
    const resource = cfg.resource ?? '';
    requests.inc({ verb, resource, code: String(reply.statusCode) });
    latency.observe({ verb, resource }, reply.elapsedTime / 1000);
  });
}

export async function metricsRoutes(app: FastifyInstance): Promise<void> {
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => reply.type(register.contentType).send(await register.metrics()));
}
