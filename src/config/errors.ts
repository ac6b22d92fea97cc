/** ConfigError: every problem found in a site file or profile, each with file, line, column and key path. */

export interface ConfigIssue {
  /** The file as the caller named it (site file or profile). */
  file: string;
  /** 1-based line and column of the offending node, where known. */
  line?: number;
  col?: number;
  /** Key path, e.g. `links[0].transport`; '' for the whole document or a YAML syntax error. */
  path: string;
  message: string;
}

/** `file:line:col: path: message` (parts that are unknown are left out). */
export function formatIssue(i: ConfigIssue): string {
  let where = i.file;
  if (i.line !== undefined) where += `:${i.line}`;
  if (i.line !== undefined && i.col !== undefined) where += `:${i.col}`;
  return i.path ? `${where}: ${i.path}: ${i.message}` : `${where}: ${i.message}`;
}

/** Stable code CONFIG_INVALID; `issues` holds every problem found, in file order. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID' as const;
  readonly issues: ConfigIssue[];

  constructor(issues: ConfigIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** Sorts issues by file, then line, then column (issues without a line last). */
export function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  const big = Number.MAX_SAFE_INTEGER;
  return [...issues].sort(
    (a, b) =>
      (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) ||
      (a.line ?? big) - (b.line ?? big) ||
      (a.col ?? 0) - (b.col ?? 0),
  );
}
