/**
 * CPU cost of forged link frames at the receiving relay (not a test).
 *
 *   npx tsx bench/forged-frames.ts            in-process: LinkEndpoint.handleFrame, per kind
 *   npx tsx bench/forged-frames.ts --udp      a relay's link (ConstrainedLink, spool, UDP driver,
 *                                             pino at info) in a child process, flooded at --rate
 *                                             frames/s from the partner's own address
 *
 * Kinds: garbage (random bytes), forged (the partner's current header, random
 * body and tag: only the AEAD can reject it), replay (recorded frames of the
 * current session), old (first frames of 20 earlier sessions of the partner,
 * in rotation). Prints microseconds per forged frame and the share of one core
 * that --rate (default 10,000) such frames per second take.
 */
import { fork } from 'node:child_process';
import dgram from 'node:dgram';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LinkEndpoint, type LinkOptions, type LinkTuning } from '../src/link/core/index.ts';
import { Metrics } from '../src/obs/metrics.ts';
import { createLogger } from '../src/obs/log.ts';
import { freeUdpPort } from '../src/sim/ports.ts';

const KEY = createHash('sha256').update('forged-frames bench').digest();
const TUNING: LinkTuning = { mtu: 508, rateBps: 64_000, rttEstimateMs: 600, rtoMinMs: 300, rtoMaxMs: 60_000, ackDelayMs: 50, keepaliveS: 30, compressionLevel: 6 };
const STANZA = (i: number): Buffer => Buffer.from(`<message type="chat" from="alice@a.example/x" to="bob@b.example" id="f${i}"><body>forged-frames bench ${i}</body></message>`);
const KINDS = ['garbage', 'forged', 'replay', 'old'] as const;
type Kind = (typeof KINDS)[number];

function opts(role: 'a' | 'b', session: number, extra: Partial<LinkOptions> = {}): LinkOptions {
  return {
    tuning: TUNING, key: KEY, role, random: (n) => randomBytes(n),
    localDomains: [role === 'a' ? 'a.example' : 'b.example'], remoteDomains: [role === 'a' ? 'b.example' : 'a.example'],
    session: { local: session }, ...extra,
  };
}

/** Runs a and b against each other in memory until both are quiet; returns a's frames as b got them. */
function exchange(a: LinkEndpoint, b: LinkEndpoint, now: number): Buffer[] {
  const seen: Buffer[] = [];
  for (let round = 0; round < 50; round++) {
    let moved = false;
    for (let f = a.pollTransmit(now); f; f = a.pollTransmit(now)) { seen.push(f); b.handleFrame(now, f); moved = true; }
    for (let f = b.pollTransmit(now); f; f = b.pollTransmit(now)) { a.handleFrame(now, f); moved = true; }
    for (let e = b.pollEvent(); e; e = b.pollEvent()) if (e.type === 'deliver') b.confirmDelivered(e.id, now);
    while (a.pollEvent());
    now += 100;
    for (const ep of [a, b]) { const t = ep.pollTimeout(); if (t !== undefined && t <= now) ep.handleTimeout(now); }
    if (!moved && round > 5) break;
  }
  return seen;
}

/** First frames of `n` earlier sessions of the partner (each a fresh start with one stanza). */
function oldFirstFrames(n: number): Buffer[] {
  const out: Buffer[] = [];
  for (let s = 1; s <= n; s++) {
    const a = new LinkEndpoint(opts('a', s), 0);
    a.submit(1n, STANZA(s), 'high', 0);
    out.push(a.pollTransmit(0)!);
  }
  return out;
}

/** A header of the partner's current session with a fresh seq, then random bytes for body and tag. */
function forgedLike(valid: Buffer, seq: number): Buffer {
  const f = Buffer.from(valid);
  // flags | 4-byte session | seq varint (2 bytes for 128..16383): keep flags and session, write a new seq
  f[5] = 0x80 | (seq & 0x7f);
  f[6] = (seq >> 7) & 0x7f;
  randomBytes(f.length - 7).copy(f, 7);
  return f;
}

interface Setup { b: LinkEndpoint; frames: Record<Kind, Buffer[]> }

function setup(logDest?: string): Setup {
  const logger = logDest ? createLogger({ level: 'info', destination: logDest, pretty: false }) : undefined;
  const a = new LinkEndpoint(opts('a', 21), 0);
  const b = new LinkEndpoint(opts('b', 5, { logger }), 0);
  for (let i = 0; i < 200; i++) a.submit(BigInt(i + 1), STANZA(i), 'high', 0);
  const live = exchange(a, b, 0).filter((f) => f.length > 40);
  const garbage = Array.from({ length: 1000 }, () => randomBytes(60 + Math.floor(Math.random() * 400)));
  const forged = Array.from({ length: 1000 }, (_, i) => forgedLike(live[live.length - 1], 200 + i));
  return { b, frames: { garbage, forged, replay: live, old: oldFirstFrames(20) } };
}

function inProcess(rate: number, n: number): void {
  console.log(`in-process LinkEndpoint.handleFrame, ${n} frames per kind (pino at info to /dev/null)`);
  for (const kind of KINDS) {
    const { b, frames } = setup('/dev/null');
    const list = frames[kind];
    const before = b.stats();
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < n; i++) b.handleFrame(1000 + i / 10, list[i % list.length]);
    const cpu = process.cpuUsage(cpu0);
    const us = (cpu.user + cpu.system) / n;
    const after = b.stats();
    console.log(`${kind.padEnd(8)} ${us.toFixed(2).padStart(7)} µs/frame  ${((us * rate) / 1e4).toFixed(1).padStart(5)} % of a core at ${rate}/s  ` +
      `(accepted ${after.framesReceived - before.framesReceived}, dropped ${after.framesDropped - before.framesDropped})`);
  }
}

/** Child: one relay link on UDP; reports its own CPU use between 'start' and 'stop'. */
async function child(): Promise<void> {
  const { ConstrainedLink } = await import('../src/link/constrained/index.ts');
  const { transportDriver } = await import('../src/link/drivers/index.ts');
  const { OutboundQueue } = await import('../src/optimize/index.ts');
  const { Spool } = await import('../src/spool/index.ts');
  const port = Number(process.env.FF_PORT);
  const peer = Number(process.env.FF_PEER);
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-forged-'));
  const spool = Spool.open(join(dir, 'spool'), { maxBytes: 1 << 24, maxStanzas: 10_000 });
  const metrics = new Metrics();
  const link = new ConstrainedLink({
    name: 'ship', domains: ['a.example'], localDomains: ['b.example'], role: 'b',
    scheduler: new OutboundQueue({ coalescePresence: false, fanout: false }),
    driver: transportDriver({ kind: 'udp', bind: `127.0.0.1:${port}`, peer: `127.0.0.1:${peer}` }),
    tuning: TUNING, key: KEY, spool, heldTimeoutMs: 600_000, maxStanzaBytes: 65_536,
    logger: createLogger({ level: 'info', destination: '/dev/null', pretty: false }), metrics,
    stateFile: join(dir, 'link-state.json'),
  });
  let delivered = 0;
  await link.start({ deliver: async () => { delivered++; }, undeliverable: () => undefined });
  let cpu0 = process.cpuUsage();
  let t0 = performance.now();
  process.on('message', (m: string) => {
    if (m === 'start') { cpu0 = process.cpuUsage(); t0 = performance.now(); return; }
    const cpu = process.cpuUsage(cpu0);
    const s = link.stats();
    process.send!({ cpuUs: cpu.user + cpu.system, wallMs: performance.now() - t0, delivered, dropped: s.framesDropped, received: s.framesReceived,
      resyncs: metrics.get('link_resyncs_total') });
    if (m === 'exit') void link.stop().then(() => spool.close()).then(() => { rmSync(dir, { recursive: true, force: true }); process.exit(0); });
  });
  process.send!('ready');
}

async function overUdp(rate: number, seconds: number): Promise<void> {
  const [port, peer] = [await freeUdpPort(), await freeUdpPort()];
  const proc = fork(new URL(import.meta.url).pathname, ['--child'], { env: { ...process.env, FF_PORT: String(port), FF_PEER: String(peer) }, execArgv: ['--import', 'tsx'] });
  const next = (): Promise<unknown> => new Promise((res) => proc.once('message', res));
  await next();
  // The partner: a real endpoint on the peer address; the forger sends from that same socket.
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((res) => sock.bind(peer, '127.0.0.1', res));
  const a = new LinkEndpoint(opts('a', 21), performance.now());
  const live: Buffer[] = [];
  const flush = (): void => { for (let f = a.pollTransmit(performance.now()); f; f = a.pollTransmit(performance.now())) { live.push(f); sock.send(f, port, '127.0.0.1'); } };
  sock.on('message', (m) => { a.handleFrame(performance.now(), m); while (a.pollEvent()); flush(); });
  const tick = setInterval(() => { const t = a.pollTimeout(); if (t !== undefined && t <= performance.now()) a.handleTimeout(performance.now()); flush(); }, 5);
  for (let i = 0; i < 100; i++) a.submit(BigInt(i + 1), STANZA(i), 'high', 0);
  flush();
  await new Promise((r) => setTimeout(r, 1500));
  const big = live.filter((f) => f.length > 40);
  const frames: Record<Kind, Buffer[]> = {
    garbage: Array.from({ length: 1000 }, () => randomBytes(60 + Math.floor(Math.random() * 400))),
    forged: Array.from({ length: 1000 }, (_, i) => forgedLike(big[big.length - 1], 1000 + i)),
    replay: big,
    old: oldFirstFrames(20),
  };
  console.log(`relay link (ConstrainedLink + spool + UDP driver, pino at info) in a child process, ${rate} forged frames/s for ${seconds} s per kind, sent from the partner's address`);
  proc.send('start');
  await new Promise((r) => setTimeout(r, 1000));
  proc.send('stop');
  const idle = (await next()) as { cpuUs: number; wallMs: number };
  console.log(`idle     ${((idle.cpuUs / 1000 / idle.wallMs) * 100).toFixed(1).padStart(5)} % of a core`);
  for (const kind of KINDS) {
    proc.send('start');
    const list = frames[kind];
    let sent = 0;
    const perTick = rate / 100;
    const end = performance.now() + seconds * 1000;
    await new Promise<void>((res) => {
      const iv = setInterval(() => {
        for (let i = 0; i < perTick; i++) sock.send(list[sent++ % list.length], port, '127.0.0.1');
        if (performance.now() >= end) { clearInterval(iv); res(); }
      }, 10);
    });
    await new Promise((r) => setTimeout(r, 200));
    proc.send('stop');
    const r = (await next()) as { cpuUs: number; wallMs: number; dropped: number; received: number; resyncs: number };
    const us = r.cpuUs / sent;
    const measured = (r.cpuUs / 1000 / r.wallMs) * 100;
    console.log(`${kind.padEnd(8)} ${us.toFixed(2).padStart(7)} µs/frame  ${((us * rate) / 1e4).toFixed(1).padStart(5)} % of a core at ${rate}/s  ` +
      `(measured ${measured.toFixed(1)} % at ${Math.round(sent / (r.wallMs / 1000))}/s; ${sent} sent; relay totals: dropped ${r.dropped}, accepted ${r.received}, resyncs ${r.resyncs})`);
  }
  clearInterval(tick);
  proc.send('exit');
  await new Promise((r) => proc.once('exit', r));
  sock.close();
}

const { values } = parseArgs({ options: { udp: { type: 'boolean' }, child: { type: 'boolean' }, rate: { type: 'string' }, frames: { type: 'string' }, seconds: { type: 'string' } } });
const rate = Number(values.rate ?? 10_000);
if (values.child) await child();
else if (values.udp) await overUdp(rate, Number(values.seconds ?? 3));
else inProcess(rate, Number(values.frames ?? 20_000));
