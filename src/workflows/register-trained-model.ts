import type { Transaction } from 'kysely';
import type { GraftDatabase } from '../db/connect.js';
import type { Database } from '../db/database.js';
import {
  createModel,
  getModel,
  markModelFailed,
  markModelReady,
  type ModelKind,
  type ModelRecord,
  type TransferStrategyName,
} from '../registry/model-repository.js';
import { saveEmbeddings, saveIdArtifact, saveWeights } from '../registry/artifact-repository.js';
import type { TransferReport } from '../transfer/transfer-report.js';
import { GraftError } from '../errors.js';
import type { TrainedModel } from './trained-model.js';
import { UNREGISTERED_SOURCE_ID } from './retrained-source.js';
import type { TransferResult } from './transfer.workflow.js';

export interface RegistrationInfo {
  domain: string;
  kind: ModelKind;
  strategy?: TransferStrategyName | null;
  parentModelId?: string | null;
  jobId?: string | null;
  transferReport?: Record<string, unknown> | null;
  negativeTransfer?: boolean;
  /** A model already created in status TRAINING (by a job); otherwise one is created here. */
  modelId?: string;
  /**
   * Runs inside the registration transaction after the model is READY (a job marks itself
   * SUCCEEDED and activates here, so model and job commit together); throwing rolls it back.
   */
  beforeCommit?: (trx: Transaction<Database>, modelId: string) => Promise<void>;
}

/**
 * How a transfer's result is registered: a transfer (kind TRANSFER, its strategy, the source
 * as parent), or, when AUTO chose no transfer (`outcome: 'TARGET_ONLY'`), a single-domain
 * model of the target (kind PRETRAIN, no strategy, no parent: no source weight is in it; the
 * report says which source was searched).
 */
export function transferRegistration(report: Pick<TransferReport, 'outcome' | 'strategy'>, sourceModelId: string): Pick<RegistrationInfo, 'kind' | 'strategy' | 'parentModelId'> {
  if (report.outcome === 'TARGET_ONLY') return { kind: 'PRETRAIN', strategy: null, parentModelId: null };
  return { kind: 'TRANSFER', strategy: report.strategy as TransferStrategyName, parentModelId: sourceModelId };
}

/**
 * Stores a trained model: weights, the ids behind its rows, output embeddings, metrics;
 * then marks it READY. All in one transaction: a failure leaves no half-written model
 * (the model row, if created beforehand, is marked FAILED).
 */
export async function registerTrainedModel(gdb: GraftDatabase, info: RegistrationInfo, trained: TrainedModel): Promise<ModelRecord> {
  const modelId =
    info.modelId ??
    (
      await createModel(gdb.db, {
        domain: info.domain,
        kind: info.kind,
        strategy: info.strategy ?? null,
        parentModelId: info.parentModelId ?? null,
        config: trained.config,
        backend: trained.backend.backend,
        device: trained.backend.device,
        jobId: info.jobId ?? null,
      })
    ).id;
  try {
    await gdb.db.transaction().execute(async (trx) => {
      await saveWeights(trx, modelId, trained.weights);
      await saveIdArtifact(trx, modelId, 'vocab:users', trained.userDbIds);
      await saveIdArtifact(trx, modelId, 'vocab:items', trained.itemDbIds);
      await saveEmbeddings(trx, modelId, 'USER', trained.userDbIds, trained.userVectors, trained.outputDim);
      await saveEmbeddings(trx, modelId, 'ITEM', trained.itemDbIds.subarray(0, trained.candidateItems), trained.itemVectors, trained.outputDim);
      await markModelReady(trx, modelId, {
        metrics: trained.metrics as unknown as Record<string, unknown>,
        transferReport: info.transferReport ?? null,
        negativeTransfer: info.negativeTransfer ?? false,
        backend: trained.backend.backend,
        device: trained.backend.device,
      });
      if (info.beforeCommit) await info.beforeCommit(trx, modelId);
    });
  } catch (error) {
    await markModelFailed(gdb.db, modelId, (error as Error).message).catch(() => undefined);
    throw error;
  }
  return getModel(gdb.db, modelId);
}

/**
 * Registers a transfer's result (`transfer`): first the source model AUTO retrained, when it
 * trained one (kind PRETRAIN of the source's domain, parent the given source, in its own
 * transaction: a complete model, kept even if the result's registration fails, so the next AUTO
 * transfer reuses it), then the result as `transferRegistration` says, its parent the source
 * it grafted (the retrained one when that won).
 */
export async function registerTransferResult(
  gdb: GraftDatabase,
  info: Omit<RegistrationInfo, 'kind' | 'strategy' | 'parentModelId'>,
  result: Pick<TransferResult, 'trained' | 'report' | 'retrainedSource'>,
  sourceModelId: string,
): Promise<{ record: ModelRecord; retrainedSource?: ModelRecord }> {
  let retrainedSource: ModelRecord | undefined;
  if (result.retrainedSource) {
    const source = await getModel(gdb.db, sourceModelId);
    retrainedSource = await registerTrainedModel(gdb, { domain: source.domain, kind: 'PRETRAIN', parentModelId: sourceModelId, jobId: info.jobId ?? null }, result.retrainedSource);
  }
  let { trained } = result;
  const grafted = typeof trained.config.sourceModelId === 'string' ? trained.config.sourceModelId : sourceModelId;
  let parent = grafted;
  if (grafted === UNREGISTERED_SOURCE_ID) {
    if (!retrainedSource) throw new GraftError('INTERNAL', 'the transfer grafted a retrained source that the result does not carry');
    parent = retrainedSource.id;
    trained = { ...trained, config: { ...trained.config, sourceModelId: parent } };
  }
  const record = await registerTrainedModel(gdb, { ...info, ...transferRegistration(result.report, parent) }, trained);
  return { record, ...(retrainedSource ? { retrainedSource } : {}) };
}
