import type { Command } from 'commander';
import { boundsText, flagOf, parseSettingArgument, settingsOf, type Setting, type SettingCommand } from '../workflows/settings/index.js';

/** commander's attribute name of a flag (`training-seed` -> `trainingSeed`). */
function attributeOf(setting: Setting): string {
  return flagOf(setting).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function helpOf(setting: Setting): string {
  const fallback = setting.default === undefined ? '' : `; default ${Array.isArray(setting.default) ? setting.default.join(',') : String(setting.default)}`;
  return `${setting.doc} (${boundsText(setting)}${fallback})`;
}

/**
 * Adds the command's declared settings (src/workflows/settings) as flags, with their doc,
 * bounds and default in the help. No commander defaults: what was not typed stays out, and
 * `resolveSettings` fills it in, exactly as for a job input.
 */
export function addSettingOptions(command: Command, which: SettingCommand): Command {
  for (const setting of settingsOf(which)) {
    const flag = flagOf(setting);
    if (setting.kind === 'boolean') {
      const off = setting.default === true;
      command.option(off ? `--no-${flag}` : `--${flag}`, `${off ? 'turn off: ' : ''}${setting.doc}${off ? ' (on by default)' : ''}`);
    } else {
      command.option(`--${flag} <${setting.kind === 'int-list' ? 'list' : 'value'}>`, helpOf(setting), (text: string) => parseSettingArgument(setting, text));
    }
  }
  return command;
}

/** The settings the user typed, by setting name (what `resolveSettings` takes). */
export function typedSettings(command: Command, which: SettingCommand): Record<string, unknown> {
  const options = command.opts() as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const setting of settingsOf(which)) {
    const attribute = attributeOf(setting);
    if (command.getOptionValueSource(attribute) === 'cli') out[setting.name] = options[attribute];
  }
  return out;
}
