// Every workflow the worker registers (the worker's workflowsPath points here).
export { deployPipeline } from './deployPipeline.js';
export { deployQueue } from './deployQueue.js';
export { rollback } from './rollback.js';
