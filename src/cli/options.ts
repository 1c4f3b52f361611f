import { GraftError } from '../errors.js';

/** Parses `--layers 128,64`-style lists of positive integers. */
export function intList(name: string) {
  return (value: string): number[] => {
    const parts = value.split(',').map((p) => p.trim());
    const numbers = parts.map(Number);
    if (parts.some((p) => p === '') || numbers.some((n) => !Number.isInteger(n) || n <= 0)) {
      throw new GraftError('BAD_INPUT', `${name} "${value}" is not a comma-separated list of positive integers; use e.g. 128,64`);
    }
    return numbers;
  };
}

export function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new GraftError('BAD_INPUT', `${name} "${value}" is not a positive integer; use e.g. 10`);
    return n;
  };
}

export function nonNegativeInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new GraftError('BAD_INPUT', `${name} "${value}" is not a whole number >= 0; use e.g. 2`);
    return n;
  };
}

export function positiveNumber(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new GraftError('BAD_INPUT', `${name} "${value}" is not a positive number; use e.g. 0.003`);
    return n;
  };
}

export function nonNegativeNumber(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0) throw new GraftError('BAD_INPUT', `${name} "${value}" is not a number >= 0; use e.g. 40`);
    return n;
  };
}

export function unitInterval(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0 || n > 1) throw new GraftError('BAD_INPUT', `${name} "${value}" is not a number from 0 to 1; use e.g. 0.3`);
    return n;
  };
}

export function oneOf<T extends string>(name: string, values: readonly T[]) {
  return (value: string): T => {
    const v = value.trim();
    const found = values.find((x) => x.toLowerCase() === v.toLowerCase());
    if (!found) throw new GraftError('BAD_INPUT', `${name} "${value}" is not one of ${values.join(', ')}`);
    return found;
  };
}
