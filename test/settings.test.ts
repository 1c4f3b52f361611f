import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { isInputObjectType, isListType, isNonNullType, type GraphQLInputType, type GraphQLSchema } from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerTrain } from '../src/cli/commands/train.command.js';
import { registerTransfer } from '../src/cli/commands/transfer.command.js';
import { registerEval } from '../src/cli/commands/eval.command.js';
import { typedSettings } from '../src/cli/setting-options.js';
import { buildGraftSchema } from '../src/graphql/schema.js';
import { validateArgs } from '../src/graphql/validate-args.js';
import { StartPretrainingInput, StartTransferInput } from '../src/graphql/types/job.type.js';
import { resolvePretrainInput, resolveTransferInput } from '../src/jobs/job-input.js';
import { flagOf, SETTINGS, type Setting, type SettingCommand } from '../src/workflows/settings/index.js';
import { resolveEvaluationSettings } from '../src/workflows/settings/run-settings.js';
import type { EvaluationSettings } from '../src/workflows/model-settings.js';
import { parseStrategyName } from '../src/transfer/transfer-strategy.js';
import { withSettingsTable } from '../src/workflows/settings/emit-settings-table.js';

/** The evaluation settings by their declared names. */
const declaredEvaluation = (e: EvaluationSettings) => ({ protocol: e.protocol, negatives: e.negatives, ks: e.ks, evalSeed: e.seed });

/** The command, the GraphQL input class and the job-input resolver of each kind of run (eval has no job and no GraphQL input). */
const KINDS: Record<
  SettingCommand,
  { register: (program: Command) => void; input?: new () => object; graphqlType?: string; required: string[]; resolve: (settings: Record<string, unknown>) => Record<string, unknown> }
> = {
  train: {
    register: registerTrain,
    input: StartPretrainingInput,
    graphqlType: 'StartPretrainingInput',
    resolve: (settings: Record<string, unknown>) => {
      const config = resolvePretrainInput({ domain: 'd', ...settings } as never);
      return { ...config.model, ...config.training, ...declaredEvaluation(config.evaluation) } as Record<string, unknown>;
    },
    required: ['--domain', 'd'],
  },
  transfer: {
    register: registerTransfer,
    input: StartTransferInput,
    graphqlType: 'StartTransferInput',
    resolve: (settings: Record<string, unknown>) => {
      const config = resolveTransferInput({ sourceModelId: 'm', targetDomain: 't', strategy: 'FULL', ...settings } as never);
      return {
        ...config,
        ...config.training,
        ...declaredEvaluation(config.evaluation),
        itemBias: config.itemBias !== undefined,
        itemBiasLearningRate: config.itemBias?.learningRate ?? 30,
      } as unknown as Record<string, unknown>;
    },
    required: ['--from', 'm', '--to', 't', '--strategy', 'full'],
  },
  eval: {
    register: registerEval,
    resolve: (settings: Record<string, unknown>) => declaredEvaluation(resolveEvaluationSettings(settings)),
    required: ['--model', 'm'],
  },
};

/** What makes the setting apply: its objective or strategy. */
function contextFor(setting: Setting): Record<string, unknown> {
  const requires = setting.requires ? { [setting.requires]: true } : {};
  if (setting.objectives) return { ...requires, objective: setting.objectives[0] };
  if (setting.strategies) return { ...requires, strategy: setting.strategies[0] };
  return requires;
}

/** Values in bounds and out of them (the bounds themselves, and one step past each). */
function boundaryValues(setting: Setting): { inside: unknown[]; outside: unknown[] } {
  switch (setting.kind) {
    case 'int':
      return { inside: [setting.min + (setting.minExclusive ? 1 : 0), setting.max], outside: [setting.min - (setting.minExclusive ? 0 : 1), setting.max + 1, 1.5] };
    case 'float':
      return { inside: [setting.minExclusive ? setting.min + 1e-6 : setting.min, setting.max], outside: [setting.minExclusive ? setting.min : setting.min - 1e-6, setting.max + 1e-3] };
    case 'int-list':
      return {
        inside: [[setting.min], [setting.max]],
        outside: [[setting.min - 1], [setting.max + 1], Array(setting.maxItems + 1).fill(setting.min), ...(setting.minItems ? [[]] : [])],
      };
    case 'boolean':
      return { inside: [true, false], outside: [] };
    case 'enum':
      return { inside: [...setting.values], outside: ['no-such-value'] };
  }
}

/** The CLI text of a value. */
function argument(value: unknown): string {
  return Array.isArray(value) ? (value.length === 0 ? 'none' : value.join(',')) : String(value);
}

/** Parses one typed setting as `graft <kind>` would (the action is replaced: nothing runs). */
function parseCli(kind: SettingCommand, args: string[]): Record<string, unknown> {
  const program = new Command().exitOverride();
  KINDS[kind].register(program);
  const command = program.commands.find((c) => c.name() === kind)!;
  let typed: Record<string, unknown> = {};
  command.action(() => {
    typed = typedSettings(command, kind);
  });
  program.parse(['node', 'graft', kind, ...KINDS[kind].required, ...args]);
  return typed;
}

async function graphqlAccepts(kind: SettingCommand, name: string, value: unknown): Promise<boolean> {
  const input = Object.assign(new KINDS[kind].input!(), { [name]: value });
  return validateArgs(input).then(
    () => true,
    () => false,
  );
}

describe('settings declared once', () => {
  let schema: GraphQLSchema;
  beforeAll(async () => {
    schema = await buildGraftSchema();
  });

  for (const setting of SETTINGS) {
    for (const kind of setting.commands) {
      it(`${setting.name}: graft ${kind} --${flagOf(setting)}, the GraphQL ${KINDS[kind].graphqlType}.${setting.name} and the job input take it with one default and one set of bounds`, async () => {
        const context = contextFor(setting);
        // The same default everywhere: nothing typed, nothing sent.
        const resolved = KINDS[kind].resolve(context);
        if (setting.default !== undefined) expect(resolved[setting.name]).toEqual(setting.default);
        else expect(resolved[setting.name]).toBeUndefined();
        const graphqlType = KINDS[kind].graphqlType;
        if (graphqlType) {
          const field = (schema.getType(graphqlType) as { getFields(): Record<string, { type: GraphQLInputType; defaultValue?: unknown }> }).getFields()[setting.name];
          expect(field, `${graphqlType}.${setting.name}`).toBeDefined();
          expect(isNonNullType(field!.type)).toBe(false); // left out -> the declared default
          expect(field!.defaultValue).toBeUndefined();
          expect(isListType(field!.type)).toBe(setting.kind === 'int-list');
        }

        const { inside, outside } = boundaryValues(setting);
        for (const value of inside) {
          const typed = setting.kind === 'boolean' ? (value === setting.default ? {} : parseCli(kind, [`--${setting.default ? 'no-' : ''}${flagOf(setting)}`])) : parseCli(kind, [`--${flagOf(setting)}`, argument(value)]);
          if (setting.kind !== 'boolean' || value !== setting.default) expect(typed[setting.name]).toEqual(value);
          expect(KINDS[kind].resolve({ ...context, [setting.name]: value })[setting.name]).toEqual(value);
          if (graphqlType) expect(await graphqlAccepts(kind, setting.name, value), `GraphQL accepts ${setting.name} = ${JSON.stringify(value)}`).toBe(true);
        }
        for (const value of outside) {
          expect(() => parseCli(kind, [`--${flagOf(setting)}`, argument(value)]), `CLI refuses ${JSON.stringify(value)}`).toThrow(new RegExp(`--${flagOf(setting)} = .* is out of range`));
          expect(() => KINDS[kind].resolve({ ...context, [setting.name]: value }), `job input refuses ${JSON.stringify(value)}`).toThrow(new RegExp(`${setting.name} = .* is (out of range|unknown)`));
          if (graphqlType && setting.kind !== 'enum') expect(await graphqlAccepts(kind, setting.name, value), `GraphQL refuses ${setting.name} = ${JSON.stringify(value)}`).toBe(false);
        }
      });
    }
  }

  it('refuses a setting where it does not apply, on the CLI and in job inputs alike', () => {
    expect(() => resolvePretrainInput({ domain: 'd', alsAlpha: 5 })).toThrow(/alsAlpha = 5 applies to objective implicit-als or hybrid only/);
    expect(() => resolvePretrainInput({ domain: 'd', objective: 'implicit-als', alsSweeps: 5 })).toThrow(/alsSweeps = 5 applies to objective hybrid only/);
    // The objective's own refusals come at submission: hybrid's residual top ends at dim.
    expect(() => resolvePretrainInput({ domain: 'd', objective: 'hybrid', dim: 32, layers: [64, 16] })).toThrow(/config.layers = \[64, 16\] with objective hybrid ends at 16, .*\[64, 32\]/);
    expect(() => resolvePretrainInput({ domain: 'd', objective: 'hybrid', layers: [] })).toThrow(/config.layers = \[\] with objective hybrid/);
    expect(resolvePretrainInput({ domain: 'd', objective: 'hybrid', alsSweeps: 4 })).toMatchObject({ model: { objective: 'hybrid', layers: [128, 64], alsSweeps: 4 } });
    expect(() => resolveTransferInput({ sourceModelId: 'm', targetDomain: 't', strategy: 'FULL', freezeLayers: 2 })).toThrow(/freezeLayers = 2 applies to strategy PARTIAL only/);
    expect(() => resolvePretrainInput({ domain: 'd', objective: 'implicit-als', itemBias: true })).toThrow(/itemBias = true applies to objective softmax only/);
    // The popularity term: every objective's, but not beside a learned item bias (the same score column).
    expect(resolvePretrainInput({ domain: 'd', popularityWeight: 0.1 })).toMatchObject({ model: { objective: 'softmax', popularityWeight: 0.1 } });
    expect(() => resolvePretrainInput({ domain: 'd', popularityWeight: 0.1, itemBias: true })).toThrow(/popularityWeight = 0.1 with config.itemBias/);
    expect(() => resolvePretrainInput({ domain: 'd', objective: 'implicit-als', popularityWeight: -1 })).toThrow(/popularityWeight/);
    expect(resolvePretrainInput({ domain: 'd', objective: 'implicit-als', popularityWeight: 0.05 })).toMatchObject({ model: { objective: 'implicit-als', popularityWeight: 0.05 } });
    // Left out: not set (a softmax fit chooses it on the carve; the others take 0).
    expect(resolvePretrainInput({ domain: 'd', objective: 'hybrid' }).model.popularityWeight).toBeUndefined();
    expect(resolvePretrainInput({ domain: 'd' }).model.popularityWeight).toBeUndefined();
    expect(() => resolveTransferInput({ sourceModelId: 'm', targetDomain: 't', strategy: 'FULL', itemBiasLearningRate: 5 })).toThrow(/itemBiasLearningRate = 5 is read only with itemBias on; add itemBias: true \(CLI: --item-bias\)/);
    // The evaluation is given by its declared fields, as everywhere else; the old nested object is refused, not ignored.
    expect(() => resolvePretrainInput({ domain: 'd', evaluation: { negatives: 5 } } as never)).toThrow(/evaluation = .* is not a job input field; .*negatives/);
    // JOINT trains from scratch on every source event at weight 1: the replay settings and the JOINT reference are not its.
    for (const [name, value] of [['replayWeight', 0.5], ['replayFraction', 1], ['jointReference', true], ['freezeLayers', 1]] as const) {
      expect(() => resolveTransferInput({ sourceModelId: 'm', targetDomain: 't', strategy: 'JOINT', [name]: value })).toThrow(new RegExp(`${name} = ${value} applies to strategy .* only`));
    }
    const joint = resolveTransferInput({ sourceModelId: 'm', targetDomain: 't', strategy: 'JOINT' });
    expect(joint.strategy).toBe('JOINT');
    expect(joint).not.toHaveProperty('replayWeight');
    expect(joint).not.toHaveProperty('jointReference');
    expect(resolveTransferInput({ sourceModelId: 'm', targetDomain: 't', strategy: 'FULL' }).jointReference).toBe(true);
    expect(parseStrategyName('joint')).toBe('JOINT');
    expect(() => parseStrategyName('auto-joint')).toThrow(/strategy "auto-joint" is unknown; use feature-extraction, partial, full or joint/);
    expect(isInputObjectType(schema.getType('StartTransferInput'))).toBe(true);
  });

  it("keeps the README's settings table generated from the declarations (npm run settings-table)", () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    expect(readme).toBe(withSettingsTable(readme));
  });
});
