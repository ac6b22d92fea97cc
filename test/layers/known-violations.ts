/**
 * Import-rule violations (.dependency-cruiser.cjs) still in src/ that other
 * branches remove. layers.test.ts passes while src/ has exactly these; it fails
 * on any other violation, and on an entry here that no longer occurs (delete
 * it then). Each line is written as `npx depcruise src` prints it:
 * `rule: from → to`. The goal is an empty list.
 */
export interface KnownViolation {
  /** the branch whose change removes it */
  clearedBy: string;
  reason: string;
  violations: string[];
}

export const KNOWN_VIOLATIONS: KnownViolation[] = [];

/** src/ files over MAX_LINES lines, each being split on another branch; the same rules (delete an entry once it is short). */
export const MAX_LINES = 500;
export const KNOWN_LONG_FILES: Array<{ file: string; clearedBy: string }> = [];
