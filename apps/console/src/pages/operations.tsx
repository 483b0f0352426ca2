/**
 * Migrations and backups under way, live: each with its phase, where it stands and how far it
 * got (operations-model.ts). `?finished=1` shows the ones that ended too. Each list is read on
 * its own, so a user who may read one and not the other sees the server's refusal in its place.
 */
import { age, type Backup, type DiskBackup, type Migration } from '@shoal/api/browser';
import { resourcePath } from '../api/paths.js';
import { Bar, LiveState, Phase } from '../components/badges.js';
import { bytes } from '../components/format.js';
import { links } from '../router.js';
import { useListWatch } from '../state/use-list-watch.js';
import { backupInProgress, backupProgress, migrationInProgress, migrationProgress } from './operations-model.js';

export function Operations({ query }: { query: URLSearchParams }) {
  const finished = query.get('finished') === '1';
  const migrations = useListWatch<Migration>(resourcePath({ plural: 'migrations' }));
  const backups = useListWatch<Backup>(resourcePath({ plural: 'backups' }));
  const diskBackups = useListWatch<DiskBackup>(resourcePath({ plural: 'diskbackups' }));
  const shownMigrations = migrations.items.items().filter((m) => finished || migrationInProgress(m));
  const shownBackups = backups.items.items().filter((b) => finished || backupInProgress(b));
  const now = Date.now();
  return (
    <div class="page operations">
      <p class="toggle">
        {finished ? <a href={links.operations()}>Show only those in progress</a> : <a href={links.operations({ finished: '1' })}>Show finished ones too</a>}
      </p>
      <section class="panel" aria-label="Migrations">
        <h2>
          Migrations {finished ? '' : 'in progress'} <LiveState {...migrations} />
        </h2>
        {migrations.synced && shownMigrations.length === 0 ? <p class="empty">None.</p> : null}
        {shownMigrations.length ? (
          <table class="table" data-table="migrations">
            <thead>
              <tr>
                <th>Migration</th>
                <th>VM</th>
                <th>Mode</th>
                <th>Phase</th>
                <th>From → to</th>
                <th>Progress</th>
                <th>Age</th>
              </tr>
            </thead>
            <tbody>
              {shownMigrations.map((m) => {
                const p = migrationProgress(m);
                const ns = m.metadata.namespace!;
                return (
                  <tr key={`${ns}/${m.metadata.name}`} data-migration={`${ns}/${m.metadata.name}`}>
                    <td>
                      {ns}/{m.metadata.name}
                    </td>
                    <td>
                      <a href={links.vm(ns, m.spec.vmName)}>{m.spec.vmName}</a>
                    </td>
                    <td>{m.status?.mode ?? m.spec.mode}</td>
                    <td>
                      <Phase phase={m.status?.phase ?? 'Pending'} />
                      {m.status?.message ? <div class="sub">{m.status.message}</div> : null}
                    </td>
                    <td>
                      {m.status?.sourceNode ?? '?'} → {m.status?.targetNode ?? m.spec.targetNode ?? '?'}
                    </td>
                    <td class="progress-cell">{p ? <Bar used={p.done} total={p.total} label={`${bytes(p.done)} / ${bytes(p.total)}`} /> : '—'}</td>
                    <td>{age(m.metadata.creationTimestamp, now)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        ) : null}
      </section>
      <section class="panel" aria-label="Backups">
        <h2>
          Backups {finished ? '' : 'in progress'} <LiveState {...backups} />
        </h2>
        {backups.synced && shownBackups.length === 0 ? <p class="empty">None.</p> : null}
        {shownBackups.length ? (
          <table class="table" data-table="backups">
            <thead>
              <tr>
                <th>Backup</th>
                <th>Mode</th>
                <th>Phase</th>
                <th>VMs done</th>
                <th>Copied</th>
                <th>Age</th>
              </tr>
            </thead>
            <tbody>
              {shownBackups.map((b) => {
                const p = backupProgress(b, diskBackups.items.items());
                const ns = b.metadata.namespace!;
                return (
                  <tr key={`${ns}/${b.metadata.name}`} data-backup={`${ns}/${b.metadata.name}`}>
                    <td>
                      {ns}/{b.metadata.name}
                    </td>
                    <td>{b.spec.mode}</td>
                    <td>
                      <Phase phase={b.status?.phase ?? 'New'} />
                    </td>
                    <td>
                      {p.vms.done} / {p.vms.total}
                    </td>
                    <td class="progress-cell">
                      {p.bytes ? <Bar used={p.bytes.done} total={p.bytes.total} label={`${bytes(p.bytes.done)} / ${bytes(p.bytes.total)}`} /> : '—'}
                    </td>
                    <td>{age(b.metadata.creationTimestamp, now)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        ) : null}
      </section>
    </div>
  );
}
