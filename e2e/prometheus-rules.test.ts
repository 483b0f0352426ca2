/**
 * deploy/prometheus checked with Prometheus's own promtool, and against what Shoal exports:
 *
 *   - `promtool check config` on prometheus.yml placed as in a clone, beside a data dir made by
 *     shoal up's own credentials code, so every file it names must be one shoal up writes;
 *   - `promtool check rules` and `promtool test rules` (alerts.test.yml), which must test every
 *     alert both firing and not firing;
 *   - every metric name alerts.yml and the Grafana dashboard use is exported by a real apiserver,
 *     controller-manager (all controllers), simulated-runtime agent or etcd, scraped here (the
 *     `# TYPE` lines: a series that has no sample yet is exported all the same).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { parse } from 'yaml';
import { PROMETHEUS_DEPLOY_DIR, startCluster } from '@shoal/testing';
import { ensureCredentials } from '../apps/cli/src/up/credentials.js';

const file = (name: string) => join(PROMETHEUS_DEPLOY_DIR, name);

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
}

const alertRules = async (): Promise<AlertRule[]> =>
  (parse(await readFile(file('alerts.yml'), 'utf8')) as { groups: { rules: AlertRule[] }[] }).groups.flatMap((g) => g.rules);

test('promtool check config: prometheus.yml is valid and every file it names is one shoal up writes in its data dir', async () => {
  // A clone's layout: deploy/prometheus/ beside .shoal/, the default data dir of `npm start`.
  const root = await mkdtemp(join(tmpdir(), 'shoal-prometheus-config-'));
  try {
    await ensureCredentials(join(root, '.shoal'), { bind: '127.0.0.1', agentBind: '127.0.0.1', nodeNames: ['local'] });
    const dir = join(root, 'deploy', 'prometheus');
    await mkdir(dir, { recursive: true });
    for (const name of ['prometheus.yml', 'alerts.yml']) await copyFile(file(name), join(dir, name));
    const checked = await execa('promtool', ['check', 'config', join(dir, 'prometheus.yml')], { reject: false });
    assert.equal(checked.exitCode, 0, `${checked.stdout}\n${checked.stderr}`);
    assert.match(checked.stdout, /SUCCESS: 1 rule files found/);

    // Without the data dir the same file fails: the check above did look for the files.
    await rm(join(root, '.shoal'), { recursive: true });
    const missing = await execa('promtool', ['check', 'config', join(dir, 'prometheus.yml')], { reject: false });
    assert.notEqual(missing.exitCode, 0);
    assert.match(`${missing.stdout}\n${missing.stderr}`, /\.shoal\/pki\/\S+ (does not exist|no such file)/i);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('promtool check rules: alerts.yml is valid', async () => {
  const checked = await execa('promtool', ['check', 'rules', file('alerts.yml')], { reject: false });
  assert.equal(checked.exitCode, 0, `${checked.stdout}\n${checked.stderr}`);
  assert.match(checked.stdout, new RegExp(`SUCCESS: ${(await alertRules()).length} rules found`));
});

test('promtool test rules: alerts.test.yml passes, and tests every alert both firing and not firing', async () => {
  const tested = await execa('promtool', ['test', 'rules', file('alerts.test.yml')], { reject: false, cwd: PROMETHEUS_DEPLOY_DIR });
  assert.equal(tested.exitCode, 0, `${tested.stdout}\n${tested.stderr}`);
  assert.match(tested.stdout, /SUCCESS/);
  const cases = (
    parse(await readFile(file('alerts.test.yml'), 'utf8')) as { tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[] }
  ).tests.flatMap((t) => t.alert_rule_test);
  for (const { alert } of await alertRules()) {
    const mine = cases.filter((c) => c.alertname === alert);
    assert.ok(
      mine.some((c) => c.exp_alerts.length > 0),
      `${alert}: no case where it fires`,
    );
    assert.ok(
      mine.some((c) => c.exp_alerts.length === 0),
      `${alert}: no case where it does not fire`,
    );
  }
});

const PROMQL_WORDS = new Set(['and', 'or', 'unless', 'bool', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'inf', 'nan']);

/**
 * The metric names a PromQL expression selects: what is left once strings, label matchers,
 * ranges, label lists and Grafana's $variables are taken out, less functions and aggregations
 * (a name before a parenthesis) and keywords.
 */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\w+/g, ' ');
  const names = new Set<string>();
  for (const m of bare.matchAll(/(?<![\w.:])[a-zA-Z_:][\w:]*/g)) {
    if (PROMQL_WORDS.has(m[0]) || /^\s*\(/.test(bare.slice(m.index! + m[0].length))) continue;
    names.add(m[0]);
  }
  return [...names];
}

test('the metric-name reader: names, not functions, labels, keywords or numbers', () => {
  assert.deepEqual(
    metricNames(
      'histogram_quantile(0.99, sum by (le, verb) (rate(a_bucket{code=~"5..", x="y z"}[$__rate_interval]))) / on(instance) group_left(node) max without (job) (b) > bool 1e3 unless c:recorded offset 5m',
    ),
    ['a_bucket', 'b', 'c:recorded'],
  );
});

/** Every metric name a /metrics text declares (`# TYPE`), with the series names of histograms and summaries. */
function exportedNames(text: string): string[] {
  const names: string[] = [];
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.push(name!);
    if (type === 'histogram') names.push(`${name}_bucket`, `${name}_sum`, `${name}_count`);
    if (type === 'summary') names.push(`${name}_sum`, `${name}_count`);
  }
  return names;
}

test('every metric name in alerts.yml and the Grafana dashboard is exported by a running apiserver, controller-manager, agent or etcd', async () => {
  const dashboard = JSON.parse(await readFile(file('grafana-dashboard.json'), 'utf8')) as {
    panels: { type: string; title: string; id: number; targets?: { expr: string }[] }[];
  };
  const panels = dashboard.panels.filter((p) => p.type !== 'row');
  assert.ok(panels.length >= 20, 'the dashboard has its panels');
  assert.equal(new Set(dashboard.panels.map((p) => p.id)).size, dashboard.panels.length, 'panel ids are unique');
  const uses: { where: string; expr: string }[] = [
    ...(await alertRules()).map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })),
    ...panels.flatMap((p) => {
      assert.ok(p.targets?.length, `panel "${p.title}" queries something`);
      return p.targets!.map((t) => ({ where: `panel "${p.title}"`, expr: t.expr }));
    }),
  ];

  const cluster = await startCluster({ controllerManager: true, agents: ['metrics-node'], agentArgs: ['--runtime', 'simulated'] });
  let exported: Set<string>;
  try {
    const sources = [
      `${cluster.url}/metrics`,
      cluster.controllerManager!.metricsUrl,
      `${cluster.agents.get('metrics-node')!.address}/metrics`,
      `${cluster.etcd.endpoint}/metrics`,
    ];
    const texts = await Promise.all(sources.map(async (url) => (await fetch(url)).text()));
    // `up` is the one Prometheus makes itself, per target.
    exported = new Set(['up', ...texts.flatMap(exportedNames)]);
  } finally {
    await cluster.stop();
  }
  const missing = uses.flatMap(({ where, expr }) =>
    metricNames(expr)
      .filter((n) => !exported.has(n))
      .map((n) => `${where}: ${n}`),
  );
  assert.deepEqual(missing, [], 'names no component exports');
  const used = new Set(uses.flatMap((u) => metricNames(u.expr)));
  for (const name of [
    'shoal_node_ready',
    'shoal_agent_vm_crash_loop_backoff',
    'shoal_agent_fencings_total',
    'shoal_leader_is_leader',
    'shoal_apiserver_requests_total',
  ])
    assert.ok(used.has(name), `${name} is used`);
});
