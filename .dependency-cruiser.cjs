/**
 * Import rules for src/ (dependency-cruiser), checked by test/layers/layers.test.ts
 * in `npm test`; by hand: npx depcruise src. docs/architecture.md explains them.
 *
 * The folders of src/ stand in rows; a folder imports only folders in rows below
 * its own, never above, and never a neighbour in the middle row (relay/ joins
 * those through interfaces the lower one owns):
 *
 *   cli -> sim -> relay -> {s2s, link, optimize, policy, emulator}
 *       -> config -> spool -> xmpp -> xml -> time -> obs
 *
 * The bottom rows are the issue's {spool, xml, xmpp, obs, config} put in one
 * order (that order is what makes folder cycles between them impossible).
 * Besides: no folder cycles anywhere (sub-folders too), nothing in src/
 * imports bench/ or test/, relay/ never depends on the bearer emulator, and
 * every folder under src/ has a row (a new folder is added to ROWS).
 * Violations that other branches remove: test/layers/known-violations.ts.
 */
const ROWS = [['cli'], ['sim'], ['relay'], ['s2s', 'link', 'optimize', 'policy', 'emulator'], ['config'], ['spool'], ['xmpp'], ['xml'], ['time'], ['obs']];
const MIDDLE = ROWS[3];
const ALL = ROWS.flat();
const any = (folders) => `^src/(${folders.join('|')})/`;

const pointDown = ROWS.slice(1).map((row, i) => ({
  name: 'imports-point-down',
  comment: `${row.join(', ')} must not import ${ROWS.slice(0, i + 1).flat().join(', ')} (rows above)`,
  severity: 'error',
  from: { path: any(row) },
  to: { path: any(ROWS.slice(0, i + 1).flat()) },
}));

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-folder-cycles',
      comment: 'folders under src/ import each other (directly or around a loop)',
      severity: 'error',
      scope: 'folder',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'src-not-bench-or-test',
      comment: 'src/ is what ships: it must not import bench/ or test/ (those import src/sim instead)',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(bench|test)/' },
    },
    ...pointDown,
    {
      name: 'middle-row-apart',
      comment: `${MIDDLE.join(', ')} do not import each other: relay/ joins them through interfaces the lower one owns`,
      severity: 'error',
      from: { path: any(MIDDLE) },
      to: { path: any(MIDDLE), pathNot: '^src/$1/' },
    },
    {
      name: 'relay-not-emulator',
      comment: 'the relay never depends on the bearer emulator (it serves cli/ and sim/)',
      severity: 'error',
      from: { path: '^src/relay/' },
      to: { path: '^src/emulator/' },
    },
    {
      name: 'folder-has-a-row',
      comment: `every folder under src/ has a row in .dependency-cruiser.cjs (ROWS: ${ALL.join(', ')})`,
      severity: 'error',
      from: { path: '^src/' },
      to: { path: `^src/(?!(${ALL.join('|')})/)` },
    },
    {
      name: 'folder-has-a-row',
      comment: `every folder under src/ has a row in .dependency-cruiser.cjs (ROWS: ${ALL.join(', ')})`,
      severity: 'error',
      from: { path: `^src/(?!(${ALL.join('|')})/)` },
      to: { path: '^src/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // type-only imports tie folders together as much as any: count them
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.json'] },
  },
};
