/**
 * A real DNS server for tests (dns2, UDP on 127.0.0.1, OS-chosen port)
 * answering from a zone: SRV, A, AAAA and TLSA (type 52, raw RDATA). Unknown
 * names are NXDOMAIN. `ad` sets the AD bit on answers, as a validating
 * resolver does for DNSSEC-secure data (per name, or for all with `ad: true`).
 */
import type { ExecutionContext } from 'ava';
import dns2 from 'dns2';

const { Packet } = dns2;
const TLSA = 52;

export type Srv = { priority: number; weight: number; port: number; target: string };
export type ZoneEntry = { SRV?: Srv[]; A?: string[]; AAAA?: string[]; TLSA?: string[] };
export type Zone = Record<string, ZoneEntry>;

export interface DnsServerOptions {
  /** names never answered (the client times out) */
  silent?: Set<string>;
  /** names answered with SERVFAIL (what a validating resolver says for bogus data) */
  servfail?: Set<string>;
  /** the AD bit: on every answer, or on answers for these names */
  ad?: boolean | Set<string>;
}

export interface TestDnsServer {
  /** "127.0.0.1:port" */
  server: string;
  queries: string[];
  /** per query: did it set the AD bit (RFC 6840 §5.7) */
  askedAd: boolean[];
  zone: Zone;
}

export const srv = (priority: number, weight: number, port: number, target: string): Srv => ({ priority, weight, port, target });

/** "3 1 1 ab..." -> TLSA RDATA (RFC 6698 §2.1). */
function tlsaRdata(text: string): Buffer {
  const [u, s, m, hex] = text.split(/\s+/);
  return Buffer.concat([Buffer.from([Number(u), Number(s), Number(m)]), Buffer.from(hex, 'hex')]);
}

export async function dnsServer(t: ExecutionContext, zone: Zone, opts: DnsServerOptions = {}): Promise<TestDnsServer> {
  const queries: string[] = [];
  const askedAd: boolean[] = [];
  const server = dns2.createServer({
    udp: true,
    handle: (request, send) => {
      const q = request.questions[0];
      const name = q.name.toLowerCase();
      queries.push(`${name}/${q.type}`);
      askedAd.push((request.header as unknown as { ad: number }).ad === 1);
      if (opts.silent?.has(name)) return;
      const res = Packet.createResponseFromRequest(request);
      const h = res.header as unknown as { ad: number; rcode: number };
      h.ad = opts.ad === true || (opts.ad instanceof Set && opts.ad.has(name)) ? 1 : 0;
      const entry = zone[name];
      const rr = (type: number, data: object) => res.answers.push({ name: q.name, type, class: Packet.CLASS.IN, ttl: 60, ...data } as never);
      if (opts.servfail?.has(name)) h.rcode = 2;
      else if (!entry) h.rcode = 3;
      else if (q.type === Packet.TYPE.SRV) for (const r of entry.SRV ?? []) rr(Packet.TYPE.SRV, r);
      else if (q.type === Packet.TYPE.A) for (const address of entry.A ?? []) rr(Packet.TYPE.A, { address });
      else if (q.type === Packet.TYPE.AAAA) for (const address of entry.AAAA ?? []) rr(Packet.TYPE.AAAA, { address });
      else if (q.type === TLSA) for (const r of entry.TLSA ?? []) rr(TLSA, { data: tlsaRdata(r) });
      send(res);
    },
  });
  const addr = await server.listen({ udp: { port: 0, address: '127.0.0.1' } });
  t.teardown(() => server.close());
  return { server: `127.0.0.1:${(addr.udp as { port: number }).port}`, queries, askedAd, zone };
}
