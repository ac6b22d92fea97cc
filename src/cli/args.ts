/**
 * The one argument parser of every `satrelay` subcommand (node:util
 * parseArgs underneath). A command declares its options once, each with a
 * one-line description; from that come its `--help` text (one line per
 * option, exit 0) and its errors: an unknown option, a missing value or a
 * stray argument is a UsageError that names it (exit 2).
 */
import { parseArgs } from 'node:util';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Placeholder shown in --help, e.g. FILE (string options). */
  value?: string;
  /** Repeatable: the value is an array. */
  multiple?: boolean;
  /** One line: what the option does (and its default). */
  help: string;
}

export interface CommandSpec {
  /** e.g. "check" or "spool check". */
  name: string;
  /** One line: what the command does. */
  summary: string;
  /** The usage line(s) after "satrelay NAME", e.g. "(-c FILE | FILE)". */
  usage: string;
  options: Record<string, OptionSpec>;
  /** Positional arguments allowed (default 0), and how --help names them. */
  positionals?: { max: number; help?: string };
  /** Extra lines printed after the options in --help. */
  notes?: string;
}

export type Values = Record<string, string | boolean | string[] | undefined>;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

const HELP: OptionSpec = { type: 'boolean', short: 'h', help: 'print this help and exit' };

/** Parses `args` for `spec`; throws UsageError naming the offending option or argument. */
export function parseCommand(spec: CommandSpec, args: string[]): { values: Values; positionals: string[] } {
  const options = { ...spec.options, help: HELP };
  let parsed;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError(usageMessage(err as Error & { code?: string }));
  }
  const max = spec.positionals?.max ?? 0;
  if (!parsed.values.help && parsed.positionals.length > max) {
    const extra = parsed.positionals[max];
    throw new UsageError(max === 0 ? `unexpected argument "${extra}"` : `unexpected argument "${extra}" (at most ${max})`);
  }
  return { values: parsed.values as Values, positionals: parsed.positionals };
}

/** Node's messages are long; these name the option and what is wrong with it. */
function usageMessage(err: Error & { code?: string }): string {
  // "Unknown option '--x'", "Option '-c, --config <value>' argument missing", "Option '--json' does not take an argument"
  const quoted = /'([^']+)'/.exec(err.message)?.[1] ?? '';
  const opt = /--[\w-]+/.exec(quoted)?.[0] ?? /-[^\s,]+/.exec(quoted)?.[0];
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${opt ?? err.message}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /argument missing/.test(err.message) ? `option ${opt} needs a value` : `option ${opt} takes no value`;
    default:
      return err.message;
  }
}

/** The --help text: usage, summary, then one line per option. */
export function commandHelp(spec: CommandSpec): string {
  const opts = Object.entries({ ...spec.options, help: HELP }).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;
    return [flag, o.help + (o.multiple ? ' (repeatable)' : '')] as const;
  });
  const width = Math.max(...opts.map(([f]) => f.length)) + 2;
  const lines = [`usage: satrelay ${spec.name} ${spec.usage}`.trimEnd(), '', spec.summary, ''];
  if (spec.positionals?.help) lines.push(spec.positionals.help, '');
  lines.push('options:', ...opts.map(([f, h]) => `  ${f.padEnd(width)}${h}`));
  if (spec.notes) lines.push('', spec.notes.trimEnd());
  return lines.join('\n') + '\n';
}

export interface CommandIo {
  out: { write(s: string): unknown };
  err: { write(s: string): unknown };
}

const STDIO: CommandIo = { out: process.stdout, err: process.stderr };

/**
 * Runs a command body with parsed arguments: --help prints the help (exit 0),
 * a UsageError prints "satrelay NAME: message" and a pointer to --help (exit 2).
 * The body may throw UsageError too (a bad value).
 */
export async function runCommand(
  spec: CommandSpec,
  args: string[],
  body: (values: Values, positionals: string[]) => Promise<number> | number,
  io: CommandIo = STDIO,
): Promise<number> {
  try {
    const { values, positionals } = parseCommand(spec, args);
    if (values.help) {
      io.out.write(commandHelp(spec));
      return 0;
    }
    return await body(values, positionals);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err.write(`satrelay ${spec.name}: ${err.message}\n${`usage: satrelay ${spec.name} ${spec.usage}`.trimEnd()}\n(satrelay ${spec.name} --help lists the options)\n`);
    return 2;
  }
}

/** The site file of run/check/status: `-c FILE`, `--config FILE` or a lone FILE. */
export const CONFIG_OPTION: Record<string, OptionSpec> = {
  config: { type: 'string', short: 'c', value: 'FILE', help: 'the site file (YAML); a lone FILE argument works too' },
};

export function configFile(values: Values, positionals: string[]): string {
  const flag = typeof values.config === 'string' ? values.config : undefined;
  if (flag && positionals[0]) throw new UsageError(`give the site file once: -c ${flag} or ${positionals[0]}, not both`);
  const file = flag ?? positionals[0];
  if (!file) throw new UsageError('which site file? give -c FILE (or FILE)');
  return file;
}

/** A string option as a number; UsageError naming the option if it is not one. */
export function numberOption(values: Values, name: string, check: (n: number) => boolean = Number.isFinite, expected = 'a number'): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !check(n)) throw new UsageError(`--${name} must be ${expected}, got "${String(v)}"`);
  return n;
}
