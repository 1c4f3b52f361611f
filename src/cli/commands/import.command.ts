import { Option, type Command } from 'commander';
import { EVENT_KINDS, type EventKind } from '../../db/tables/event.table.js';
import { FILE_FORMATS, importEventsFile, importItemsFile, type FileFormat, type ImportSummary } from '../../logs/index.js';
import { createProgressReporter } from '../progress-reporter.js';
import { withDatabase } from '../with-database.js';

interface ImportCliOptions {
  domain: string;
  format?: FileFormat;
  columns?: string[];
  header: boolean;
  kind?: EventKind;
  allowNonPositiveWeights?: boolean;
}

const n = (x: number) => x.toLocaleString('en-US');

/** `graft import FILE` (behaviour events) and `graft import-items FILE` (catalogue). */
export function registerImport(program: Command): void {
  const shared = (command: Command, columnsHelp: string) =>
    command
      .requiredOption('--domain <name>', 'domain to import into (created if missing)')
      .addOption(new Option('--format <format>', 'file format (default: from the extension: .tsv/.txt, .csv, .jsonl)').choices(FILE_FORMATS))
      .option('--columns <list>', columnsHelp, (value: string) => value.split(','))
      .option('--no-header', 'the file has no header row (tsv/csv)');

  shared(
    program
      .command('import')
      .argument('<file>', 'tsv, csv or jsonl file of events')
      .description('import a behaviour log file into a domain: one transaction, re-importing the same file adds nothing'),
    'field names in order: user,item,weight,time,kind (_ skips a field; default user,item,weight,time, or the header)',
  )
    .addOption(new Option('--kind <kind>', 'kind of every row without a kind column').choices(EVENT_KINDS).default('view'))
    .option(
      '--allow-non-positive-weights',
      'accept weights <= 0 (refused by default). In training a 0 weight adds nothing to the loss (the event stays in the user\'s history; implicit ALS drops the pair); a negative one pushes the item away (softmax), and implicit ALS fails on a (user, item) pair whose weights sum below 0',
    )
    .action(async (file: string, options: ImportCliOptions) => {
      await withDatabase(async (gdb) => {
        const progress = createProgressReporter(`import ${options.domain}`);
        let summary: ImportSummary;
        try {
          summary = await importEventsFile(gdb, file, { ...options, onProgress: (p) => progress.update(p) });
        } finally {
          progress.stop();
        }
        printSummary(file, summary, 'events');
      });
    });

  shared(
    program
      .command('import-items')
      .argument('<file>', 'tsv, csv or jsonl file of items')
      .description('create or update the items of a domain (title, tags, features) from a file'),
    'field names in order: item,title,tags,features (_ skips a field; default item,title,tags, or the header)',
  ).action(async (file: string, options: ImportCliOptions) => {
    await withDatabase(async (gdb) => {
      const progress = createProgressReporter(`import-items ${options.domain}`);
      let summary: ImportSummary;
      try {
        summary = await importItemsFile(gdb, file, { ...options, onProgress: (p) => progress.update(p) });
      } finally {
        progress.stop();
      }
      printSummary(file, summary, 'items');
    });
  });
}

function printSummary(file: string, s: ImportSummary, what: 'events' | 'items'): void {
  if (s.skipped) {
    const when = s.previous ? ` on ${s.previous.importedAt.toISOString()} (${n(s.previous.rows)} rows)` : '';
    process.stdout.write(`already imported: ${file} went into domain "${s.domain}" as import #${s.importId}${when}; nothing added\n`);
    return;
  }
  const seconds = s.elapsedMs / 1000;
  const perSecond = seconds > 0 ? Math.round(s.rows / seconds) : s.rows;
  const users = what === 'events' ? `${n(s.usersCreated)} users created, ` : '';
  process.stdout.write(
    `imported ${n(s.rows)} ${what} into domain "${s.domain}": ${users}${n(s.itemsCreated)} items created, ` +
      `${n(perSecond)} ${what}/s (${seconds.toFixed(1)} s)\n`,
  );
}
