/**
 * DHCP for the guests of one Network on this node: a dnsmasq bound to the Network's bridge that
 * hands each VM NIC the address the control plane gave it (a static lease per MAC) with the
 * gateway as default route, and nothing to a MAC it does not know. No DNS (port 0), no lease
 * file: the leases are the control plane's, not dnsmasq's.
 *
 * dnsmasq runs on its own (it forks; its pid file is the record), so an agent restart leaves it
 * serving and adopts it: ensure() with the same settings changes nothing, new leases are a
 * rewritten hosts file and a SIGHUP, other settings a new dnsmasq.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';

export interface DhcpLease {
  mac: string;
  ip: string;
}

export interface DhcpNetwork {
  /** The Network's bridge on this node: dnsmasq listens there only. */
  bridge: string;
  /** The subnet's network address and prefix, e.g. 10.40.0.0/24. */
  cidr: string;
  /** The default route handed out: the bridge's own address. */
  gateway: string;
  /** Seconds a lease lasts before the guest asks again. */
  leaseSeconds?: number;
}

export type DhcpChange = 'started' | 'reloaded' | 'unchanged';

const DEFAULT_LEASE_SECONDS = 3600;

export class DhcpServers {
  /**
   * `runDir`: where each bridge's files live (pid, hosts, settings). dnsmasq drops root for
   * `nobody` once it has bound its socket and reads the hosts file again on every SIGHUP as
   * that user: `runDir` and the directories above it must let others through (mode o+x).
   * `netns`: a named network namespace to run dnsmasq in (tests), the agent's own when absent.
   */
  constructor(
    private readonly runDir: string,
    private readonly netns?: string,
  ) {}

  /** dnsmasq serving exactly `leases` on the Network's bridge. */
  async ensure(net: DhcpNetwork, leases: DhcpLease[]): Promise<DhcpChange> {
    const dir = join(this.runDir, net.bridge);
    await mkdir(dir, { recursive: true, mode: 0o755 });
    const files = { pid: join(dir, 'dnsmasq.pid'), hosts: join(dir, 'hosts'), settings: join(dir, 'settings') };
    const args = dnsmasqArgs(net, files);
    const settings = createHash('sha256').update(args.join('\0')).digest('hex');
    const hosts = leases.map((l) => `${l.mac.toLowerCase()},${l.ip}\n`).join('');

    const pid = await this.running(files.pid);
    const sameSettings = pid !== undefined && (await readFile(files.settings, 'utf8').catch(() => '')) === settings;
    if (pid !== undefined && !sameSettings) await this.kill(pid);
    const hostsChanged = (await readFile(files.hosts, 'utf8').catch(() => undefined)) !== hosts;
    if (hostsChanged) await writeFile(files.hosts, hosts, { mode: 0o644 });
    if (sameSettings) {
      if (!hostsChanged) return 'unchanged';
      // dnsmasq reads --dhcp-hostsfile again on SIGHUP.
      process.kill(pid!, 'SIGHUP');
      return 'reloaded';
    }
    await rm(files.pid, { force: true });
    const command = this.netns ? ['ip', 'netns', 'exec', this.netns, 'dnsmasq', ...args] : ['dnsmasq', ...args];
    const r = await execa(command[0]!, command.slice(1), { reject: false });
    if (r.exitCode !== 0) throw new Error(`dnsmasq for bridge ${net.bridge}: ${r.stderr.trim() || `exit ${r.exitCode}`}`);
    await writeFile(files.settings, settings);
    return 'started';
  }

  /** The bridges this node serves DHCP on (or did, before a restart): each has its dir. */
  async bridges(): Promise<string[]> {
    return (await readdir(this.runDir, { withFileTypes: true }).catch(() => [])).filter((e) => e.isDirectory()).map((e) => e.name);
  }

  /** Stops the bridge's dnsmasq and forgets its files; one not running is no error. */
  async stop(bridge: string): Promise<void> {
    const dir = join(this.runDir, bridge);
    const pid = await this.running(join(dir, 'dnsmasq.pid'));
    if (pid !== undefined) await this.kill(pid);
    await rm(dir, { recursive: true, force: true });
  }

  /** The pid in the file, if that process is a dnsmasq still running. */
  private async running(pidFile: string): Promise<number | undefined> {
    const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    const comm = (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim();
    return comm === 'dnsmasq' ? pid : undefined;
  }

  private async kill(pid: number): Promise<void> {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      return; // gone already
    }
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline && (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim() === 'dnsmasq')
      await new Promise((r) => setTimeout(r, 20));
  }
}

/** dnsmasq's command line for one Network: DHCP only, static leases only, on the bridge only. */
export function dnsmasqArgs(net: DhcpNetwork, files: { pid: string; hosts: string }): string[] {
  const [network, prefix] = net.cidr.split('/');
  if (!network || !prefix) throw new Error(`cidr ${JSON.stringify(net.cidr)}: expected ADDRESS/PREFIX`);
  return [
    '--conf-file=/dev/null',
    '--port=0',
    '--bind-interfaces',
    `--interface=${net.bridge}`,
    '--except-interface=lo',
    `--pid-file=${files.pid}`,
    '--leasefile-ro',
    `--dhcp-range=${network},static,${netmask(Number(prefix))},${net.leaseSeconds ?? DEFAULT_LEASE_SECONDS}`,
    `--dhcp-hostsfile=${files.hosts}`,
    `--dhcp-option=option:router,${net.gateway}`,
    '--dhcp-authoritative',
  ];
}

function netmask(prefix: number): string {
  if (!Number.isInteger(prefix) || prefix < 1 || prefix > 30) throw new Error(`prefix /${prefix}: a Network needs 1 to 30 bits`);
  const bits = (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((s) => (bits >>> s) & 255).join('.');
}
