/**
 * The scale benchmark's pure parts: the VM mix, the placement checks and the histogram
 * quantiles. Part of `npm test`; alone:
 *   node --import tsx --test bench/scale-checks.test.ts
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HOSTNAME_LABEL, withDefaults, ZONE_LABEL, type Node, type VirtualMachine, type VmPhase } from '@shoal/api';
import { planMix, scaleVmBody } from './scale-mix.js';
import { verifyPlacement } from './scale-verify.js';
import { histogram, parseMetrics, quantile } from './prometheus-text.js';
import { describeGc, gcDelta, gcTotals } from './gc-metrics.js';

test('the mix: every VM once, about 70/15/15, anti-affinity groups that can fit, same plan every time', () => {
  const o = { vms: 10_000, namespaces: ['a', 'b', 'c', 'd'], zones: 9, nodes: 1000 };
  const mix = planMix(o);
  assert.equal(mix.vms.length, 10_000);
  assert.equal(new Set(mix.vms.map((v) => `${v.namespace}/${v.name}`)).size, 10_000);
  assert.equal(mix.counts.plain, 7000);
  assert.equal(mix.counts.antiAffinityZone + mix.counts.antiAffinityHost, 1500);
  assert.equal(mix.counts.spreadZone, 1500);
  for (const g of mix.groups) if (g.kind === 'antiAffinityZone') assert.ok(g.size <= 9, `${g.app} has ${g.size} members`);
  assert.ok(mix.groups.some((g) => g.topologyKey === HOSTNAME_LABEL));
  assert.deepEqual(planMix(o).vms.slice(0, 50), mix.vms.slice(0, 50));
  const anti = mix.vms.find((v) => v.kind === 'antiAffinityZone')!;
  const body = scaleVmBody(anti) as { spec: { affinity: unknown }; metadata: { labels: Record<string, string> } };
  assert.deepEqual(body.spec.affinity, {
    vmAntiAffinity: { required: [{ labelSelector: { matchLabels: { app: anti.group!.app } }, topologyKey: ZONE_LABEL }] },
  });
  assert.equal(body.metadata.labels.app, anti.group!.app);
});

const node = (name: string, zone: string): Node =>
  withDefaults('Node', {
    metadata: { name, labels: { [ZONE_LABEL]: zone, [HOSTNAME_LABEL]: name } },
    status: { allocatable: { vcpus: 2, memoryMiB: 2048 } },
  });
const vm = (name: string, app: string, nodeName?: string, phase: VmPhase = 'Running'): VirtualMachine =>
  withDefaults('VirtualMachine', {
    metadata: { name, namespace: 'ns', labels: { app } },
    spec: { ...(nodeName ? { nodeName } : {}), resources: { vcpus: 1, memoryMiB: 512 } },
    status: { phase },
  });

test('the checks find each kind of problem, and pass a good placement', () => {
  const nodes = [node('n1', 'z1'), node('n2', 'z2'), node('n3', 'z3')];
  const groups = [
    { namespace: 'ns', app: 'anti', kind: 'antiAffinityZone' as const, topologyKey: ZONE_LABEL, size: 2 },
    { namespace: 'ns', app: 'spread', kind: 'spreadZone' as const, topologyKey: ZONE_LABEL, maxSkew: 1, size: 3 },
  ];
  const good = [vm('a1', 'anti', 'n1'), vm('a2', 'anti', 'n2'), vm('s1', 'spread', 'n1'), vm('s2', 'spread', 'n2'), vm('s3', 'spread', 'n3')];
  assert.equal(verifyPlacement(good, nodes, groups, 5).ok, true);

  const bad = [
    vm('a1', 'anti', 'n1'),
    vm('a2', 'anti', 'n1'),
    vm('s1', 'spread', 'n1'),
    vm('s2', 'spread', 'n1'),
    vm('s3', 'spread', 'n2', 'Starting'),
    vm('p1', 'plain'),
  ];
  const v = verifyPlacement(bad, nodes, groups, 6);
  assert.equal(v.ok, false);
  assert.equal(v.unbound, 1);
  assert.equal(v.notRunning, 1);
  assert.equal(v.overcommittedNodes, 1, 'n1 holds 4 vCPUs of 2');
  assert.equal(v.antiAffinityViolations, 1);
  assert.equal(v.spreadViolations, 1, 'z1 2, z3 0: skew 2');
  assert.equal(v.worstSpreadSkew, 2);
});

test('quantiles from cumulative buckets, as histogram_quantile() interpolates them', () => {
  const text = ['d_bucket{le="0.001"} 50', 'd_bucket{le="0.002"} 90', 'd_bucket{le="0.005"} 100', 'd_bucket{le="+Inf"} 100', 'd_sum 0.12', 'd_count 100'].join(
    '\n',
  );
  const h = histogram(parseMetrics(text), 'd');
  assert.equal(h.count, 100);
  assert.deepEqual(quantile(h, 0.5), { q: 0.5, estimate: 0.001, lowerBound: 0, upperBound: 0.001 });
  const p99 = quantile(h, 0.99)!;
  assert.equal(p99.lowerBound, 0.002);
  assert.equal(p99.upperBound, 0.005);
  assert.ok(Math.abs(p99.estimate - 0.0047) < 1e-9);
});

test("a process's collections between two scrapes, by kind, from prom-client's GC histogram", () => {
  const scrape = (minor: [number, number], major: [number, number]) =>
    parseMetrics(
      [
        `shoal_x_nodejs_gc_duration_seconds_bucket{le="0.001",kind="minor"} ${minor[0]}`,
        `shoal_x_nodejs_gc_duration_seconds_sum{kind="minor"} ${minor[1]}`,
        `shoal_x_nodejs_gc_duration_seconds_count{kind="minor"} ${minor[0]}`,
        `shoal_x_nodejs_gc_duration_seconds_sum{kind="major"} ${major[1]}`,
        `shoal_x_nodejs_gc_duration_seconds_count{kind="major"} ${major[0]}`,
        `shoal_y_nodejs_gc_duration_seconds_count{kind="major"} 99`,
      ].join('\n'),
    );
  const before = gcTotals(scrape([10, 0.1], [1, 0.05]), 'shoal_x_');
  const after = gcTotals(scrape([85, 0.7105], [3, 0.4]), 'shoal_x_');
  assert.deepEqual(gcDelta(after, before), { minor: { count: 75, seconds: 0.611 }, major: { count: 2, seconds: 0.35 } });
  assert.equal(describeGc(gcDelta(after, before)), 'minor 75 in 0.611 s, major 2 in 0.35 s');
  assert.deepEqual(gcDelta(after), { minor: { count: 85, seconds: 0.711 }, major: { count: 3, seconds: 0.4 } }, 'since the start');
});
