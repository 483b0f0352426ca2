/**
 * Every VM the user may list, live: list+watch with the filters of the URL (vm-filters.ts),
 * drawn as a virtualised list (only the rows in view exist in the page), so ten thousand VMs
 * scroll as smoothly as ten and a change to one redraws one row.
 */
import { useState } from 'preact/hooks';
import { age, type VirtualMachine } from '@shoal/api/browser';
import { LiveState, Phase } from '../components/badges.js';
import { mebibytes } from '../components/format.js';
import { VirtualList } from '../components/virtual-list.js';
import { links } from '../router.js';
import { useListWatch } from '../state/use-list-watch.js';
import { VM_PHASES } from './overview-model.js';
import { FILTER_KEYS, filtersFromQuery, vmListRequest, type VmFilters } from './vm-filters.js';

const ROW_HEIGHT = 34;

export function VmList({ query }: { query: URLSearchParams }) {
  const filters = filtersFromQuery(query);
  const { path, selectors } = vmListRequest(filters);
  const vms = useListWatch<VirtualMachine>(path, selectors);
  const now = Date.now();
  const filtered = Object.keys(filters).length > 0;
  return (
    <div class="page vm-list-page">
      <FilterForm filters={filters} key={query.toString()} />
      <div class="list-status">
        <span class="count" data-vm-count={vms.synced ? vms.items.size : ''}>
          {vms.synced ? `${vms.items.size} VM${vms.items.size === 1 ? '' : 's'}${filtered ? ' match' : ''}` : ''}
        </span>
        <LiveState {...vms} />
      </div>
      <div class="vm-table">
        <div class="vm-row vm-head" role="row">
          <span>Name</span>
          <span>Namespace</span>
          <span>Phase</span>
          <span>Node</span>
          <span class="num">vCPUs</span>
          <span class="num">Memory</span>
          <span>IP</span>
          <span class="num">Restarts</span>
          <span class="num">Age</span>
        </div>
        {vms.synced && vms.items.size === 0 && !vms.final ? <p class="empty">No VMs{filtered ? ' match these filters' : ''}.</p> : null}
        <VirtualList
          label="Virtual machines"
          class="vm-rows"
          count={vms.items.size}
          rowHeight={ROW_HEIGHT}
          rowKey={(i) => `${vms.items.at(i)!.metadata.namespace}/${vms.items.at(i)!.metadata.name}`}
          row={(i) => <VmRow vm={vms.items.at(i)!} now={now} />}
        />
      </div>
    </div>
  );
}

function VmRow({ vm, now }: { vm: VirtualMachine; now: number }) {
  const { namespace = '', name = '' } = vm.metadata;
  const status = vm.status;
  return (
    <div class="vm-row" data-vm={`${namespace}/${name}`}>
      <a href={links.vm(namespace, name)} class="vm-name">
        {name}
      </a>
      <span>{namespace}</span>
      <span>
        <Phase phase={vm.metadata.deletionTimestamp ? 'Deleting' : status?.phase} />
      </span>
      <span>{vm.spec.nodeName ?? ''}</span>
      <span class="num">{vm.spec.resources?.vcpus}</span>
      <span class="num">{vm.spec.resources ? mebibytes(vm.spec.resources.memoryMiB) : ''}</span>
      <span>{status?.ip ?? ''}</span>
      <span class="num">{status?.restarts ?? 0}</span>
      <span class="num">{age(vm.metadata.creationTimestamp, now)}</span>
    </div>
  );
}

/** The filters, applied on submit (Enter) or at once for the phase; the URL keeps them. Typed text is the form's own until applied. */
function FilterForm({ filters }: { filters: VmFilters }) {
  const [draft, setDraft] = useState<VmFilters>(filters);
  const apply = (next: VmFilters) => {
    location.hash = links.vms(Object.fromEntries(FILTER_KEYS.map((k) => [k, next[k]?.trim() || undefined])));
  };
  const field = (key: (typeof FILTER_KEYS)[number], label: string, placeholder: string) => (
    <label>
      {label}
      <input
        name={key}
        value={draft[key] ?? ''}
        placeholder={placeholder}
        autocomplete="off"
        onInput={(e) => setDraft({ ...draft, [key]: (e.currentTarget as HTMLInputElement).value })}
      />
    </label>
  );
  return (
    <form
      class="filters"
      aria-label="Filters"
      onSubmit={(e) => {
        e.preventDefault();
        apply(draft);
      }}
    >
      {field('namespace', 'Namespace', 'all')}
      {field('label', 'Labels', 'app=web,tier!=db')}
      {field('node', 'Node', 'any')}
      <label>
        Phase
        <select name="phase" value={draft.phase ?? ''} onChange={(e) => apply({ ...draft, phase: (e.currentTarget as HTMLSelectElement).value })}>
          <option value="">any</option>
          {VM_PHASES.map((p) => (
            <option value={p} key={p}>
              {p}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" class="primary">
        Apply
      </button>
      <a href={links.vms()} class="button">
        Clear
      </a>
    </form>
  );
}
