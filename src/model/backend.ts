import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../errors.js';
import { registerUnsortedSegmentSum } from './unsorted-segment-sum.kernel.js';

/** Which TF.js backend and device a process computes on; jobs record it with their results. */
export interface BackendInfo {
  /** TF.js backend name: 'tensorflow' (native libtensorflow), 'wasm' or 'cpu'. */
  backend: string;
  gpu: boolean;
  /** Threads the backend computes with (wasm in Node: 1). */
  threads: number;
  device: 'CPU' | 'GPU';
  /** npm package that provides the backend. */
  package: string;
}

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

export interface BackendOptions {
  /**
   * Where to start in the search order tensorflow -> wasm -> cpu (a preference: a
   * backend that is not installed is skipped). The `GRAFT_BACKEND` environment variable
   * overrides it and is strict: the named backend or an UNAVAILABLE error.
   */
  prefer?: BackendName;
  /**
   * 'GPU' requires `@tensorflow/tfjs-node-gpu` and a CUDA device, else UNAVAILABLE (never a
   * silent CPU fallback). 'CPU' never picks tfjs-node-gpu. Default 'AUTO'.
   */
  device?: 'AUTO' | 'CPU' | 'GPU';
}

const NODE_GPU = '@tensorflow/tfjs-node-gpu';
const NODE_CPU = '@tensorflow/tfjs-node';
const GPU_INSTALL =
  'install it with `npm install @tensorflow/tfjs-node-gpu@4.22.0` (Linux x64, needs CUDA 11.2 and cuDNN 8.1; ' +
  'the install downloads libtensorflow 2.9.1 — offline, set TFJS_NODE_BASE_URI to an http mirror of the tarball, ' +
  'or extract it into node_modules/@tensorflow/tfjs-node-gpu/deps and run `npm rebuild @tensorflow/tfjs-node-gpu`)';

let current: BackendInfo | undefined;
let pending: Promise<BackendInfo> | undefined;

/**
 * Picks and initialises the TF.js backend once per process: tfjs-node-gpu, tfjs-node,
 * wasm, cpu (first that loads). A second call returns the same info; asking for a
 * different device or strict backend after that is a CONFLICT.
 *
 * @example
 * const info = await initBackend();            // e.g. { backend: 'wasm', device: 'CPU', threads: 1, ... }
 * await initBackend({ device: 'GPU' });        // throws UNAVAILABLE without tfjs-node-gpu + CUDA
 */
export async function initBackend(options: BackendOptions = {}): Promise<BackendInfo> {
  const strict = parseEnvBackend(process.env.GRAFT_BACKEND);
  const device = options.device ?? 'AUTO';
  if (current) {
    checkCompatible(current, strict, device);
    return current;
  }
  if (pending) {
    const info = await pending;
    checkCompatible(info, strict, device);
    return info;
  }
  pending = select(strict, options.prefer, device);
  try {
    const info = await pending;
    current = info;
    return info;
  } finally {
    pending = undefined;
  }
}

/** Whether the active TF.js backend keeps tensors in this process's memory (wasm, cpu): the engine then computes its hot loops itself. */
export function onHostBackend(): boolean {
  const backend = tf.getBackend();
  return backend === 'wasm' || backend === 'cpu';
}

/** The backend chosen by `initBackend`, or undefined before it ran. */
export function currentBackend(): BackendInfo | undefined {
  return current;
}

function checkCompatible(info: BackendInfo, strict: BackendName | undefined, device: 'AUTO' | 'CPU' | 'GPU'): void {
  if ((device === 'GPU' && !info.gpu) || (device === 'CPU' && info.gpu) || (strict && strict !== info.backend)) {
    throw new GraftError(
      'CONFLICT',
      `this process already computes on ${info.backend} (${info.device}); start a new process to use ${strict ?? ''} ${device}`.replace(/\s+/g, ' '),
    );
  }
}

function parseEnvBackend(value: string | undefined): BackendName | undefined {
  if (value === undefined || value === '') return undefined;
  if (value === 'tensorflow' || value === 'wasm' || value === 'cpu') return value;
  throw new GraftError('BAD_INPUT', `GRAFT_BACKEND="${value}" is not a backend; use tensorflow, wasm or cpu (or unset it)`);
}

async function select(strict: BackendName | undefined, prefer: BackendName | undefined, device: 'AUTO' | 'CPU' | 'GPU'): Promise<BackendInfo> {
  if (device === 'GPU') {
    if (strict && strict !== 'tensorflow') {
      throw new GraftError('BAD_INPUT', `GRAFT_BACKEND=${strict} cannot run on a GPU; unset it or set GRAFT_BACKEND=tensorflow`);
    }
    const loaded = await tryImport(NODE_GPU);
    if (!loaded.ok) {
      throw new GraftError('UNAVAILABLE', `GPU training needs ${NODE_GPU}, which is not installed (${loaded.reason}); ${GPU_INSTALL}`);
    }
    if (!cudaDeviceVisible()) {
      throw new GraftError(
        'UNAVAILABLE',
        `${NODE_GPU} is installed but no CUDA device is visible (no /dev/nvidia0 or CUDA_VISIBLE_DEVICES hides it); ` +
          'install the NVIDIA driver with CUDA 11.2 + cuDNN 8.1, or run with device CPU',
      );
    }
    return activateNative(NODE_GPU, true);
  }

  const order: BackendName[] = ['tensorflow', 'wasm', 'cpu'];
  const candidates = strict ? [strict] : order.slice(prefer ? order.indexOf(prefer) : 0);
  const failures: string[] = [];
  for (const name of candidates) {
    if (name === 'tensorflow') {
      const packages = device === 'CPU' ? [NODE_CPU] : [NODE_GPU, NODE_CPU];
      for (const pkg of packages) {
        const loaded = await tryImport(pkg);
        if (loaded.ok) return activateNative(pkg, pkg === NODE_GPU && cudaDeviceVisible());
        failures.push(`${pkg}: ${loaded.reason}`);
      }
    } else if (name === 'wasm') {
      const reason = await activateWasm();
      if (reason === undefined) {
        return { backend: 'wasm', gpu: false, threads: wasmThreads(), device: 'CPU', package: '@tensorflow/tfjs-backend-wasm' };
      }
      failures.push(`@tensorflow/tfjs-backend-wasm: ${reason}`);
    } else {
      await tf.setBackend('cpu');
      await tf.ready();
      return { backend: 'cpu', gpu: false, threads: 1, device: 'CPU', package: '@tensorflow/tfjs' };
    }
  }
  const hint = strict === 'tensorflow' ? `install it with \`npm install ${NODE_CPU}@4.22.0\` (or ${NODE_GPU}@4.22.0)` : 'check the installation';
  throw new GraftError('UNAVAILABLE', `backend ${strict} (set by GRAFT_BACKEND) could not start: ${failures.join('; ')}; ${hint}, or unset GRAFT_BACKEND`);
}

async function tryImport(pkg: string): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    // A non-literal specifier: the compiler does not resolve it, so the build never needs the optional peers.
    const specifier: string = pkg;
    await import(specifier);
    return { ok: true };
  } catch (error) {
    const code = (error as { code?: string }).code;
    return { ok: false, reason: code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND' ? 'not installed' : String((error as Error).message ?? error) };
  }
}

async function activateNative(pkg: string, gpu: boolean): Promise<BackendInfo> {
  // Importing tfjs-node registers the 'tensorflow' backend with the shared tfjs-core.
  if (!(await tf.setBackend('tensorflow'))) {
    throw new GraftError('UNAVAILABLE', `${pkg} loaded but the "tensorflow" backend did not start; reinstall it with \`npm rebuild ${pkg}\``);
  }
  await tf.ready();
  return { backend: 'tensorflow', gpu, threads: cpus().length, device: gpu ? 'GPU' : 'CPU', package: pkg };
}

let wasmModule: typeof import('@tensorflow/tfjs-backend-wasm') | undefined;

async function activateWasm(): Promise<string | undefined> {
  try {
    wasmModule ??= await import('@tensorflow/tfjs-backend-wasm');
    if (tf.findBackend('wasm') === null) {
      // Point the loader at the package's own dist folder so the .wasm files are found even
      // when this code is bundled or run from another directory (Node reads them with fs).
      try {
        const require = createRequire(import.meta.url);
        wasmModule.setWasmPaths(`${dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))}/`);
      } catch {
        // Keep the package's default lookup next to its script.
      }
    }
    if (!(await tf.setBackend('wasm'))) return 'the wasm binary did not load (see the warning above)';
    await tf.ready();
    registerUnsortedSegmentSum('wasm');
    return undefined;
  } catch (error) {
    return String((error as Error).message ?? error);
  }
}

function wasmThreads(): number {
  try {
    return wasmModule?.getThreadsCount() ?? 1;
  } catch {
    return 1;
  }
}

/** A CUDA device is visible to this process (driver device node present and not hidden). */
function cudaDeviceVisible(): boolean {
  const visible = process.env.CUDA_VISIBLE_DEVICES;
  if (visible !== undefined && (visible.trim() === '' || visible.trim() === '-1')) return false;
  if (existsSync('/dev/nvidia0')) return true;
  try {
    return readdirSync('/proc/driver/nvidia/gpus').length > 0;
  } catch {
    return false;
  }
}
