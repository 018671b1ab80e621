import type { Command } from '../command.ts';
import { migrateCommand } from './migrate.ts';
import { enqueueCommand } from './enqueue.ts';
import { importCommand } from './import.ts';
import { statusCommand, failedCommand, retryCommand } from './queues.ts';
import { schedulesCommand } from './schedules.ts';
import { adminCommand } from './admin.ts';
import { backupCommand } from './backup.ts';

/** Every CLI command; a new command is one file in this folder and one line here. */
export const commands: Command[] = [
  migrateCommand,
  enqueueCommand,
  importCommand,
  statusCommand,
  failedCommand,
  retryCommand,
  schedulesCommand,
  adminCommand,
  backupCommand,
];
