// Every workflow the worker registers (the worker's workflowsPath points here).
export { backupDatabase } from './backupDatabase.js';
export { deployPipeline } from './deployPipeline.js';
export { deployQueue } from './deployQueue.js';
export { healthWatch } from './healthWatch.js';
export { incidentRunbook } from './incidentRunbook.js';
export { listBackups } from './listBackups.js';
export { migrateDatabase } from './migrateDatabase.js';
export { restoreDatabase } from './restoreDatabase.js';
export { rollback } from './rollback.js';
export { scaleApp } from './scaleApp.js';
export { releaseLedger } from './releaseLedger.js';
export { watchBackupFreshness } from './watchBackupFreshness.js';
export { autoPromotion } from './autoPromotion.js';
