import { describe, expect, it } from 'vitest';
import { Deadline } from './deadline.js';
import { HeavyGate } from './heavy-gate.js';

describe('HeavyGate', () => {
  it('lets cheap operations through at once and heavy ones one at a time, in order', async () => {
    const gate = new HeavyGate(100, 0);
    const signal = new Deadline(60_000, 'tests');
    const order: string[] = [];
    const first = (await gate.enter(500, signal))!;
    const second = gate.enter(500, signal).then((release) => (order.push('second'), release!));
    const third = gate.enter(500, signal).then((release) => (order.push('third'), release!));
    const cheap = await gate.enter(50, signal);
    expect(cheap).toBeTypeOf('function');
    expect(gate.waiting).toBe(2);
    first();
    (await second)();
    (await third)();
    expect(order).toEqual(['second', 'third']);
    expect(gate.waiting).toBe(0);
    const again = await gate.enter(500, signal);
    expect(again).toBeTypeOf('function');
  });

  it('gives up on a queued operation whose deadline passes (expiring it), and the next in line still gets its turn', async () => {
    const gate = new HeavyGate(100, 0);
    const running = (await gate.enter(500, new Deadline(60_000, 'tests')))!;
    const short = new Deadline(10, 'tests');
    const gaveUp = gate.enter(500, short);
    const next = gate.enter(500, new Deadline(60_000, 'tests'));
    expect(await gaveUp).toBeUndefined();
    expect(short.expired).toBe(true);
    running();
    expect(await next).toBeTypeOf('function');
  });
});

describe('HeavyGate rest', () => {
  it('keeps the gate closed after a heavy operation for as long as it ran (times restShare)', async () => {
    const gate = new HeavyGate(100, 1);
    const deadline = new Deadline(60_000, 'tests');
    const first = (await gate.enter(500, deadline))!;
    let admitted = false;
    const second = gate.enter(500, deadline).then((release) => ((admitted = true), release!));
    await new Promise((r) => setTimeout(r, 30));
    first();
    // Released, but the next heavy operation waits out the rest; cheap ones do not.
    expect(admitted).toBe(false);
    expect(await gate.enter(50, deadline)).toBeTypeOf('function');
    (await second)();
    expect(admitted).toBe(true);
  });
});
