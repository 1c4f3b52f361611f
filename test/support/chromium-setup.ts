import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { pathToFileURL } from 'node:url';

/**
 * `npm test`'s pretest step for the explorer's browser test (test/explorer-page.test.ts):
 * makes sure Debian's Chromium is there, installing it with apt-get when it is missing and
 * we are root (our machines are), so the README's test command passes on a fresh machine
 * by itself. Where it cannot install, it says what to do and lets the suite run: the
 * browser test then fails with the same advice; it is never skipped silently.
 */

/** Where the browser test looks: `GRAFT_CHROMIUM`, else Debian's path. */
export const DEFAULT_CHROMIUM = '/usr/bin/chromium';

export interface ChromiumSetupHost {
  env: NodeJS.ProcessEnv;
  isExecutable(path: string): boolean;
  isRoot(): boolean;
  hasCommand(name: string): boolean;
  /** Runs a command (its errors shown); true when it exits 0. */
  run(command: string, args: string[], env: NodeJS.ProcessEnv): boolean;
  log(message: string): void;
}

export type ChromiumSetupOutcome = 'present' | 'installed' | 'install-failed' | 'cannot-install' | 'bad-override';

/** Apt waits this long for another apt/dpkg run (e.g. another checkout's pretest) to release its lock. */
const APT_LOCK_TIMEOUT_S = 600;

/** Decides and does what the pretest step should; returns what happened. */
export function ensureChromium(host: ChromiumSetupHost): ChromiumSetupOutcome {
  const override = host.env.GRAFT_CHROMIUM;
  const path = override || DEFAULT_CHROMIUM;
  if (host.isExecutable(path)) return 'present';
  if (override) {
    host.log(`pretest: GRAFT_CHROMIUM=${override} is not an executable file; point it at a Chromium binary, or unset it to use ${DEFAULT_CHROMIUM} (installed with apt-get when missing). The explorer's browser test will fail until then.`);
    return 'bad-override';
  }
  if (!host.isRoot() || !host.hasCommand('apt-get')) {
    host.log(`pretest: the explorer's browser test needs Chromium at ${DEFAULT_CHROMIUM}, and this user cannot install it (not root, or no apt-get); run \`sudo apt-get install -y chromium\` or set GRAFT_CHROMIUM to a Chromium binary. The other tests do not need it.`);
    return 'cannot-install';
  }
  host.log(`pretest: ${DEFAULT_CHROMIUM} is missing; installing Debian's chromium for the explorer's browser test (apt-get install chromium, once per machine)...`);
  const env = { ...host.env, DEBIAN_FRONTEND: 'noninteractive' };
  const lock = ['-o', `DPkg::Lock::Timeout=${APT_LOCK_TIMEOUT_S}`];
  const ok = host.run('apt-get', [...lock, 'update', '-qq'], env) && host.run('apt-get', [...lock, 'install', '-y', '-qq', 'chromium'], env);
  if (ok && host.isExecutable(DEFAULT_CHROMIUM)) return 'installed';
  host.log(`pretest: apt-get could not install chromium (see above; is the Debian mirror reachable?); install it by hand (\`apt-get install -y chromium\`) or set GRAFT_CHROMIUM. The explorer's browser test will fail until then.`);
  return 'install-failed';
}

/** The real machine. */
export const systemHost: ChromiumSetupHost = {
  env: process.env,
  isExecutable(path) {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  },
  isRoot: () => process.getuid?.() === 0,
  hasCommand: (name) => spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0,
  // apt's progress lines would bury the test output; its errors still show.
  run: (command, args, env) => spawnSync(command, args, { env, stdio: ['ignore', 'ignore', 'inherit'] }).status === 0,
  log: (message) => process.stderr.write(`${message}\n`),
};

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) ensureChromium(systemHost);
