import { createInterface } from 'node:readline/promises';
import { Writable } from 'node:stream';
import { Option, type Command } from 'commander';
import { contextOf } from './context.ts';
import { print, say } from './output.ts';

interface User {
  id: string;
  email: string;
  role: string;
  created_at: string;
}

/**
 * The password never goes on the command line (it would show in `ps` and shell history):
 * it is typed at a prompt that does not echo, or read from stdin when stdin is not a terminal.
 */
async function readPassword(): Promise<string> {
  if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  }
  process.stderr.write('password: ');
  const silent = new Writable({ write: (_chunk, _encoding, done) => done() });
  const prompt = createInterface({ input: process.stdin, output: silent, terminal: true });
  const password = await prompt.question('');
  prompt.close();
  process.stderr.write('\n');
  return password;
}

export function registerUsers(program: Command): void {
  const users = program.command('users').description('console users of your organization');
  users
    .command('create')
    .description('create a console user; the password is prompted for, or read from stdin')
    .requiredOption('--email <email>', 'the sign-in email')
    .addOption(new Option('--role <role>', 'admin may act, viewer may only look').choices(['admin', 'viewer']).makeOptionMandatory())
    .action(async (options: { email: string; role: string }, command: Command) => {
      const { api, output } = contextOf(command);
      const user = await api.post<User>('/v1/users', { email: options.email, role: options.role, password: await readPassword() });
      print(output, user, () => [[user.id, user.email, user.role]], ['id', 'email', 'role']);
    });
  users
    .command('list')
    .description('list console users')
    .action(async (_options: unknown, command: Command) => {
      const { api, output } = contextOf(command);
      const page = await api.get<{ data: User[] }>('/v1/users?limit=1000');
      print(output, page.data, () => page.data.map((u) => [u.id, u.email, u.role, u.created_at]), ['id', 'email', 'role', 'created_at']);
    });
  users
    .command('delete <id>')
    .description('delete a console user; its sessions end at once')
    .action(async (id: string, _options: unknown, command: Command) => {
      const { api, output } = contextOf(command);
      await api.delete(`/v1/users/${id}`);
      say(output, `deleted user ${id}`, { deleted: id });
    });
}
