/** Discovery documents: what kubectl and client libraries read to map `vm` to a REST path. */
import type { FastifyInstance } from 'fastify';
import { GROUP, VERSION, API_VERSION, METRICS_API_VERSION, METRICS_GROUP, METRICS_VERSION, type KindInfo } from '@shoal/api';

/** kubectl's dispatcher runs the kubectl binary matching `minor`; Shoal speaks the 1.32 wire. */
export const SERVER_VERSION = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.0-shoal.0.1.0',
  gitCommit: 'shoal',
  gitTreeState: 'clean',
  buildDate: '2026-01-01T00:00:00Z',
  goVersion: `node${process.versions.node}`,
  compiler: 'tsc',
  platform: `${process.platform}/${process.arch}`,
};

const groupVersion = { groupVersion: API_VERSION, version: VERSION };
const metricsGroupVersion = { groupVersion: METRICS_API_VERSION, version: METRICS_VERSION };

/** The metrics API (routes/usage-metrics.ts): read-only, answered from the agents, as metrics.k8s.io. */
const METRICS_RESOURCES = [
  { name: 'nodes', singularName: '', namespaced: false, kind: 'NodeMetrics', verbs: ['get', 'list'] },
  { name: 'virtualmachines', singularName: '', namespaced: true, kind: 'VirtualMachineMetrics', verbs: ['get', 'list'] },
];

function apiResources(kinds: KindInfo[]) {
  const resources = [];
  for (const k of kinds) {
    const common = { singularName: k.singular, namespaced: k.namespaced, kind: k.kind };
    resources.push({
      name: k.plural,
      ...common,
      verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
      shortNames: k.shortNames,
      categories: k.categories,
    });
    if (k.hasStatus) resources.push({ name: `${k.plural}/status`, ...common, singularName: '', verbs: ['get', 'patch', 'update'] });
    if (k.kind === 'VirtualMachine') {
      // The serial console, relayed from the VM's node agent (routes/vm-logs.ts), as pods/log is.
      resources.push({ name: `${k.plural}/log`, ...common, singularName: '', verbs: ['get'] });
      // How the scheduler assigns a VM to a node (routes/vm-binding.ts), as pods/binding is.
      resources.push({ name: `${k.plural}/binding`, ...common, singularName: '', kind: 'Binding', verbs: ['create'] });
    }
  }
  return resources;
}

export async function discoveryRoutes(app: FastifyInstance, opts: { kinds: KindInfo[] }): Promise<void> {
  const hidden = { schema: { hide: true } };
  app.get('/version', hidden, async () => SERVER_VERSION);
  app.get('/api', hidden, async () => ({ kind: 'APIVersions', versions: [], serverAddressByClientCIDRs: [] }));
  const group = { name: GROUP, versions: [groupVersion], preferredVersion: groupVersion };
  const metricsGroup = { name: METRICS_GROUP, versions: [metricsGroupVersion], preferredVersion: metricsGroupVersion };
  // shoal.dev first: a name both groups serve (virtualmachines, nodes) resolves to it, as pods resolve to the core group over metrics.k8s.io.
  const groups = [group, metricsGroup];
  app.get('/apis', hidden, async (_req, reply) => reply.type('application/json').send({ kind: 'APIGroupList', apiVersion: 'v1', groups }));
  app.get(`/apis/${GROUP}`, hidden, async () => ({ kind: 'APIGroup', apiVersion: 'v1', ...group }));
  app.get(`/apis/${METRICS_GROUP}`, hidden, async () => ({ kind: 'APIGroup', apiVersion: 'v1', ...metricsGroup }));
  const list = { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: API_VERSION, resources: apiResources(opts.kinds) };
  app.get(`/apis/${API_VERSION}`, hidden, async () => list);
  const metricsList = { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: METRICS_API_VERSION, resources: METRICS_RESOURCES };
  app.get(`/apis/${METRICS_API_VERSION}`, hidden, async () => metricsList);
}
