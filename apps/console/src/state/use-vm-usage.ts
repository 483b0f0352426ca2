/**
 * A running VM's CPU and memory use, read from the metrics API (as `shoalctl top vms NAME`).
 * Usage is sampled by the VM's agent and cannot be watched, so it is read again every
 * REFRESH_MS, about the agents' sampling interval, and only while the VM runs and the page shows.
 */
import { useEffect, useState } from 'preact/hooks';
import { METRICS_API_VERSION, parseQuantity, type VirtualMachineMetrics } from '@shoal/api/browser';
import { useApi } from '../api/api-context.js';

const REFRESH_MS = 10_000;

export interface VmUsageView {
  cores?: number;
  bytes?: number;
  /** Why there is no figure: the server's message (no metrics API access, agent unreachable, …). */
  error?: string;
}

export function useVmUsage(namespace: string, name: string, running: boolean): VmUsageView {
  const api = useApi();
  const [usage, setUsage] = useState<VmUsageView>({});
  useEffect(() => {
    if (!running) {
      setUsage({});
      return undefined;
    }
    const abort = new AbortController();
    const path = `/apis/${METRICS_API_VERSION}/namespaces/${encodeURIComponent(namespace)}/virtualmachines/${encodeURIComponent(name)}`;
    const read = () =>
      api
        .json<VirtualMachineMetrics>('GET', path, { signal: abort.signal })
        .then((m) => setUsage({ cores: parseQuantity(m.usage.cpu), bytes: parseQuantity(m.usage.memory) }))
        .catch((err: Error) => {
          if (!abort.signal.aborted) setUsage({ error: err.message });
        });
    void read();
    const timer = setInterval(read, REFRESH_MS);
    return () => {
      abort.abort();
      clearInterval(timer);
    };
  }, [api, namespace, name, running]);
  return usage;
}
