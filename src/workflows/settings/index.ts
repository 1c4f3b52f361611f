import { GraftError } from '../../errors.js';
import type { ModelObjective } from '../../model/objective.js';
import type { TransferStrategyName } from '../../transfer/transfer-strategy.js';
import { SETTINGS, settingNamed, settingsOf, type SettingName } from './catalogue.js';
import { boundsText, checkSetting, flagOf, type Setting, type SettingCommand } from './setting.js';

export { EVALUATION_SETTINGS, MODEL_SETTINGS, SETTINGS, TRAINING_SETTINGS, TRANSFER_SETTINGS, settingNamed, settingsOf, type DeclaredSettings, type SettingName, type StageValues } from './catalogue.js';
export { boundsText, checkSetting, flagOf, parseSettingArgument, type Setting, type SettingCommand, type SettingStage } from './setting.js';

/** A setting's declared default (undefined for optional settings). */
export function defaultOf<T = unknown>(name: SettingName): T {
  const value = settingNamed(name).default;
  return (Array.isArray(value) ? [...value] : value) as T;
}

/** What a setting applies to, for the context of one run. */
export interface SettingContext {
  objective?: ModelObjective;
  strategy?: TransferStrategyName | 'AUTO';
}

/** Whether the setting is read in this context (its objectives and strategies). */
export function appliesTo(setting: Setting, context: SettingContext): boolean {
  if (setting.objectives && context.objective && !setting.objectives.includes(context.objective.name)) return false;
  if (setting.strategies && context.strategy && !(setting.strategies as readonly string[]).includes(context.strategy)) return false;
  return true;
}

/**
 * The command's settings from an input (a job input, GraphQL input or parsed CLI options),
 * each checked against its declaration; left-out ones take `defaults` (an objective's own
 * defaults) or the declared default. A setting given where it does not apply (an ALS setting
 * for softmax, freezeLayers for FULL) is refused with the fix; one that does not apply and was
 * not given is left out.
 *
 * @example
 * const values = resolveSettings('transfer', input, { strategy: 'PARTIAL' }); // values.freezeLayers === 1
 */
export function resolveSettings(
  command: SettingCommand,
  input: object,
  context: SettingContext = {},
  defaults: object = {},
): Record<string, any> {
  const given_ = input as Record<string, unknown>;
  const defaults_ = defaults as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const setting of settingsOf(command)) {
    const given = given_[setting.name];
    const isGiven = given !== undefined && given !== null;
    if (!appliesTo(setting, context)) {
      if (isGiven) throw new GraftError('BAD_INPUT', `${setting.name} = ${JSON.stringify(given)} applies to ${applicability(setting)} only; drop it or use ${applicability(setting)}`);
      continue;
    }
    const value = isGiven ? given : (defaults_[setting.name] ?? setting.default);
    if (value === undefined) continue;
    out[setting.name] = checkSetting(setting, value);
  }
  for (const setting of settingsOf(command)) {
    if (!setting.requires || given_[setting.name] === undefined || given_[setting.name] === null || out[setting.requires] === true) continue;
    throw new GraftError('BAD_INPUT', `${setting.name} = ${JSON.stringify(given_[setting.name])} is read only with ${setting.requires} on; add ${setting.requires}: true (CLI: --${flagOf(settingNamed(setting.requires as SettingName))}) or drop ${setting.name}`);
  }
  return out;
}

function applicability(setting: Setting): string {
  if (setting.objectives) return `objective ${setting.objectives.join(' or ')}`;
  return `strategy ${setting.strategies!.join(' or ')}`;
}

/** The README's settings table (markdown), generated from the declarations (a test keeps the README in step). */
export function settingsTable(): string {
  const rows = SETTINGS.map((s) => {
    const flag = s.kind === 'boolean' && s.default === true ? `--no-${flagOf(s)}` : `--${flagOf(s)}`;
    const value = s.default === undefined ? (s.leftOut ?? '—') : Array.isArray(s.default) ? s.default.join(',') : String(s.default);
    const scope = [s.objectives ? s.objectives.join(', ') : '', s.strategies ? s.strategies.join(', ') : ''].filter(Boolean).join('; ') || 'all';
    return `| \`${s.name}\` | \`${flag}\` | ${s.commands.join(', ')} | ${value}${s.unit ? ` ${s.unit}` : ''} | ${boundsText(s)} | ${scope} | ${s.doc} |`;
  });
  return ['| setting (job / GraphQL input) | CLI flag | commands | default | allowed | applies to | what it does |', '|---|---|---|---|---|---|---|', ...rows].join('\n');
}
