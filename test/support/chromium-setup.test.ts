import { describe, expect, it } from 'vitest';
import { DEFAULT_CHROMIUM, ensureChromium, type ChromiumSetupHost } from './chromium-setup.js';

/** A machine where `executables` exist, and apt-get install creates /usr/bin/chromium when `aptWorks`. */
function machine(o: { executables?: string[]; root?: boolean; aptGet?: boolean; aptWorks?: boolean; env?: NodeJS.ProcessEnv }) {
  const files = new Set(o.executables ?? []);
  const runs: string[] = [];
  const logs: string[] = [];
  const host: ChromiumSetupHost = {
    env: o.env ?? {},
    isExecutable: (path) => files.has(path),
    isRoot: () => o.root ?? true,
    hasCommand: (name) => name === 'apt-get' && (o.aptGet ?? true),
    run: (command, args, env) => {
      runs.push(`${env.DEBIAN_FRONTEND} ${command} ${args.filter((a) => !a.startsWith('-')).join(' ')}`);
      if (!(o.aptWorks ?? true)) return false;
      if (args.includes('install')) files.add(DEFAULT_CHROMIUM);
      return true;
    },
    log: (m) => logs.push(m),
  };
  return { host, runs, logs };
}

describe('the pretest Chromium setup', () => {
  it('does nothing when Chromium is there (Debian path or GRAFT_CHROMIUM)', () => {
    const a = machine({ executables: [DEFAULT_CHROMIUM] });
    expect(ensureChromium(a.host)).toBe('present');
    const b = machine({ executables: ['/opt/chrome'], env: { GRAFT_CHROMIUM: '/opt/chrome' } });
    expect(ensureChromium(b.host)).toBe('present');
    expect([...a.runs, ...b.runs]).toEqual([]);
  });
  it('installs Debian chromium with apt-get, non-interactively, when root and it is missing', () => {
    const m = machine({ root: true });
    expect(ensureChromium(m.host)).toBe('installed');
    expect(m.runs).toEqual(['noninteractive apt-get DPkg::Lock::Timeout=600 update', 'noninteractive apt-get DPkg::Lock::Timeout=600 install chromium']);
  });
  it('says what to do, and installs nothing, when it cannot install or the override is wrong', () => {
    const user = machine({ root: false });
    expect(ensureChromium(user.host)).toBe('cannot-install');
    expect(user.logs[0]).toMatch(/needs Chromium at \/usr\/bin\/chromium.*sudo apt-get install -y chromium.*GRAFT_CHROMIUM/);
    expect(ensureChromium(machine({ aptGet: false }).host)).toBe('cannot-install');
    const offline = machine({ aptWorks: false });
    expect(ensureChromium(offline.host)).toBe('install-failed');
    expect(offline.logs.at(-1)).toMatch(/could not install chromium/);
    const wrong = machine({ env: { GRAFT_CHROMIUM: '/nowhere/chrome' } });
    expect(ensureChromium(wrong.host)).toBe('bad-override');
    expect(wrong.runs).toEqual([]);
    expect(user.runs).toEqual([]);
  });
});
