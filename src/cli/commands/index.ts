import type { Command } from 'commander';
import { registerEval } from './eval.command.js';
import { registerImport } from './import.command.js';
import { registerKeys } from './keys.command.js';
import { registerMigrate } from './migrate.command.js';
import { registerModels } from './models.command.js';
import { registerSeed } from './seed.command.js';
import { registerServe } from './serve.command.js';
import { registerStart } from './start.command.js';
import { registerTrain } from './train.command.js';
import { registerTransfer } from './transfer.command.js';
import { registerWorker } from './worker.command.js';

/** Every subcommand. Add yours here: one `register*(program)` per command file. */
export const commands: Array<(program: Command) => void> = [registerEval, registerImport, registerKeys, registerMigrate, registerModels, registerSeed, registerServe, registerStart, registerTrain, registerTransfer, registerWorker];
