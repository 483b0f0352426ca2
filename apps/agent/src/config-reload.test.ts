/**
 * The agent's --config file reloaded while it runs, with real processes (etcd, an apiserver, a
 * simulated agent: what is reloaded does not depend on a VM; the supervisors' side of the fence
 * timeout is runtime/qemu/vm-supervisor.test.ts): the log level, the fence timeout published on
 * the Node and written for the supervisors, invalid files that leave the config in force and
 * say why (a warn line, /metrics), and a flag that needs a restart named as such.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Node } from '@shoal/api';
import { startCluster, waitFor, waitForObject, type AgentProcess, type TestCluster } from '@shoal/testing';

const NODE = 'reload-node';
let cluster: TestCluster;
let agent: AgentProcess;
let dir: string;
let configFile: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-agent-config-'));
  configFile = join(dir, 'agent.yaml');
  // The lease duration stays at its default, 4 s: fence timeouts below it are out of range.
  await writeFile(configFile, 'log-level: warn\nfence-timeout: 6\n');
  cluster = await startCluster();
  agent = await cluster.startAgent(NODE, { args: ['--runtime', 'simulated', '--config', configFile] });
});
after(async () => {
  await cluster?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** A series of the agent's /metrics, by its name and labels as printed; undefined when absent. */
async function metric(series: string): Promise<number | undefined> {
  const text = await (await fetch(`${agent.address}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}
const failures = () => metric('shoal_config_reload_total{source="config",result="failure"}');
const successes = async () => (await metric('shoal_config_reload_total{source="config",result="success"}')) ?? 0;

/** The agent's pino lines printed so far. */
const logLines = () =>
  agent
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: number; msg: string; err?: string; flags?: string[] });

/** Saves the config file as an editor does: a new file renamed over the old one. */
async function save(text: string): Promise<void> {
  await writeFile(`${configFile}.tmp`, text);
  await rename(`${configFile}.tmp`, configFile);
}

test('log-level: debug in the file turns on the debug lines (each lease renewal) without a restart', async () => {
  assert.doesNotMatch(agent.output(), /"msg":"lease renewed"/, 'no debug line at warn');
  assert.equal(await metric('shoal_config_last_reload_successful{source="config"}'), 1);
  const hashBefore = await metric('shoal_config_hash{source="config"}');
  await save('log-level: debug\nfence-timeout: 6\n');
  await waitFor(() => /"msg":"lease renewed"/.test(agent.output()), { message: 'a debug line (a lease renewal) in the output', timeoutMs: 10_000 });
  assert.equal(await successes(), 1);
  assert.notEqual(await metric('shoal_config_hash{source="config"}'), hashBefore, 'the hash of the config in force changed');
});

test('fence-timeout: raised and lowered in the file, published on the Node and written for the VM supervisors', async () => {
  const fenceFile = join(agent.dataDir, 'fence-timeout');
  assert.equal((await readFile(fenceFile, 'utf8')).trim(), '6');
  for (const seconds of [9, 5]) {
    const before = await successes();
    await save(`log-level: debug\nfence-timeout: ${seconds}\n`);
    await waitForObject(cluster.client, 'Node', NODE, (n) => n.status?.fencing?.fenceTimeoutSeconds === seconds, {
      message: `status.fencing.fenceTimeoutSeconds ${seconds}`,
    });
    await waitFor(async () => (await successes()) === before + 1, { message: 'the reload counted' });
    assert.equal((await readFile(fenceFile, 'utf8')).trim(), String(seconds));
  }
  assert.ok(logLines().some((l) => l.msg === 'fence timeout changed'));
});

test('invalid files keep the config in force: each is counted on /metrics and said in a warn line', async () => {
  const cases: [string, RegExp][] = [
    // Below the lease duration: the VMs would stop while the control plane still counts the node alive.
    ['fence-timeout: 3\n', /--fence-timeout 3 is shorter than --lease-duration 4/],
    // Valid against the file's own lease, but that needs a restart: the lease in force (4 s) decides.
    ['lease-duration: 2\nfence-timeout: 3\n', /could not be put in force: --fence-timeout 3 is shorter than --lease-duration 4/],
    ['log-level: loud\n', /Invalid values:[\s\S]*log-level/],
    ['backup-bandwidth: -1\n', /--backup-bandwidth must be a number of MiB\/s ≥ 0/],
    ['fence-timeout: [\n', /agent\.yaml: not YAML or JSON/],
    ['no-such-flag: 1\n', /Unknown arguments?: no-such-flag/],
  ];
  for (const [i, [text, why]] of cases.entries()) {
    await save(text);
    await waitFor(async () => (await failures()) === i + 1, { message: `failure ${i + 1} counted (${JSON.stringify(text)})` });
    assert.equal(await metric('shoal_config_last_reload_successful{source="config"}'), 0);
    const warn = logLines().filter((l) => l.level === 40 && /the config in force stays as it was/.test(l.msg))[i];
    assert.ok(warn, `a warn line for ${JSON.stringify(text)}`);
    assert.match(warn.err!, why);
  }
  const node = await cluster.client.get<Node>('node', NODE);
  assert.equal(node.status?.fencing?.fenceTimeoutSeconds, 5, 'the fence timeout in force stayed');
  assert.equal((await readFile(join(agent.dataDir, 'fence-timeout'), 'utf8')).trim(), '5');
  // Still at debug: the lines keep coming.
  const renewals = () => agent.output().split('"msg":"lease renewed"').length;
  const seen = renewals();
  await waitFor(() => renewals() > seen, { message: 'another debug line: the log level in force stayed' });
});

test('a change that needs a restart is named in a warn line and not applied; a flag on the command line wins over the file', async () => {
  await save('log-level: debug\nfence-timeout: 5\nport: 1\nstop-grace: 5\n');
  await waitFor(() => logLines().some((l) => l.level === 40 && /take effect only at a restart/.test(l.msg)), { message: 'the restart warning' });
  const warn = logLines().find((l) => l.level === 40 && /take effect only at a restart/.test(l.msg))!;
  // --port is on the command line too (startAgent gives --port 0), and flags win: nothing changed there.
  assert.deepEqual(warn.flags, ['--stop-grace']);
  assert.equal(await metric('shoal_config_last_reload_successful{source="config"}'), 1, 'a valid file is a successful reload');
  assert.equal((await fetch(`${agent.address}/healthz`)).status, 200, 'still serving on its old port');
});
