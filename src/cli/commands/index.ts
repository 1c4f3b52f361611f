import type { Command } from 'commander';
import { registerImport } from './import.command.js';
import { registerMigrate } from './migrate.command.js';
import { registerSeed } from './seed.command.js';
import { registerTrain } from './train.command.js';

/** Every subcommand. Add yours here: one `register*(program)` per command file. */
export const commands: Array<(program: Command) => void> = [registerImport, registerMigrate, registerSeed, registerTrain];
