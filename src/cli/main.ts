#!/usr/bin/env node
import 'reflect-metadata';
import { Command } from 'commander';
import { isGraftError } from '../errors.js';
import { commands } from './commands/index.js';

/**
 * `graft`: the command line. Each subcommand lives in `commands/<name>.command.ts`
 * and registers itself on the program; this file only wires them and maps errors.
 */
const program = new Command()
  .name('graft')
  .description('Transfer learning for recommender systems: import behaviour logs, train two-tower models, transfer them across domains, serve them.')
  .showHelpAfterError()
  .configureHelp({ sortSubcommands: true });

for (const register of commands) register(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  if (isGraftError(error)) {
    process.stderr.write(`graft: ${error.message}\n`);
    process.exit(error.code === 'INTERNAL' ? 70 : 1);
  }
  process.stderr.write(`graft: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(70);
});
