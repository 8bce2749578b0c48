import { parseArgs } from 'node:util';
import { loadConfig } from './config.ts';
import { startEmbeddedPostgres } from './db/embedded.ts';
import { migrate } from './db/migrate.ts';
import { createLogger } from './logger.ts';

const usage = `usage: eventflow <command>

commands on the database (configured like the service: DATABASE_URL or the embedded one):
  migrate    apply drizzle migrations and pg-boss's schema, then exit
  serve      run the service (same as npm start)
`;

const { positionals, values } = parseArgs({ allowPositionals: true, strict: false, options: { help: { type: 'boolean', short: 'h' } } });
const command = positionals[0];

if (values.help || !command) {
  process.stdout.write(usage);
  process.exit(command || values.help ? 0 : 2);
}

switch (command) {
  case 'migrate': {
    const config = loadConfig();
    const logger = createLogger(config.LOG_LEVEL);
    const embedded = config.DATABASE_URL
      ? undefined
      : await startEmbeddedPostgres(config.EVENTFLOW_DATA_DIR, config.EVENTFLOW_PG_PORT, logger);
    try {
      await migrate(config.DATABASE_URL ?? embedded!.url);
      process.stdout.write('migrations applied\n');
    } finally {
      await embedded?.stop();
    }
    break;
  }
  case 'serve':
    await import('./main.ts');
    break;
  default:
    process.stderr.write(`eventflow: unknown command '${command}'\n\n${usage}`);
    process.exit(2);
}
