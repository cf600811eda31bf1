// How to reach Temporal: a local dev server, a self-hosted cluster with mTLS, or Temporal Cloud
// with an API key. Shared by the worker, the API and the CLI.
import fs from 'node:fs';
import type { EnvConfig } from './config.js';

export interface TemporalConnectionOptions {
  address: string;
  tls?: boolean | { clientCertPair: { crt: Buffer; key: Buffer } };
  apiKey?: string;
}

export function temporalConnectionOptions(env: EnvConfig): TemporalConnectionOptions {
  const options: TemporalConnectionOptions = { address: env.TEMPORAL_ADDRESS };
  if (env.TEMPORAL_TLS_CERT_PATH && env.TEMPORAL_TLS_KEY_PATH) {
    options.tls = { clientCertPair: { crt: fs.readFileSync(env.TEMPORAL_TLS_CERT_PATH), key: fs.readFileSync(env.TEMPORAL_TLS_KEY_PATH) } };
  } else if (env.TEMPORAL_TLS || env.TEMPORAL_API_KEY) {
    options.tls = true;
  }
  if (env.TEMPORAL_API_KEY) options.apiKey = env.TEMPORAL_API_KEY;
  return options;
}
