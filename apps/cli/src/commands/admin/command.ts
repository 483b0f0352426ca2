import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../../global-options.js';
import type { SnapshotSaveArgs } from './snapshot-save.js';
import type { SnapshotRestoreArgs } from './snapshot-restore.js';

/** About 20 s of writes on a small machine; covers ~100,000 writes of the lost cluster after its snapshot (see etcd-snapshot/revision-bump.ts). */
const DEFAULT_REVISION_BUMP = 100_000;

const saveCommand: CommandModule<GlobalArgs, SnapshotSaveArgs> = {
  command: 'save <file>',
  describe:
    "Save a consistent snapshot of etcd — the control plane's whole state — to FILE, streamed through the apiserver (needs admin rights: GET /admin/etcd/snapshot); progress on stderr",
  builder: (y) =>
    y
      .positional('file', { type: 'string', demandOption: true, describe: 'Where to write it (written beside it first, then renamed: never half-written)' })
      .example(
        '$0 admin snapshot save /var/backups/shoal/etcd-$(date +%F-%H%M).db',
        'the file is checked (etcd sha256, etcdctl snapshot status) before it is kept',
      ) as never,
  handler: (args) => import('./snapshot-save.js').then((m) => m.snapshotSave(args)),
};

const restoreCommand: CommandModule<GlobalArgs, SnapshotRestoreArgs> = {
  command: 'restore <file>',
  describe:
    "Make a new etcd data dir from a snapshot FILE (offline: run it where etcd will run; needs Debian's etcd-client and etcd-server) and print the flags to start etcd on it",
  builder: (y) =>
    y
      .positional('file', { type: 'string', demandOption: true, describe: 'A snapshot from `shoalctl admin snapshot save` or `etcdctl snapshot save`' })
      .option('data-dir', { type: 'string', demandOption: true, describe: 'The new data dir: must not exist or be empty' })
      .option('name', { type: 'string', default: 'default', describe: "This member's name (etcd --name)" })
      .option('initial-advertise-peer-urls', { type: 'string', default: 'http://localhost:2380', describe: "This member's peer URLs" })
      .option('initial-cluster', { type: 'string', describe: 'Every member of the restored cluster, name=peerURL,... (default: this member alone)' })
      .option('initial-cluster-token', { type: 'string', default: 'etcd-cluster', describe: "The restored cluster's token" })
      .option('advertise-client-urls', {
        type: 'string',
        default: 'http://127.0.0.1:2379',
        describe: 'Where the restored member will serve clients: only for the etcd and apiserver flags printed',
      })
      .option('bump-revision', {
        type: 'number',
        default: DEFAULT_REVISION_BUMP,
        describe:
          "Start the restored history this many revisions above the snapshot's, all older ones compacted, so clients of the lost cluster relist instead of resuming in another history; must exceed the writes made after the snapshot. 0: keep the snapshot's revision (then restart every controller-manager and agent)",
      })
      .example('$0 admin snapshot restore etcd.db --data-dir /var/lib/etcd-restored', "a single-member cluster with etcd's default name and URLs")
      .example(
        '$0 admin snapshot restore etcd.db --data-dir .shoal/etcd --name shoal --initial-advertise-peer-urls http://127.0.0.1:2380 --initial-cluster shoal=http://127.0.0.1:2380',
        'the member `shoal up` runs',
      ) as never,
  handler: (args) => import('./snapshot-restore.js').then((m) => m.snapshotRestore(args)),
};

const snapshotCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'snapshot',
  describe: 'etcd snapshots: save one through the apiserver, restore one into a new data dir',
  builder: (y) => y.command(saveCommand).command(restoreCommand).demandCommand(1, 'give a snapshot command (save, restore)') as never,
  handler: () => undefined,
};

export const adminCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'admin',
  describe: "Administer the control plane itself: backups of etcd's state",
  builder: (y) => y.command(snapshotCommand).demandCommand(1, 'give an admin command (snapshot)') as never,
  handler: () => undefined,
};
