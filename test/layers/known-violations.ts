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

export const KNOWN_VIOLATIONS: KnownViolation[] = [
  {
    clearedBy: 'constrained',
    reason:
      'the links implement RelayLink / LinkHandlers / LinkStatus, declared in relay/link.ts, while relay/ builds the links: ' +
      'the interface moves to src/link/port.ts, which the link owns',
    violations: [
      'imports-point-down: src/link/constrained/link.ts → src/relay/link.ts',
      'imports-point-down: src/link/xep0361/link.ts → src/relay/link.ts',
      'no-folder-cycles: src/link/constrained → src/relay',
      'no-folder-cycles: src/relay → src/link/constrained',
      'no-folder-cycles: src/link/xep0361 → src/relay',
      'no-folder-cycles: src/relay → src/link/xep0361',
    ],
  },
  {
    clearedBy: 'constrained',
    reason:
      "the constrained link takes optimize's OutboundQueue directly: it gets an outbound scheduler interface of its own " +
      "(link/port.ts) that relay/ fills with optimize's queue",
    violations: ['middle-row-apart: src/link/constrained/link.ts → src/optimize/index.ts'],
  },
];

/** src/ files over MAX_LINES lines, each being split on another branch; the same rules (delete an entry once it is short). */
export const MAX_LINES = 500;
export const KNOWN_LONG_FILES: Array<{ file: string; clearedBy: string }> = [
  { file: 'src/link/constrained/link.ts', clearedBy: 'constrained' },
];
