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

/** gRPC status codes that mean "the Temporal frontend cannot be reached right now", not "the call is wrong". */
const GRPC_UNAVAILABLE = 14;

/**
 * True when a Temporal call failed because the server is down or restarting (gRPC UNAVAILABLE, possibly
 * wrapped by the SDK as the cause of a ServiceError or a WorkflowStartError): worth a retry later.
 */
export function isTemporalUnavailable(err: unknown): boolean {
  for (let current = err, depth = 0; current && depth < 5; current = (current as { cause?: unknown }).cause, depth++) {
    if ((current as { code?: unknown }).code === GRPC_UNAVAILABLE) return true;
  }
  return false;
}
