// The simulator's processes keep the state they last parsed and read it again only when the file
// changed (sim/lib/state.js), and machines and routers decide whether they are still wanted from the
// small index each write leaves: what they answer must still follow every write, at once.
import { spawn } from 'node:child_process';
import { describe, it, vi } from 'vitest';
import { createSim, isProcessRunning } from '../../sim/testing.js';
import { useSim } from './useSim.js';

describe('state reads of the simulator', () => {
  const fixture = useSim();

  it('answers from a change another process wrote moments before, even one of the same size', async ({ expect }) => {
    const { sim } = fixture;
    const tokens = Array.from({ length: 8 }, (_, index) => `token-${index}`);
    const answers: Array<[number, number]> = [];
    try {
      for (const [index, token] of tokens.entries()) {
        // Written by this test process, one to four times (file systems reuse freed inodes: after a few
        // writes the state file can have the very inode and size the server saw last); read by the
        // flyctl server, which has the previous state in memory.
        for (let write = 0; write < index % 4; write += 1) await sim.configure({ validTokens: [`other-${write}`] });
        await sim.configure({ validTokens: [token] });
        const accepted = await sim.run(['auth', 'whoami', '-t', token]);
        const previous = await sim.run(['auth', 'whoami', '-t', tokens[index - 1] ?? 'never-valid']);
        answers.push([accepted.exitCode, previous.exitCode]);
      }
    } finally {
      await sim.configure({ validTokens: null });
    }

    expect(answers).toEqual(tokens.map(() => [0, 1]));
  });
});

describe('processes of a simulator whose owner dies', () => {
  it('stop by themselves: machines, routers and the flyctl server', async ({ expect }) => {
    const owner = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const sim = await createSim({ ownerPid: owner.pid as number });
    try {
      await sim.createApp('owned-app', { machines: 2 });
      const pids = [...sim.processIds(), sim.serverPid as number];
      expect(pids).toHaveLength(4);
      expect(pids.filter(isProcessRunning)).toEqual(pids);

      owner.kill('SIGKILL');

      await vi.waitFor(() => expect(pids.filter(isProcessRunning)).toEqual([]), { timeout: 5000, interval: 50 });
    } finally {
      owner.kill('SIGKILL');
      await sim.teardown();
    }
  });
});
