import { getMetadataStorage, validateOrReject, ValidationTypes, type ValidationArguments, type ValidatorOptions } from 'class-validator';
import { ArgumentValidationError } from 'type-graphql';

/** What type-graphql passes class-validator by default (it skips null and undefined properties). */
const OPTIONS: ValidatorOptions = { forbidUnknownValues: false, skipMissingProperties: true };

/** Every constraint of one class, as one synchronous test; null when the class uses something the fast path does not cover. */
type Check = (object: Record<string, unknown>) => boolean;

const checks = new Map<Function, Check | null>();

/**
 * type-graphql's `validateFn`: the class-validator decorators on args and input classes are the
 * rules, and what a request gets back is what class-validator says. Valid arguments (nearly
 * every request) take a fast path: each class's constraints are looked up once and their
 * validators called directly, instead of class-validator building its executor, filtering the
 * whole metadata store and grouping it per call, and type-graphql re-importing the package per
 * argument (together ~12% of a cached recommendation's CPU). Anything the fast path rejects, or
 * a class using a feature it does not cover (groups, async or defined-ness rules, `each` over a Set or Map), goes
 * through class-validator itself, so errors are exactly class-validator's.
 */
export async function validateArgs(argValue: unknown): Promise<void> {
  if (argValue === null || typeof argValue !== 'object') return;
  const values = (Array.isArray(argValue) ? argValue : [argValue]).filter((v): v is object => v !== null && typeof v === 'object');
  if (values.every(passes)) return;
  try {
    await Promise.all(values.map((v) => validateOrReject(v, OPTIONS)));
  } catch (errors) {
    throw new ArgumentValidationError(errors as ConstructorParameters<typeof ArgumentValidationError>[0]);
  }
}

/** True only when class-validator (with OPTIONS) would find nothing wrong with `value`. */
function passes(value: object): boolean {
  if (Array.isArray(value)) return false;
  const check = checkOf(value.constructor);
  return check !== null && check(value as Record<string, unknown>);
}

function checkOf(target: Function): Check | null {
  let check = checks.get(target);
  if (check === undefined) {
    check = compile(target);
    checks.set(target, check);
  }
  return check;
}

/** class-validator's executor for one class, reduced to the rule types used here (see `validateArgs`). */
function compile(target: Function): Check | null {
  const storage = getMetadataStorage();
  const byProperty = new Map<string, { conditions: Array<(o: object, v: unknown) => boolean>; tests: Array<(o: object, v: unknown) => boolean> }>();
  for (const m of storage.getTargetValidationMetadatas(target, '', false, false, undefined)) {
    if (m.always || (m.groups && m.groups.length > 0)) return null;
    if (m.each && m.type !== ValidationTypes.CUSTOM_VALIDATION) return null;
    let rules = byProperty.get(m.propertyName);
    if (!rules) byProperty.set(m.propertyName, (rules = { conditions: [], tests: [] }));
    if (m.type === ValidationTypes.CONDITIONAL_VALIDATION) {
      rules.conditions.push(m.constraints[0] as (o: object, v: unknown) => boolean);
    } else if (m.type === ValidationTypes.CUSTOM_VALIDATION) {
      for (const constraint of storage.getTargetValidatorConstraints(m.constraintCls)) {
        if (constraint.async) return null;
        const { propertyName, constraints, each } = m;
        const test = (object: object, value: unknown) => {
          const args: ValidationArguments = { targetName: target.name, property: propertyName, object, value, constraints };
          return constraint.instance.validate(value, args) === true;
        };
        // `each`: every element of an array (Sets and Maps are left to class-validator).
        rules.tests.push(each ? (object, value) => (Array.isArray(value) ? value.every((v) => test(object, v)) : !(value instanceof Set || value instanceof Map) && test(object, value)) : test);
      }
    } else if (m.type === ValidationTypes.NESTED_VALIDATION) {
      rules.tests.push((_, value) => typeof value === 'object' && value !== null && passes(value));
    } else {
      return null; // IS_DEFINED, WHITELIST, PROMISE_VALIDATION: class-validator decides
    }
  }
  const properties = [...byProperty].map(([name, rules]) => ({ name, ...rules }));
  return (object) => {
    for (const { name, conditions, tests } of properties) {
      const value = object[name];
      if (!conditions.every((c) => c(object, value))) continue;
      if (value === null || value === undefined) continue; // skipMissingProperties
      for (const test of tests) if (!test(object, value)) return false;
    }
    return true;
  };
}

/** Whether valid instances of `target` take the fast path (tests check every args and input class does). */
export function hasFastPath(target: Function): boolean {
  return checkOf(target) !== null;
}
