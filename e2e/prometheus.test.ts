/**
 * A real Prometheus scraping a cluster secured as `shoal up` secures it, through
 * deploy/prometheus/prometheus.yml: the credentials are the ones shoal up makes (its
 * ensureCredentials: the CA, the apiserver's and the token file's, the prometheus token and client
 * certificate), the apiserver takes only HTTPS with tokens and Node,RBAC, the controller-manager
 * runs one token per controller, and two simulated-runtime agents serve HTTPS to client
 * certificates from the CA. The configuration Prometheus runs is that file with each job's targets
 * set to this test's ports and each file it names replaced by shoal up's file of the same name
 * (localPrometheusConfig), so every job, scheme and credential of the file is what is tested.
 *
 * The alert rules are deploy/prometheus/alerts.yml with one change: ShoalNodeNotReady's `for:` is
 * 2s instead of 5m, and Prometheus scrapes and evaluates every second, so the alert fires within
 * seconds of the node going NotReady (the agents renew a 2 s lease; the health controller's grace
 * period is that lease).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import {
  localPrometheusConfig,
  PROMETHEUS_DEPLOY_DIR,
  readPrometheusConfig,
  securedApiserverArgs,
  startCluster,
  startPrometheus,
  waitFor,
  type PrometheusProcess,
  type PrometheusTarget,
  type TestCluster,
} from '@shoal/testing';
import { ensureCredentials, type ClusterCredentials } from '../apps/cli/src/up/credentials.js';

const NODES = ['prom-a', 'prom-b'];
/** What prometheus.yml names under shoal up's data dir, by file name. */
const PROMETHEUS_FILES = ['ca.crt', 'prometheus.token', 'prometheus.crt', 'prometheus.key'];

let dataDir: string;
let creds: ClusterCredentials;
let cluster: TestCluster;
let prometheus: PrometheusProcess;

/** alerts.yml with ShoalNodeNotReady's `for:` this short. */
async function rulesWithShortNotReady(forDuration: string): Promise<string> {
  const rules = parse(await readFile(join(PROMETHEUS_DEPLOY_DIR, 'alerts.yml'), 'utf8')) as { groups: { rules: { alert?: string; for?: string }[] }[] };
  const rule = rules.groups.flatMap((g) => g.rules).find((r) => r.alert === 'ShoalNodeNotReady');
  assert.ok(rule, 'alerts.yml has ShoalNodeNotReady');
  rule.for = forDuration;
  return stringify(rules);
}

const hostOf = (url: string) => new URL(url).host;

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'shoal-prometheus-e2e-'));
  creds = await ensureCredentials(dataDir, { bind: '127.0.0.1', agentBind: '127.0.0.1', nodeNames: NODES });
  const certs = { dir: creds.dir, caFile: creds.caFile, certFile: creds.certFile, keyFile: creds.keyFile };
  cluster = await startCluster({
    apiserverArgs: securedApiserverArgs(certs, creds.tokenFile),
    client: { caFile: creds.caFile, token: creds.adminToken },
    agentTls: certs,
    controllerManager: { args: ['--controller-tokens-dir', creds.controllerTokensDir, '--certificate-authority', creds.caFile] },
  });
  const agents = await Promise.all(
    NODES.map((node) =>
      cluster.startAgent(node, {
        // --token=: a base64url token may begin with '-', which would read as a flag on its own.
        args: ['--runtime', 'simulated', '--lease-duration', '2', `--token=${creds.nodeTokens.get(node)!}`, '--certificate-authority', creds.caFile],
      }),
    ),
  );
  const config = localPrometheusConfig(await readPrometheusConfig(), {
    targets: {
      'shoal-apiserver': [hostOf(cluster.url)],
      'shoal-controller-manager': [hostOf(cluster.controllerManager!.metricsUrl)],
      'shoal-agent': agents.map((a) => hostOf(a.address)),
      'shoal-etcd': [hostOf(cluster.etcd.endpoint)],
    },
    files: Object.fromEntries(PROMETHEUS_FILES.map((name) => [name, join(creds.dir, name)])),
    interval: '1s',
    ruleFiles: ['alerts.yml'],
  });
  prometheus = await startPrometheus({ config, files: { 'alerts.yml': await rulesWithShortNotReady('2s') } });
});

after(async () => {
  await prometheus?.stop();
  await cluster?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** The values of an instant query, by the labels asked for. */
async function query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  return (await prometheus.api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(`query?query=${encodeURIComponent(expr)}`)).result;
}

test("every component is scraped with the credentials shoal up writes: Prometheus's targets are all up", async () => {
  let seen: PrometheusTarget[] = [];
  const targets = await waitFor(
    async () => {
      seen = await prometheus.targets();
      return seen.length === 5 && seen.every((t) => t.health === 'up') ? seen : undefined;
    },
    {
      // Prometheus takes up new targets every 5 s.
      timeoutMs: 20_000,
      message: 'every target up',
      lastSeen: () => JSON.stringify(seen.map((t) => ({ job: t.labels.job, url: t.scrapeUrl, health: t.health, error: t.lastError }))),
    },
  );
  assert.deepEqual(targets.map((t) => `${t.labels.job} ${t.scrapeUrl.replace(/:\d+\//, ':PORT/')}`).sort(), [
    'shoal-agent https://127.0.0.1:PORT/metrics',
    'shoal-agent https://127.0.0.1:PORT/metrics',
    'shoal-apiserver https://127.0.0.1:PORT/metrics',
    'shoal-controller-manager http://127.0.0.1:PORT/metrics',
    'shoal-etcd http://127.0.0.1:PORT/metrics',
  ]);
  // What the alerts read arrived through those credentials.
  const ready = await waitFor(
    async () => {
      const r = await query('shoal_node_ready');
      return r.length === NODES.length && r.every((s) => s.value[1] === '1') ? r : undefined;
    },
    { message: 'shoal_node_ready 1 for both nodes' },
  );
  assert.deepEqual(ready.map((s) => s.metric.node).sort(), NODES);
  assert.deepEqual((await query('shoal_agent_fencings_total')).map((s) => [s.metric.node, s.value[1]]).sort(), [
    ['prom-a', '0'],
    ['prom-b', '0'],
  ]);
  assert.ok((await query('shoal_apiserver_requests_total{code="200"}')).length > 0, 'the apiserver counts requests');
  assert.equal((await query('etcd_server_quota_backend_bytes'))[0]?.value[1], String(2 * 1024 ** 3), "etcd's default quota");
  assert.ok((await query('shoal_leader_is_leader == 1')).length > 0, 'the controllers lead');
});

test('an agent stopped: its node goes NotReady and ShoalNodeNotReady fires for that node alone', async () => {
  const notReady = async () => (await prometheus.alerts()).filter((a) => a.labels.alertname === 'ShoalNodeNotReady');
  assert.deepEqual(await notReady(), [], 'no node NotReady while both agents run');
  const stopped = cluster.agents.get('prom-a')!;
  await stopped.stop();
  const firing = await waitFor(async () => (await notReady()).find((a) => a.state === 'firing'), {
    timeoutMs: 30_000,
    intervalMs: 200,
    message: 'ShoalNodeNotReady firing',
  });
  assert.equal(firing.labels.node, 'prom-a');
  assert.equal(firing.labels.severity, 'warning');
  assert.equal(firing.annotations.summary, 'Node prom-a is not Ready');
  assert.deepEqual(
    (await notReady()).map((a) => a.labels.node),
    ['prom-a'],
    'prom-b is Ready',
  );
  // Its target is down too (ShoalTargetDown would follow after its 5 minutes).
  const down = await waitFor(async () => (await prometheus.targets()).find((t) => t.labels.job === 'shoal-agent' && t.health === 'down'), {
    message: "the stopped agent's target down",
  });
  assert.equal(hostOf(down.scrapeUrl), hostOf(stopped.address));
});
