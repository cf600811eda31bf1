// Every command, in the order `flightdeck help` lists them.
import type { Command } from '../command.js';
import { backupCommand } from './backup.js';
import { backupsCommand } from './backups.js';
import { cancelCommand } from './cancel.js';
import { approveCommand, decideCommand, rejectCommand } from './decisions.js';
import { deployCommand } from './deploy.js';
import { historyCommand } from './history.js';
import { restartCommand, scaleCountCommand, startCommand, stopCommand } from './incident.js';
import { lockCommand, unlockCommand } from './locks.js';
import { migrateCommand } from './migrate.js';
import { promoteCommand } from './promote.js';
import { releasesCommand } from './releases.js';
import { restoreCommand } from './restore.js';
import { rollbackCommand } from './rollback.js';
import { schedulesCommand } from './schedules.js';
import { statusCommand } from './status.js';

export const COMMANDS: readonly Command[] = [
  deployCommand, promoteCommand, rollbackCommand, restartCommand, stopCommand, startCommand, scaleCountCommand, releasesCommand, statusCommand, historyCommand,
  approveCommand, rejectCommand, decideCommand, cancelCommand, lockCommand, unlockCommand,
  backupCommand, backupsCommand, restoreCommand, migrateCommand, schedulesCommand,
];

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((command) => command.name === name);
}
