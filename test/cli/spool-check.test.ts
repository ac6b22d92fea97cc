/** `satrelay spool check -c FILE`: real process, real spool files; it reports and changes nothing. */
import test from 'ava';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyText, loadSiteConfig } from '../../src/config/index.ts';
import { linkSpoolDir } from '../../src/relay/from-config.ts';
import { Spool } from '../../src/spool/index.ts';
import { runSatrelay } from '../helpers/cli.ts';
import { satrelay } from '../helpers/cli-inproc.ts';
import { changeByteIn, flipMetaByte } from '../helpers/lmdb-damage.ts';

async function site(t: { teardown(fn: () => void): void }): Promise<{ file: string; spoolDir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-spool-check-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'k.key'), generateKeyText(), { mode: 0o600 });
  const file = join(dir, 'site.yaml');
  writeFileSync(
    file,
    `site: ship
data_dir: ${join(dir, 'data')}
local: { domains: [a.example], listen: ["127.0.0.1:0"] }
links:
  - { name: shore, domains: [b.example], profile: lan, transport: udp, bind: "127.0.0.1:0", peer: "127.0.0.1:40000", key_file: ${join(dir, 'k.key')} }
metrics: { listen: null }
`,
  );
  const cfg = loadSiteConfig(file);
  const spoolDir = linkSpoolDir(cfg, cfg.links[0]);
  const sp = Spool.open(spoolDir, { maxBytes: 1 << 20, maxStanzas: 1000 });
  const meta = { priority: 'high' as const, from: 'alice@a.example/r', to: 'bob@b.example', acceptedAt: Date.parse('2026-01-02T03:04:05.000Z'), kind: 'message' };
  await sp.accept('shore', Buffer.from('<message to="bob@b.example"><body>Hello Bob</body></message>'), meta);
  await sp.accept('shore', Buffer.from('<message to="bob@b.example"><body>second</body></message>'), meta);
  await sp.receive('shore', 1n, Buffer.from('<message to="alice@a.example"/>'));
  await sp.close();
  return { file, spoolDir };
}

test('a sound spool: what each link holds, exit 0', async (t) => {
  const { file } = await site(t);
  const r = await runSatrelay(['spool', 'check', '-c', file], t);
  t.is(r.code, 0, r.err);
  t.regex(r.out, /link shore: .*spool\/shore/);
  t.regex(r.out, /structure: sound/);
  t.regex(r.out, /outbound: 2 stanzas, 1\d\d B, oldest accepted 2026-01-02T03:04:05\.000Z \(\d+ (s|min|h) ago\)/);
  t.regex(r.out, /inbound: 1 messages waiting for a local server/);
  t.regex(r.out, /damaged records: none/);
});

test('one wrong letter in a stored stanza: named with its sender, exit 1, nothing changed on disk', async (t) => {
  const { file, spoolDir } = await site(t);
  changeByteIn(spoolDir, 'Hello Bob', 6, 'R');
  const before = readFileSync(join(spoolDir, 'data.mdb'));
  const r = await runSatrelay(['spool', 'check', '-c', file, '--json'], t);
  t.is(r.code, 1);
  const [target] = JSON.parse(r.out) as Array<{ report: { links: Array<{ outbound: number; damaged: unknown[] }> } }>;
  t.is(target.report.links[0].outbound, 1);
  t.deepEqual(target.report.links[0].damaged, [{ store: 'out', id: '1', sender: 'alice@a.example/r' }]);
  t.true(readFileSync(join(spoolDir, 'data.mdb')).equals(before));
});

test('a flipped meta byte: the spool is reported damaged, with what run will do, and left in place', async (t) => {
  const { file, spoolDir } = await site(t);
  flipMetaByte(spoolDir, 24 + 1, 0x10);
  const r = await runSatrelay(['spool', 'check', '-c', file], t);
  t.is(r.code, 1);
  t.regex(r.out, /DAMAGED: meta page \d: bad magic/);
  t.regex(r.out, /will move it to shore\.corrupt-<time>/);
  t.deepEqual(readdirSync(join(spoolDir, '..')), ['shore'], 'nothing moved by a check');
});

test('usage', async (t) => {
  const r = await satrelay(['spool']);
  t.is(r.status, 2);
  t.regex(r.stderr, /usage: satrelay spool check \(-c FILE \| FILE\)/);
});
