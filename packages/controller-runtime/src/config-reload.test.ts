/**
 * ConfigReloader on real files in a temporary directory, watched by chokidar: saves in place
 * and by rename, a file missing for an instant and for longer, Kubernetes' `..data` symlink
 * swap, invalid files (the old config stays, a warn line and the failure metrics say why), and
 * applyFlagChanges naming the flags that need a restart. Each wait is for a condition, with a
 * deadline.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Registry } from 'prom-client';
import { waitFor } from '@shoal/testing';
import { applyFlagChanges, changedFlags, ConfigReloader, parseFlagsFile } from './config-reload.js';

interface Config {
  level: string;
  workers: number;
}

/** The config files of these tests: `level: X` and `workers: N`, checked as a process would. */
function loadConfig(text: string): Config {
  const flags = parseFlagsFile(text, 'config.yaml');
  const workers = flags.workers ?? 1;
  if (typeof workers !== 'number' || !Number.isInteger(workers) || workers < 1)
    throw new Error(`--workers must be a whole number ≥ 1, got ${JSON.stringify(workers)}`);
  return { level: String(flags.level ?? 'warn'), workers };
}

/** Events alone (no periodic look) unless `checkIntervalMs` says otherwise: what the watch sees is what is tested. */
async function setup(text: string, opts: { missingGraceMs?: number; checkIntervalMs?: number } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-config-reload-'));
  const file = join(dir, 'config.yaml');
  await writeFile(file, text);
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const log = pino({ level: 'info' }, sink);
  const registry = new Registry();
  const applied: Config[] = [];
  const reloader = new ConfigReloader<Config>({
    path: file,
    source: 'config',
    initial: { config: loadConfig(text), text },
    load: loadConfig,
    apply: (next) => {
      applied.push(next);
      return next;
    },
    log,
    registry,
    debounceMs: 20,
    checkIntervalMs: 0,
    ...opts,
  });
  await reloader.start();
  const metric = async (name: string, labels: string) => {
    const line = (await registry.metrics()).split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
    return line === undefined ? undefined : Number(line.split(' ').pop());
  };
  return {
    dir,
    file,
    lines,
    reloader,
    applied,
    metric,
    successes: () => metric('shoal_config_reload_total', 'source="config",result="success"'),
    failures: () => metric('shoal_config_reload_total', 'source="config",result="failure"'),
    async cleanup() {
      await reloader.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

test('a valid change saved in place or by rename is put in force, and counted with the hash of the new file', async () => {
  const s = await setup('level: warn\n');
  try {
    assert.equal(await s.metric('shoal_config_last_reload_successful', 'source="config"'), 1, 'the start counts as a success');
    const firstHash = await s.metric('shoal_config_hash', 'source="config"');
    assert.ok(firstHash! > 0);

    await writeFile(s.file, 'level: debug\n');
    await waitFor(() => s.reloader.current.level === 'debug', { message: 'the in-place save in force' });
    assert.equal(await s.successes(), 1);
    assert.notEqual(await s.metric('shoal_config_hash', 'source="config"'), firstHash, 'the hash follows the file');

    // As vim and atomic writers save: a new file renamed over the old one (a new inode).
    await writeFile(`${s.file}.tmp`, 'level: info\nworkers: 3\n');
    await rename(`${s.file}.tmp`, s.file);
    await waitFor(() => s.reloader.current.workers === 3, { message: 'the renamed file in force' });
    assert.deepEqual(s.reloader.current, { level: 'info', workers: 3 });
    assert.equal(await s.successes(), 2);
    assert.equal(await s.failures(), undefined, 'no failure counted');

    // Same content again (a touch): nothing to do.
    assert.equal(await s.reloader.reload(), 'unchanged');
    assert.equal(s.applied.length, 2);
  } finally {
    await s.cleanup();
  }
});

test('an invalid file keeps the config in force, with a warn line saying why and the failure metrics; a fixed one is taken', async () => {
  const s = await setup('workers: 2\n');
  try {
    await writeFile(s.file, 'workers: zero\n');
    await waitFor(async () => (await s.failures()) === 1, { message: 'a failed reload counted' });
    assert.equal(await s.metric('shoal_config_last_reload_successful', 'source="config"'), 0);
    assert.deepEqual(s.reloader.current, { level: 'warn', workers: 2 }, 'the old config stays in force');
    const warn = s.lines.find((l) => l.level === 40 && String(l.msg).includes('not valid'));
    assert.ok(warn, JSON.stringify(s.lines));
    assert.equal(warn.source, 'config');
    assert.equal(warn.file, s.file);
    assert.match(String(warn.err), /--workers must be a whole number ≥ 1, got "zero"/);

    // Not YAML at all, then not a mapping: each says so, naming the file.
    await writeFile(s.file, 'workers: [1, 2\n');
    await waitFor(async () => (await s.failures()) === 2, { message: 'the second failure' });
    await writeFile(s.file, '- workers\n');
    await waitFor(async () => (await s.failures()) === 3, { message: 'the third failure' });
    const errs = s.lines.filter((l) => l.level === 40).map((l) => String(l.err));
    assert.match(errs[1]!, /config\.yaml: not YAML or JSON/);
    assert.match(errs[2]!, /config\.yaml: want a mapping of flag names to values .*got a list/);

    await writeFile(s.file, 'workers: 4\n');
    await waitFor(() => s.reloader.current.workers === 4, { message: 'the fixed file in force' });
    assert.equal(await s.metric('shoal_config_last_reload_successful', 'source="config"'), 1);
    assert.equal(await s.successes(), 1);
    assert.ok((await s.metric('shoal_config_last_reload_success_timestamp_seconds', 'source="config"'))! > Date.now() / 1000 - 60);
  } finally {
    await s.cleanup();
  }
});

test('a file removed and written again within the grace is no failure; one missing for longer is, and its return is taken', async () => {
  // The periodic look on: chokidar drops a second removal of the file within 100 ms of the first, as here.
  const s = await setup('workers: 1\n', { missingGraceMs: 400, checkIntervalMs: 200 });
  try {
    await unlink(s.file);
    await writeFile(s.file, 'workers: 5\n');
    await waitFor(() => s.reloader.current.workers === 5, { message: 'the rewritten file in force' });
    assert.equal(await s.failures(), undefined, 'an instant without the file is not a failure');

    await unlink(s.file);
    await waitFor(async () => (await s.failures()) === 1, { message: 'the missing file counted once the grace is over' });
    assert.ok(s.lines.some((l) => l.level === 40 && String(l.msg).includes('cannot be read') && /ENOENT/.test(String(l.err))));
    assert.equal(s.reloader.current.workers, 5, 'the config in force stays');

    await writeFile(s.file, 'workers: 6\n');
    await waitFor(() => s.reloader.current.workers === 6, { message: 'the file back, in force' });
    assert.equal(await s.metric('shoal_config_last_reload_successful', 'source="config"'), 1);
  } finally {
    await s.cleanup();
  }
});

test('a Kubernetes ConfigMap mount: the file is a symlink through ..data, which is swapped to a new directory', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-configmap-'));
  try {
    // The kubelet's atomic writer: ..<timestamp>/config.yaml, ..data -> ..<timestamp>, config.yaml -> ..data/config.yaml.
    await mkdir(join(dir, '..v1'));
    await writeFile(join(dir, '..v1', 'config.yaml'), 'workers: 1\n');
    await symlink('..v1', join(dir, '..data'));
    await symlink('..data/config.yaml', join(dir, 'config.yaml'));
    const log = pino({ level: 'silent' });
    const reloader = new ConfigReloader<Config>({
      path: join(dir, 'config.yaml'),
      source: 'config',
      initial: { config: loadConfig('workers: 1\n'), text: 'workers: 1\n' },
      load: loadConfig,
      apply: (next) => next,
      log,
      registry: new Registry(),
      debounceMs: 20,
      checkIntervalMs: 0,
    });
    await reloader.start();
    try {
      await mkdir(join(dir, '..v2'));
      await writeFile(join(dir, '..v2', 'config.yaml'), 'workers: 7\n');
      await symlink('..v2', join(dir, '..data_tmp'));
      await rename(join(dir, '..data_tmp'), join(dir, '..data'));
      // Seen at the swap: the kubelet removes the old directory only later.
      await waitFor(() => reloader.current.workers === 7, { message: 'the swapped ConfigMap in force' });
    } finally {
      await reloader.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('applyFlagChanges: live flags are applied in their order, the others named as needing a restart and kept at their old value', async () => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      done();
    },
  });
  const log = pino({ level: 'info' }, sink);
  const order: string[] = [];
  const apply = applyFlagChanges<Record<string, unknown>>({
    source: 'config',
    path: '/etc/shoal/agent.yaml',
    log,
    live: {
      'fence-timeout': () => void order.push('fence-timeout'),
      'log-level': () => void order.push('log-level'),
    },
  });
  const current = { _: [], $0: 'x', config: '/etc/shoal/agent.yaml', 'log-level': 'warn', logLevel: 'warn', 'fence-timeout': 6, port: 10250 };
  const next = { ...current, 'log-level': 'debug', logLevel: 'debug', 'fence-timeout': 8, port: 10251 };
  assert.deepEqual(changedFlags(current, next).sort(), ['fence-timeout', 'log-level', 'port']);
  const inForce = await apply(next, current);
  assert.deepEqual(order, ['fence-timeout', 'log-level']);
  assert.equal(inForce.port, 10250, 'a restart-only flag keeps its value in force');
  assert.equal(inForce['log-level'], 'debug');
  const restart = lines.find((l) => l.level === 40);
  assert.deepEqual(restart?.flags, ['--port']);
  assert.match(String(restart?.msg), /take effect only at a restart: not applied/);

  // Named again at the next reload, since it still differs from what is in force.
  order.length = 0;
  lines.length = 0;
  await apply({ ...next, 'fence-timeout': 9 }, inForce);
  assert.deepEqual(order, ['fence-timeout']);
  assert.deepEqual(lines.find((l) => l.level === 40)?.flags, ['--port']);
});

test('the periodic look finds a change no event reported, and counts an invalid file once, not at every look', async () => {
  const s = await setup('workers: 1\n', { checkIntervalMs: 100 });
  try {
    // Unwatched: the watch is closed, as if every event were lost.
    await (s.reloader as unknown as { watcher: { close(): Promise<void> } }).watcher.close();
    await writeFile(s.file, 'workers: 8\n');
    await waitFor(() => s.reloader.current.workers === 8, { message: 'the change found by a look' });
    await writeFile(s.file, 'workers: -1\n');
    await waitFor(async () => (await s.failures()) === 1, { message: 'the invalid file counted' });
    // More looks at the same invalid file, as the timer makes them: nothing new to say. (The first
    // call may join the reload that counted the failure, still finishing.)
    await s.reloader.reload(true);
    for (let i = 0; i < 5; i++) assert.equal(await s.reloader.reload(true), 'unchanged');
    assert.equal(await s.failures(), 1);
    await writeFile(s.file, 'workers: 9\n');
    await waitFor(() => s.reloader.current.workers === 9, { message: 'the next valid file' });
  } finally {
    await s.cleanup();
  }
});
