/**
 * The target side of a live migration: a QEMU started with `-incoming defer` (and `-S`, see
 * resumeTarget) is made to listen for the source's state over TLS and, for each disk that lives
 * on the source host only, to serve its own (blank) disk over NBD for the source's mirror job.
 *
 * Single copy. The target is started paused (-S) and stays paused after the last byte arrived;
 * only resumeTarget runs it, and only once QEMU says the incoming migration completed, which the
 * source reaches paused (postmigrate) — its last writes mirrored before its last RAM pages went
 * (see source.ts). So at no instant do two unpaused QEMUs run the guest. The price is the time
 * from the source's "completed" to the target's `cont` (one call from whoever sees the first to
 * whoever sends the second: the caller's round trip, added to QEMU's own downtime).
 */
import { MigrationError, reasonFromQemuError } from './errors.js';
import type { QmpSession } from './qmp-session.js';
import { QmpCommandError } from './qmp-session.js';
import { addClientAuthorization, addTlsCredentials, removeObject } from './tls-credentials.js';

export const TARGET_TLS_ID = 'shoal-migration-tls-server';
export const TARGET_AUTHZ_ID = 'shoal-migration-authz';
const EXPORT_ID_PREFIX = 'shoal-migration-export-';
/** Ports tried per listen when `pickPort` is given: the first and two picked after it. */
const LISTEN_ATTEMPTS = 3;

export interface PrepareIncomingOptions {
  /** Address QEMU listens on for the migration stream and NBD (an IP; 0.0.0.0 for all). */
  listenAddress: string;
  /** Address the source connects to, in the URIs answered; `listenAddress` when omitted. */
  advertiseAddress?: string;
  /** TCP port of the migration stream. */
  port: number;
  /** TCP port of the NBD server; required when `disks` has any. */
  nbdPort?: number;
  /**
   * Another free port, for a listen that found its port taken: ports are chosen free and then
   * listened on by QEMU, and another process can take one in between. Without it, such a listen
   * fails the preparation.
   */
  pickPort?: () => Promise<number>;
  /**
   * A directory in QEMU's layout (ca-cert.pem, server-cert.pem, server-key.pem), and the
   * distinguished name of the only client certificate let in (gnutls's RFC 4514 form, e.g.
   * "CN=node-a"); without it any certificate from the CA is. Without `tls`: plain TCP.
   */
  tls?: { dir: string; authorizedClientDn?: string };
  /**
   * Disks the source copies here (its local disks): the ids of this QEMU's -drive (`disk0`),
   * each a blank image of the same virtual size as the source's.
   */
  disks?: { device: string }[];
}

export interface IncomingEndpoint {
  /** What the source passes to `migrate`: `tcp:host:port`. */
  migrationUri: string;
  /** Where the source's mirror jobs write, one NBD export per disk. */
  nbd?: { host: string; port: number; exports: { device: string; exportName: string }[] };
}

/** Sets up the listening side; answers where the source must connect. */
export async function prepareIncoming(session: QmpSession, opts: PrepareIncomingOptions): Promise<IncomingEndpoint> {
  const status = await session.execute<{ status: string }>('query-status');
  if (status.status !== 'inmigrate')
    throw new MigrationError('TargetFailed', `the target QEMU is ${status.status}, not waiting for a migration: start it with -incoming defer`);
  const disks = opts.disks ?? [];
  if (disks.length > 0 && !opts.nbdPort) throw new MigrationError('TargetFailed', 'disks to copy need an nbdPort');
  const host = opts.advertiseAddress ?? opts.listenAddress;
  try {
    let tlsArgs: Record<string, string> = {};
    if (opts.tls) {
      await addTlsCredentials(session, { id: TARGET_TLS_ID, endpoint: 'server', dir: opts.tls.dir });
      tlsArgs = { 'tls-creds': TARGET_TLS_ID };
      if (opts.tls.authorizedClientDn) {
        await addClientAuthorization(session, { id: TARGET_AUTHZ_ID, distinguishedName: opts.tls.authorizedClientDn });
        tlsArgs['tls-authz'] = TARGET_AUTHZ_ID;
      }
    }
    await session.execute('migrate-set-parameters', { 'tls-creds': '', 'tls-authz': '', ...tlsArgs });
    let nbd: IncomingEndpoint['nbd'];
    if (disks.length > 0) {
      const nbdPort = await listenOnFreePort(opts.nbdPort!, opts.pickPort, (port) =>
        session.execute('nbd-server-start', { addr: { type: 'inet', data: { host: opts.listenAddress, port: String(port) } }, ...tlsArgs }),
      );
      const nodes = await rootNodeNames(session);
      const exports: { device: string; exportName: string }[] = [];
      for (const { device } of disks) {
        const node = nodes.get(device);
        if (!node)
          throw new MigrationError('TargetFailed', `the target QEMU has no disk ${device} (its -drive ids: ${[...nodes.keys()].join(', ') || 'none'})`);
        // Writable while the guest is not running here: the NBD export activates the image,
        // which -incoming otherwise keeps inactive until the migration completes.
        await session.execute('block-export-add', { type: 'nbd', id: EXPORT_ID_PREFIX + device, 'node-name': node, name: device, writable: true });
        exports.push({ device, exportName: device });
      }
      nbd = { host, port: nbdPort, exports };
    }
    const port = await listenOnFreePort(opts.port, opts.pickPort, (p) =>
      session.execute('migrate-incoming', { uri: `tcp:${uriHost(opts.listenAddress)}:${p}` }),
    );
    return { migrationUri: `tcp:${uriHost(host)}:${port}`, ...(nbd ? { nbd } : {}) };
  } catch (err) {
    if (err instanceof MigrationError) throw err;
    const desc = err instanceof QmpCommandError ? err.desc : (err as Error).message;
    throw new MigrationError(reasonFromQemuError(desc) === 'TlsRejected' ? 'TlsRejected' : 'TargetFailed', `preparing the target: ${desc}`, { cause: err });
  }
}

/**
 * Runs `listen` on `port`, and on others from `pickPort` while the one tried is taken; answers the
 * port listened on. QEMU leaves nothing behind from a listen that failed, so it can be tried again.
 */
async function listenOnFreePort(port: number, pickPort: (() => Promise<number>) | undefined, listen: (port: number) => Promise<unknown>): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      await listen(port);
      return port;
    } catch (err) {
      const taken = err instanceof QmpCommandError && /address already in use/i.test(err.desc);
      if (!taken || !pickPort || attempt >= LISTEN_ATTEMPTS) throw err;
      port = await pickPort();
    }
  }
}

/**
 * Runs the guest on the target, once QEMU says the whole state arrived: sends `cont`, then stops
 * the NBD exports (the source's mirrors are done by then; anything still connected is cut).
 * Call it after the source's migrate() resolved. Waits up to `timeoutMs` for the incoming
 * migration to finish (the target reads the last bytes just after the source sent them).
 * Answers QEMU's status when it was already running (a target started without -S).
 */
export async function resumeTarget(session: QmpSession, opts: { timeoutMs?: number } = {}): Promise<{ resumedAt: number; status: string }> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  let status: string;
  for (;;) {
    status = (await session.execute<{ status: string }>('query-status')).status;
    if (status !== 'inmigrate') break;
    if (Date.now() > deadline) throw new MigrationError('TargetFailed', 'the target is still receiving the migration: not resuming it');
    // The guest is paused meanwhile: every millisecond of this wait is downtime.
    await new Promise((r) => setTimeout(r, 2));
  }
  const incoming = await session.execute<{ status?: string }>('query-migrate');
  if (incoming.status !== 'completed')
    throw new MigrationError('TargetFailed', `the target's incoming migration is ${incoming.status ?? 'not there'} (QEMU ${status}): not resuming it`);
  // Running first, tidying after: the source's mirrors completed before its last RAM pages
  // went, so nothing writes to the NBD exports any more, and the guest waits for none of it.
  let resumedAt = Date.now();
  if (status !== 'running') {
    await session.execute('cont');
    resumedAt = Date.now();
  }
  await stopNbdExports(session);
  await removeObject(session, TARGET_AUTHZ_ID);
  return { resumedAt, status: 'running' };
}

/** Removes this module's NBD exports and stops the NBD server; missing ones are no error. */
export async function stopNbdExports(session: QmpSession): Promise<void> {
  const exports = await session.execute<{ id: string }[]>('query-block-exports').catch(() => [] as { id: string }[]);
  for (const e of exports) if (e.id.startsWith(EXPORT_ID_PREFIX)) await session.execute('block-export-del', { id: e.id, mode: 'hard' }).catch(() => undefined);
  await session.execute('nbd-server-stop').catch(() => undefined);
}

/** -drive id → the name of the node it writes to (its format node), for block-export-add. */
async function rootNodeNames(session: QmpSession): Promise<Map<string, string>> {
  const blocks = await session.execute<{ device: string; inserted?: { 'node-name': string } }[]>('query-block');
  return new Map(blocks.filter((b) => b.inserted).map((b) => [b.device, b.inserted!['node-name']]));
}

/** An IPv6 address goes in brackets in a QEMU URI. */
export function uriHost(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}
