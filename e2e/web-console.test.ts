/**
 * The web console in a real browser — Debian's chromium, headless, driven by playwright-core —
 * against real clusters with authentication and RBAC on (HTTPS, a token file, Node,RBAC):
 *  - an admin signs in, watches a real QEMU microVM go Running with no reload, finds it on the
 *    overview under its node's datacenter, zone and rack, reads its serial console, stops it and
 *    sees the phase change;
 *  - a read-only user (a token bound to a view role) sees the same VM and its console but cannot
 *    stop it: the dialog shows the server's forbidden message and the VM runs on;
 *  - 10,000 VMs (made through the API, no agent): the list draws a window of rows, scrolls to the
 *    end and applies watch events to the rows; migrations and backups show their progress live.
 * Screenshots of every step go to test-output/web-console/ (or $SHOAL_TEST_OUTPUT), for review.
 */
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { Backup, Migration, VirtualMachine } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { makeServerCertificates, REPO_ROOT, securedApiserverArgs, startCluster, type TestCertificates, type TestCluster } from '@shoal/testing';
import { buildConsole } from '../apps/console/build.js';

const CHROMIUM = process.env.SHOAL_CHROMIUM ?? '/usr/bin/chromium';
const OUTPUT = process.env.SHOAL_TEST_OUTPUT ?? join(REPO_ROOT, 'test-output', 'web-console');
const TOKENS = {
  admin: 'console-admin-token',
  viewer: 'console-viewer-token',
  cm: 'console-controller-manager-token',
  node: 'console-node-token',
};
const NODE = 'console-node';
const TOPOLOGY = { 'topology.shoal.dev/datacenter': 'dc-1', 'topology.shoal.dev/zone': 'zone-a', 'topology.shoal.dev/rack': 'rack-7' };
const MARKER = 'hello-from-the-console-test';
const BOOT_MS = 120_000;
const SCALE = 10_000;

let certs: TestCertificates;
let cluster: TestCluster;
let admin: ShoalClient;
let browser: Browser;
/** The admin's tab, kept from test to test as a user would keep it open. */
let adminTab: Page;
const contexts: BrowserContext[] = [];
/** Errors thrown in a page, and Content-Security-Policy refusals: none may happen. */
const pageProblems: string[] = [];
let shots = 0;

before(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: "bash deploy/install-deps.sh --browser" installs Debian's chromium (npm test does)`);
  await mkdir(OUTPUT, { recursive: true });
  certs = await makeServerCertificates();
  const tokenFile = join(certs.dir, 'tokens.csv');
  await writeFile(
    tokenFile,
    [
      `${TOKENS.admin},admin,1,system:masters`,
      `${TOKENS.viewer},viewer,2,`,
      `${TOKENS.cm},system:shoal-controller-manager,3,`,
      `${TOKENS.node},system:node:${NODE},4,system:nodes`,
    ].join('\n'),
  );
  const [started, launched] = await Promise.all([
    startCluster({ apiserverArgs: securedApiserverArgs(certs, tokenFile), client: { caFile: certs.caFile, token: TOKENS.admin } }),
    chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] }),
    // The same bundle `npm run build` makes, from the sources as they are now.
    buildConsole(),
  ]);
  cluster = started;
  browser = launched;
  admin = cluster.client;
  await Promise.all([
    cluster.startControllerManager({
      args: ['--controllers', 'scheduler,health', '--token', TOKENS.cm, '--certificate-authority', certs.caFile, '--log-level', 'warn'],
    }),
    cluster.startAgent(NODE, {
      args: [
        ...['--token', TOKENS.node, '--certificate-authority', certs.caFile],
        ...['--vcpus', '4', '--memory-mib', '2048', '--stop-grace', '5'],
        ...[
          '--labels',
          Object.entries(TOPOLOGY)
            .map(([k, v]) => `${k}=${v}`)
            .join(','),
        ],
      ],
    }),
  ]);
  // The view role: read everything the console shows, consoles included; change nothing.
  await admin.create('ClusterRole', {
    metadata: { name: 'console-view' },
    rules: [
      {
        apiGroups: ['shoal.dev'],
        resources: ['virtualmachines', 'virtualmachines/log', 'nodes', 'events', 'migrations', 'backups', 'diskbackups', 'namespaces'],
        verbs: ['get', 'list', 'watch'],
      },
    ],
  });
  await admin.create('ClusterRoleBinding', {
    metadata: { name: 'viewer-views' },
    subjects: [{ kind: 'User', name: 'viewer' }],
    roleRef: { kind: 'ClusterRole', name: 'console-view' },
  });
});

after(async () => {
  await browser?.close();
  await cluster?.stop();
  if (certs) await rm(certs.dir, { recursive: true, force: true });
});

async function openTab(): Promise<Page> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1400, height: 900 } });
  contexts.push(context);
  const page = await context.newPage();
  page.on('pageerror', (err) => pageProblems.push(`page error: ${err.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) pageProblems.push(`CSP: ${m.text()}`);
  });
  return page;
}

async function signIn(page: Page, base: string, token: string): Promise<void> {
  await page.goto(`${base}/ui/`);
  await page.fill('input[name=token]', token);
  await page.click('button[type=submit]');
  await page.waitForSelector('header.top nav');
}

async function screenshot(t: TestContext, page: Page, name: string): Promise<void> {
  const path = join(OUTPUT, `${String(++shots).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path, fullPage: false });
  t.diagnostic(`screenshot: ${path}`);
}

/**
 * Waits for `selector` in the page; on a timeout, fails with what the API says of the VM and a
 * screenshot of the page, so a failure says whether the cluster or the page fell short.
 */
async function waitInPage(t: TestContext, page: Page, selector: string, timeoutMs: number): Promise<void> {
  try {
    await page.waitForSelector(selector, { timeout: timeoutMs });
  } catch (err) {
    await screenshot(t, page, 'failure');
    const vm = await admin.get<VirtualMachine>('vm', 'web').catch((e: Error) => e);
    throw new Error(
      `${(err as Error).message.split('\n')[0]}\nthe VM as the API has it: ${JSON.stringify(vm instanceof Error ? vm.message : { spec: vm.spec, status: vm.status })}`,
    );
  }
}

const VM_MANIFEST = {
  metadata: { name: 'web', labels: { app: 'web' } },
  spec: {
    resources: { vcpus: 1, memoryMiB: 128 },
    command: ['sh', '-c', `echo ${MARKER}; i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done`],
  },
};

test('an admin signs in and sees a real microVM go Running with no reload, on the overview under its rack, with its console', async (t) => {
  adminTab = await openTab();
  const page = adminTab;
  await page.goto(`${cluster.url}/ui/`);
  await page.waitForSelector('form[aria-label="Sign in"]');
  await screenshot(t, page, 'sign-in');
  await signIn(page, cluster.url, TOKENS.admin);
  await page.click('nav >> text=Virtual machines');
  await page.waitForSelector('[data-live="true"]');
  // Anything that reloads the page loses this.
  await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));

  await admin.create('vm', VM_MANIFEST);
  await page.waitForSelector('[data-vm="default/web"]', { timeout: 10_000 });
  await waitInPage(t, page, '[data-vm="default/web"] [data-phase="Running"]', BOOT_MS);
  assert.equal(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument), true, 'the list changed without a reload');
  assert.equal(await page.textContent(`[data-vm="default/web"] > :nth-child(4)`), NODE);
  await screenshot(t, page, 'vm-list-running');

  await page.click('nav >> text=Overview');
  const card = `[data-datacenter="dc-1"] [data-zone="zone-a"] [data-rack="rack-7"] [data-node="${NODE}"]`;
  await page.waitForSelector(`${card} .cond-true`);
  await page.waitForSelector(`${card} [aria-label="vCPUs 1 / 4"]`);
  await page.waitForSelector(`${card} [aria-label="memory 128 MiB / 2 GiB"]`);
  assert.equal(await page.textContent('[data-phase-count="Running"] .phase-count-n'), '1');
  await screenshot(t, page, 'overview');

  await page.goto(`${cluster.url}/ui/#/vms/default/web`);
  await page.waitForFunction((marker) => document.querySelector('[data-console]')?.textContent?.includes(marker), MARKER, { timeout: 30_000 });
  // Live: the guest's counter goes on in the page.
  const ticks = () => page.evaluate(() => (document.querySelector('[data-console]')?.textContent?.match(/tick \d+/g) ?? []).length);
  const before = await ticks();
  await page.waitForFunction((n) => (document.querySelector('[data-console]')?.textContent?.match(/tick \d+/g) ?? []).length > n + 1, before, {
    timeout: 30_000,
  });
  assert.match((await page.textContent('[data-console]')) ?? '', /SHOAL-BOOTED/);
  assert.match((await page.textContent('section[aria-label="Conditions"]')) ?? '', /Ready\s*True/);
  await page.waitForSelector('section[aria-label="Events"] td', { timeout: 10_000 });
  // What its QEMU process uses, from the metrics API, as a share of what the VM was given.
  await page.waitForFunction(
    () => /^\d+m CPU \(\d+%\), [\d.]+ MiB \(\d+%\)$/.test(document.querySelector('[data-usage]')?.textContent?.trim() ?? ''),
    undefined,
    {
      timeout: 30_000,
    },
  );
  await screenshot(t, page, 'vm-page-console');
  assert.deepEqual(pageProblems, []);
});

test('a read-only user sees the VM and its console but cannot stop it: the server’s forbidden message is shown', async (t) => {
  const page = await openTab();
  await signIn(page, cluster.url, TOKENS.viewer);
  await page.goto(`${cluster.url}/ui/#/vms/default/web`);
  await page.waitForSelector('.vm-header [data-phase="Running"]');
  await page.waitForFunction((marker) => document.querySelector('[data-console]')?.textContent?.includes(marker), MARKER, { timeout: 30_000 });
  // Its role grants no metrics.shoal.dev: the usage says so instead of a figure.
  await page.waitForFunction(
    () => /cannot get resource "virtualmachines" in API group "metrics.shoal.dev"/.test(document.querySelector('[data-usage]')?.textContent ?? ''),
    undefined,
    { timeout: 10_000 },
  );
  await page.click('[data-action="stop"]');
  await page.click('[data-confirm]');
  const alert = await page.waitForSelector('.dialog [role="alert"]');
  assert.equal(
    await alert.textContent(),
    'virtualmachines.shoal.dev "web" is forbidden: User "viewer" cannot patch resource "virtualmachines" in API group "shoal.dev" in the namespace "default"',
  );
  await screenshot(t, page, 'viewer-forbidden');
  const vm = await admin.get<VirtualMachine>('vm', 'web');
  assert.equal(vm.spec.runStrategy, 'Always', 'nothing changed');
  assert.equal(vm.status?.phase, 'Running');
  await page.click('.dialog >> text=Cancel');

  // Signing out forgets the token: a reload asks for one again.
  await page.click('text=Sign out');
  await page.waitForSelector('form[aria-label="Sign in"]');
  await page.reload();
  await page.waitForSelector('form[aria-label="Sign in"]');
  await page.fill('input[name=token]', 'not-a-token');
  await page.click('button[type=submit]');
  assert.match((await (await page.waitForSelector('.sign-in-form [role="alert"]')).textContent()) ?? '', /did not accept this token \(401 Unauthorized\)/);
  assert.deepEqual(pageProblems, []);
});

test('the admin stops the VM from its page and sees the phase change', async (t) => {
  const page = adminTab;
  await page.click('[data-action="stop"]');
  await page.waitForSelector('.dialog');
  await screenshot(t, page, 'stop-confirmation');
  await page.click('[data-confirm]');
  await page.waitForSelector('[data-notice] >> text=default/web: stopped');
  await page.waitForSelector('.vm-header [data-phase="Stopped"]', { timeout: 60_000 });
  await screenshot(t, page, 'vm-stopped');
  const vm = await admin.get<VirtualMachine>('vm', 'web');
  assert.equal(vm.spec.runStrategy, 'Halted');
  assert.equal(vm.metadata.annotations?.['shoal.dev/previous-run-strategy'], 'Always', 'the same patch shoalctl stop sends');
  assert.deepEqual(pageProblems, []);
});

test('10,000 VMs: the list draws a window of rows, scrolls to the end and applies watch events; migrations and backups show progress', async (t) => {
  // VMs made through the API on a cluster of their own: no scheduler, no agent, nothing else writing.
  await Promise.all(contexts.map((c) => c.close()));
  await cluster.stop();
  const tokenFile = join(certs.dir, 'tokens.csv');
  cluster = await startCluster({ apiserverArgs: securedApiserverArgs(certs, tokenFile), client: { caFile: certs.caFile, token: TOKENS.admin } });
  admin = cluster.client;
  const name = (i: number) => `vm-${String(i).padStart(5, '0')}`;
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      for (let i = next++; i < SCALE; i = next++) {
        await admin.create('vm', { metadata: { name: name(i) }, spec: { runStrategy: 'Halted', resources: { vcpus: 1, memoryMiB: 64 } } });
      }
    }),
  );

  const page = await openTab();
  await signIn(page, cluster.url, TOKENS.admin);
  await page.goto(`${cluster.url}/ui/#/vms`);
  await page.waitForSelector(`[data-vm-count="${SCALE}"]`, { timeout: 60_000 });
  const drawn = () => page.locator('.vlist-row').count();
  assert.ok((await drawn()) < 100, `only the rows in view are in the page, not ${await drawn()}`);
  assert.equal(await page.getAttribute('.vlist-row:first-child .vm-row', 'data-vm'), 'default/vm-00000');
  await screenshot(t, page, 'scale-list-top');

  await page.$eval('.vlist', (el) => (el.scrollTop = el.scrollHeight));
  await page.waitForSelector(`[data-vm="default/${name(SCALE - 1)}"]`);
  assert.ok((await drawn()) < 100, `still a window at the end: ${await drawn()} rows`);
  assert.equal(await page.locator('[data-vm="default/vm-00000"]').count(), 0, 'the first rows left the page');

  // Watch events reach the rows in view: a status change, a new VM at the end, a deletion.
  await admin.patch('vm', name(SCALE - 1), { status: { phase: 'Running', ip: '10.9.8.7' } }, { type: 'merge', status: true });
  await page.waitForSelector(`[data-vm="default/${name(SCALE - 1)}"] [data-phase="Running"]`, { timeout: 20_000 });
  await admin.create('vm', { metadata: { name: name(SCALE) }, spec: { runStrategy: 'Halted', resources: { vcpus: 1, memoryMiB: 64 } } });
  await admin.delete('vm', name(SCALE - 2));
  await page.waitForSelector(`[data-vm-count="${SCALE}"] >> text=${SCALE} VMs`);
  await page.$eval('.vlist', (el) => (el.scrollTop = el.scrollHeight));
  await page.waitForSelector(`[data-vm="default/${name(SCALE)}"]`, { timeout: 20_000 });
  await page.waitForSelector(`[data-vm="default/${name(SCALE - 2)}"]`, { state: 'detached', timeout: 20_000 });
  await screenshot(t, page, 'scale-list-end');

  // A filter is a new list+watch on the server's side: one VM Running.
  await page.selectOption('select[name=phase]', 'Running');
  await page.waitForSelector('[data-vm-count="1"]');
  assert.equal(await page.locator('.vlist-row').count(), 1);

  // Migrations and backups in progress, as their controllers would report them.
  const migration = await admin.create<Migration>('Migration', { metadata: { name: 'move-1' }, spec: { vmName: name(1), mode: 'Live' } });
  const backup = await admin.create<Backup>('Backup', { metadata: { name: 'nightly' }, spec: { mode: 'Full', ttl: '720h', vmNames: [name(1), name(2)] } });
  await page.goto(`${cluster.url}/ui/#/operations`);
  await page.waitForSelector('[data-migration="default/move-1"]');
  const status = (kind: string, objectName: string, value: object) => admin.patch(kind, objectName, { status: value }, { type: 'merge', status: true });
  await status('Migration', migration.metadata.name!, {
    phase: 'Running',
    sourceNode: 'a',
    targetNode: 'b',
    totalBytes: 512 * 2 ** 20,
    transferredBytes: 128 * 2 ** 20,
  });
  await status('Backup', backup.metadata.name!, {
    phase: 'InProgress',
    vms: [
      { name: name(1), phase: 'Completed' },
      { name: name(2), phase: 'InProgress' },
    ],
  });
  await page.waitForSelector('[data-migration="default/move-1"] [aria-label="128 MiB / 512 MiB"]');
  await page.waitForSelector('[data-backup="default/nightly"] >> text=1 / 2');
  await screenshot(t, page, 'operations');
  await status('Migration', migration.metadata.name!, { phase: 'Succeeded' });
  await page.waitForSelector('[data-migration="default/move-1"]', { state: 'detached' });
  assert.deepEqual(pageProblems, []);
});
