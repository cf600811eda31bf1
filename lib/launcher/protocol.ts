// The messages between a worker (client.ts) and its command launcher's process (server.ts), over the
// child's IPC channel with advanced serialization (output chunks travel as bytes).
import type { CommandExit, CommandSpec } from './launch.js';

export interface StartCommand { type: 'start'; id: number; spec: CommandSpec }

export type LauncherEvent =
  | { type: 'started'; id: number; pid: number }
  | { type: 'output'; id: number; stream: 'stdout' | 'stderr'; chunk: Uint8Array }
  | { type: 'exit'; id: number; exit: CommandExit };
