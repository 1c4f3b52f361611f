import { InvalidArgumentError, type Command } from 'commander';
import { seedSynthetic } from '../../../seeds/seed-database.js';
import { GraftError } from '../../errors.js';
import { createProgressReporter, type ProgressReporter } from '../progress-reporter.js';
import { withDatabase } from '../with-database.js';

interface SeedCliOptions {
  synthetic?: boolean;
  users: number;
  scale: number;
  seed: number;
  sourceDomain: string;
  targetDomain: string;
  independentTarget?: boolean;
  force?: boolean;
}

const n = (x: number) => x.toLocaleString('en-US');

/** `graft seed --synthetic`: a source and a sparse target domain with planted structure, for demos and tests. */
export function registerSeed(program: Command): void {
  program
    .command('seed')
    .description('fill the database with synthetic data: a large source domain and a sparse target domain sharing users')
    .option('--synthetic', 'generate synthetic cross-domain data (the only kind for now)')
    .option('--users <n>', 'users at scale 1', positiveNumber('--users'), 2000)
    .option('--scale <s>', 'multiplies users and both catalogues (20 gives about 1.1M source events)', positiveNumber('--scale'), 1)
    .option('--seed <k>', 'random seed: the same seed gives the same data', integer('--seed'), 42)
    .option('--source-domain <name>', 'name of the source domain', 'source')
    .option('--target-domain <name>', 'name of the target domain', 'target')
    .option('--independent-target', 'draw target preferences independently of the source (transfer cannot help)')
    .option('--force', 'replace the events and items the two domains already hold')
    .action(async (options: SeedCliOptions) => {
      if (!options.synthetic) {
        throw new GraftError('BAD_INPUT', 'say what to seed: `graft seed --synthetic` (synthetic source and target domains)');
      }
      await withDatabase(async (gdb) => {
        let current: { key: string; reporter: ProgressReporter } | undefined;
        const started = performance.now();
        let summary;
        try {
          summary = await seedSynthetic(gdb, {
            users: options.users,
            scale: options.scale,
            seed: options.seed,
            sourceName: options.sourceDomain,
            targetName: options.targetDomain,
            independentTarget: options.independentTarget,
            force: options.force,
            onProgress: (p) => {
              const key = `${p.domain} ${p.phase}`;
              if (current?.key !== key) {
                current?.reporter.stop();
                current = { key, reporter: createProgressReporter(`seed ${key}`) };
              }
              current.reporter.update({ rows: p.rows, elapsedMs: performance.now() - started, estimatedRows: p.total });
            },
          });
        } finally {
          current?.reporter.stop();
        }
        const lines = [`seeded ${gdb.location} in ${(summary.elapsedMs / 1000).toFixed(1)} s: ${n(summary.users)} users`];
        for (const d of summary.domains) {
          lines.push(`  ${d.role} "${d.name}": ${n(d.items)} items, ${n(d.events)} events, ${n(d.usersWithEvents)} users with events`);
        }
        lines.push(`  cold-start in "${options.targetDomain}": ${n(summary.coldStartUsers)} users with source history only`);
        process.stdout.write(`${lines.join('\n')}\n`);
      });
    });
}

function positiveNumber(flag: string) {
  return (value: string) => {
    const x = Number(value);
    if (!(x > 0) || !Number.isFinite(x)) throw new InvalidArgumentError(`"${value}" is not a positive number; use e.g. ${flag} 2`);
    return x;
  };
}

function integer(flag: string) {
  return (value: string) => {
    const x = Number(value);
    if (!Number.isInteger(x)) throw new InvalidArgumentError(`"${value}" is not an integer; use e.g. ${flag} 7`);
    return x;
  };
}
