// Real LinkEndpoint (src/link/core) + UdpLinkDriver + Spool on both sides,
// wall clock, loopback UDP. Both relays restart mid-stream; every stanza must
// reach the receiving side's local hand-over exactly once.
import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LinkEndpoint, type LinkOptions, type LinkTuning } from '../../../src/link/core/index.ts';
import { UdpLinkDriver } from '../../../src/link/drivers/index.ts';
import { Spool } from '../../../src/spool/index.ts';
import { SessionStore } from '../../../src/link/constrained/session-store.ts';
import { silentLogger } from '../../../src/obs/log.ts';

const TUNING: LinkTuning = {
  mtu: 1200, rateBps: 50_000_000, rttEstimateMs: 20, rtoMinMs: 40, rtoMaxMs: 1000,
  ackDelayMs: 5, keepaliveS: 1, compressionLevel: 6,
};
const KEY = createHash('sha256').update('e2e-udp-spool').digest();
const LIMITS = { maxBytes: 1 << 24, maxStanzas: 100_000 };

/** One relay's link side: spool + endpoint + driver, wired the way the relay does it. */
class Relay {
  spool!: Spool;
  endpoint!: LinkEndpoint;
  driver!: UdpLinkDriver;
  sessions!: SessionStore;
  private chain: Promise<void> = Promise.resolve();
  readonly handedOver: string[] = [];
  readonly errors: unknown[] = [];

  constructor(
    private readonly dir: string,
    private readonly role: 'a' | 'b',
    private readonly peerLink: string,
    private port: number,
    private peerPort: number,
  ) {}

  async start(): Promise<void> {
    this.spool = Spool.open(this.dir, LIMITS);
    const sp = this.spool;
    // Session numbers kept beside the spool, as data_dir/link-state/ does for a relay.
    const { store, state } = SessionStore.begin(join(this.dir, 'link-state.json'), KEY, { random: randomBytes, nowMs: Date.now() }, silentLogger);
    this.sessions = store;
    const opts: LinkOptions = {
      session: state,
      tuning: TUNING, key: KEY, role: this.role, random: (n) => randomBytes(n),
      localDomains: [this.role === 'a' ? 'a.example' : 'b.example'], remoteDomains: [this.role === 'a' ? 'b.example' : 'a.example'],
      resume: { nextSendId: sp.nextId(this.peerLink), deliveredUpTo: sp.deliveredUpTo(this.peerLink), delivered: sp.deliveredAbove(this.peerLink) },
    };
    this.endpoint = new LinkEndpoint(opts, performance.now());
    for (const e of sp.pending(this.peerLink)) this.endpoint.submit(e.id, e.stanza, e.meta.priority, performance.now());
    // Stored inbound stanzas not yet handed over: hand them over now.
    for (const e of sp.inboundPending(this.peerLink)) this.serial(() => this.handOver(e.id, e.stanza));
    this.driver = new UdpLinkDriver(this.endpoint, { bind: `127.0.0.1:${this.port}`, peer: `127.0.0.1:${this.peerPort}` }, { onEvents: () => this.onEvents() });
    await this.driver.start();
    this.port = this.driver.address().port;
  }

  get address(): number {
    return this.port;
  }

  setPeerPort(p: number): void {
    this.peerPort = p;
    this.driver.setPeer(`127.0.0.1:${p}`);
  }

  private serial(fn: () => Promise<void>): void {
    this.chain = this.chain.then(fn).catch((err) => { this.errors.push(err); });
  }

  private async handOver(id: bigint, stanza: Buffer): Promise<void> {
    this.handedOver.push(stanza.toString());
    await this.spool.handedOver(this.peerLink, id);
  }

  private onEvents(): void {
    const ep = this.endpoint, sp = this.spool, drv = this.driver;
    for (let ev = ep.pollEvent(); ev; ev = ep.pollEvent()) {
      if (ev.type === 'deliver') {
        const { id, stanza } = ev;
        this.serial(async () => {
          const fresh = await sp.receive(this.peerLink, id, stanza);
          ep.confirmDelivered(id, performance.now());
          drv.poke();
          if (fresh) await this.handOver(id, stanza);
        });
      } else if (ev.type === 'acked') {
        const { id } = ev;
        this.serial(() => sp.ack(this.peerLink, id));
      } else if (ev.type === 'session') {
        this.sessions.savePeer(ev.peer, ev.peerV2);
      }
    }
  }

  async send(text: string): Promise<void> {
    const id = await this.spool.accept(this.peerLink, Buffer.from(text), { priority: 'high', acceptedAt: Date.now() });
    this.endpoint.submit(id, Buffer.from(text), 'high', performance.now());
    this.driver.poke();
  }

  /** Orderly stop (a crash is covered by the spool's kill -9 test): unfinished work is simply dropped. */
  async stop(): Promise<void> {
    await this.driver.close();
    await this.chain;
    await this.spool.close();
  }
}

async function until(cond: () => boolean, ms: number, what: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('exactly once over real core + UDP drivers + spools across restarts of both relays', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'satrelay-e2e-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const ship = new Relay(join(root, 'ship'), 'a', 'shore', 0, 9);
  await ship.start();
  const shore = new Relay(join(root, 'shore'), 'b', 'ship', 0, ship.address);
  await shore.start();
  ship.setPeerPort(shore.address);
  let shoreLive = shore;
  t.teardown(async () => { await Promise.allSettled([ship.stop(), shoreLive.stop()]); });

  const N = 120;
  const texts = Array.from({ length: N }, (_, i) => `<message id="m${i}" to="b@b.example"><body>${'x'.repeat(i % 50)}</body></message>`);
  for (let i = 0; i < 40; i++) await ship.send(texts[i]);
  await until(() => shore.handedOver.length >= 20, 5000, () => `shore got ${shore.handedOver.length}`);

  // shore restarts mid-stream (same port), while the ship keeps sending
  const sendMore = (async () => { for (let i = 40; i < 80; i++) await ship.send(texts[i]); })();
  await shore.stop();
  const shore2 = new Relay(join(root, 'shore'), 'b', 'ship', shore.address, ship.address);
  shoreLive = shore2;
  await shore2.start();
  await sendMore;

  // ship restarts: its unacked stanzas come back from its spool with their ids
  await ship.stop();
  const ship2 = new Relay(join(root, 'ship'), 'a', 'shore', ship.address, shore2.address);
  await ship2.start();
  t.teardown(() => ship2.stop());
  for (let i = 80; i < N; i++) await ship2.send(texts[i]);

  const got = () => [...shore.handedOver, ...shore2.handedOver];
  await until(() => new Set(got()).size >= N, 15_000, () => `shore handed over ${new Set(got()).size}/${N}`);
  await until(() => ship2.spool.stats('shore').outboundCount === 0, 10_000, () => `ship still holds ${ship2.spool.stats('shore').outboundCount}`);
  await new Promise((r) => setTimeout(r, 100)); // late duplicates would show up here

  const all = got();
  const dups = all.filter((s, i) => all.indexOf(s) !== i);
  t.deepEqual(dups, [], 'no stanza handed over twice');
  t.deepEqual([...all].sort(), [...texts].sort(), 'every stanza handed over');
  t.is(shore2.spool.stats('ship').inboundCount, 0, 'inbound spool drained');
  t.deepEqual([...ship.errors, ...ship2.errors, ...shore.errors, ...shore2.errors], []);
});
