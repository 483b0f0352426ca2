/**
 * One VM, live: its state and spec, conditions, network interfaces, volumes, the Events about it,
 * its migrations under way and its serial console streaming; and the actions — start, stop,
 * restart, migrate, delete — each asked for in a dialog (actions/vm-actions.ts). The VM is
 * watched through a list+watch selecting its name, so a change shows within the frame it arrives
 * and a deletion shows as one.
 */
import { useState } from 'preact/hooks';
import { eventsAbout, age, type Event, type Migration, type PowerAction, type VirtualMachine, type MigrationMode, type Node } from '@shoal/api/browser';
import { useApi } from '../api/api-context.js';
import { resourcePath } from '../api/paths.js';
import { changePower, deleteVm, migrateVm } from '../actions/vm-actions.js';
import { Bar, ConditionStatus, ErrorNote, LiveState, Phase } from '../components/badges.js';
import { ConfirmDialog } from '../components/confirm-dialog.js';
import { bytes, mebibytes } from '../components/format.js';
import { links } from '../router.js';
import { useListWatch } from '../state/use-list-watch.js';
import { useVmUsage } from '../state/use-vm-usage.js';
import { migrationInProgress, migrationProgress } from './operations-model.js';
import { SerialConsole } from './serial-console.js';

const VM_KIND = { kind: 'VirtualMachine', namespaced: true };

type Dialog = PowerAction | 'migrate' | 'delete';

export function VmPage({ namespace, name }: { namespace: string; name: string }) {
  const vms = useListWatch<VirtualMachine>(resourcePath({ plural: 'virtualmachines', namespace }), { fieldSelector: `metadata.name=${name}` });
  const events = useListWatch<Event>(resourcePath({ plural: 'events', namespace }));
  const migrations = useListWatch<Migration>(resourcePath({ plural: 'migrations', namespace }));
  const vm = vms.items.at(0);
  const usage = useVmUsage(namespace, name, vm?.status?.phase === 'Running');
  const [dialog, setDialog] = useState<Dialog>();
  const [notice, setNotice] = useState<string>();

  if (!vm) {
    return (
      <div class="page vm-page">
        <p class="crumbs">
          <a href={links.vms()}>Virtual machines</a> / {namespace} / {name}
        </p>
        <LiveState {...vms} />
        {vms.synced ? (
          <p class="empty" data-vm-missing>
            There is no VirtualMachine {namespace}/{name}
            {notice ? ` (${notice})` : ''}.
          </p>
        ) : null}
      </div>
    );
  }
  const now = Date.now();
  const status = vm.status;
  const about = eventsAbout(events.items.items(), VM_KIND, vm).reverse();
  const moving = migrations.items.items().filter((m) => m.spec.vmName === name && migrationInProgress(m));
  const deleting = Boolean(vm.metadata.deletionTimestamp);
  return (
    <div class="page vm-page" data-vm-page={`${namespace}/${name}`}>
      <p class="crumbs">
        <a href={links.vms()}>Virtual machines</a> / <a href={links.vms({ namespace })}>{namespace}</a> / {name}
      </p>
      <header class="vm-header">
        <h1>{name}</h1>
        <Phase phase={deleting ? 'Deleting' : status?.phase} />
        <LiveState {...vms} />
        <div class="actions" role="toolbar" aria-label="Actions">
          {(['start', 'stop', 'restart'] as const).map((a) => (
            <button type="button" key={a} data-action={a} onClick={() => setDialog(a)} disabled={deleting}>
              {a[0]!.toUpperCase() + a.slice(1)}
            </button>
          ))}
          <button type="button" data-action="migrate" onClick={() => setDialog('migrate')} disabled={deleting}>
            Migrate
          </button>
          <button type="button" class="danger" data-action="delete" onClick={() => setDialog('delete')} disabled={deleting}>
            Delete
          </button>
        </div>
      </header>
      {notice ? (
        <p class="notice" role="status" data-notice>
          {notice}
        </p>
      ) : null}
      {status?.message || status?.reason ? (
        <p class="status-message">
          {status.reason ? <strong>{status.reason}: </strong> : null}
          {status.message}
        </p>
      ) : null}

      <div class="columns">
        <section class="panel" aria-label="Summary">
          <h2>Summary</h2>
          <dl class="facts">
            <dt>Node</dt>
            <dd>{vm.spec.nodeName ?? '(not scheduled)'}</dd>
            <dt>IP</dt>
            <dd>{status?.ip ?? ''}</dd>
            <dt>Run strategy</dt>
            <dd>{vm.spec.runStrategy}</dd>
            <dt>Resources</dt>
            <dd>
              {vm.spec.resources.vcpus} vCPU{vm.spec.resources.vcpus === 1 ? '' : 's'}, {mebibytes(vm.spec.resources.memoryMiB)}
            </dd>
            <dt>Usage</dt>
            <dd data-usage>
              {usage.cores !== undefined && usage.bytes !== undefined ? (
                <>
                  {Math.round(usage.cores * 1000)}m CPU ({Math.round((usage.cores / vm.spec.resources.vcpus) * 100)}%), {bytes(usage.bytes)} (
                  {Math.round((usage.bytes / (vm.spec.resources.memoryMiB * 1024 * 1024)) * 100)}%)
                </>
              ) : (
                <span class="sub">{usage.error ?? (status?.phase === 'Running' ? '…' : 'not running')}</span>
              )}
            </dd>
            <dt>Booted</dt>
            <dd>{status?.bootedAt ? `${age(status.bootedAt, now)} ago` : ''}</dd>
            <dt>Restarts</dt>
            <dd>{status?.restarts ?? 0}</dd>
            <dt>Created</dt>
            <dd>{age(vm.metadata.creationTimestamp, now)} ago</dd>
            <dt>Labels</dt>
            <dd>
              {Object.entries(vm.metadata.labels ?? {}).map(([k, v]) => (
                <span class="label" key={k}>
                  {k}={v}
                </span>
              ))}
            </dd>
          </dl>
        </section>
        <section class="panel" aria-label="Conditions">
          <h2>Conditions</h2>
          <Table
            head={['Type', 'Status', 'Reason', 'Message', 'Changed']}
            rows={(status?.conditions ?? []).map((c) => [
              c.type,
              <ConditionStatus status={c.status} />,
              c.reason ?? '',
              c.message ?? '',
              age(c.lastTransitionTime, now),
            ])}
          />
        </section>
      </div>

      <div class="columns">
        <section class="panel" aria-label="Interfaces">
          <h2>Interfaces</h2>
          <Table
            head={['Network', 'IP', 'Gateway', 'MAC']}
            rows={(status?.interfaces ?? []).map((i) => [
              i.network ?? '',
              i.ip ? `${i.ip}${i.prefixLength ? `/${i.prefixLength}` : ''}` : '',
              i.gateway ?? '',
              i.mac ?? '',
            ])}
            empty={`Network mode ${vm.spec.network?.mode ?? 'default'}${status?.ip ? `, address ${status.ip}` : ''}`}
          />
        </section>
        <section class="panel" aria-label="Volumes">
          <h2>Volumes</h2>
          <Table
            head={['Disk', 'Volume', 'Source']}
            rows={[
              ...(vm.spec.rootDisk
                ? [['root', `${name}-root`, `${vm.spec.rootDisk.baseImage}${vm.spec.rootDisk.sizeGiB ? `, ${vm.spec.rootDisk.sizeGiB} GiB` : ''}`]]
                : []),
              ...(vm.spec.volumes ?? []).map((v) => [v.name, v.volumeName ?? `${name}-${v.name}`, v.volumeTemplate ? 'template' : 'existing Volume']),
            ]}
            empty="No disks besides the image"
          />
        </section>
      </div>

      {moving.length ? (
        <section class="panel" aria-label="Migrations">
          <h2>Migrations in progress</h2>
          <Table
            head={['Migration', 'Mode', 'Phase', 'From → to', 'Progress']}
            rows={moving.map((m) => {
              const p = migrationProgress(m);
              return [
                m.metadata.name ?? '',
                m.status?.mode ?? m.spec.mode ?? '',
                <Phase phase={m.status?.phase ?? 'Pending'} />,
                `${m.status?.sourceNode ?? '?'} → ${m.status?.targetNode ?? m.spec.targetNode ?? '?'}`,
                p ? <Bar used={p.done} total={p.total} label={`${bytes(p.done)} / ${bytes(p.total)}`} /> : '—',
              ];
            })}
          />
        </section>
      ) : null}

      <SerialConsole namespace={namespace} name={name} nodeName={vm.spec.nodeName} />

      <section class="panel" aria-label="Events">
        <h2>
          Events <LiveState {...events} />
        </h2>
        <Table
          head={['Type', 'Reason', 'Age', 'From', 'Message']}
          rows={about.map((e) => [
            e.type,
            e.reason ?? '',
            `${age(e.lastTimestamp ?? e.firstTimestamp ?? e.metadata.creationTimestamp, now)}${e.count > 1 ? ` (x${e.count})` : ''}`,
            e.source?.component ?? '',
            e.message ?? '',
          ])}
          empty="No events"
        />
      </section>

      <details class="panel spec">
        <summary>Spec and status as JSON</summary>
        <pre>{JSON.stringify({ spec: vm.spec, status: vm.status }, null, 2)}</pre>
      </details>

      {dialog ? <ActionDialog action={dialog} vm={vm} onDone={setNotice} onClose={() => setDialog(undefined)} /> : null}
    </div>
  );
}

function Table({ head, rows, empty = 'None' }: { head: string[]; rows: unknown[][]; empty?: string }) {
  if (rows.length === 0) return <p class="empty">{empty}</p>;
  return (
    <table class="table">
      <thead>
        <tr>
          {head.map((h) => (
            <th key={h}>{h}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((r, i) => (
          <tr key={i}>
            {r.map((c, j) => (
              <td key={j}>{c as string}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

const POWER_TEXT: Record<PowerAction, { title: string; body: string }> = {
  start: { title: 'Start', body: 'The VM boots again, under the run strategy it had before it was stopped.' },
  stop: { title: 'Stop', body: 'The guest is shut down and stays off (run strategy Halted, or a stop request for a Manual VM).' },
  restart: { title: 'Restart', body: 'The guest is shut down and booted again once, on the same node.' },
};

function ActionDialog({ action, vm, onDone, onClose }: { action: Dialog; vm: VirtualMachine; onDone: (notice: string) => void; onClose: () => void }) {
  const api = useApi();
  const namespace = vm.metadata.namespace!;
  const name = vm.metadata.name!;
  const ref = `${namespace}/${name}`;
  if (action === 'migrate') return <MigrateDialog vm={vm} onDone={onDone} onClose={onClose} />;
  if (action === 'delete') {
    return (
      <ConfirmDialog
        title={`Delete ${ref}?`}
        confirmLabel="Delete"
        danger
        onClose={onClose}
        onConfirm={async () => {
          await deleteVm(api, namespace, name);
          onDone('deleted');
        }}
      >
        <p>The guest is stopped and the VirtualMachine removed, with the disks it owns. This cannot be undone.</p>
      </ConfirmDialog>
    );
  }
  const text = POWER_TEXT[action];
  return (
    <ConfirmDialog
      title={`${text.title} ${ref}?`}
      confirmLabel={text.title}
      danger={action === 'stop'}
      onClose={onClose}
      onConfirm={async () => onDone(`${ref}: ${await changePower(api, action, namespace, name)}`)}
    >
      <p>{text.body}</p>
    </ConfirmDialog>
  );
}

function MigrateDialog({ vm, onDone, onClose }: { vm: VirtualMachine; onDone: (notice: string) => void; onClose: () => void }) {
  const api = useApi();
  const nodes = useListWatch<Node>(resourcePath({ plural: 'nodes' }));
  const [target, setTarget] = useState('');
  const [mode, setMode] = useState<MigrationMode>('Live');
  const namespace = vm.metadata.namespace!;
  const name = vm.metadata.name!;
  const others = nodes.items.items().filter((n) => n.metadata.name !== vm.spec.nodeName);
  return (
    <ConfirmDialog
      title={`Migrate ${namespace}/${name}?`}
      confirmLabel="Migrate"
      onClose={onClose}
      onConfirm={async () => {
        const m = await migrateVm(api, namespace, name, { mode, ...(target ? { targetNode: target } : {}) });
        onDone(`migration ${m.metadata.name} created`);
      }}
    >
      <p>A Migration moves the VM from {vm.spec.nodeName ?? 'its node'} to another node: live keeps the guest running, cold stops it for the copy.</p>
      <label>
        Target node
        <select value={target} onChange={(e) => setTarget((e.currentTarget as HTMLSelectElement).value)}>
          <option value="">chosen by the scheduler</option>
          {others.map((n) => (
            <option value={n.metadata.name} key={n.metadata.name}>
              {n.metadata.name}
            </option>
          ))}
        </select>
      </label>
      {nodes.final ? <ErrorNote error={nodes.error}>Nodes</ErrorNote> : null}
      <label>
        Mode
        <select value={mode} onChange={(e) => setMode((e.currentTarget as HTMLSelectElement).value as MigrationMode)}>
          <option value="Live">Live</option>
          <option value="Cold">Cold</option>
        </select>
      </label>
    </ConfirmDialog>
  );
}
