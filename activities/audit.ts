// The audit trail from inside a run: decisions a workflow takes on a person's say-so (a forced
// rollback onto a failed image) are logged like the requests the API refuses or allows.
import { auditLog, type AuditEntry } from '../lib/audit.js';
import type { Logger } from '../lib/log.js';

export function createAuditActivities(deps: { logger: Logger }) {
  return {
    async recordAudit(entry: AuditEntry): Promise<void> {
      auditLog(deps.logger, entry);
    },
  };
}
