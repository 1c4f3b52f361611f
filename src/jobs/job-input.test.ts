import { describe, expect, it } from 'vitest';
import type { TransferReport } from '../transfer/transfer-report.js';
import { ALS_MODEL, DEFAULT_MODEL, DEFAULT_TRAINING } from '../workflows/model-settings.js';
import { activationDecision } from './job-handler.js';
import { parseJobDevice, resolvePretrainInput, resolveTransferInput } from './job-input.js';

describe('job input', () => {
  it('fills in the CLI defaults, so the stored input is complete', () => {
    const config = resolvePretrainInput({ domain: ' shop ', epochs: 3, layers: [32] });
    expect(config.domain).toBe('shop');
    expect(config.model).toEqual({ ...DEFAULT_MODEL, layers: [32] });
    expect(config.training).toEqual({ ...DEFAULT_TRAINING, epochs: 3 });
    expect(config.split).toEqual({ kind: 'leave-one-out', mode: 'last' });
  });

  it('names the bad value and a fix', () => {
    expect(() => resolvePretrainInput({ domain: 'x', epochs: 0 })).toThrow(/epochs = 0 .*use e\.g\. 10/);
    expect(() => resolvePretrainInput({ domain: '' })).toThrow(/domain is empty/);
    expect(() => resolvePretrainInput({ domain: 'x', layers: [0] })).toThrow(/layers = \[0\] is out of range \(up to 8 of 1..8192\)/);
    expect(() => resolvePretrainInput({ domain: 'x', split: { kind: 'file', path: '/tmp/t.tsv', format: 'tsv' } })).toThrow(/another machine/);
    expect(() => resolveTransferInput({ sourceModelId: 'm', targetDomain: 't', strategy: 'FULL', freezeLayers: 1 })).toThrow(/applies to strategy PARTIAL only/);
    expect(() => resolveTransferInput({ sourceModelId: 'm', targetDomain: 't', strategy: 'SOME' as never })).toThrow(/strategy "SOME" is unknown/);
    expect(() => resolveTransferInput({ sourceModelId: 'm', targetDomain: 't', strategy: 'FULL', replayWeight: 2 })).toThrow(/replayWeight = 2/);
    expect(() => parseJobDevice('tpu')).toThrow(/device "tpu" is not one of AUTO, CPU, GPU/);
  });

  it('takes the implicit-als defaults (no MLP, no history) and names what does not fit it', () => {
    const config = resolvePretrainInput({ domain: 'shop', objective: 'implicit-als', alsAlpha: 10 });
    expect(config.model).toEqual({ ...ALS_MODEL, alsAlpha: 10 });
    expect(() => resolvePretrainInput({ domain: 'x', objective: 'implicit-als', layers: [64] })).toThrow(/layers = \[64\] with objective implicit-als.*leave layers out or pass \[\]/);
    expect(() => resolvePretrainInput({ domain: 'x', objective: 'implicit-als', userHistory: true })).toThrow(/userHistory = true with objective implicit-als/);
    expect(() => resolvePretrainInput({ domain: 'x', objective: 'implicit-als', alsRegularization: 0 })).toThrow(/alsRegularization = 0 is out of range \(above 0, at most 10000\); use e\.g\. 0\.1/);
    expect(() => resolvePretrainInput({ domain: 'x', alsAlpha: 5 })).toThrow(/alsAlpha = 5 applies to objective implicit-als or hybrid only; drop it or use objective implicit-als or hybrid/);
    expect(() => resolvePretrainInput({ domain: 'x', objective: 'svd' as never })).toThrow(/objective = "svd" is unknown; use softmax or implicit-als/);
  });

  it('gives PARTIAL one frozen layer unless told otherwise', () => {
    expect(resolveTransferInput({ sourceModelId: 'm', targetDomain: 't', strategy: 'PARTIAL' }).freezeLayers).toBe(1);
    expect(resolveTransferInput({ sourceModelId: 'm', targetDomain: 't', strategy: 'FULL' }).freezeLayers).toBeUndefined();
    expect(parseJobDevice('gpu')).toBe('GPU');
  });
});

describe('activateIfBetter', () => {
  const config = resolveTransferInput({ sourceModelId: 'm', targetDomain: 't', strategy: 'FULL', activateIfBetter: true });
  const report = (value: number, negativeTransfer: boolean) =>
    ({ guardMetric: 'hr@10', negativeTransfer, gain: { 'hr@10': { value, ci95: [value - 0.01, value + 0.01], relative: null } } }) as unknown as TransferReport;

  it('activates only a transfer that is not flagged negative and whose gain is above 0', () => {
    expect(activationDecision(config, report(0.05, false)).activate).toBe(true);
    expect(activationDecision(config, report(0.05, true))).toMatchObject({ activate: false, reason: expect.stringMatching(/negative transfer/) });
    expect(activationDecision(config, report(0, false)).activate).toBe(false);
    expect(activationDecision({ ...config, activateIfBetter: false }, report(0.05, false))).toEqual({ activate: false, reason: 'not requested' });
  });
});
