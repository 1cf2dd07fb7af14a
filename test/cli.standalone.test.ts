/**
 * The commands with an option table of their own (top, metrics, guard, delete, flush):
 * bad command lines give one line in our words and exit 2, like every other command, and
 * `ctevents help CMD` prints their help.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';

const BAD: [string[], RegExp][] = [
  [['top', '--bogus'], /^ctevents: unknown option --bogus \(see ctevents help top\)\n$/],
  [['metrics', '--bogus'], /^ctevents: unknown option --bogus \(see ctevents help metrics\)\n$/],
  [['guard', '--bogus'], /^ctevents: unknown option --bogus \(see ctevents help guard\)\n$/],
  [['delete', '--bogus'], /^ctevents: unknown option --bogus/],
  [['flush', '--bogus'], /^ctevents: unknown option --bogus/],
  [['top', '--interval', '-1'], /^ctevents: --interval needs a value; for one that starts with a dash write --interval=VALUE\n$/],
  [['metrics', '--listen'], /^ctevents: --listen needs a value\n$/],
  [['guard', '--apply=1'], /^ctevents: --apply takes no value\n$/],
  [['top', 'x'], /^ctevents: top: unexpected argument x\n$/],
];

describe('standalone commands: usage errors', () => {
  for (const [argv, want] of BAD) {
    it(`ctevents ${argv.join(' ')}`, async () => {
      const r = await runCli(argv);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(want);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stdout).toBe('');
    });
  }

  for (const cmd of ['top', 'metrics', 'guard', 'delete', 'flush']) {
    it(`ctevents help ${cmd} prints its usage`, async () => {
      const r = await runCli(['help', cmd]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: ctevents ${cmd === 'flush' ? '(delete|flush)' : cmd}`));
    });
  }

  it('ctevents --help lists them', async () => {
    const r = await runCli(['--help']);
    for (const cmd of ['top', 'metrics', 'guard', 'delete', 'flush']) expect(r.stdout).toMatch(new RegExp(`^  ${cmd} `, 'm'));
  });
});
