/**
 * `--baseline prosody`: two real Prosody 0.12 servers (a.example on
 * 127.0.0.2, b.example on 127.0.0.3) federating over the TCP emulator, both
 * directions on one bearer, S2S TLS required. One client per side
 * (alice@a.example, bob@b.example, python3-slixmpp) sends the workload's
 * messages as raw XML on c2s (local, not across the bearer), each addressed
 * to the single user on the other side; arrival is the other client
 * receiving the message id. Chat only: presence and iq would need rosters
 * and a disco-answering client.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProsodyServer, prosodyAvailable, freePort } from '../test/helpers/prosody.ts';
import { XmppClient } from '../test/helpers/xmpp-client.ts';
import { startTcpEmulator, type BearerParams } from '../src/emulator/index.ts';
import { serializeElement, XmlElement } from '../src/xml/element.ts';
import { BenchError, streamParams, worldWithCleanup, type ExtraBaseline, type Side, type World } from '../src/sim/index.ts';

const USERS: Record<Side, { jid: string; password: string }> = {
  a: { jid: 'alice@a.example', password: 'bench-a' },
  b: { jid: 'bob@b.example', password: 'bench-b' },
};

export function checkProsodyWorkload(workload: string): void {
  if (!prosodyAvailable()) throw new BenchError('BENCH_UNSUPPORTED', '--baseline prosody needs prosody installed (apt-get install prosody lua-unbound)');
  if (workload !== 'chat') throw new BenchError('BENCH_UNSUPPORTED', `--baseline prosody supports the chat workload only (got ${workload})`);
}

/** A copy of a workload stanza as a client sends it: no `from` (the server stamps it), `to` the user on the other side. */
function asClientXml(el: XmlElement, from: Side): string {
  const attrs = { ...el.attrs };
  delete attrs.from;
  attrs.to = USERS[from === 'a' ? 'b' : 'a'].jid;
  return serializeElement(new XmlElement(el.name, attrs, el.children));
}

export async function startProsodyWorld(o: { seed: number; params: BearerParams; tmpDir?: string }): Promise<World> {
  const dir = mkdtempSync(join(o.tmpDir ?? tmpdir(), 'satrelay-bench-prosody-'));
  const { world, cleanup } = worldWithCleanup('prosody', dir, true);
  try {
    const ip = { a: '127.0.0.2', b: '127.0.0.3' };
    const s2s = { a: await freePort(ip.a), b: await freePort(ip.b) };
    const params = streamParams(o.params); // a TCP stream carries no bit errors
    const emu = await startTcpEmulator({
      params,
      seed: o.seed,
      listen: '127.0.0.1:0',
      target: `${ip.b}:${s2s.b}`,
      extra: [{ listen: '127.0.0.1:0', target: `${ip.a}:${s2s.a}`, reverse: true }],
      noDelay: true,
    });
    cleanup.push(() => emu.close());
    world.emulatorStats = () => emu.stats();
    world.emulatorSummary = () => emu.summary();
    const servers = {} as Record<Side, ProsodyServer>;
    for (const side of ['a', 'b'] as const) {
      const domain = side === 'a' ? 'a.example' : 'b.example';
      const other = side === 'a' ? 'b.example' : 'a.example';
      const user = USERS[side].jid.split('@')[0];
      const srv = await ProsodyServer.start({
        domain,
        ip: ip[side],
        s2sPort: s2s[side],
        s2sTls: 'required',
        peers: { [other]: { host: '127.0.0.1', port: emu.addresses[side === 'a' ? 0 : 1].port } },
        users: [{ user, password: USERS[side].password }],
        logLevel: 'info',
        startTimeoutMs: 30_000,
      });
      cleanup.push(() => srv.stop());
      servers[side] = srv;
    }
    const clients = {} as Record<Side, XmppClient>;
    for (const side of ['a', 'b'] as const) {
      const c = await XmppClient.connect({ jid: USERS[side].jid, password: USERS[side].password, host: servers[side].ip, port: servers[side].c2sPort });
      cleanup.push(() => c.close());
      clients[side] = c;
    }
    // Arrivals: a message event with a workload id -> the original stanza (the tracker keys on id and original `to`).
    const sent = new Map<string, { el: XmlElement; to: Side }>();
    for (const side of ['a', 'b'] as const) {
      let seen = 0;
      const poll = setInterval(() => {
        const got = clients[side].received;
        for (; seen < got.length; seen++) {
          const ev = got[seen];
          if (ev.event !== 'message' || !ev.id) continue;
          const orig = sent.get(ev.id);
          if (!orig) continue;
          if (ev.type === 'error') world.onUndeliverable(side, orig.el, 'error');
          else if (orig.to === side) world.onStanza(side, orig.el);
        }
      }, 5);
      cleanup.push(() => clearInterval(poll));
    }
    world.send = (side, el) => {
      if (el.local !== 'message') throw new BenchError('BENCH_UNSUPPORTED', 'the Prosody baseline carries messages only');
      sent.set(el.attr('id')!, { el, to: side === 'a' ? 'b' : 'a' });
      clients[side].sendRaw(asClientXml(el, side));
    };
    return world;
  } catch (err) {
    await world.stop();
    if (err instanceof BenchError) throw err;
    throw new BenchError('BENCH_SETUP_FAILED', `prosody baseline setup: ${(err as Error).message}`);
  }
}

/** `--baseline prosody` for bench/cli.ts. */
export const PROSODY_BASELINE: ExtraBaseline = {
  kind: 'prosody',
  title: 'Prosody S2S',
  check: checkProsodyWorkload,
  start: startProsodyWorld,
  note: 'baseline: two Prosody 0.12 servers, S2S TLS required; messages injected by one client per side (c2s is local), each addressed to the one user on the other side',
};
