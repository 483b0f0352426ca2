/**
 * The NoCloud config drive a guest of a cloud-init image reads at first boot: meta-data (the
 * instance id — the VM's uid, so cloud-init runs its once-per-instance steps once per VM, not per
 * boot — and the hostname), user-data (#cloud-config from spec.guest, or spec.guest.userData as
 * it is) and network-config (version 2: each NIC of a Network with the address the control plane
 * gave it; DHCP on user-mode networking). cloud-init finds it as the filesystem labelled cidata.
 *
 * The files are written as JSON, which YAML (and so cloud-init) reads as it is: no YAML writer,
 * and no quoting of keys or scripts to get wrong.
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import type { GuestConfig, VirtualMachine, VmInterfaceStatus } from '@shoal/api';

export type NoCloudFiles = Record<'meta-data' | 'user-data' | 'network-config', string>;

/** What the VM's config drive holds: a pure function of the VM (its spec.guest, name, uid and interfaces). */
export function noCloudFiles(vm: VirtualMachine): NoCloudFiles {
  const guest: GuestConfig = vm.spec.guest ?? {};
  const hostname = guest.hostname ?? vmHostname(vm.metadata.name!);
  return {
    'meta-data': JSON.stringify({ 'instance-id': vm.metadata.uid, 'local-hostname': hostname }, null, 2) + '\n',
    'user-data': guest.userData ?? `#cloud-config\n${JSON.stringify(cloudConfig(guest, hostname), null, 2)}\n`,
    'network-config': JSON.stringify(networkConfig(vm.status?.interfaces ?? []), null, 2) + '\n',
  };
}

function cloudConfig(guest: GuestConfig, hostname: string): Record<string, unknown> {
  const users: unknown[] = ['default'];
  for (const u of guest.users ?? [])
    users.push({
      name: u.name,
      shell: '/bin/bash',
      lock_passwd: true,
      ...(u.sshAuthorizedKeys?.length ? { ssh_authorized_keys: u.sshAuthorizedKeys } : {}),
      ...(u.sudo ? { sudo: 'ALL=(ALL) NOPASSWD:ALL' } : {}),
      ...(u.groups?.length ? { groups: u.groups.join(',') } : {}),
    });
  return {
    hostname,
    preserve_hostname: false,
    users,
    ...(guest.sshAuthorizedKeys?.length ? { ssh_authorized_keys: guest.sshAuthorizedKeys } : {}),
    ssh_pwauth: false,
    // Run once, at the end of the first boot (cloud-final), as root.
    ...(guest.script ? { runcmd: [['sh', '-c', guest.script]] } : {}),
  };
}

/** Version 2: a NIC per Network with its address, matched by MAC, eth0 with the default route; else DHCP on the one NIC. */
function networkConfig(interfaces: readonly VmInterfaceStatus[]): Record<string, unknown> {
  if (!interfaces.length) return { version: 2, ethernets: { eth0: { match: { name: 'e*' }, dhcp4: true } } };
  const ethernets: Record<string, unknown> = {};
  for (const [i, nic] of interfaces.entries()) {
    const name = `eth${i}`;
    ethernets[name] = {
      match: { macaddress: nic.mac },
      'set-name': name,
      addresses: [`${nic.ip}/${nic.prefixLength ?? 24}`],
      ...(i === 0 && nic.gateway ? { routes: [{ to: 'default', via: nic.gateway }], nameservers: { addresses: [nic.gateway] } } : {}),
    };
  }
  return { version: 2, ethernets };
}

/** A hostname from a VM name: the characters a hostname may hold, at most 63. */
export function vmHostname(name: string): string {
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '-')
      .slice(0, 63)
      .replace(/^-+|-+$/g, '') || 'guest'
  );
}

/**
 * Writes the drive as an ISO 9660 image labelled cidata (genisoimage, from Debian's package of
 * that name; no mount or loop device) at `<dir>/config-drive.iso`, made under a temporary name
 * and renamed so a guest never reads half of one. Answers its path.
 */
export async function writeNoCloudDrive(dir: string, files: NoCloudFiles): Promise<string> {
  const staging = join(dir, 'config-drive.d');
  const path = join(dir, 'config-drive.iso');
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  for (const [name, content] of Object.entries(files)) await writeFile(join(staging, name), content);
  try {
    await execa('genisoimage', ['-quiet', '-output', `${path}.partial`, '-volid', 'cidata', '-joliet', '-rock', staging]);
  } catch (err) {
    const e = err as { stderr?: string; message: string; code?: string };
    if (e.code === 'ENOENT') throw new Error('genisoimage is missing: apt-get install genisoimage (the config drive of cloud-init images)');
    throw new Error(`making the config drive: ${(e.stderr || e.message).trim().split('\n').pop()}`);
  }
  await rename(`${path}.partial`, path);
  await rm(staging, { recursive: true, force: true });
  return path;
}
