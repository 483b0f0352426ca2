/**
 * The cluster at a glance: VMs per phase (each a link to the list filtered by it) and the nodes
 * by datacenter, zone and rack with their Ready state and how much of their vCPUs and memory
 * the VMs on them hold. Both watched live. A user who may not list Nodes (or VMs across every
 * namespace) sees the server's refusal in place of that part.
 */
import { useMemo } from 'preact/hooks';
import type { Node, VirtualMachine } from '@shoal/api/browser';
import { resourcePath } from '../api/paths.js';
import { Bar, ConditionStatus, LiveState, Phase } from '../components/badges.js';
import { mebibytes } from '../components/format.js';
import { links } from '../router.js';
import { useListWatch } from '../state/use-list-watch.js';
import { nodeTopology, phaseCounts, type NodeSummary } from './overview-model.js';

export function Overview() {
  const nodes = useListWatch<Node>(resourcePath({ plural: 'nodes' }));
  const vms = useListWatch<VirtualMachine>(resourcePath({ plural: 'virtualmachines' }));
  const topology = useMemo(() => nodeTopology(nodes.items.items(), vms.items.items()), [nodes.items, nodes.revision, vms.items, vms.revision]);
  const phases = useMemo(() => phaseCounts(vms.items.items()), [vms.items, vms.revision]);
  return (
    <div class="page overview">
      <section class="panel" aria-label="VMs per phase">
        <h2>
          Virtual machines <span class="count">{vms.synced ? vms.items.size : ''}</span> <LiveState {...vms} />
        </h2>
        <div class="phase-counts">
          {phases.map(({ phase, count }) => (
            <a
              class={`phase-count ${count ? '' : 'zero'}`}
              href={links.vms({ phase: phase === 'Unknown' ? undefined : phase })}
              data-phase-count={phase}
              key={phase}
            >
              <span class="phase-count-n">{vms.synced ? count : '·'}</span>
              <Phase phase={phase} />
            </a>
          ))}
        </div>
      </section>
      <section class="panel" aria-label="Nodes">
        <h2>
          Nodes <span class="count">{nodes.synced ? nodes.items.size : ''}</span> <LiveState {...nodes} />
        </h2>
        {nodes.synced && nodes.items.size === 0 ? <p class="empty">No nodes have registered.</p> : null}
        {topology.map((dc) => (
          <div class="topology-dc" key={dc.name} data-datacenter={dc.name}>
            <h3>Datacenter {dc.name}</h3>
            {dc.zones.map((zone) => (
              <div class="topology-zone" key={zone.name} data-zone={zone.name}>
                <h4>Zone {zone.name}</h4>
                {zone.racks.map((rack) => (
                  <div class="topology-rack" key={rack.name} data-rack={rack.name}>
                    <h5>Rack {rack.name}</h5>
                    <div class="node-cards">
                      {rack.nodes.map((n) => (
                        <NodeCard node={n} key={n.name} />
                      ))}
                    </div>
                  </div>
                ))}
              </div>
            ))}
          </div>
        ))}
      </section>
    </div>
  );
}

function NodeCard({ node }: { node: NodeSummary }) {
  const { allocatable: a, requested: r } = node;
  return (
    <div class={`node-card ready-${node.ready.toLowerCase()}`} data-node={node.name}>
      <div class="node-card-head">
        <a href={links.vms({ node: node.name })} class="node-name">
          {node.name}
        </a>
        <span title={node.readyMessage}>
          Ready <ConditionStatus status={node.ready} />
        </span>
      </div>
      {node.unschedulable ? <div class="node-flag">cordoned</div> : null}
      <Bar used={r.vcpus} total={a.vcpus} label={`vCPUs ${r.vcpus} / ${a.vcpus}`} />
      <Bar used={r.memoryMiB} total={a.memoryMiB} label={`memory ${mebibytes(r.memoryMiB)} / ${mebibytes(a.memoryMiB)}`} />
      <div class="node-vms">
        {node.vms} VM{node.vms === 1 ? '' : 's'}
      </div>
    </div>
  );
}
