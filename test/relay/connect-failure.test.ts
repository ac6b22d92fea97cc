/**
 * Two ends of a tcp or xep0361 link that both set peer both dial and neither
 * listens: check sees one end only, so each relay says so at run time, as a
 * warning (once, then once a minute) and in `satrelay status` / the status
 * JSON (the error, since when, how many attempts). Once one end listens the
 * link connects and the error clears.
 */
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { generateKeyText, parseSiteConfig } from '../../src/config/index.ts';
import { buildRelay } from '../../src/relay/from-config.ts';
import type { Relay, RelayStatus } from '../../src/relay/relay.ts';
import { formatStatus } from '../../src/cli/status.ts';
import type { Logger } from '../../src/obs/log.ts';
import { freeTcpPort } from '../helpers/ports.ts';
import { until } from '../helpers/until.ts';

interface Line { level: number; msg: string; [k: string]: unknown }

for (const transport of ['xep0361', 'tcp'] as const) {
  test.serial(`${transport}: two ends that both dial warn, show the failure in status, and recover when one listens`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'satrelay-dial-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'k.key'), generateKeyText(), { mode: 0o600 });
    const key = transport === 'tcp' ? `, key_file: ${join(dir, 'k.key')}` : '';
    const ports = { ship: await freeTcpPort(), shore: await freeTcpPort() };
    const relays: Relay[] = [];
    t.teardown(async () => { for (const r of relays) await r.stop(); });
    const start = async (side: 'ship' | 'shore', link: string, lines: Line[]): Promise<Relay> => {
      const [own, far] = side === 'ship' ? ['a.example', 'b.example'] : ['b.example', 'a.example'];
      const cfg = parseSiteConfig(
        `site: ${side}\ndata_dir: ${join(dir, side)}\nlocal: { domains: [${own}], listen: ["127.0.0.1:0"] }\n` +
          `links:\n  - { name: far.link, domains: [${far}], profile: lan, transport: ${transport}, ${link}${key}, reconnect: { min_s: 0.05, max_s: 0.1 } }\n` +
          'metrics: { listen: "127.0.0.1:0" }\n',
        join(dir, `${side}.yaml`),
      );
      const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Line) }) as Logger;
      const r = buildRelay(cfg, { logger });
      await r.start();
      relays.push(r);
      return r;
    };
    const logs = { ship: [] as Line[], shore: [] as Line[] };
    const ship = await start('ship', `peer: "127.0.0.1:${ports.shore}"`, logs.ship);
    const shore = await start('shore', `peer: "127.0.0.1:${ports.ship}"`, logs.shore);
    const warnings = (lines: Line[]) => lines.filter((l) => l.level === 40 && /^link cannot connect to its partner/.test(l.msg));
    await until(() => warnings(logs.ship).length > 0 && warnings(logs.shore).length > 0, 'both ends to warn');
    await until(() => (ship.status().links[0].connectFailures ?? 0) >= 3, 'a few more attempts');
    t.is(warnings(logs.ship).length, 1, 'one warning, not one per attempt');
    t.like(warnings(logs.ship)[0], { link: 'far.link', peer: `127.0.0.1:${ports.shore}`, attempts: 1 });

    const st = (await (await fetch(`http://127.0.0.1:${ship.obsPort}/status`)).json()) as RelayStatus;
    const l = st.links[0];
    t.false(l.up);
    t.regex(l.lastError ?? '', new RegExp(`^cannot connect to 127\\.0\\.0\\.1:${ports.shore}: .*ECONNREFUSED`));
    t.true(!Number.isNaN(Date.parse(l.failingSince ?? '')), `failingSince ${l.failingSince}`);
    t.is(typeof l.failingForS, 'number');
    t.true((l.connectFailures ?? 0) >= 3);
    t.regex(formatStatus(st), /last error: cannot connect to 127\.0\.0\.1:\d+: .*ECONNREFUSED.* \(failing for 0m \d+s, \d+ attempts\)/);

    // The operator fixes the shore: it listens (bind only). The ship connects and the failure clears.
    await shore.stop();
    relays.splice(relays.indexOf(shore), 1);
    await start('shore', `bind: "127.0.0.1:${ports.shore}"`, logs.shore);
    await until(() => ship.status().links[0].up, 'the ship to connect');
    await until(() => logs.ship.some((x) => x.msg === 'link connected to its partner after failed attempts'), 'the recovery line');
    const after = ship.status().links[0];
    t.is(after.failingSince, undefined);
    t.is(after.connectFailures, undefined);
    t.is(after.lastError, undefined);
  });
}
