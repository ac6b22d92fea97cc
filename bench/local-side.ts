/**
 * CPU per stanza of the relay's local side, in process (not a test):
 * `npx tsx bench/local-side.ts [--stanzas N] [--rounds R] [--json]`. Chat
 * workload stanzas (src/sim/workloads.ts); each figure is the least process
 * CPU time (user + system) per stanza over R rounds, so a busy machine
 * inflates it less than one pass would.
 *
 *   parse s2s            S2S input bytes -> stanzas (StreamParser, 16 KiB reads)
 *   parse link           link messages of ~6000 bytes -> stanzas (parseStanzas, as the inbox reads them)
 *   route from local     Router.fromLocal with the default hooks to a link that takes everything
 *   from link + local    Router.fromLink with the default hooks, in order per lane (LocalDelivery.inOrder,
 *                        window 32) to a local server that confirms at once
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { StreamParser } from '../src/xml/parser.ts';
import type { XmlElement } from '../src/xml/element.ts';
import { parseStanzas } from '../src/link/constrained/message.ts';
import { Router } from '../src/relay/router.ts';
import { LocalDelivery } from '../src/relay/local-delivery.ts';
import { buildOptimizeHooks } from '../src/optimize/index.ts';
import { PolicyHook } from '../src/policy/index.ts';
import type { RelayLink } from '../src/link/port.ts';
import { Metrics } from '../src/obs/metrics.ts';
import { silentLogger } from '../src/obs/log.ts';
import { ManualClock } from '../src/time/index.ts';
import { makeWorkload } from '../src/sim/index.ts';

const HEADER = "<stream:stream xmlns='jabber:server' xmlns:db='jabber:server:dialback' xmlns:stream='http://etherx.jabber.org/streams' to='b.example' from='a.example' version='1.0'>";

const { values } = parseArgs({ options: { stanzas: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '12' }, json: { type: 'boolean' } } });
const n = Number(values.stanzas);
const raws = makeWorkload('chat', n, 1).map((s) => s.el.toBuffer());
const input = Buffer.concat(raws);
/** Stanzas packed back to back into messages of about 6000 bytes, as the link packs them. */
const messages: Buffer[] = [];
for (let i = 0, size = 0, from = 0; i < raws.length; i++) {
  size += raws[i].length;
  if (size >= 6000 || i === raws.length - 1) {
    messages.push(Buffer.concat(raws.slice(from, i + 1)));
    from = i + 1;
    size = 0;
  }
}

function parseS2S(): XmlElement[] {
  const got: XmlElement[] = [];
  const p = new StreamParser({ stanza: (el) => got.push(el), error: (e) => { throw e; } });
  p.write(Buffer.from(HEADER));
  for (let i = 0; i < input.length; i += 16384) p.write(input.subarray(i, i + 16384));
  return got;
}

const parseLink = (): XmlElement[] => messages.flatMap((m) => parseStanzas(m, 262144));

async function cpuPer(count: number, fn: () => unknown): Promise<number> {
  const c0 = process.cpuUsage();
  await fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / count;
}

const dir = mkdtempSync(join(tmpdir(), 'satrelay-local-side-'));
const metrics = new Metrics();
const optimize = buildOptimizeHooks({ presence: 'coalesce', discoCache: true, fanout: true, dataDir: dir, metrics });
const hooks = [new PolicyHook({ allow: ['*'], block: [], blockNamespaces: [], drop: [] }, { metrics }), ...optimize.hooks];
const link = { name: 'shore', domains: ['a.example', 'muc.a.example', 'b.example'], deliverInOrder: true, send: () => Promise.resolve() } as unknown as RelayLink;
const local = new LocalDelivery({ send: () => Promise.resolve(), holdMs: 60_000, clock: new ManualClock(), metrics, log: silentLogger, failed: () => undefined, window: 32 });
const toLink = new Router({ localDomains: ['c.example'], links: [link], local: { deliver: () => undefined }, metrics, hooks });
const fromLink = new Router({ localDomains: ['b.example'], links: [link], local: { deliver: (el, l) => local.deliver(el, l?.name) }, metrics, hooks });

const best: Record<string, number> = {};
const note = (k: string, v: number): void => void (best[k] = Math.min(best[k] ?? Infinity, v));
try {
  for (let r = 0; r < Number(values.rounds); r++) {
    let els: XmlElement[] = [];
    note('parse_s2s', await cpuPer(n, () => (els = parseS2S())));
    if (els.length !== n) throw new Error(`parsed ${els.length} of ${n}`);
    note('parse_link', await cpuPer(n, parseLink));
    note('route_from_local', await cpuPer(n, () => Promise.all(els.map((el) => toLink.fromLocal(el)))));
    // the workload's stanzas to b.example, as the partner relay's link delivers them
    const inbound = parseLink().filter((el) => el.attr('to')!.split('/')[0].endsWith('@b.example'));
    note('from_link_and_local', await cpuPer(inbound.length, () => Promise.all(inbound.map((el) => local.inOrder('shore', el, () => fromLink.fromLink(link, el))))));
  }
} finally {
  await optimize.close();
  rmSync(dir, { recursive: true, force: true });
}
const out = Object.fromEntries(Object.entries(best).map(([k, v]) => [k, Math.round(v * 100) / 100]));
if (values.json) process.stdout.write(JSON.stringify({ stanzas: n, us_per_stanza: out }) + '\n');
else {
  process.stdout.write(`local side of the relay, chat workload, ${n} stanzas; least CPU µs per stanza over ${values.rounds} rounds\n`);
  for (const [k, v] of Object.entries(out)) process.stdout.write(`  ${k.replace(/_/g, ' ').padEnd(22)} ${v.toFixed(2).padStart(8)} µs\n`);
}
