/**
 * The node's side of VM networking, as kernel devices (iproute2, `ip -json`): one bridge per
 * Network, a VXLAN device on it carrying that Network's segment to the other nodes, and a tap
 * per VM NIC (QEMU `-netdev tap,ifname=…`) enslaved to it.
 *
 *   guest eth0 ── tap ──┐
 *   guest eth0 ── tap ──┤ bridge (the Network's gateway address) ── vxlan (VNI) ══ other nodes
 *
 * Every call says what the device must be and changes only what differs: a device that is
 * already right is left alone (its ifindex, its traffic), so an agent that restarts adopts what
 * it made without cutting a connection. A device of the right name but the wrong kind or VXLAN
 * settings is made again. Flooding to the other nodes is by head-end replication: one all-zero
 * FDB entry per peer, and the bridge learns the rest from what arrives.
 */
import { execa } from 'execa';

/** Linux's IFNAMSIZ less the NUL. */
export const MAX_LINK_NAME = 15;

export type LinkChange = 'created' | 'updated' | 'unchanged';

export interface VxlanSpec {
  /** The segment: one VNI per Network, the same on every node. */
  vni: number;
  /** This node's underlay address, the VXLAN packets' source. */
  local: string;
  /** UDP port, the same on every node (4789 is IANA's). */
  port: number;
  /** The bridge it carries traffic for. */
  bridge: string;
  /** The other nodes' underlay addresses: where broadcast and unknown traffic is copied to. */
  peers: string[];
}

/** A device as `ip -json -details link show` describes it (the fields read here). */
interface IpLink {
  ifname: string;
  ifindex: number;
  flags: string[];
  address?: string;
  master?: string;
  linkinfo?: { info_kind?: string; info_data?: { id?: number; local?: string; port?: number; learning?: boolean } };
}

interface FdbEntry {
  mac: string;
  dst?: string;
}

const FLOOD_MAC = '00:00:00:00:00:00';

export class LinkError extends Error {}

export class Links {
  /** `netns`: a named network namespace to work in (tests); the agent's own one when absent. */
  constructor(private readonly netns?: string) {}

  /**
   * The bridge, up, with exactly these addresses (CIDR notation: the gateway's, e.g.
   * 10.40.0.1/24) and, when given, this MAC (a fixed one: it no longer follows its ports').
   */
  async ensureBridge(name: string, addresses: string[] = [], mac?: string): Promise<LinkChange> {
    checkName(name);
    let change = await this.make(name, (l) => l.linkinfo?.info_kind === 'bridge', ['link', 'add', 'name', name, 'type', 'bridge']);
    if (mac && (await this.show(name))?.address !== mac.toLowerCase()) {
      await this.ip(['link', 'set', 'dev', name, 'address', mac]);
      change = also(change, true);
    }
    change = also(change, await this.setAddresses(name, addresses));
    return also(change, await this.up(name));
  }

  /** The VXLAN device of a segment, up, on its bridge, flooding to exactly `peers`. */
  async ensureVxlan(name: string, spec: VxlanSpec): Promise<LinkChange> {
    checkName(name);
    if (!(await this.show(spec.bridge))) throw new LinkError(`bridge ${spec.bridge} does not exist: no VXLAN device ${name} made for it`);
    // VNI, source and port are fixed when a VXLAN device is made: a different one is made anew.
    const right = (l: IpLink) => {
      const data = l.linkinfo?.info_data;
      return l.linkinfo?.info_kind === 'vxlan' && data?.id === spec.vni && data.local === spec.local && data.port === spec.port;
    };
    let change = await this.make(name, right, [
      'link',
      'add',
      'name',
      name,
      'type',
      'vxlan',
      'id',
      String(spec.vni),
      'local',
      spec.local,
      'dstport',
      String(spec.port),
    ]);
    change = also(change, await this.enslave(name, spec.bridge));
    change = also(change, await this.setFloodPeers(name, spec.peers));
    return also(change, await this.up(name));
  }

  /** A persistent tap for one VM NIC, up, on the Network's bridge; QEMU opens it by name. */
  async ensureTap(name: string, bridge: string): Promise<LinkChange> {
    checkName(name);
    if (!(await this.show(bridge))) throw new LinkError(`bridge ${bridge} does not exist: no tap ${name} made for it`);
    let change = await this.make(name, (l) => l.linkinfo?.info_kind === 'tun', ['tuntap', 'add', 'dev', name, 'mode', 'tap']);
    change = also(change, await this.enslave(name, bridge));
    return also(change, await this.up(name));
  }

  /** Makes the device unless one of the name is right already; one that is not is removed first. */
  private async make(name: string, right: (link: IpLink) => boolean, create: string[]): Promise<LinkChange> {
    const link = await this.show(name);
    if (link && right(link)) return 'unchanged';
    if (link) await this.ip(['link', 'del', name]);
    await this.ip(create);
    return link ? 'updated' : 'created';
  }

  /** Removes a device; one that is not there is no error. */
  async remove(name: string): Promise<boolean> {
    if (!(await this.show(name))) return false;
    await this.ip(['link', 'del', name]);
    return true;
  }

  /** The ifindex of a device, or undefined: the same number means the same device, never made again. */
  async ifindex(name: string): Promise<number | undefined> {
    return (await this.show(name))?.ifindex;
  }

  /** The devices whose names start with `prefix`: what an agent made, to adopt or remove after a restart. */
  async names(prefix: string): Promise<string[]> {
    const links = JSON.parse((await this.ip(['-json', 'link', 'show'])) || '[]') as IpLink[];
    return links.map((l) => l.ifname).filter((n) => n.startsWith(prefix));
  }

  private async show(name: string): Promise<IpLink | undefined> {
    const r = await execa('ip', [...this.nsArgs(), '-json', '-details', 'link', 'show', 'dev', name], { reject: false });
    if (r.exitCode !== 0) {
      if (/does not exist/i.test(r.stderr)) return undefined;
      throw new LinkError(`ip link show ${name}: ${r.stderr.trim() || `exit ${r.exitCode}`}`);
    }
    return (JSON.parse(r.stdout) as IpLink[])[0];
  }

  private async up(name: string): Promise<boolean> {
    const link = await this.show(name);
    if (link?.flags.includes('UP')) return false;
    await this.ip(['link', 'set', name, 'up']);
    return true;
  }

  private async enslave(name: string, bridge: string): Promise<boolean> {
    if ((await this.show(name))?.master === bridge) return false;
    await this.ip(['link', 'set', name, 'master', bridge]);
    return true;
  }

  private async setAddresses(name: string, wanted: string[]): Promise<boolean> {
    const shown = JSON.parse(await this.ip(['-json', 'addr', 'show', 'dev', name])) as {
      addr_info?: { family: string; local: string; prefixlen: number; scope: string }[];
    }[];
    const have = (shown[0]?.addr_info ?? []).filter((a) => a.family === 'inet' && a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`);
    let changed = false;
    for (const a of have.filter((a) => !wanted.includes(a))) {
      await this.ip(['addr', 'del', a, 'dev', name]);
      changed = true;
    }
    for (const a of wanted.filter((a) => !have.includes(a))) {
      await this.ip(['addr', 'add', a, 'dev', name]);
      changed = true;
    }
    return changed;
  }

  private async setFloodPeers(name: string, peers: string[]): Promise<boolean> {
    const entries = JSON.parse((await this.bridge(['-json', 'fdb', 'show', 'dev', name])) || '[]') as FdbEntry[];
    const have = entries.filter((e) => e.mac === FLOOD_MAC && e.dst).map((e) => e.dst!);
    let changed = false;
    for (const dst of have.filter((d) => !peers.includes(d))) {
      await this.bridge(['fdb', 'del', FLOOD_MAC, 'dev', name, 'dst', dst]);
      changed = true;
    }
    for (const dst of peers.filter((p) => !have.includes(p))) {
      await this.bridge(['fdb', 'append', FLOOD_MAC, 'dev', name, 'dst', dst]);
      changed = true;
    }
    return changed;
  }

  private nsArgs(): string[] {
    return this.netns ? ['-n', this.netns] : [];
  }

  private ip(args: string[]): Promise<string> {
    return run('ip', [...this.nsArgs(), ...args]);
  }

  private bridge(args: string[]): Promise<string> {
    return run('bridge', [...this.nsArgs(), ...args]);
  }
}

/** A change so far, and whether a later step changed something too. */
const also = (change: LinkChange, changed: boolean): LinkChange => (change === 'unchanged' && changed ? 'updated' : change);

function checkName(name: string): void {
  if (!name || name.length > MAX_LINK_NAME || /[\s/:]/.test(name))
    throw new LinkError(`network device name ${JSON.stringify(name)}: 1 to ${MAX_LINK_NAME} characters, no spaces, '/' or ':'`);
}

async function run(command: string, args: string[]): Promise<string> {
  const r = await execa(command, args, { reject: false });
  if (r.exitCode !== 0) throw new LinkError(`${command} ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.exitCode}`}`);
  return r.stdout;
}
