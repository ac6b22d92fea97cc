/**
 * Parser throughput on typical S2S stanzas (not a test).
 * Run: npx tsx bench/xml-parse.ts [MB]   — prints MB/s for several chunk sizes.
 */
import { StreamParser } from '../src/xml/parser.ts';

const HEADER =
  "<stream:stream xmlns='jabber:server' xmlns:db='jabber:server:dialback' xmlns:stream='http://etherx.jabber.org/streams' xml:lang='en' to='b.example' from='a.example' version='1.0'>";
const STANZAS = [
  "<message from='alice@a.example/phone' to='bob@b.example' type='chat' id='m-1'><body>Position 12.34N 056.78E, speed 11 kn, all well on board.</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>",
  "<presence from='alice@a.example/phone' to='bob@b.example'><show>away</show><status>On watch</status><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://conversations.im' ver='q07IKJEyjvHSyhy//CH0CxmKi8w='/></presence>",
  "<iq from='a.example' to='b.example' type='get' id='disco-1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
  "<message from='room@muc.a.example/Ülf' to='bob@b.example' type='groupchat' id='g-7'><body>Wetter: 12 °C, Wind NW 5 Bft — 天气 😀</body></message>",
];

const mb = Number(process.argv[2] ?? 50);
const parts: string[] = [];
let size = 0;
for (let i = 0; size < mb * 1e6; i++) {
  const s = STANZAS[i % STANZAS.length];
  parts.push(s, '\n');
  size += Buffer.byteLength(s) + 1;
}
const body = Buffer.from(parts.join(''), 'utf8');

for (const chunk of [1400, 16384, 65536]) {
  let n = 0;
  const p = new StreamParser({ stanza: () => n++, error: (e) => { throw e; } });
  p.write(Buffer.from(HEADER));
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < body.length; i += chunk) p.write(body.subarray(i, i + chunk));
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`chunk ${String(chunk).padStart(6)} B: ${(body.length / 1e6 / s).toFixed(1)} MB/s, ${Math.round(n / s)} stanzas/s (${n} stanzas, ${(body.length / 1e6).toFixed(1)} MB)`);
}
