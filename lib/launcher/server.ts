// The command launcher's process: starts the commands its parent asks for and reports their output
// and exit. It stays small, so starting a process here costs about a millisecond, where the worker
// (hundreds of MiB: workflow contexts, the bundle) blocks its event loop for tens of milliseconds
// per start while the kernel copies its page tables. It exits with its parent (the channel closes);
// commands it started keep running until their supervisor in the parent kills their process group,
// and a detached one (a rollout) runs on by design: the parent's next attempt finds it by its pid.
import { launchDirect } from './launch.js';
import type { LauncherEvent, StartCommand } from './protocol.js';

function send(event: LauncherEvent): void {
  if (process.connected) process.send!(event);
}

process.on('message', (message: StartCommand) => {
  if (message.type !== 'start') return;
  const { id } = message;
  launchDirect(message.spec, {
    onStart: (pid) => send({ type: 'started', id, pid }),
    onOutput: (stream, chunk) => send({ type: 'output', id, stream, chunk }),
    onExit: (exit) => send({ type: 'exit', id, exit }),
  });
});
process.on('disconnect', () => process.exit(0));
