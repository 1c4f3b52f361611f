import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerEval } from './eval.command.js';
import { registerTrain } from './train.command.js';
import { registerTransfer } from './transfer.command.js';

/** The three commands that evaluate, registered on a program that throws instead of exiting. */
function program(): Command {
  const p = new Command().exitOverride();
  for (const register of [registerTrain, registerTransfer, registerEval]) register(p);
  for (const c of p.commands) c.exitOverride();
  return p;
}

const sub = (p: Command, name: string) => p.commands.find((c) => c.name() === name)!;

describe('seed flags: one name, one meaning in train, transfer and eval', () => {
  it('--seed is the training seed and --eval-seed the negatives\' seed in train and transfer', () => {
    for (const [name, required] of [['train', ['--domain', 'd']], ['transfer', ['--from', 'm', '--to', 'd', '--strategy', 'full']]] as const) {
      const command = sub(program(), name);
      command.parseOptions([...required, '--seed', '5', '--eval-seed', '9']);
      expect(command.opts()).toMatchObject({ seed: 5, evalSeed: 9 });
      expect(command.options.find((o) => o.long === '--seed')!.description).toMatch(/training seed/);
      expect(command.options.find((o) => o.long === '--eval-seed')!.description).toMatch(/negatives/);
    }
  });

  it('eval takes --eval-seed for the negatives and refuses --seed, naming the flag to use', async () => {
    const p = program();
    const command = sub(p, 'eval');
    command.parseOptions(['--model', 'm', '--eval-seed', '9']);
    expect(command.opts()).toMatchObject({ evalSeed: 9 });
    await expect(program().parseAsync(['node', 'graft', 'eval', '--model', 'm', '--seed', '2040'])).rejects.toThrow(/--eval-seed 2040/);
  });
});
