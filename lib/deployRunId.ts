// The workflow id of a deploy's pipeline. Derived from the webhook delivery when there is one, so a
// re-delivery names the same run wherever it is computed: by the API answering a webhook at once, or
// by the deploy queue, and after the queue that saw the first delivery has ended.
// Pure (workflow code imports it).
import type { DeployRequest } from './messages.js';

/** `github:<key>` for a webhook delivery; absent for a request no one will re-send. */
export function deliveryKeyOf(request: DeployRequest): string | undefined {
  return request.trigger.deliveryId ? `${request.trigger.source}:${request.trigger.deliveryId}` : undefined;
}

/** `deploy/<app>/<env>/<sha or image>-<delivery hash or the given random part>`. */
export function deployRunId(request: DeployRequest, randomPart: () => string): string {
  const deliveryKey = deliveryKeyOf(request);
  const runKey = deliveryKey ? fnv1aHex(deliveryKey) : randomPart().slice(0, 8);
  return `deploy/${request.app}/${request.environment}/${safeIdPart(request.sha ?? request.image ?? 'head')}-${runKey}`;
}

/** 32-bit FNV-1a in hex: short and stable. */
function fnv1aHex(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

function safeIdPart(value: string): string {
  return value.replace(/[^A-Za-z0-9._-]/g, '_').slice(-40);
}
