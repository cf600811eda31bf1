// Where the CLI writes: progress and tables for people on stdout, or, with --json, exactly one JSON
// object on stdout and nothing else. Problems always go to stderr.
import type { Writable } from 'node:stream';

export class Output {
  constructor(readonly isJson: boolean, private readonly stdout: Writable = process.stdout, private readonly stderr: Writable = process.stderr) {}

  /** A line for people; silent under --json. */
  line(text = ''): void {
    if (!this.isJson) this.stdout.write(`${text}\n`);
  }

  /** The command's one machine-readable result; silent without --json. */
  result(value: unknown): void {
    if (this.isJson) this.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** A problem: a line on stderr, and under --json also the error object on stdout. */
  problem(error: string, message: string): void {
    this.stderr.write(`flightdeck: ${message}\n`);
    this.result({ error, message });
  }

  /** Help text is for people even under --json. */
  help(text: string): void {
    this.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }
}
