#!/usr/bin/env node
// flightdeck: the command line (see docs/cli.md). Exit codes: 0 done, 1 the run failed, 2 usage error.
import { runCli } from './cli.js';

process.exitCode = await runCli(process.argv.slice(2));
