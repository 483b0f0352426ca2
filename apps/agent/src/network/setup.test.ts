/** The agent's run dir under /run/shoal: made for its DHCP servers, gone once it stops with none left. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { agentRunDir, nodeNetworks, removeRunDirIfUnused, stopAgentDhcp } from './setup.js';

const log = pino({ level: 'silent' });

test('a stopping agent removes its run dir when no DHCP server is left in it, and keeps one that may still serve its guests', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'shoal-agent-rundir-'));
  try {
    await nodeNetworks(dataDir, '127.0.0.1', log);
    assert.ok(existsSync(join(agentRunDir(dataDir), 'dhcp')), 'made at start');
    await removeRunDirIfUnused(dataDir);
    assert.equal(existsSync(agentRunDir(dataDir)), false, 'nothing served DHCP: nothing left behind');
    await removeRunDirIfUnused(dataDir); // again, with nothing there: no error

    await nodeNetworks(dataDir, '127.0.0.1', log);
    // A bridge's dir: its dnsmasq keeps serving the guests that outlive their agent.
    await mkdir(join(agentRunDir(dataDir), 'dhcp', 'shbr-kept'));
    await removeRunDirIfUnused(dataDir);
    assert.ok(existsSync(join(agentRunDir(dataDir), 'dhcp', 'shbr-kept')), 'a DHCP server dir is not removed');
  } finally {
    await stopAgentDhcp(dataDir);
    await rm(dataDir, { recursive: true, force: true });
  }
});
