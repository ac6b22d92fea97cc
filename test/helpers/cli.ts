/** Runs the satrelay CLI as a child process (as an operator would) and collects its output. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Node arguments that start the script `tsPath` in the form this code runs in:
 * the compiled .js beside it when the tests run from build/ (npm test), else
 * the TypeScript through tsx.
 */
export function scriptArgs(tsPath: string): string[] {
  return import.meta.url.endsWith('.js') ? [tsPath.replace(/\.ts$/, '.js')] : ['--import', 'tsx', tsPath];
}

export async function runSatrelay(args: string[], t: { teardown(fn: () => void): void }): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [...scriptArgs('src/cli/main.ts'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => void child.kill());
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const code = await new Promise<number | null>((r) => child.on('close', r));
  return { code, out, err };
}
