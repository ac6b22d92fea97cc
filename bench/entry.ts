/** Runs a bench script's main when the file is the one node was started with. */
export function runIfMain(file: RegExp, main: (argv: string[]) => Promise<number>): void {
  if (!process.argv[1] || !file.test(process.argv[1])) return;
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: Error) => {
      process.stderr.write(`bench: ${err.stack ?? err.message}\n`);
      process.exitCode = 1;
    },
  );
}
