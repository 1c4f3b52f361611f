import { parentPort } from 'node:worker_threads';
import { initBackend, type BackendName } from '../model/backend.js';
import { failRun, TowerThread, type TowerThreadInit } from './tower-threads.js';

/**
 * The entry of a towers' worker thread (`TowerThreads`): loads the caller's TF.js backend
 * once, then trains the rounds it is sent over shared tables, run after run (a closed run
 * parks the worker for the next).
 */
type Message = { type: 'init'; backend: BackendName; init: TowerThreadInit } | { type: 'epoch'; globalStep: number; withDense: boolean } | { type: 'release' };

const port = parentPort;
if (!port) throw new Error('tower-worker.js runs as a worker thread (TowerThreads), not on its own');

let thread: TowerThread | undefined;
let control: Int32Array | undefined;

port.on('message', (message: Message) => {
  void handle(message).catch((error: unknown) => {
    if (control) failRun(control);
    port.postMessage({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  });
});

async function handle(message: Message): Promise<void> {
  if (message.type === 'init') {
    thread?.dispose();
    thread = undefined;
    control = message.init.control;
    await initBackend({ prefer: message.backend });
    thread = new TowerThread(message.init);
    port!.postMessage({ type: 'ready' });
  } else if (message.type === 'epoch') {
    if (!thread) throw new Error('an epoch was sent before the run was set up');
    port!.postMessage(thread.epoch(message.globalStep, message.withDense));
  } else {
    thread?.dispose();
    thread = undefined;
    control = undefined;
  }
}
