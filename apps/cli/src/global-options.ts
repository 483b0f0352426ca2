/** Options every command takes: where the server is, how to trust it, who we are, which namespace. */
import type { Options } from 'yargs';

export interface GlobalArgs {
  server?: string;
  config?: string;
  namespace?: string;
  token?: string;
  certificateAuthority?: string;
  insecureSkipTlsVerify?: boolean;
}

export const globalOptions = {
  server: { type: 'string', alias: 's', describe: 'API server URL (else $SHOAL_SERVER, else the config file, else http://127.0.0.1:6443)' },
  config: { type: 'string', describe: 'Config file (default $SHOAL_CONFIG or ~/.shoal/config.yaml)' },
  namespace: { type: 'string', alias: 'n', describe: 'Namespace (default: the config file\'s, else "default")' },
  token: { type: 'string', describe: 'Bearer token for the API server' },
  'certificate-authority': { type: 'string', describe: 'PEM file of the CA that signed the server certificate' },
  'insecure-skip-tls-verify': { type: 'boolean', describe: 'Do not verify the server certificate (test clusters only)' },
} satisfies Record<string, Options>;
