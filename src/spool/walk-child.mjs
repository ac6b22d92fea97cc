// Child process of the spool check (check.ts): reads every record of every
// spool database through lmdb, read-only, so that damage which makes lmdb's
// C code crash (SIGSEGV, abort) kills this process instead of the relay.
// Plain JavaScript, so it starts without the TypeScript loader (~0.1 s).
// usage: node walk-child.mjs <lmdb module URL> <spool dir>
// stdout: one JSON line {"records":{"out":N,...}} on success; exit 1 with the error on stderr.
const [lmdbUrl, dir] = process.argv.slice(2);
const { open } = await import(lmdbUrl);
const env = open({ path: dir, noSubdir: false, readOnly: true, maxDbs: 8 });
const records = {};
for (const name of ['out', 'in', 'groups', 'state']) {
  // A database an older version never created is absent: nothing to read.
  const db = env.openDB(name, { keyEncoding: 'binary', encoding: 'binary' });
  let n = 0;
  if (db) for (const { value } of db.getRange({})) if (value.length >= 0) n++;
  records[name] = n;
}
await env.close();
process.stdout.write(JSON.stringify({ records }) + '\n');
