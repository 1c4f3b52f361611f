import { GraftError } from '../../errors.js';
import type { TrainingObjective } from '../../model/training-objective.js';
import type { TransferStrategyName } from '../../transfer/transfer-strategy.js';

/** Where a setting is taken: the pretraining (`graft train`, `startPretraining`) or the transfer (`graft transfer`, `startTransfer`). */
export type SettingCommand = 'train' | 'transfer' | 'eval';
export type SettingStage = 'model' | 'training' | 'transfer' | 'evaluation';

interface SettingBase<T> {
  /** The job input's and GraphQL input's field name. */
  readonly name: string;
  /** The CLI flag without its dashes (default: the name in kebab case). */
  readonly flag?: string;
  readonly stage: SettingStage;
  /** One line: what it does (the CLI help, the GraphQL description and the README table say it). */
  readonly doc: string;
  readonly unit?: string;
  /** undefined: optional, nothing is set when it is left out. */
  readonly default?: T;
  /** What happens when an optional setting (no `default`) is left out, for the README table (e.g. "chosen on the carve"). */
  readonly leftOut?: string;
  /** The commands (and job kinds) that take it. */
  readonly commands: readonly SettingCommand[];
  /** Only these objectives read it (others refuse it); undefined: all. */
  readonly objectives?: readonly TrainingObjective[];
  /** Read only when this boolean setting is on (given without it, it is refused); undefined: always. */
  readonly requires?: string;
  /** Only these strategies read it (others refuse it); undefined: all. */
  readonly strategies?: readonly TransferStrategyName[];
  /** A value that works, for messages. */
  readonly example: string;
}

export interface NumberSetting extends SettingBase<number> {
  readonly kind: 'int' | 'float';
  readonly min: number;
  /** min itself is not allowed (a number above min). */
  readonly minExclusive?: boolean;
  readonly max: number;
}

export interface IntListSetting extends SettingBase<readonly number[]> {
  readonly kind: 'int-list';
  /** Bounds of each element. */
  readonly min: number;
  readonly max: number;
  /** Fewest elements (default 0: an empty list is allowed). */
  readonly minItems?: number;
  readonly maxItems: number;
}

export interface BooleanSetting extends SettingBase<boolean> {
  readonly kind: 'boolean';
}

export interface EnumSetting extends SettingBase<string> {
  readonly kind: 'enum';
  readonly values: readonly string[];
}

/** One setting, declared once: the CLI flags, job validation, GraphQL input fields and the README table derive from it. */
export type Setting = NumberSetting | IntListSetting | BooleanSetting | EnumSetting;

/** The flag of a setting (`--lr`). */
export function flagOf(setting: Setting): string {
  return setting.flag ?? setting.name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The allowed values in words: `1..1000`, `above 0, at most 1`, `softmax or implicit-als`. */
export function boundsText(setting: Setting): string {
  switch (setting.kind) {
    case 'int':
    case 'float':
      return setting.minExclusive ? `above ${setting.min}, at most ${setting.max}` : `${setting.min}..${setting.max}`;
    case 'int-list':
      return `${setting.minItems ? `${setting.minItems} to ${setting.maxItems}` : `up to ${setting.maxItems}`} of ${setting.min}..${setting.max}`;
    case 'boolean':
      return 'true or false';
    case 'enum':
      return setting.values.join(' or ');
  }
}

/**
 * Checks a value against the setting's type and bounds and returns it; BAD_INPUT naming the
 * setting, the value, the bounds and an example otherwise. `label` names the setting as the
 * caller's user spells it (a flag `--lr`, a field `learningRate`).
 */
export function checkSetting(setting: Setting, value: unknown, label = setting.name): unknown {
  const refuse = (): never => {
    throw new GraftError('BAD_INPUT', `${label} = ${JSON.stringify(value)} is out of range (${boundsText(setting)}); use e.g. ${setting.example}`);
  };
  switch (setting.kind) {
    case 'int':
    case 'float': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return refuse();
      if (setting.kind === 'int' && !Number.isInteger(value)) return refuse();
      if (value > setting.max || value < setting.min || (setting.minExclusive && value === setting.min)) return refuse();
      return value;
    }
    case 'int-list': {
      if (!Array.isArray(value) || value.length > setting.maxItems || value.length < (setting.minItems ?? 0)) return refuse();
      if (value.some((n) => typeof n !== 'number' || !Number.isInteger(n) || n < setting.min || n > setting.max)) return refuse();
      return [...value];
    }
    case 'boolean':
      if (typeof value !== 'boolean') return refuse();
      return value;
    case 'enum':
      if (typeof value !== 'string' || !setting.values.includes(value)) return refuse();
      return value;
  }
}

/** Parses a CLI argument of the setting (lists as `128,64`, `none` for an empty list) and checks it. */
export function parseSettingArgument(setting: Setting, text: string): unknown {
  const label = `--${flagOf(setting)}`;
  switch (setting.kind) {
    case 'int':
    case 'float':
      return checkSetting(setting, text.trim() === '' ? Number.NaN : Number(text), label);
    case 'int-list': {
      const t = text.trim().toLowerCase();
      if (t === 'none' || t === '[]') return checkSetting(setting, [], label);
      const parts = t.split(',').map((p) => p.trim());
      return checkSetting(setting, parts.map((p) => (p === '' ? Number.NaN : Number(p))), label);
    }
    case 'boolean':
      return checkSetting(setting, text === 'true' ? true : text === 'false' ? false : text, label);
    case 'enum': {
      const found = setting.values.find((v) => v.toLowerCase() === text.trim().toLowerCase());
      return checkSetting(setting, found ?? text, label);
    }
  }
}
