import cliProgress from 'cli-progress';
import type { EpochProgress, StepProgress } from '../training/train.js';

/**
 * Training progress on stderr: on a terminal, one bar per epoch (loss, examples/s, ETA);
 * otherwise a plain line every few seconds and one per epoch.
 */
export function trainingProgress(label: string, stream: NodeJS.WriteStream = process.stderr) {
  let bar: cliProgress.SingleBar | undefined;
  let lastLine = 0;
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  return {
    onStep(p: StepProgress) {
      if (stream.isTTY) {
        if (!bar || p.step === 1) {
          bar?.stop();
          bar = new cliProgress.SingleBar(
            { stream, format: `${label} epoch ${p.epoch} {bar} {value}/{total} steps | loss {loss} | {rate} ex/s | ETA {eta_formatted}`, hideCursor: true },
            cliProgress.Presets.shades_classic,
          );
          bar.start(p.steps, p.step, { loss: p.loss.toFixed(4), rate: fmt(p.examplesPerSecond) });
        } else {
          bar.update(p.step, { loss: p.loss.toFixed(4), rate: fmt(p.examplesPerSecond) });
        }
        return;
      }
      const now = Date.now();
      if (now - lastLine >= 5000) {
        lastLine = now;
        stream.write(`${label}: epoch ${p.epoch} step ${p.step}/${p.steps} loss ${p.loss.toFixed(4)} ${fmt(p.examplesPerSecond)} ex/s\n`);
      }
    },
    onEpoch(p: EpochProgress) {
      bar?.stop();
      bar = undefined;
      const validation = p.validation === undefined ? '' : ` validation ${p.validationMetric ?? ''}${p.validationMetric ? ' ' : ''}${p.validation.toFixed(4)}`;
      stream.write(`${label}: epoch ${p.epoch}/${p.epochs} loss ${p.loss.toFixed(4)}${validation} ${fmt(p.examplesPerSecond)} ex/s ${(p.elapsedMs / 1000).toFixed(1)} s\n`);
    },
    stop() {
      bar?.stop();
    },
  };
}
