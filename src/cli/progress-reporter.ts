import cliProgress from 'cli-progress';
import type { ImportProgress } from '../logs/index.js';

/** Shows import progress on stderr: a live bar on a terminal, otherwise a plain line every `intervalMs`. */
export interface ProgressReporter {
  update(progress: ImportProgress): void;
  stop(): void;
}

/**
 * @example
 * const progress = createProgressReporter('sport');
 * await importEventsFile(gdb, path, { domain: 'sport', onProgress: (p) => progress.update(p) });
 * progress.stop();
 */
export function createProgressReporter(label: string, options: { stream?: NodeJS.WriteStream; intervalMs?: number } = {}): ProgressReporter {
  const stream = options.stream ?? process.stderr;
  return stream.isTTY ? barReporter(label, stream) : lineReporter(label, stream, options.intervalMs ?? 2000);
}

function rate(p: ImportProgress): string {
  return p.elapsedMs > 0 ? Math.round((p.rows * 1000) / p.elapsedMs).toLocaleString('en-US') : '-';
}

function barReporter(label: string, stream: NodeJS.WriteStream): ProgressReporter {
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: `${label} {bar} {percentage}% | {value}/{total} rows | {rate} rows/s | ETA {eta_formatted}`,
      hideCursor: true,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(p) {
      // The line count includes a header and blank lines, so the total is an estimate: never let the bar overshoot it.
      const total = Math.max(p.estimatedRows ?? p.rows, p.rows);
      if (!started) {
        bar.start(total, p.rows, { rate: rate(p) });
        started = true;
      } else {
        bar.setTotal(total);
        bar.update(p.rows, { rate: rate(p) });
      }
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

function lineReporter(label: string, stream: NodeJS.WriteStream, intervalMs: number): ProgressReporter {
  let lastAt = 0;
  return {
    update(p) {
      if (p.elapsedMs - lastAt < intervalMs) return;
      lastAt = p.elapsedMs;
      const of = p.estimatedRows ? ` of ~${p.estimatedRows.toLocaleString('en-US')}` : '';
      stream.write(`${label}: ${p.rows.toLocaleString('en-US')}${of} rows, ${rate(p)} rows/s\n`);
    },
    stop() {},
  };
}
