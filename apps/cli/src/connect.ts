/** The client a command talks through, built from the resolved connection settings. */
import { existsSync } from 'node:fs';
import { ShoalClient } from '@shoal/client';
import { UsageError } from './cli-errors.js';
import { settingsFor, type ConnectionSettings } from './connection-settings.js';
import type { GlobalArgs } from './global-options.js';

export interface Session {
  client: ShoalClient;
  settings: ConnectionSettings;
}

export async function connect(args: GlobalArgs): Promise<Session> {
  const settings = await settingsFor(args);
  if (settings.certificateAuthority && !existsSync(settings.certificateAuthority)) {
    throw new UsageError(`certificate authority file ${settings.certificateAuthority} does not exist`);
  }
  const client = new ShoalClient({
    server: settings.server,
    caFile: settings.certificateAuthority,
    token: settings.token,
    insecureSkipTLSVerify: settings.insecureSkipTLSVerify,
    userAgent: 'shoalctl/0.1.0',
    // A person is waiting: a few quick retries, not a long siege of a server that is down.
    retry: { maxRetries: 3, initialMs: 100, maxMs: 1000 },
    // A command lives for a request or a few: undici's start-up would cost more than all of them.
    http: 'node',
  });
  return { client, settings };
}
