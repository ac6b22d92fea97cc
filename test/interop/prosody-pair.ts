/**
 * The two real Prosody servers of a relay pair test, each routing the other
 * domain to its own relay, and a client on each (alice@a.example, bob@b.example);
 * all stopped at the test's end.
 */
import type { ExecutionContext } from 'ava';
import { ProsodyServer } from '../helpers/prosody.ts';
import { XmppClient } from '../helpers/xmpp-client.ts';

type Addr = { host: string; port: number };

export async function prosodyPair(
  t: ExecutionContext,
  o: { pA: number; pB: number; s2sTls: 'required' | 'off'; relayA: Addr; relayB: Addr; moreDomainsA?: string[] },
): Promise<{ a: ProsodyServer; b: ProsodyServer; alice: XmppClient; bob: XmppClient }> {
  const peersA: Record<string, Addr> = { 'b.example': o.relayA };
  for (const d of o.moreDomainsA ?? []) peersA[d] = o.relayA;
  const a = await ProsodyServer.start({ domain: 'a.example', ip: '127.0.0.2', s2sPort: o.pA, s2sTls: o.s2sTls, peers: peersA, users: [{ user: 'alice', password: 'pw-a' }] });
  t.teardown(() => a.stop());
  const b = await ProsodyServer.start({ domain: 'b.example', ip: '127.0.0.3', s2sPort: o.pB, s2sTls: o.s2sTls, peers: { 'a.example': o.relayB }, users: [{ user: 'bob', password: 'pw-b' }] });
  t.teardown(() => b.stop());
  const [alice, bob] = await Promise.all([
    XmppClient.connect({ jid: 'alice@a.example', password: 'pw-a', host: a.ip, port: a.c2sPort }),
    XmppClient.connect({ jid: 'bob@b.example', password: 'pw-b', host: b.ip, port: b.c2sPort }),
  ]);
  t.teardown(() => alice.close());
  t.teardown(() => bob.close());
  return { a, b, alice, bob };
}

/**
 * The site file of one relay of the pair: ship (a.example) or shore
 * (b.example), its S2S listener and route to its Prosody, and one link to the
 * other relay whose keys after name and domains are `link` (indented lines).
 */
export function pairSiteYaml(o: { site: 'ship' | 'shore'; dir: string; listen: string; route: string; tlsRequire: boolean; link: string }): string {
  const ship = o.site === 'ship';
  return `site: ${o.site}
data_dir: ${o.dir}
local:
  domains: [${ship ? 'a.example' : 'b.example'}]
  listen: ["${o.listen}"]
  routes: { ${ship ? 'a.example' : 'b.example'}: "${o.route}" }
  tls: { require: ${o.tlsRequire} }
links:
  - name: ${ship ? 'shore' : 'ship'}
    domains: [${ship ? 'b.example' : 'a.example'}]
${o.link}
metrics: { listen: null }
`;
}
