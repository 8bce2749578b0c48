import { Command, CommanderError, Option } from 'commander';
import { ApiError } from './cli/client.ts';
import { registerDelivery } from './cli/delivery.ts';
import { registerResources } from './cli/resources.ts';
import { registerUsers } from './cli/users.ts';

/**
 * `eventflow`: the operator CLI. Every command but `migrate` and `serve` is a thin client
 * of the HTTP API. Exit codes: 0 success, 1 an API (or other) error, 2 a usage error.
 */
const program = new Command('eventflow')
  .description('EventFlow operator CLI')
  .addOption(new Option('--url <url>', 'EventFlow API').env('EVENTFLOW_URL').default('http://127.0.0.1:3000'))
  .addOption(new Option('--token <token>', 'API key or platform token').env('EVENTFLOW_TOKEN'))
  .option('--json', 'print JSON for scripts')
  .showHelpAfterError()
  .exitOverride();

registerResources(program);
registerDelivery(program);
registerUsers(program);

program
  .command('migrate')
  .description('apply migrations to the database (DATABASE_URL, or the embedded one), then exit')
  .action(async () => {
    const { runMigrations } = await import('./db/migrate-command.ts');
    await runMigrations();
  });
program
  .command('serve')
  .description('run the service (as npm start)')
  .action(async () => {
    await import('./main.ts');
  });

// Subcommands inherit the exit override and error output of the program.
for (const command of program.commands) {
  command.exitOverride().showHelpAfterError();
  for (const sub of command.commands) sub.exitOverride().showHelpAfterError();
}

try {
  await program.parseAsync();
} catch (error) {
  process.exitCode = exitCodeOf(error);
}

function exitCodeOf(error: unknown): number {
  if (error instanceof CommanderError) {
    // Commander has printed the usage error (or the help, which is no error).
    return ['commander.helpDisplayed', 'commander.help', 'commander.version'].includes(error.code) ? 0 : 2;
  }
  if (error instanceof ApiError) {
    process.stderr.write(`error: ${error.title}: ${error.message}\n`);
    return 1;
  }
  process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  return 1;
}
