/**
 * Reads the VMs' usage samples from node agents (`GET {agentAddress}/stats/vms`), for the
 * metrics API. An agent is asked only when a user asks; its answer is checked against the
 * VmUsageSummary schema, so a confused or hostile agent yields a 502 that names it, never a
 * malformed answer passed on.
 */
import type { Dispatcher } from 'undici';
import { ApiError, validateOptions, type Node, type VmUsage, type VmUsageSummary } from '@shoal/api';
import { agentAddressOfNode, connectionError, type AgentConnections, refusedByAgent, type AgentTlsOptions } from './agent-connection.js';

/** An agent's summary is a few hundred bytes per VM; anything far larger is not one. */
const MAX_SUMMARY_BYTES = 16 * 1024 * 1024;

export class AgentUsageReader {
  constructor(
    private readonly agents: AgentConnections,
    private readonly tls: AgentTlsOptions | undefined,
    private readonly timeoutMs: number,
  ) {}

  /** The usage of every VM running on the node, or an ApiError (503, 502) saying why there is none. */
  async read(node: Node): Promise<VmUsage[]> {
    const nodeName = node.metadata.name!;
    const address = agentAddressOfNode(node);
    let res: Dispatcher.ResponseData;
    try {
      res = await this.agents.request(`${address.replace(/\/+$/, '')}/stats/vms`, {
        headers: { accept: 'application/json' },
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
    } catch (err) {
      throw connectionError(err, nodeName, address, this.tls);
    }
    const text = await boundedBody(res.body);
    if (res.statusCode === 401 || res.statusCode === 403) throw refusedByAgent(res.statusCode, text, nodeName, address, this.tls);
    const bad = (why: string) => new ApiError(502, 'BadGateway', `the agent of node ${nodeName} at ${address} ${why}`);
    // An agent from before the metrics API has no such path.
    if (res.statusCode === 404) throw bad('does not serve VM usage (/stats/vms): it is older than this apiserver');
    if (res.statusCode !== 200) throw bad(`answered /stats/vms with HTTP ${res.statusCode}`);
    let summary: unknown;
    try {
      summary = JSON.parse(text);
    } catch {
      throw bad('answered /stats/vms with something that is not JSON');
    }
    const { invalid, unknown } = validateOptions('VmUsageSummary', summary);
    const wrong = [...invalid, ...unknown][0];
    if (wrong) throw bad(`answered /stats/vms with a malformed summary: ${wrong.field}: ${wrong.message}`);
    return (summary as VmUsageSummary).items;
  }
}

async function boundedBody(body: Dispatcher.ResponseData['body']): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > MAX_SUMMARY_BYTES) {
      body.destroy();
      throw new ApiError(502, 'BadGateway', `an agent's /stats/vms answer exceeds ${MAX_SUMMARY_BYTES} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
