import type { BackendInfo } from '../model/backend.js';
import type { JobDevice } from './job-record.js';
import { TrainingProcess, type TrainingProcessOptions } from './training-process.js';

/** A training process and its backend start (pending or done). */
export interface StartedChild {
  child: TrainingProcess;
  backend: Promise<BackendInfo>;
}

/** A fresh child with its backend starting for `device`. */
export function startChild(device: JobDevice, options?: TrainingProcessOptions): StartedChild {
  const child = new TrainingProcess(options);
  const backend = child.init(device);
  backend.catch(() => undefined);
  return { child, backend };
}

/**
 * Keeps one spare training process, already started with its TF.js backend (device AUTO),
 * so that the next job skips process start, module load and backend init (about a second
 * on an idle machine, several under load). Each spare runs exactly one job, so isolation
 * is the same as a fresh child per run. A runner warms the spare when it goes idle, not
 * while a job starts (the warm-up would compete with it for the CPU).
 */
export class WarmChild {
  private spare: (StartedChild & { info?: BackendInfo; failed?: boolean }) | undefined;

  constructor(private readonly options: TrainingProcessOptions = {}) {}

  /** Starts a spare if there is none. */
  warm(): void {
    if (this.spare && !this.spare.failed && this.spare.child.running) return;
    this.spare?.child.kill();
    const spare: StartedChild & { info?: BackendInfo; failed?: boolean } = startChild('AUTO', this.options);
    spare.backend.then(
      (info) => (spare.info = info),
      () => (spare.failed = true),
    );
    this.spare = spare;
  }

  /**
   * The spare when it can honour `device` (AUTO: always; CPU: its backend is not a GPU; GPU:
   * it is), else a fresh child for `device`. Takes the spare out: the next one is warmed by `warm()`.
   */
  take(device: JobDevice): StartedChild {
    const spare = this.spare;
    const fits = spare && !spare.failed && spare.child.running && (device === 'AUTO' || (spare.info !== undefined && spare.info.gpu === (device === 'GPU')));
    if (!fits) return startChild(device, this.options);
    this.spare = undefined;
    return { child: spare.child, backend: spare.backend };
  }

  /** Ends the spare (the runner stops). */
  async close(): Promise<void> {
    const spare = this.spare;
    this.spare = undefined;
    if (!spare) return;
    spare.child.kill();
    await spare.child.exited;
  }
}
