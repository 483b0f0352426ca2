/** Prometheus metrics: request counts and latency by verb, resource and code, plus process metrics. */
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, register } from 'prom-client';
import { BoundCounter, BoundHistogram, type CounterSeries, type HistogramSeries } from '../metrics/bound-metrics.js';

const requests = new BoundCounter({
  name: 'shoal_apiserver_requests_total',
  help: 'API requests by verb, resource and code.',
  labelNames: ['verb', 'resource', 'code'],
});
const latency = new BoundHistogram({
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
    /** The answer streams for as long as the client wants (a followed log, a snapshot): it takes no seat (http/request-priority.ts). Watches are told by their query. */
    longRunning?: boolean;
  }
}

/** The series one verb on one resource updates, bound once. */
class RouteSeries {
  private readonly byCode = new Map<number, CounterSeries>();
  readonly latency: HistogramSeries;

  constructor(
    private readonly verb: string,
    private readonly resource: string,
  ) {
    this.latency = latency.with(verb, resource);
  }

  count(code: number): void {
    let c = this.byCode.get(code);
    if (!c) this.byCode.set(code, (c = requests.with(this.verb, this.resource, String(code))));
    c.inc();
  }
}

const routeSeries = new Map<string, RouteSeries>();

let defaultsCollected = false;

/** Counts every request of the app; call on the root instance so the hook sees all routes. */
export function instrumentRequests(app: FastifyInstance): void {
  if (!defaultsCollected) {
    collectDefaultMetrics({ prefix: 'shoal_apiserver_' });
    defaultsCollected = true;
  }
  // A callback hook, not an async one: it runs for every request, and a promise per request shows.
  app.addHook('onResponse', (req, reply, done) => {
    const cfg = req.routeOptions.config as { resource?: string; verb?: string };
    const verb = cfg.verb ?? req.method.toLowerCase();
    const resource = cfg.resource ?? '';
    const id = `${verb} ${resource}`;
    let series = routeSeries.get(id);
    if (!series) routeSeries.set(id, (series = new RouteSeries(verb, resource)));
    series.count(reply.statusCode);
    series.latency.observe(reply.elapsedTime / 1000);
    done();
  });
}

export async function metricsRoutes(app: FastifyInstance): Promise<void> {
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => reply.type(register.contentType).send(await register.metrics()));
}
