// Build step (`npm run build`, the Dockerfile): bundles the compiled workflows into
// dist/workflow-bundle.js, which the worker loads instead of bundling at start (worker/workflowBundle.ts).
// An argument names another output file (the benchmarks bundle into a scratch file this way).
import fs from 'node:fs';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { WORKFLOW_BUNDLE_FILE } from './workflowBundle.js';
import { workflowsPath } from './workflowsPath.js';

const outputFile = process.argv[2] ?? WORKFLOW_BUNDLE_FILE;
const startedAt = Date.now();
const { code } = await bundleWorkflowCode({ workflowsPath: workflowsPath(), logger: new DefaultLogger('WARN') });
fs.writeFileSync(outputFile, code);
console.log(`workflow bundle: ${outputFile} (${Math.round(code.length / 1024)} KiB, ${Date.now() - startedAt} ms)`);
