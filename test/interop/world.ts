/**
 * A shared world for the optimizer and policy interop tests:
 *
 *   Prosody a.example (+ conference.a.example) <-S2S-> relay ship
 *     <-constrained link over TCP, through a TcpGate-> relay shore <-S2S-> Prosody b.example (+ conference.b.example)
 *
 * The link is the constrained one (spool + OutboundQueue + core), since presence
 * coalescing and fan-out folding live in its queue. The TcpGate between the two
 * relays can cut the link (no connection possible) and open it again: while it
 * is cut the ship's core is never polled, so what the relay takes meanwhile
 * stays queued, and tests can fill the core (saturate) to make the queue hold
 * stanzas for the optimizers deterministically.
 *
 * Each relay logs to an in-memory array of pino JSON lines (logs.A / logs.B) at
 * info level, so tests can assert audit lines.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { generateKeyText, parseSiteConfig } from '../../src/config/index.ts';
import { buildRelay } from '../../src/relay/from-config.ts';
import type { Relay } from '../../src/relay/relay.ts';
import type { ConstrainedLink } from '../../src/link/constrained/index.ts';
import type { Logger } from '../../src/obs/log.ts';
import { ProsodyServer, freePort } from '../helpers/prosody.ts';
import { XmppClient, type ClientEvent } from '../helpers/xmpp-client.ts';
import { parseXml } from '../../src/xml/index.ts';
import { NS } from '../../src/xmpp/ns.ts';
import { freeTcpPort } from '../helpers/ports.ts';
import { until } from '../helpers/until.ts';

export const PASSWORD = 'pw';

/** A TCP forwarder that can refuse all connections (cut) and accept them again (open). */
export class TcpGate {
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private constructor(readonly port: number, private readonly target: { host: string; port: number }) {}

  static async start(target: { host: string; port: number }): Promise<TcpGate> {
    const gate = new TcpGate(await freeTcpPort(), target);
    await gate.open();
    return gate;
  }

  get isOpen(): boolean {
    return this.server !== undefined;
  }

  /** Listens again on the same port and forwards each connection to the target. */
  async open(): Promise<void> {
    if (this.server) return;
    const srv = net.createServer((client) => {
      const up = net.connect(this.target);
      for (const s of [client, up]) {
        this.sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => {
          this.sockets.delete(s);
          client.destroy();
          up.destroy();
        });
      }
      client.pipe(up);
      up.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = srv;
  }

  /** Closes every forwarded connection and stops listening: dials are refused until open(). */
  async cut(): Promise<void> {
    const srv = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (srv) await new Promise<void>((resolve) => srv.close(() => resolve()));
  }

  async close(): Promise<void> {
    await this.cut();
  }
}

export interface LogLine { level: number; msg: string; [k: string]: unknown }

export interface WorldOptions {
  usersA?: string[];
  usersB?: string[];
  /** MUC components conference.a.example / conference.b.example (Prosody mod_muc, rooms unlocked). */
  mucA?: boolean;
  mucB?: boolean;
  /** Site-file `optimize:` and `policy:` sections (YAML flow maps), per relay. */
  optimizeA?: string;
  optimizeB?: string;
  policyA?: string;
  policyB?: string;
  /** Extra YAML lines for the link entry (indented 4) and for `local:` (indented 2), per relay, e.g. a clearance. */
  linkExtraA?: string;
  linkExtraB?: string;
  localExtraA?: string;
  localExtraB?: string;
}

export interface World {
  a: ProsodyServer;
  b: ProsodyServer;
  relayA: Relay;
  relayB: Relay;
  linkA: ConstrainedLink;
  linkB: ConstrainedLink;
  gate: TcpGate;
  logs: { A: LogLine[]; B: LogLine[] };
  /** Logs in `user` (from usersA / usersB) on its side's Prosody. */
  connect(user: string, side: 'A' | 'B', opts?: { resource?: string; initialPresence?: boolean }): Promise<XmppClient>;
  close(): Promise<void>;
}

function memoryLogger(name: string, into: LogLine[]): Logger {
  return pino({ level: process.env.SATRELAY_TEST_LOG ?? 'info', name }, { write: (s: string) => void into.push(JSON.parse(s) as LogLine) });
}

function siteYaml(o: { site: string; dir: string; domains: string[]; remote: string[]; listen: string; prosody: string; link: string; optimize?: string; policy?: string; local?: string }): string {
  return `site: ${o.site}
data_dir: ${o.dir}
local:
  domains: [${o.domains.join(', ')}]
  listen: ["${o.listen}"]
  routes: { ${o.domains.map((d) => `${d}: "${o.prosody}"`).join(', ')} }
${o.local ? `${o.local}\n` : ''}links:
  - name: ${o.site === 'ship' ? 'shore' : 'ship'}
    domains: [${o.remote.map((d) => `"${d}"`).join(', ')}]
    profile: lan
    reconnect: { min_s: 0.05, max_s: 0.2 }
    tuning: { rto_max_ms: 1000, frame_bytes: 256 }
${o.link}
${o.optimize ? `optimize: ${o.optimize}\n` : ''}${o.policy ? `policy: ${o.policy}\n` : ''}metrics: { listen: null }
`;
}

export async function startWorld(opts: WorldOptions = {}): Promise<World> {
  const cleanup: Array<() => Promise<void> | void> = [];
  let logs: { A: LogLine[]; B: LogLine[] } | undefined;
  const close = async (): Promise<void> => {
    if (process.env.SATRELAY_TEST_LOGDIR && logs) {
      for (const side of ['A', 'B'] as const) writeFileSync(join(process.env.SATRELAY_TEST_LOGDIR, `world-${process.pid}-${side}.log`), logs[side].map((l) => JSON.stringify(l)).join('\n'));
    }
    for (const f of cleanup.reverse()) {
      try { await f(); } catch { /* best effort */ }
    }
    cleanup.length = 0;
  };
  try {
    const dir = mkdtempSync(join(tmpdir(), 'satrelay-optimizers-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'link.key'), generateKeyText(), { mode: 0o600 });
    const key = `    key_file: ${join(dir, 'link.key')}`;
    const [pA, pB, linkPort] = [await freePort('127.0.0.2'), await freePort('127.0.0.3'), await freeTcpPort()];
    logs = { A: [] as LogLine[], B: [] as LogLine[] };
    const domainsA = ['a.example', ...(opts.mucA ? ['conference.a.example'] : [])];
    const domainsB = ['b.example', ...(opts.mucB ? ['conference.b.example'] : [])];

    const startRelay = async (site: 'ship' | 'shore', into: LogLine[], o: Omit<Parameters<typeof siteYaml>[0], 'site' | 'dir'>): Promise<Relay> => {
      const relay = buildRelay(parseSiteConfig(siteYaml({ site, dir: join(dir, site), ...o }), join(dir, `${site}.yaml`)), { logger: memoryLogger(site, into) });
      cleanup.push(() => relay.stop());
      await relay.start();
      return relay;
    };
    // Shore listens for the link; the ship dials it through the gate.
    const relayB = await startRelay('shore', logs.B, {
      domains: domainsB, remote: domainsA, listen: '127.0.0.5:0',
      prosody: `127.0.0.3:${pB}`, link: `    transport: tcp\n    bind: "127.0.0.1:${linkPort}"\n${key}${opts.linkExtraB ? `\n${opts.linkExtraB}` : ''}`,
      optimize: opts.optimizeB, policy: opts.policyB, local: opts.localExtraB,
    });
    const gate = await TcpGate.start({ host: '127.0.0.1', port: linkPort });
    cleanup.push(() => gate.close());
    const relayA = await startRelay('ship', logs.A, {
      domains: domainsA, remote: domainsB, listen: '127.0.0.4:0',
      prosody: `127.0.0.2:${pA}`, link: `    transport: tcp\n    peer: "127.0.0.1:${gate.port}"\n${key}${opts.linkExtraA ? `\n${opts.linkExtraA}` : ''}`,
      optimize: opts.optimizeA, policy: opts.policyA, local: opts.localExtraA,
    });

    const sA = relayA.s2s.addresses[0];
    const sB = relayB.s2s.addresses[0];
    const muc = (d: string) => ({ domain: d, module: 'muc', config: '  muc_room_locking = false\n  muc_room_default_history_length = 0\n' });
    const [a, b] = await Promise.all([
      ProsodyServer.start({
        domain: 'a.example', ip: '127.0.0.2', s2sPort: pA, s2sTls: 'off', fastUsers: true,
        peers: Object.fromEntries(domainsB.map((d) => [d, { host: sA.host, port: sA.port }])),
        users: (opts.usersA ?? []).map((user) => ({ user, password: PASSWORD })),
        components: opts.mucA ? [muc('conference.a.example')] : [],
      }),
      ProsodyServer.start({
        domain: 'b.example', ip: '127.0.0.3', s2sPort: pB, s2sTls: 'off', fastUsers: true,
        peers: Object.fromEntries(domainsA.map((d) => [d, { host: sB.host, port: sB.port }])),
        users: (opts.usersB ?? []).map((user) => ({ user, password: PASSWORD })),
        components: opts.mucB ? [muc('conference.b.example')] : [],
      }),
    ]);
    cleanup.push(() => a.stop(), () => b.stop());
    const clients: XmppClient[] = [];
    cleanup.push(async () => { await Promise.all(clients.map((c) => c.close())); });
    return {
      a, b, relayA, relayB, gate, logs: logs,
      linkA: relayA.links[0] as ConstrainedLink,
      linkB: relayB.links[0] as ConstrainedLink,
      async connect(user, side, o = {}) {
        const server = side === 'A' ? a : b;
        const c = await XmppClient.connect({ jid: `${user}@${server.domain}`, password: PASSWORD, host: server.ip, port: server.c2sPort, ...o });
        clients.push(c);
        return c;
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

export { until };

/** A world with alice logged in on side A and bob on side B; the world is closed if a login fails. */
export async function worldWithAliceAndBob(opts: WorldOptions): Promise<{ w: World; alice: XmppClient; bob: XmppClient }> {
  const w = await startWorld({ usersA: ['alice'], usersB: ['bob'], ...opts });
  try {
    const [alice, bob] = await Promise.all([w.connect('alice', 'A'), w.connect('bob', 'B')]);
    return { w, alice, bob };
  } catch (err) {
    await w.close();
    throw err;
  }
}

/** The audit log lines about stanza `id`. */
export const auditLines = (logs: LogLine[], id: string): LogLine[] => logs.filter((l) => l.audit === true && l.id === id);

/** The <error/> of a stanza as received (from its XML: slixmpp does not know every RFC 6120 condition). */
export function errorOf(e: ClientEvent): { type?: string; condition?: string; text?: string } {
  const err = parseXml(e.xml!).getChild('error');
  const cond = err?.elements().find((c) => c.ns === NS.STANZAS_ERR && c.local !== 'text');
  return { type: err?.attr('type'), condition: cond?.local, text: err?.getChildText('text', NS.STANZAS_ERR) };
}

/**
 * Cuts the link, then makes `from` send chat messages to `to` (each with a
 * 3 KB incompressible body, so each fills a link message of its own) until the
 * ship's core holds all it takes while the link cannot send and two more
 * stanzas wait in the OutboundQueue, steadily. From then on, until the gate
 * opens, every stanza the ship takes stays in that queue, where coalescing and
 * fan-out folding act on it. Only public figures are read (status().queued is
 * queue + core, stats().waiting is the core), so this keeps working whatever
 * the core's fill target is. Returns the filler ids (= bodies' prefixes) in order.
 */
export async function cutAndSaturate(w: World, from: XmppClient, to: string, tag: string): Promise<string[]> {
  const drops = w.relayA.metrics.get('link_driver_disconnects_total');
  await w.gate.cut();
  // The ship's driver saw its connection close: its core is not polled until the gate opens.
  await until(() => w.relayA.metrics.get('link_driver_disconnects_total') > drops, 'the ship to see the link drop');
  const ids: string[] = [];
  // Counted as accepted, not as spooled: a link message acknowledged just before the cut leaves the
  // spool when its removal commits, which may come after this line.
  const accepted0 = w.relayA.metrics.get('spool_accepted_total');
  const queueLen = (): number => w.linkA.status().queued - w.linkA.stats().waiting;
  for (let batch = 0; ; batch++) {
    if (ids.length >= 400) throw new Error(`the ship link still takes stanzas into its core after ${ids.length} fillers`);
    const more = Array.from({ length: 8 }, (_, i) => `${tag}-${ids.length + i + 1}`);
    ids.push(...more);
    from.sendRaw(more.map((id) => `<message to='${to}' type='chat' id='${id}'><body>${id} ${randomBytes(2304).toString('base64')}</body></message>`).join(''));
    // All accepted (spooled: nothing leaves the spool while the link is cut), then steady for 100 ms.
    await until(() => w.relayA.metrics.get('spool_accepted_total') - accepted0 >= ids.length, 'the ship to spool the fillers');
    let steady = 0;
    for (let i = 0; i < 10 && steady < 5; i++) {
      await new Promise((r) => setTimeout(r, 20));
      steady = queueLen() >= 2 ? steady + 1 : 0;
    }
    if (steady >= 5) return ids;
  }
}
