import { OperatorError } from '../../base/operator-error.js';
import { UsageError, type CommandContext, type CommandSpec } from '../command.js';
import { UserStoreError, passwordProblem, type UserStore } from '../users.js';

/**
 * `user list|add|del` and `passwd` (reference/commands.md, "Accounts").
 * Passwords are only ever read through Terminal.prompt with echo off, never
 * from the command line, so they stay out of shell history and logs.
 */
export function userCommands(options: { users: UserStore }): CommandSpec[] {
  const { users } = options;

  const list: CommandSpec = {
    path: ['user', 'list'],
    usage: 'user list [--json]',
    summary: 'list the administrator accounts',
    async run(ctx) {
      if (ctx.args.length > 0) throw new UsageError(list.usage);
      await storeCall(() => users.refresh());
      const all = users.list();
      if (ctx.json) return JSON.stringify({ users: all });
      const width = Math.max(4, ...all.map((u) => u.name.length)) + 2;
      return ['User'.padEnd(width) + 'Role', ...all.map((u) => u.name.padEnd(width) + u.role)].join('\n');
    },
  };

  const add: CommandSpec = {
    path: ['user', 'add'],
    usage: 'user add <name> admin',
    summary: 'add an administrator account (asks for its password twice)',
    async run(ctx) {
      const [name, role] = ctx.args;
      if (ctx.args.length !== 2 || !name || !role) throw new UsageError(add.usage);
      if (role !== 'admin') throw new OperatorError(`unknown role '${role}'; the only role is admin`);
      await storeCall(() => users.refresh());
      if (users.has(name)) throw new OperatorError(`user ${name} already exists`);
      const password = await readNewPassword(ctx);
      await storeCall(() => users.add(name, 'admin', password));
      return '';
    },
  };

  const del: CommandSpec = {
    path: ['user', 'del'],
    usage: 'user del <name>',
    summary: 'remove an administrator account',
    async run(ctx) {
      const [name] = ctx.args;
      if (ctx.args.length !== 1 || !name) throw new UsageError(del.usage);
      await storeCall(() => users.refresh());
      if (!users.has(name)) throw new OperatorError(`no user named ${name}`);
      if (name === ctx.user) throw new OperatorError('you cannot delete the account you are logged in as; log in as another admin');
      await storeCall(() => users.remove(name));
      return '';
    },
  };

  const passwd: CommandSpec = {
    path: ['passwd'],
    usage: 'passwd [<name>]',
    summary: 'change your password, or the password of another account',
    async run(ctx) {
      if (ctx.args.length > 1) throw new UsageError(passwd.usage);
      const name = ctx.args[0] ?? ctx.user;
      await storeCall(() => users.refresh());
      if (!users.has(name)) throw new OperatorError(`no user named ${name}`);
      if (name === ctx.user) {
        // Changing your own password proves you still know it, as passwd(1) does.
        const current = await ctx.terminal.prompt('Enter current password:', { echo: false });
        if (current === null) throw cancelled();
        if (!(await users.verify(name, current))) throw new OperatorError('the current password is wrong; nothing was changed');
      }
      const password = await readNewPassword(ctx);
      await storeCall(() => users.setPassword(name, password));
      return '';
    },
  };

  return [list, add, del, passwd];
}

async function readNewPassword(ctx: CommandContext): Promise<string> {
  const first = await ctx.terminal.prompt('Please enter new password:', { echo: false });
  if (first === null) throw cancelled();
  const problem = passwordProblem(first);
  if (problem) throw new OperatorError(`${problem}; nothing was changed`);
  const second = await ctx.terminal.prompt('Please enter new password again:', { echo: false });
  if (second === null) throw cancelled();
  if (first !== second) throw new OperatorError('the passwords do not match; nothing was changed');
  return first;
}

function cancelled(): OperatorError {
  return new OperatorError('cancelled; nothing was changed');
}

async function storeCall(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof UserStoreError) throw new OperatorError(err.message);
    throw err;
  }
}
