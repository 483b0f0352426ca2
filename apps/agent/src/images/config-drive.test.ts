/**
 * The NoCloud config drive: what cloud-init will read (a pure function of the VM), and the real
 * ISO image genisoimage makes of it, read back with isoinfo.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { VirtualMachine } from '@shoal/api';
import { noCloudFiles, writeNoCloudDrive } from './config-drive.js';

const vm = (spec: Partial<VirtualMachine['spec']>, status?: VirtualMachine['status']): VirtualMachine =>
  ({
    apiVersion: 'shoal.dev/v1alpha1',
    kind: 'VirtualMachine',
    metadata: { name: 'Web_1', namespace: 'default', uid: '3f1c2a9e-0000-4000-8000-000000000001' },
    spec: { resources: { vcpus: 1, memoryMiB: 512 }, image: 'debian-12', runStrategy: 'Always', network: { mode: 'default' }, ...spec },
    ...(status ? { status } : {}),
  }) as VirtualMachine;

/** user-data after its #cloud-config line: JSON, which YAML reads as it is. */
const cloudConfigOf = (userData: string) => {
  assert.ok(userData.startsWith('#cloud-config\n'));
  return JSON.parse(userData.slice('#cloud-config\n'.length)) as Record<string, unknown>;
};

test('meta-data names the instance by the VM uid and the hostname; user-data has the keys, users and script of spec.guest', () => {
  const files = noCloudFiles(
    vm({
      guest: {
        hostname: 'web-1',
        sshAuthorizedKeys: ['ssh-ed25519 AAAA test@shoal'],
        users: [{ name: 'ops', sudo: true, groups: ['adm', 'sudo'], sshAuthorizedKeys: ['ssh-ed25519 BBBB ops@shoal'] }],
        script: 'echo configured > /var/tmp/marker',
      },
    }),
  );
  assert.deepEqual(JSON.parse(files['meta-data']), { 'instance-id': '3f1c2a9e-0000-4000-8000-000000000001', 'local-hostname': 'web-1' });
  assert.deepEqual(cloudConfigOf(files['user-data']), {
    hostname: 'web-1',
    preserve_hostname: false,
    users: [
      'default',
      {
        name: 'ops',
        shell: '/bin/bash',
        lock_passwd: true,
        ssh_authorized_keys: ['ssh-ed25519 BBBB ops@shoal'],
        sudo: 'ALL=(ALL) NOPASSWD:ALL',
        groups: 'adm,sudo',
      },
    ],
    ssh_authorized_keys: ['ssh-ed25519 AAAA test@shoal'],
    ssh_pwauth: false,
    runcmd: [['sh', '-c', 'echo configured > /var/tmp/marker']],
  });
});

test('without spec.guest the hostname comes from the VM name; userData, when given, is the user-data as it is', () => {
  const plain = noCloudFiles(vm({}));
  assert.equal(JSON.parse(plain['meta-data'])['local-hostname'], 'web-1');
  assert.equal(cloudConfigOf(plain['user-data']).hostname, 'web-1');
  const raw = noCloudFiles(vm({ guest: { userData: '#!/bin/sh\necho hi\n' } }));
  assert.equal(raw['user-data'], '#!/bin/sh\necho hi\n');
});

test('network-config: each NIC of a Network with its address, matched by MAC, the default route on eth0; DHCP when the VM has none', () => {
  const files = noCloudFiles(
    vm(
      {},
      {
        interfaces: [
          { network: 'default', ip: '10.200.0.7', prefixLength: 16, gateway: '10.200.0.1', mac: '52:54:00:aa:bb:01' },
          { network: 'backend', ip: '10.40.0.3', prefixLength: 24, gateway: '10.40.0.1', mac: '52:54:00:aa:bb:02' },
        ],
      },
    ),
  );
  assert.deepEqual(JSON.parse(files['network-config']), {
    version: 2,
    ethernets: {
      eth0: {
        match: { macaddress: '52:54:00:aa:bb:01' },
        'set-name': 'eth0',
        addresses: ['10.200.0.7/16'],
        routes: [{ to: 'default', via: '10.200.0.1' }],
        nameservers: { addresses: ['10.200.0.1'] },
      },
      eth1: { match: { macaddress: '52:54:00:aa:bb:02' }, 'set-name': 'eth1', addresses: ['10.40.0.3/24'] },
    },
  });
  assert.deepEqual(JSON.parse(noCloudFiles(vm({}))['network-config']), { version: 2, ethernets: { eth0: { match: { name: 'e*' }, dhcp4: true } } });
});

test('the drive is an ISO image labelled cidata holding the three files, with their names', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-config-drive-'));
  try {
    const files = noCloudFiles(vm({ guest: { hostname: 'iso-test' } }));
    const path = await writeNoCloudDrive(dir, files);
    assert.equal(path, join(dir, 'config-drive.iso'));
    const info = await execa('isoinfo', ['-d', '-i', path]);
    assert.match(info.stdout, /Volume id: cidata/);
    const listing = await execa('isoinfo', ['-R', '-f', '-i', path]);
    assert.deepEqual(listing.stdout.split('\n').sort(), ['/meta-data', '/network-config', '/user-data']);
    const metaData = await execa('isoinfo', ['-R', '-x', '/meta-data', '-i', path]);
    assert.equal(metaData.stdout.trim(), files['meta-data'].trim());
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
