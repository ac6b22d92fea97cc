/**
 * Runs a satrelay command in this process, through the same main() the
 * installed command runs (src/cli/main.ts), and collects what it writes.
 * For argument and site-file errors, help and keygen: the same code path as
 * a child process without its start-up cost. One call at a time: it borrows
 * process.stdout and process.stderr while the command runs.
 */
import { main } from '../../src/cli/main.ts';

export interface CliResult {
  /** The exit status bin/satrelay.js would give. */
  status: number;
  stdout: string;
  stderr: string;
}

let queue: Promise<unknown> = Promise.resolve();

function capture(stream: NodeJS.WriteStream, sink: (s: string) => void): () => void {
  const original = stream.write;
  stream.write = ((chunk: string | Uint8Array, encOrCb?: unknown, cb?: unknown): boolean => {
    sink(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    const done = typeof encOrCb === 'function' ? encOrCb : cb;
    if (typeof done === 'function') queueMicrotask(() => (done as () => void)());
    return true;
  }) as typeof stream.write;
  return () => void (stream.write = original);
}

export function satrelay(args: string[]): Promise<CliResult> {
  const run = async (): Promise<CliResult> => {
    let stdout = '';
    let stderr = '';
    const restoreOut = capture(process.stdout, (s) => (stdout += s));
    const restoreErr = capture(process.stderr, (s) => (stderr += s));
    let status: number;
    try {
      status = await main(args);
    } catch (err) {
      // as bin/satrelay.js reports an uncaught error
      stderr += `satrelay: ${(err as Error).stack ?? (err as Error).message}\n`;
      status = 1;
    } finally {
      restoreOut();
      restoreErr();
    }
    return { status, stdout, stderr };
  };
  const p = queue.then(run);
  queue = p.catch(() => undefined);
  return p;
}
