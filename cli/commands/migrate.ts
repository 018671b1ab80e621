import type { Command } from '../command.ts';
import { parse } from '../command.ts';
import { fromEnv } from '../../shared/config.ts';
import { ensureDatabase } from '../../shared/db.ts';
import { migrate } from '../../shared/migrate.ts';

export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'Create the database if missing and apply pending migrations',
  help: `Usage: fleet migrate

Creates the database named in DATABASE_URL when it does not exist, then applies every
pending migration in migrations/, each in its own transaction. Safe to run from several
processes at once: an advisory lock makes the others wait.`,
  async run(args, io) {
    parse(args, {}, false);
    const config = fromEnv(io.env);
    if (await ensureDatabase(config.databaseUrl)) io.err('database created');
    const applied = await migrate(config.databaseUrl);
    io.out(applied.length ? `applied: ${applied.join(', ')}` : 'up to date');
    return 0;
  },
};
