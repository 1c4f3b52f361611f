/**
 * Entry of a training child process (forked by `TrainingProcess`). It computes only: the
 * parent hands it prepared typed arrays and settings, it starts the TF.js backend for the
 * requested device (a native or GPU backend loads here, never in the worker), runs the
 * workflow with an AbortSignal, posts throttled progress, and posts the trained weights,
 * embeddings and metrics back. It touches no database.
 */
import 'reflect-metadata';
import { isGraftError } from '../errors.js';
import { initBackend } from '../model/backend.js';
import { pretrain } from '../workflows/pretrain.workflow.js';
import { autoPretrain } from '../workflows/auto-pretrain.js';
import { transfer } from '../workflows/transfer.workflow.js';
import type { ChildMessage, ChildProgress, ParentMessage, TrainingTask } from './child-protocol.js';

const controller = new AbortController();
let busy = false;

function post(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

async function fail(error: unknown): Promise<never> {
  const code = isGraftError(error) ? error.code : 'INTERNAL';
  const message = error instanceof Error ? error.message : String(error);
  await post({ type: 'failed', code, message });
  process.exit(1);
}

async function run(task: TrainingTask, progressIntervalMs: number): Promise<void> {
  let lastStep = 0;
  const progress = (p: ChildProgress) => void post({ type: 'progress', progress: p });
  const hooks = {
    signal: controller.signal,
    onStep: (p: { epoch: number; step: number; steps: number; loss: number; examplesPerSecond: number }) => {
      // Every step would flood the channel on small batches; the parent writes even less often.
      const now = Date.now();
      if (now - lastStep < progressIntervalMs && p.step !== p.steps) return;
      lastStep = now;
      progress({ kind: 'step', epoch: p.epoch, step: p.step, steps: p.steps, loss: p.loss, examplesPerSecond: p.examplesPerSecond });
    },
    onEpoch: (p: { epoch: number; epochs: number; loss: number; validation?: number; examplesPerSecond: number; elapsedMs: number }) => {
      progress({ kind: 'epoch', epoch: p.epoch, epochs: p.epochs, loss: p.loss, validation: p.validation, examplesPerSecond: p.examplesPerSecond, elapsedMs: p.elapsedMs });
    },
  };
  if (task.kind === 'PRETRAIN' && task.settings.budget) {
    // `auto`: the search's trials, then the winner trained as pretrain trains it.
    progress({ kind: 'phase', phase: 'search' });
    const { trained } = await autoPretrain(task.prepared, { ...task.settings, budget: task.settings.budget }, { ...hooks, onTrial: (trial) => progress({ kind: 'trial', trial }) });
    await post({ type: 'done', trained });
  } else if (task.kind === 'PRETRAIN') {
    progress({ kind: 'phase', phase: 'training' });
    const trained = await pretrainWithEvaluationPhase(task, hooks, progress);
    await post({ type: 'done', trained });
  } else {
    const { trained, report, retrainedSource } = await transfer(task.prepared, task.settings, {
      ...hooks,
      onPhase: (phase) => progress({ kind: 'phase', phase }),
      onTrial: (trial) => progress({ kind: 'trial', trial }),
    });
    await post({ type: 'done', trained, report, ...(retrainedSource ? { retrainedSource } : {}) });
  }
}

/** pretrain() with its evaluation reported as a phase, once every fit is done. */
function pretrainWithEvaluationPhase(task: Extract<TrainingTask, { kind: 'PRETRAIN' }>, hooks: Parameters<typeof pretrain>[2] & object, progress: (p: ChildProgress) => void) {
  return pretrain(task.prepared, task.settings, { ...hooks, onEvaluation: () => progress({ kind: 'phase', phase: 'evaluation' }) });
}

process.on('message', (message: ParentMessage) => {
  if (message.type === 'abort') {
    controller.abort(new Error(message.reason));
    return;
  }
  if (message.type === 'init') {
    initBackend({ device: message.device })
      .then((backend) => post({ type: 'ready', backend }))
      .catch(fail);
    return;
  }
  if (message.type === 'run' && !busy) {
    busy = true;
    run(message.task, message.progressIntervalMs)
      .then(() => process.exit(0))
      .catch(fail);
  }
});

// The parent died (kill -9, crash): nothing is left to report to, so stop computing at once.
process.on('disconnect', () => process.exit(2));
