/**
 * What `satrelay status` and the status page show of a link over several
 * bearers, from a real two-bearer link run in simulated time (sim-pair.ts):
 * each bearer, up or down, which one is current, its bytes.
 */
import test from 'ava';
import { formatStatus } from '../../../src/cli/status.ts';
import { renderStatusPage, type PageStatus } from '../../../src/obs/status-page.ts';
import type { RelayStatus } from '../../../src/relay/relay.ts';
import { SimPair } from './sim-pair.ts';

test('status and the status page list each bearer: up/down, current, bytes', async (t) => {
  const pair = new SimPair({ profiles: ['starlink-maritime', 'iridium-2400'], seed: 3, loss: false });
  await pair.start();
  pair.outage(0, 1000, 600_000);
  for (let i = 0; i < 5; i++) pair.a.submit(100);
  pair.runUntil(60_000);
  const bearers = pair.a.driver.bearers();
  t.deepEqual(bearers.map((b) => [b.name, b.up, b.current]), [['1:starlink-maritime', false, false], ['2:iridium-2400', true, true]]);
  const link = { name: 'shore', transport: 'bearers(emu,emu)', up: true, queued: 0, inFlight: 0, sent: 5, received: 0, bearers };
  const st = { site: 'ship-1', startedAt: '2026-01-01T00:00:00.000Z', uptimeS: 60, links: [link], sessions: [] } as unknown as RelayStatus;
  const text = formatStatus(st);
  t.regex(text, /bearer 1:starlink-maritime +emu +DOWN +sent \d+ B/);
  t.regex(text, new RegExp(`bearer 2:iridium-2400 +emu +UP +current +sent ${bearers[1].bytesSent} B  received ${bearers[1].bytesReceived} B`));
  const html = renderStatusPage({ ...(st as unknown as PageStatus), errors: [] }, () => [], Date.UTC(2026, 0, 1));
  t.regex(html, /<td>2:iridium-2400 <b>\(current\)<\/b><\/td><td>emu<\/td><td><span class="state up">UP<\/span>/);
  t.regex(html, /<td>1:starlink-maritime<\/td><td>emu<\/td><td><span class="state down">DOWN<\/span>/);
});
