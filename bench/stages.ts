/**
 * CPU per stanza of each stage of the relay's hot path, in process (not a
 * test): `npm run bench:stages [-- --stanzas N] [--json]`. Chat workload
 * stanzas (src/sim/workloads.ts); every figure is process CPU time (user +
 * system) per stanza, so a busy machine inflates it less than wall time.
 *
 *   parse            S2S input bytes -> stanzas (StreamParser, 16 KiB reads)
 *   route            Router.fromLocal with the default hooks (policy, optimizers) to a link that takes everything
 *   spool commit     Spool.accept, durable (fsync), 64 in flight as a link has them (after a warm-up)
 *   pack+compress+seal     stanzas packed into ~1 frame messages, LinkEndpoint.submit + pollTransmit
 *   unseal+inflate+parse   LinkEndpoint.handleFrame + pollEvent + StreamParser (implicit stream)
 *   write to S2S     stanza bytes written to a TLS socket read by a child process, 64 stanzas
 *                    corked per turn, and one per turn (what a relay does when its
 *                    deliveries come one per I/O callback, as after a commit per stanza)
 */
import { fork } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { StreamParser } from '../src/xml/parser.ts';
import type { XmlElement } from '../src/xml/element.ts';
import { Router } from '../src/relay/router.ts';
import { buildOptimizeHooks } from '../src/optimize/index.ts';
import { PolicyHook } from '../src/policy/index.ts';
import type { RelayLink } from '../src/link/port.ts';
import { Spool } from '../src/spool/index.ts';
import { LinkEndpoint, type LinkOptions, type LinkTuning } from '../src/link/core/index.ts';
import { CertStore } from '../src/s2s/tls/index.ts';
import { Metrics } from '../src/obs/metrics.ts';
import { makeWorkload } from '../src/sim/index.ts';
import { pack } from './pack.ts';

const HEADER = "<stream:stream xmlns='jabber:server' xmlns:db='jabber:server:dialback' xmlns:stream='http://etherx.jabber.org/streams' to='b.example' from='a.example' version='1.0'>";
const KEY = createHash('sha256').update('stages bench').digest();
const TUNING: LinkTuning = { mtu: 1400, rateBps: 100_000_000, rttEstimateMs: 2, rtoMinMs: 200, rtoMaxMs: 60_000, ackDelayMs: 5, keepaliveS: 30, compressionLevel: 6 };

/** CPU µs (user + system) that `fn` takes, per stanza. */
async function cpuPer(n: number, fn: () => Promise<void> | void): Promise<number> {
  const c0 = process.cpuUsage();
  await fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}

function parseAll(bytes: Buffer, implicit: boolean): XmlElement[] {
  const got: XmlElement[] = [];
  const p = new StreamParser({ stanza: (el) => got.push(el), error: (e) => { throw e; } }, implicit ? { implicitStream: { defaultNs: 'jabber:server' } } : {});
  if (!implicit) p.write(Buffer.from(HEADER));
  for (let i = 0; i < bytes.length; i += 16384) p.write(bytes.subarray(i, i + 16384));
  return got;
}

function endpoint(role: 'a' | 'b'): LinkEndpoint {
  const o: LinkOptions = {
    tuning: TUNING, key: KEY, role, random: (n) => randomBytes(n),
    localDomains: [role === 'a' ? 'a.example' : 'b.example'], remoteDomains: [role === 'a' ? 'b.example' : 'a.example'],
    session: { local: role === 'a' ? 3 : 4 },
  };
  return new LinkEndpoint(o, 0);
}

/** Writes every stanza to a TLS socket, `perTurn` of them corked together per event-loop turn. */
async function s2sWrite(raws: Buffer[], dir: string, perTurn: number): Promise<number> {
  const pair = new CertStore({ dir: join(dir, 'certs') }).pairForDomain('b.example');
  const reader = fork(import.meta.filename, ['--reader'], { execArgv: ['--import', 'tsx'], env: { ...process.env, STAGES_CERT: pair.certPem, STAGES_KEY: pair.keyPem } });
  const port = await new Promise<number>((r) => reader.once('message', (m) => r(Number(m))));
  const sock = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'b.example' });
  await new Promise((r) => sock.once('secureConnect', r));
  sock.setNoDelay(true);
  const total = raws.reduce((a, b) => a + b.length, 0);
  const us = await cpuPer(raws.length, async () => {
    // Corked per turn as an S2S stream does (s2s/stream.ts send).
    for (let i = 0; i < raws.length; i += perTurn) {
      sock.cork();
      for (const r of raws.slice(i, i + perTurn)) sock.write(r);
      await new Promise<void>((r) => setImmediate(() => { sock.uncork(); r(); }));
      if (sock.writableNeedDrain) await new Promise((r) => sock.once('drain', r));
    }
    await new Promise<void>((r) => sock.write('', () => r()));
  });
  const got = await new Promise<number>((r) => { reader.once('message', (m) => r(Number(m))); sock.end(); });
  reader.kill();
  if (got !== total) throw new Error(`reader got ${got} of ${total} bytes`);
  return us;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { stanzas: { type: 'string', default: '20000' }, json: { type: 'boolean' } } });
  const n = Number(values.stanzas);
  const stanzas = makeWorkload('chat', n, 1).map((s) => s.el);
  const raws = stanzas.map((el) => el.toBuffer());
  const input = Buffer.concat(raws);
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-stages-'));
  const out: Record<string, number> = {};
  try {
    // Warm up the JIT on a slice first, as a running relay is.
    parseAll(input.subarray(0, Math.min(input.length, 200_000)), false);
    let parsed: XmlElement[] = [];
    out.parse = await cpuPer(n, () => void (parsed = parseAll(input, false)));
    if (parsed.length !== n) throw new Error(`parsed ${parsed.length} of ${n}`);

    let sent = 0;
    // Both directions of the workload route to the one link here.
    const link = { name: 'shore', domains: ['a.example', 'muc.a.example', 'b.example'], send: async () => void sent++ } as unknown as RelayLink;
    // The hooks a relay runs with the default site settings (relay/from-config.ts): policy, then the optimizers.
    const metrics = new Metrics();
    const optimize = buildOptimizeHooks({ presence: 'coalesce', discoCache: true, fanout: true, dataDir: join(dir, 'optimize'), metrics });
    const policy = new PolicyHook({ allow: ['*'], block: [], blockNamespaces: [], drop: [] }, { metrics });
    const router = new Router({ localDomains: ['c.example'], links: [link], local: { deliver: () => {} }, metrics, hooks: [policy, ...optimize.hooks] });
    out.route = await cpuPer(n, () => Promise.all(parsed.map((el) => router.fromLocal(el))).then(() => undefined));
    await optimize.close();
    if (sent !== n) throw new Error(`routed ${sent} of ${n}`);

    const spool = Spool.open(join(dir, 'spool'), { maxBytes: 1 << 30, maxStanzas: 1_000_000 });
    const accept = (el: XmlElement, raw: Buffer) => spool.accept('shore', raw, { priority: 'high', from: el.attr('from'), to: el.attr('to'), acceptedAt: Date.now(), kind: el.local, sid: el.attr('id') });
    const m = Math.min(n, 4000); // fsync per commit: fewer stanzas keep the run short
    // Warm up lmdb, msgpackr and the spool's code on another link first, as a running relay is:
    // cold, the first 4000 stanzas cost 50-95 µs each (mostly V8 compiling the code: its threads
    // count as process CPU) against 30-50 warm, and which it is varies from run to run.
    const warm = Math.min(n, 4000);
    for (let i = 0; i < warm; i += 64) await Promise.all(parsed.slice(i, Math.min(warm, i + 64)).map((el, k) => spool.accept('warm-up', raws[i + k], { priority: 'high', acceptedAt: Date.now(), kind: el.local })));
    out.spool_commit = await cpuPer(m, async () => {
      for (let i = 0; i < m; i += 64) await Promise.all(parsed.slice(i, Math.min(m, i + 64)).map((el, k) => accept(el, raws[i + k])));
    });
    await spool.close();

    const msgs = pack(raws, 6000);
    const a = endpoint('a');
    const b = endpoint('b');
    // The two ends alternate (b's acks open a's window); each end's CPU is summed apart.
    const cpu = { a: 0, b: 0 };
    const timed = (side: 'a' | 'b', fn: () => void): void => {
      const c0 = process.cpuUsage();
      fn();
      const c = process.cpuUsage(c0);
      cpu[side] += c.user + c.system;
    };
    let delivered = 0;
    let now = 1;
    const toB: Buffer[] = [];
    const toA: Buffer[] = [];
    let next = 0;
    for (let round = 0; delivered < n && round < 1_000_000; round++) {
      timed('a', () => {
        for (const f of toA.splice(0)) a.handleFrame(now, f);
        if (next < msgs.length) a.submit(BigInt(next + 1), msgs[next++], 'high', now);
        const t = a.pollTimeout();
        if (t !== undefined && t <= now) a.handleTimeout(now);
        for (let f = a.pollTransmit(now); f; f = a.pollTransmit(now)) toB.push(f);
        while (a.pollEvent());
      });
      timed('b', () => {
        for (const f of toB.splice(0)) {
          b.handleFrame(now, f);
          for (let e = b.pollEvent(); e; e = b.pollEvent()) {
            if (e.type !== 'deliver') continue;
            delivered += parseAll(e.stanza, true).length;
            b.confirmDelivered(e.id, now);
          }
        }
        const t = b.pollTimeout();
        if (t !== undefined && t <= now) b.handleTimeout(now);
        for (let f = b.pollTransmit(now); f; f = b.pollTransmit(now)) toA.push(f);
      });
      now += 1;
    }
    out.pack_compress_seal = cpu.a / n;
    out.unseal_inflate_parse = cpu.b / n;
    if (delivered !== n) throw new Error(`delivered ${delivered} of ${n} over the link core`);

    out.write_s2s = await s2sWrite(raws, dir, 64);
    out.write_s2s_one_per_turn = await s2sWrite(raws, dir, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (values.json) {
    process.stdout.write(JSON.stringify({ stanzas: n, us_per_stanza: Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Math.round(v * 10) / 10])) }) + '\n');
    return;
  }
  process.stdout.write(`stages of the relay's hot path, chat workload, ${n} stanzas (${Math.round(input.length / n)} B each on average); CPU µs per stanza\n`);
  for (const [k, v] of Object.entries(out)) process.stdout.write(`  ${k.replace(/_/g, ' ').padEnd(24)} ${v.toFixed(1).padStart(8)} µs\n`);
  const total = Object.entries(out).reduce((x, [k, v]) => (k === 'write_s2s_one_per_turn' ? x : x + v), 0);
  process.stdout.write(`  ${'total (writes corked)'.padEnd(24)} ${total.toFixed(1).padStart(8)} µs\n`);
}

/** Child: a TLS server that reads one connection to its end and reports the byte count. */
function reader(): void {
  let bytes = 0;
  const srv = tls.createServer({ cert: process.env.STAGES_CERT, key: process.env.STAGES_KEY }, (s) => {
    s.on('data', (d: Buffer) => (bytes += d.length));
    s.on('end', () => process.send!(bytes));
  });
  srv.listen(0, '127.0.0.1', () => process.send!((srv.address() as { port: number }).port));
}

if (process.argv.includes('--reader')) reader();
else await main();
