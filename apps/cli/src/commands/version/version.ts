/** `version`: this shoalctl, then what the server's /version answers. */
import { readFileSync } from 'node:fs';
import { connect } from '../../connect.js';
import type { GlobalArgs } from '../../global-options.js';

export interface VersionArgs extends GlobalArgs {
  client: boolean;
}

interface ServerVersion {
  gitVersion?: string;
  version?: string;
  [field: string]: unknown;
}

export function clientVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return `v${pkg.version}`;
}

export async function version(args: VersionArgs): Promise<void> {
  process.stdout.write(`Client Version: ${clientVersion()}\n`);
  if (args.client) return;
  const { client } = await connect(args);
  try {
    const v = await client.request<ServerVersion>('GET', '/version');
    process.stdout.write(`Server Version: ${v.gitVersion ?? v.version ?? JSON.stringify(v)}\n`);
  } finally {
    await client.close();
  }
}
