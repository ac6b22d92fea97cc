/**
 * Crash-test helper: runs a child script that prints one line per write whose
 * promise resolved, SIGKILLs it once `killAfter` such lines were seen, and
 * returns those lines (each was acknowledged to its caller, so must survive).
 */
import { spawn } from 'node:child_process';
import { scriptArgs } from '../helpers/cli.ts';

export async function runUntilKilled(t: { teardown(fn: () => void): void }, script: string, args: string[], killAfter: number): Promise<string[]> {
  const child = spawn(process.execPath, [...scriptArgs(script), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const lines: string[] = [];
  let buf = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line === 'done') continue;
        lines.push(line);
        if (lines.length === killAfter) child.kill('SIGKILL');
      }
    });
    child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`child exited without kill (${code})`))));
  });
  return lines;
}
