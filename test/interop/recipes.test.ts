/**
 * The server recipes of examples/, run as the operator guide (§8) tells an
 * operator to: the relay pair from examples/ship.yaml and shore.yaml started
 * with `satrelay run` (only data_dir moved to a temp dir), and real XMPP
 * servers (Debian's Prosody 0.12 and ejabberd 23.01) given the example
 * snippets unchanged, except the path of the hosts file they name. No DNS
 * server, and no test-only routing: Prosody finds the relay through the
 * hosts file and static zone of examples/prosody/*.cfg.lua, ejabberd through
 * the /etc/hosts lines, inetrc and outgoing_s2s_port of examples/ejabberd/
 * (the hosts lines seen by the ejabberd node only); then a site with a DNS
 * server, which serves the SRV records of examples/dns/shore.zone.
 *
 * Fixed addresses, as in the examples: Prosody/ejabberd for a.example on
 * 127.0.0.2:5269, Prosody for b.example on 127.0.0.3:5269, the relays' S2S on
 * 127.0.0.12:5269 and 127.0.0.13:5269, link UDP 15299/25299, metrics
 * 19105/29105. The tests of this file run one after another.
 */
import test, { type ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import dns2 from 'dns2';
import { ProsodyServer, freePort, prosodyAvailable } from '../helpers/prosody.ts';
import { EjabberdServer, ejabberdAvailable } from '../helpers/ejabberd.ts';
import { XmppClient, bare } from '../helpers/xmpp-client.ts';
import { Browser, chromiumAvailable } from '../helpers/chromium.ts';
import { until } from '../helpers/until.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const EX = join(ROOT, 'examples');
const work = mkdtempSync(join(tmpdir(), 'satrelay-recipes-'));
const logs: Record<'ship' | 'shore', string> = { ship: '', shore: '' };
const relays: Partial<Record<'ship' | 'shore', ChildProcess>> = {};

/** examples/SITE.yaml with data_dir in the temp dir; the key path stays relative to the file, so keys/ is copied beside it. */
function siteFile(site: 'ship' | 'shore'): string {
  const text = readFileSync(join(EX, `${site}.yaml`), 'utf8');
  const moved = text.replace(/^data_dir: .*$/m, `data_dir: ${join(work, site)}`);
  if (moved === text) throw new Error(`examples/${site}.yaml: no data_dir line`);
  const file = join(work, `${site}.yaml`);
  writeFileSync(file, moved);
  return file;
}

/** `satrelay run FILE`, as the guide says; resolves once its status endpoint answers. */
async function runRelay(site: 'ship' | 'shore'): Promise<void> {
  const child = spawn(process.execPath, [join(ROOT, 'bin/satrelay.js'), 'run', siteFile(site)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SATRELAY_LOG_JSON: '1' } });
  relays[site] = child;
  child.stdout!.on('data', (d) => (logs[site] += d));
  child.stderr!.on('data', (d) => (logs[site] += d));
  const port = site === 'ship' ? 19105 : 29105;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`satrelay run ${site} exited ${child.exitCode}:\n${logs[site]}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/status`)).ok) return;
    } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`satrelay run ${site}: no status endpoint after 30 s:\n${logs[site]}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stopRelay(site: 'ship' | 'shore'): Promise<number | null> {
  const child = relays[site];
  if (!child || child.exitCode !== null) return child?.exitCode ?? null;
  const exited = new Promise<number | null>((r) => child.once('exit', r));
  child.kill('SIGTERM');
  return exited;
}

/** A copy of examples/prosody/SITE.cfg.lua whose hoststxt names the copy of SITE.hosts in the temp dir (the only edit). */
function prosodySnippet(site: 'ship' | 'shore'): string {
  const hosts = join(work, `${site}.hosts`);
  cpSync(join(EX, 'prosody', `${site}.hosts`), hosts);
  const text = readFileSync(join(EX, 'prosody', `${site}.cfg.lua`), 'utf8');
  const edited = text.replace('"/etc/prosody/satrelay.hosts"', JSON.stringify(hosts));
  if (edited === text) throw new Error(`examples/prosody/${site}.cfg.lua names no /etc/prosody/satrelay.hosts`);
  const file = join(work, `${site}.cfg.lua`);
  writeFileSync(file, edited);
  return file;
}

const debianDefaults = 's2s_secure_auth = true -- as in Debian\'s /etc/prosody/prosody.cfg.lua\nuse_ipv6 = true';

async function prosody(site: 'ship' | 'shore', extra: string): Promise<ProsodyServer> {
  const [domain, ip, user] = site === 'ship' ? ['a.example', '127.0.0.2', 'alice'] : ['b.example', '127.0.0.3', 'bob'];
  return ProsodyServer.start({ domain, ip, s2sPort: 5269, c2sPort: await freePort(ip), peers: {}, s2sTls: 'optional', users: [{ user, password: 'pw' }], fastUsers: true, extraConfig: `${debianDefaults}\n${extra}` });
}

/** A message each way between alice@a.example and bob@b.example, through the relay pair. */
async function chat(t: ExecutionContext, alice: XmppClient, bob: XmppClient, tag: string): Promise<void> {
  alice.sendMessage('bob@b.example', `${tag}: hello from the ship`, { id: `${tag}-1` });
  const atBob = await bob.waitFor((e) => e.event === 'message' && bare(e.from) === 'alice@a.example' && e.body === `${tag}: hello from the ship`, 60_000);
  t.is(atBob.type, 'chat');
  bob.sendMessage('alice@a.example', `${tag}: hello from shore`, { id: `${tag}-2` });
  await alice.waitFor((e) => e.event === 'message' && bare(e.from) === 'bob@b.example' && e.body === `${tag}: hello from shore`, 60_000);
  t.pass(`${tag}: both ways`);
}

const ready = prosodyAvailable();
const serial = ready ? test.serial : test.serial.skip;
let shipProsody: ProsodyServer | undefined;
let shoreProsody: ProsodyServer | undefined;
let bob: XmppClient | undefined;

test.before(async () => {
  if (!ready) return;
  cpSync(join(EX, 'keys'), join(work, 'keys'), { recursive: true });
  await runRelay('shore');
  await runRelay('ship');
});

test.after.always(async () => {
  await bob?.close();
  await shipProsody?.stop();
  await shoreProsody?.stop();
  await stopRelay('ship');
  await stopRelay('shore');
  const keep = process.env.SATRELAY_TEST_LOGDIR;
  if (keep) for (const site of ['ship', 'shore'] as const) writeFileSync(join(keep, `recipes-${site}.log`), logs[site]);
  rmSync(work, { recursive: true, force: true });
});

serial('Prosody 0.12: two servers route the remote domains to the example relay pair with the example snippets and no DNS server', async (t) => {
  t.timeout(120_000);
  shipProsody = await prosody('ship', `Include ${JSON.stringify(prosodySnippet('ship'))}`);
  shoreProsody = await prosody('shore', `Include ${JSON.stringify(prosodySnippet('shore'))}`);
  const alice = await XmppClient.connect({ jid: 'alice@a.example', password: 'pw', host: '127.0.0.2', port: shipProsody.c2sPort });
  t.teardown(() => alice.close());
  bob = await XmppClient.connect({ jid: 'bob@b.example', password: 'pw', host: '127.0.0.3', port: shoreProsody.c2sPort });
  await chat(t, alice, bob, 'prosody');
  // Each Prosody reached its relay at the address the hosts file gives, on 5269, with no SRV record.
  t.regex(shipProsody!.log(), /127\.0\.0\.12\]?:5269/, 'a.example connected to the ship relay');
  t.regex(shoreProsody.log(), /127\.0\.0\.13\]?:5269/, 'b.example connected to the shore relay');
  // The relays' logs read as what happened.
  t.regex(logs.ship, /"msg":"link shore: transport udp up on 127\.0\.0\.1:15299"/);
  t.regex(logs.shore, /"msg":"relay started: S2S on 127\.0\.0\.13:5269; links ship-1"/);
});

const withBrowser = ready && chromiumAvailable() ? test.serial : test.serial.skip;

withBrowser('the status page of the running example pair, in a real browser: link up, RTT, S2S sessions with Prosody', async (t) => {
  t.timeout(60_000);
  const browser = await Browser.launch();
  t.teardown(() => browser.close());
  const page = await browser.open('http://127.0.0.1:19105/');
  const text = await page.evaluate<string>('document.body.innerText');
  t.regex(text, /^satrelay ship-1$/m);
  t.regex(text, /link shore\s+UP/);
  t.regex(text, /RTT[\s\S]*udp\s+\d[\d,.]* m?s/, 'transport and a measured RTT');
  t.regex(text, /\b(?:in|out)\s+b\.example\s+a\.example\s+authed\s+yes\s+dialback/, 'the S2S session with Prosody a.example, TLS and dialback');
});

const withEjabberd = ready && ejabberdAvailable() ? test.serial : test.serial.skip;

withEjabberd('ejabberd 23.01: a.example on ejabberd reaches b.example through the relay pair with the example yml, hosts lines and inetrc, no DNS server', async (t) => {
  t.timeout(120_000);
  await shipProsody?.stop();
  const ej = await EjabberdServer.start({
    domain: 'a.example', ip: '127.0.0.2', s2sPort: 5269,
    yaml: readFileSync(join(EX, 'ejabberd', 'ship.yml'), 'utf8'),
    inetrc: readFileSync(join(EX, 'ejabberd', 'inetrc'), 'utf8'),
    hosts: readFileSync(join(EX, 'ejabberd', 'ship.hosts'), 'utf8'),
    users: [{ user: 'alice', password: 'pw' }],
  });
  t.teardown(() => ej.stop());
  const alice = await XmppClient.connect({ jid: 'alice@a.example', password: 'pw', host: '127.0.0.2', port: ej.c2sPort, tls: true });
  t.teardown(() => alice.close());
  await chat(t, alice, bob!, 'ejabberd');
  t.regex(ej.log(), /127\.0\.0\.12/, 'ejabberd connected to the ship relay');
});

/** A DNS server on 127.0.16.53:53 answering from the records of a zone file (SRV and A lines). */
async function zoneServer(t: ExecutionContext, zoneFile: string): Promise<{ queries: string[] }> {
  const { Packet } = dns2;
  const records = readFileSync(zoneFile, 'utf8').split('\n').filter((l) => l.trim() && !l.trim().startsWith(';')).map((l) => l.trim().split(/\s+/));
  const queries: string[] = [];
  const server = dns2.createServer({
    udp: true,
    handle: (req, send) => {
      const q = req.questions[0];
      const name = q.name.toLowerCase().replace(/\.$/, '');
      queries.push(`${name}/${q.type}`);
      const res = Packet.createResponseFromRequest(req);
      const mine = records.filter(([n]) => n.replace(/\.$/, '') === name);
      const matchTypes = mine.filter((r) => Packet.TYPE[r[3] as 'SRV' | 'A'] === q.type);
      if (!mine.length) res.header.rcode = 3;
      for (const [, ttl, , type, ...data] of matchTypes) {
        if (type === 'SRV') res.answers.push({ name: q.name, type: Packet.TYPE.SRV, class: Packet.CLASS.IN, ttl: Number(ttl), priority: Number(data[0]), weight: Number(data[1]), port: Number(data[2]), target: data[3].replace(/\.$/, '') } as never);
        if (type === 'A') res.answers.push({ name: q.name, type: Packet.TYPE.A, class: Packet.CLASS.IN, ttl: Number(ttl), address: data[0] } as never);
      }
      send(res);
    },
  });
  await server.listen({ udp: { port: 53, address: '127.0.16.53' } });
  t.teardown(() => server.close());
  return { queries };
}

serial('a site with a DNS server: Prosody b.example finds the shore relay by the SRV records of examples/dns/shore.zone', async (t) => {
  t.timeout(120_000);
  const dns = await zoneServer(t, join(EX, 'dns', 'shore.zone'));
  const resolvConf = join(work, 'resolv.conf');
  writeFileSync(resolvConf, 'nameserver 127.0.16.53\n');
  await bob?.close();
  await shoreProsody?.stop();
  // The guide: with a DNS server, only the snippet's s2s_insecure_domains line is needed. The site's resolver is
  // Prosody's default setup, on this test's resolv.conf instead of /etc/resolv.conf.
  const trust = /^s2s_insecure_domains = .*$/m.exec(readFileSync(join(EX, 'prosody', 'shore.cfg.lua'), 'utf8'))![0];
  shoreProsody = await prosody('shore', `${trust}\nunbound = { resolvconf = ${JSON.stringify(resolvConf)} }`);
  await shipProsody?.stop();
  shipProsody = await prosody('ship', `Include ${JSON.stringify(prosodySnippet('ship'))}`);
  const alice = await XmppClient.connect({ jid: 'alice@a.example', password: 'pw', host: '127.0.0.2', port: shipProsody.c2sPort });
  t.teardown(() => alice.close());
  bob = await XmppClient.connect({ jid: 'bob@b.example', password: 'pw', host: '127.0.0.3', port: shoreProsody.c2sPort });
  bob.sendMessage('alice@a.example', 'dns: hello from shore', { id: 'dns-1' });
  await alice.waitFor((e) => e.event === 'message' && bare(e.from) === 'bob@b.example' && e.body === 'dns: hello from shore', 60_000);
  t.true(dns.queries.includes('_xmpp-server._tcp.a.example/33'), dns.queries.join(' '));
  t.true(dns.queries.includes('relay.shore.lan/1'), 'the SRV target was looked up');
  t.regex(shoreProsody.log(), /127\.0\.0\.13\]?:5269/);
});

serial('SIGTERM: each relay logs "relay stopping: SIGTERM", closes its S2S streams without calling it a stream error, exits 0', async (t) => {
  await until(() => /"msg":"relay started/.test(logs.ship), 'ship started');
  t.is(await stopRelay('ship'), 0);
  t.is(await stopRelay('shore'), 0);
  for (const site of ['ship', 'shore'] as const) {
    const lines = logs[site].split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string; site?: string; name?: string });
    t.true(lines.some((l) => l.msg === 'relay stopping: SIGTERM'), site);
    t.true(lines.some((l) => l.msg === 's2s stream closed: relay stopping'), `${site}: S2S streams closed on stop`);
    t.false(lines.some((l) => l.msg === 's2s stream error'), `${site}: no stream error at a normal stop`);
    t.true(lines.every((l) => l.site === (site === 'ship' ? 'ship-1' : 'shore') && l.name === undefined), `${site}: one field names the site`);
  }
});
