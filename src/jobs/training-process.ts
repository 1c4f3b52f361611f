import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GraftError } from '../errors.js';
import type { BackendInfo } from '../model/backend.js';
import type { TransferReport } from '../transfer/transfer-report.js';
import type { TrainedModel } from '../workflows/trained-model.js';
import type { ChildMessage, ChildProgress, ParentMessage, TrainingTask } from './child-protocol.js';
import type { JobDevice } from './job-record.js';

export interface TrainingProcessOptions {
  /** Heap limit of the child in MB (`--max-old-space-size`); default: Node's. */
  maxOldSpaceMb?: number;
  /** After `abort`, how long the child may take to stop by itself before it is killed (default 5,000 ms). */
  killGraceMs?: number;
  /** Where the child's stderr goes (default: this process's stderr). */
  onStderr?: (chunk: string) => void;
}

/**
 * The compiled child entry. A forked child needs JavaScript: from `dist/` it is the file
 * next to this one; from the TypeScript sources (vitest) it is the build's copy in `dist/`.
 */
export function resolveTrainingChildEntry(): string {
  const here = fileURLToPath(import.meta.url);
  const entry = here.endsWith('.js') ? join(dirname(here), 'training.child.js') : join(resolve(dirname(here), '..', '..'), 'dist', 'src', 'jobs', 'training.child.js');
  if (!existsSync(entry)) {
    throw new GraftError('UNAVAILABLE', `the training child process runs compiled JavaScript and ${entry} does not exist; run \`npm run build\` first`);
  }
  return entry;
}

type Pending = { resolve: (m: ChildMessage) => void; reject: (e: Error) => void; accept: ChildMessage['type'] };

/**
 * One training run's child process, seen from the parent: `init` starts the backend,
 * `run` computes and streams progress, `abort` stops the loop (and kills the child if it
 * does not stop within the grace period). A crash or out-of-memory of the child rejects
 * the pending call with the reason; the parent keeps running.
 */
export class TrainingProcess {
  private readonly child: ChildProcess;
  private pending: Pending | undefined;
  private onProgress: ((p: ChildProgress) => void) | undefined;
  private stderrTail = '';
  private exitError: Error | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  /** Resolves when the child has exited (for whatever reason). */
  readonly exited: Promise<void>;

  constructor(private readonly options: TrainingProcessOptions = {}) {
    const execArgv = options.maxOldSpaceMb ? [`--max-old-space-size=${options.maxOldSpaceMb}`] : [];
    // execArgv is set explicitly: the parent's flags (a test runner's loaders) must not leak into the child.
    this.child = fork(resolveTrainingChildEntry(), [], { serialization: 'advanced', execArgv, stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-4000);
      (options.onStderr ?? ((c: string) => process.stderr.write(c)))(chunk);
    });
    this.child.on('message', (message: ChildMessage) => this.receive(message));
    this.exited = new Promise((resolveExit) => {
      this.child.on('close', (code: number | null, signal: NodeJS.Signals | null) => {
        clearTimeout(this.killTimer);
        this.exitError = this.crashError(code, signal);
        this.pending?.reject(this.exitError);
        this.pending = undefined;
        resolveExit();
      });
    });
    this.child.on('error', (error) => {
      this.pending?.reject(new GraftError('INTERNAL', `training process could not start: ${error.message}`, { cause: error }));
      this.pending = undefined;
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The child has not exited. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts TF.js for the device in the child; rejects with the backend's UNAVAILABLE error (e.g. GPU without tfjs-node-gpu). */
  async init(device: JobDevice): Promise<BackendInfo> {
    const reply = await this.request({ type: 'init', device }, 'ready');
    return (reply as Extract<ChildMessage, { type: 'ready' }>).backend;
  }

  /** Runs the task; `onProgress` receives the child's throttled step, epoch and phase reports. */
  async run(task: TrainingTask, onProgress: (p: ChildProgress) => void, progressIntervalMs = 100): Promise<{ trained: TrainedModel; report?: TransferReport; retrainedSource?: TrainedModel }> {
    this.onProgress = onProgress;
    const reply = (await this.request({ type: 'run', task, progressIntervalMs }, 'done')) as Extract<ChildMessage, { type: 'done' }>;
    return { trained: reply.trained, report: reply.report, ...(reply.retrainedSource ? { retrainedSource: reply.retrainedSource } : {}) };
  }

  /** Asks the training loop to stop; kills the child when it has not exited after the grace period. */
  abort(reason: string): void {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.send({ type: 'abort', reason });
    this.killTimer ??= setTimeout(() => this.child.kill('SIGKILL'), this.options.killGraceMs ?? 5000);
  }

  /** Ends the child now (after a result, or when giving up on it). */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  private request(message: ParentMessage, accept: ChildMessage['type']): Promise<ChildMessage> {
    if (this.exitError) return Promise.reject(this.exitError);
    return new Promise((resolveReply, reject) => {
      this.pending = { resolve: resolveReply, reject, accept };
      this.send(message);
    });
  }

  private send(message: ParentMessage): void {
    if (!this.child.connected) return;
    this.child.send(message, (error) => {
      if (error && this.pending) {
        this.pending.reject(new GraftError('INTERNAL', `could not send to the training process: ${error.message}`, { cause: error }));
        this.pending = undefined;
      }
    });
  }

  private receive(message: ChildMessage): void {
    if (message.type === 'progress') {
      this.onProgress?.(message.progress);
      return;
    }
    const pending = this.pending;
    if (!pending) return;
    this.pending = undefined;
    if (message.type === 'failed') {
      const code = (['BAD_INPUT', 'NOT_FOUND', 'CONFLICT', 'UNAVAILABLE', 'CANCELLED'] as const).find((c) => c === message.code) ?? 'INTERNAL';
      pending.reject(new GraftError(code, message.message));
    } else if (message.type === pending.accept) {
      pending.resolve(message);
    } else {
      pending.reject(new GraftError('INTERNAL', `training process answered "${message.type}" where "${pending.accept}" was expected`));
    }
  }

  private crashError(code: number | null, signal: NodeJS.Signals | null): Error {
    const outOfMemory = /heap out of memory|Allocation failed|ENOMEM|std::bad_alloc/i.test(this.stderrTail);
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    // V8's fatal line says more than the stack frames printed after it.
    const fatal = /^.*(FATAL ERROR|heap out of memory).*$/m.exec(this.stderrTail)?.[0].trim();
    const tail = fatal ?? this.stderrTail.trim().split('\n').slice(-3).join(' | ');
    if (outOfMemory) {
      return new GraftError(
        'UNAVAILABLE',
        `training process ran out of memory and ${how}; give the worker more memory (or a larger --child-max-old-space), or train with a smaller batch size or dim${tail ? `; last output: ${tail}` : ''}`,
      );
    }
    return new GraftError('INTERNAL', `training process ${how} before finishing${tail ? `; last output: ${tail}` : ''}`);
  }
}
