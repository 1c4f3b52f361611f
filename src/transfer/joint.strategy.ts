import type { TwoTowerModel } from '../model/two-tower.model.js';
import type { SourceEventMix, TransferStrategy } from './transfer-strategy.js';

/**
 * JOINT: the classic cross-domain model. One model over the aligned rows (target users and
 * items, then the source users and items the alignment keeps) trained from scratch on every
 * target training event and every source event together: source events at weight 1, all of
 * them in every epoch. Nothing is frozen and no pretrained weight is read; the source model
 * gives only its config (shape, objective, settings) and the rows of its events.
 */
export class JointStrategy implements TransferStrategy {
  readonly name = 'JOINT' as const;
  readonly start = 'scratch' as const;

  /** The replay settings do not apply: both domains' events count alike. */
  sourceEvents(): SourceEventMix {
    return { weight: 1 };
  }

  apply(): void {
    // A model trained from scratch has nothing pretrained to freeze or slow down.
  }

  describe(model: TwoTowerModel): string {
    return `nothing frozen: trained from scratch (no pretrained weights) on the target and source events together, source events at weight 1 in every epoch (${model.users} user rows, ${model.items} item rows)`;
  }
}
