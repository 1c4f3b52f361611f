import { ArrayMaxSize, ArrayMinSize, IsBoolean, IsIn, IsInt, IsOptional, IsPositive, Max, Min } from 'class-validator';
import { Field, Float, Int } from 'type-graphql';
import { boundsText, settingsOf, type Setting } from '../../workflows/settings/index.js';

/** GraphQL enums of enum settings, by setting name (their values are the settings' values). */
export type SettingEnums = Record<string, object>;

function description(setting: Setting): string {
  const fallback = setting.default === undefined ? 'optional' : `default ${Array.isArray(setting.default) ? `[${setting.default.join(', ')}]` : String(setting.default)}`;
  return `${setting.doc.charAt(0).toUpperCase()}${setting.doc.slice(1)} (${boundsText(setting)}; ${fallback}).`;
}

/**
 * Declares the command's settings (src/workflows/settings) as nullable fields of an input
 * class, with their doc, bounds and default in the description and class-validator bounds:
 * a setting's GraphQL field cannot drift from its CLI flag or its job-input check.
 *
 * @example
 * @InputType() export class StartTransferInput { ... }
 * declareSettingFields(StartTransferInput, 'transfer');
 */
export function declareSettingFields(input: abstract new (...args: never[]) => unknown, which: 'train' | 'transfer', enums: SettingEnums = {}): void {
  const proto = input.prototype as object;
  for (const setting of settingsOf(which)) {
    const name = setting.name;
    const options = { nullable: true, description: description(setting) };
    IsOptional()(proto, name);
    switch (setting.kind) {
      case 'int':
      case 'float':
        Field(() => (setting.kind === 'int' ? Int : Float), options)(proto, name);
        if (setting.minExclusive && setting.min !== 0) throw new Error(`setting ${name}: only 0 can be an exclusive minimum in GraphQL inputs`);
        (setting.minExclusive ? IsPositive() : Min(setting.min))(proto, name);
        if (setting.kind === 'int') IsInt()(proto, name);
        Max(setting.max)(proto, name);
        break;
      case 'int-list':
        Field(() => [Int], options)(proto, name);
        ArrayMaxSize(setting.maxItems)(proto, name);
        if (setting.minItems) ArrayMinSize(setting.minItems)(proto, name);
        IsInt({ each: true })(proto, name);
        Min(setting.min, { each: true })(proto, name);
        Max(setting.max, { each: true })(proto, name);
        break;
      case 'boolean':
        Field(() => Boolean, options)(proto, name);
        IsBoolean()(proto, name);
        break;
      case 'enum': {
        const graphqlEnum = enums[name];
        if (!graphqlEnum) throw new Error(`setting ${name} is an enum: give declareSettingFields its GraphQL enum`);
        Field(() => graphqlEnum, options)(proto, name);
        IsIn(Object.values(graphqlEnum))(proto, name);
        break;
      }
    }
  }
}
