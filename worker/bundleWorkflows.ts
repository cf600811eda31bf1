// Build step (`npm run build`, the Dockerfile): bundles the compiled workflows into
// dist/workflow-bundle.js, which the worker loads instead of bundling at start (worker/workflowBundle.ts).
import fs from 'node:fs';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { WORKFLOW_BUNDLE_FILE } from './workflowBundle.js';
import { workflowsPath } from './workflowsPath.js';

const startedAt = Date.now();
const { code } = await bundleWorkflowCode({ workflowsPath: workflowsPath(), logger: new DefaultLogger('WARN') });
fs.writeFileSync(WORKFLOW_BUNDLE_FILE, code);
console.log(`workflow bundle: ${WORKFLOW_BUNDLE_FILE} (${Math.round(code.length / 1024)} KiB, ${Date.now() - startedAt} ms)`);
