/**
 * A small DNS client on the wire (RFC 1035 §4, dns2's Packet for the
 * encoding) for what node:dns does not give: TLSA records (RFC 6698 §2) and
 * the AD bit. Queries set AD (RFC 6840 §5.7: ask a validating resolver to say
 * whether it validated) and carry an EDNS0 OPT record (RFC 6891, 1232-byte
 * UDP payload); a truncated answer (TC) is asked again over TCP (RFC 7766).
 * Whether AD can be believed is the caller's decision (RFC 6840 §5.9: only
 * from a resolver reached over a secure path, e.g. loopback).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { randomInt } from 'node:crypto';
import dns2 from 'dns2';

const { Packet } = dns2;

export const TYPE = { A: 1, CNAME: 5, AAAA: 28, SRV: 33, TLSA: 52 } as const;
export type QueryType = keyof typeof TYPE;

export interface TlsaRecord {
  usage: number;
  selector: number;
  matchingType: number;
  data: Buffer;
}

export interface DnsAnswer {
  /** RCODE: 0 NOERROR, 2 SERVFAIL (a validating resolver's answer for bogus data), 3 NXDOMAIN */
  rcode: number;
  /** the resolver says it validated every record (RFC 4035 §3.2.3) */
  ad: boolean;
  srv: Array<{ name: string; port: number; priority: number; weight: number }>;
  addresses: string[];
  tlsa: TlsaRecord[];
}

export interface WireServer {
  host: string;
  port: number;
}

export class DnsWireError extends Error {
  constructor(readonly code: 'DNS_WIRE_TIMEOUT' | 'DNS_WIRE_BAD_ANSWER', message: string) {
    super(message);
    this.name = 'DnsWireError';
  }
}

/** TLSA RDATA: usage, selector, matching type, then the association data. */
export function parseTlsaRdata(data: Buffer): TlsaRecord | undefined {
  if (data.length < 4) return undefined;
  return { usage: data[0], selector: data[1], matchingType: data[2], data: Buffer.from(data.subarray(3)) };
}

/** "3 1 1 ab12..." (RFC 6698 §2.2 presentation form) */
export function tlsaText(r: TlsaRecord): string {
  return `${r.usage} ${r.selector} ${r.matchingType} ${r.data.toString('hex')}`;
}

export function parseTlsaText(s: string): TlsaRecord {
  const [u, sel, mt, hex] = s.trim().split(/\s+/, 4);
  return { usage: Number(u), selector: Number(sel), matchingType: Number(mt), data: Buffer.from(hex ?? '', 'hex') };
}

function encodeQuery(id: number, name: string, type: QueryType): Buffer {
  const q = new Packet();
  q.header.id = id;
  q.header.rd = 1;
  (q.header as unknown as { ad: number }).ad = 1;
  q.questions.push({ name, type: TYPE[type], class: Packet.CLASS.IN } as never);
  // the typings know EDNS(rdata) only; the options argument sets the UDP payload size
  q.additionals.push((Packet.Resource.EDNS as unknown as (rdata: unknown[], o: object) => never)([], { udpPayloadSize: 1232 }));
  return q.toBuffer();
}

function decodeAnswer(buf: Buffer, id: number, type: QueryType): DnsAnswer & { tc: boolean } {
  let p: ReturnType<typeof Packet.parse>;
  try {
    p = Packet.parse(buf);
  } catch (err) {
    throw new DnsWireError('DNS_WIRE_BAD_ANSWER', `unparseable DNS answer: ${(err as Error).message}`);
  }
  const h = p.header as unknown as { id: number; qr: number; tc: number; ad: number; rcode: number };
  if (h.id !== id || h.qr !== 1) throw new DnsWireError('DNS_WIRE_BAD_ANSWER', 'DNS answer with another id');
  const out: DnsAnswer & { tc: boolean } = { rcode: h.rcode, ad: h.ad === 1, tc: h.tc === 1, srv: [], addresses: [], tlsa: [] };
  for (const r of p.answers as unknown as Array<Record<string, unknown>>) {
    if (r.type !== TYPE[type]) continue; // CNAMEs: the resolver followed them
    if (type === 'SRV') out.srv.push({ name: String(r.target ?? '').replace(/\.$/, ''), port: Number(r.port), priority: Number(r.priority), weight: Number(r.weight) });
    else if (type === 'A' || type === 'AAAA') out.addresses.push(String(r.address));
    else if (type === 'TLSA' && Buffer.isBuffer(r.data)) {
      const t = parseTlsaRdata(r.data);
      if (t) out.tlsa.push(t);
    }
  }
  return out;
}

function overUdp(server: WireServer, query: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(net.isIPv6(server.host) ? 'udp6' : 'udp4');
    const timer = setTimeout(() => finish(new DnsWireError('DNS_WIRE_TIMEOUT', `no DNS answer from ${server.host}:${server.port} in ${timeoutMs} ms`)), timeoutMs);
    const finish = (err: Error | null, buf?: Buffer): void => {
      clearTimeout(timer);
      sock.close();
      if (err) reject(err);
      else resolve(buf!);
    };
    sock.on('error', (err) => finish(err));
    sock.on('message', (msg, rinfo) => {
      // only the server asked may answer (RFC 5452 §9.1)
      if (rinfo.port === server.port && (rinfo.address === server.host || !net.isIP(server.host))) finish(null, msg);
    });
    sock.send(query, server.port, server.host);
  });
}

function overTcp(server: WireServer, query: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(server.port, server.host);
    let buf = Buffer.alloc(0);
    sock.setTimeout(timeoutMs, () => sock.destroy(new DnsWireError('DNS_WIRE_TIMEOUT', `no DNS answer over TCP from ${server.host}:${server.port} in ${timeoutMs} ms`)));
    sock.on('error', reject);
    sock.on('connect', () => sock.write(Buffer.concat([Buffer.from([query.length >> 8, query.length & 255]), query])));
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        sock.end();
        resolve(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      }
    });
    sock.on('close', () => reject(new DnsWireError('DNS_WIRE_BAD_ANSWER', 'DNS over TCP closed before the answer')));
  });
}

/** One question to one server (throws DnsWireError, or the socket's error). */
export async function queryWire(server: WireServer, name: string, type: QueryType, timeoutMs = 3000): Promise<DnsAnswer> {
  const id = randomInt(0x10000);
  const query = encodeQuery(id, name, type);
  let ans = decodeAnswer(await overUdp(server, query, timeoutMs), id, type);
  if (ans.tc) ans = decodeAnswer(await overTcp(server, query, timeoutMs), id, type);
  const { tc: _tc, ...rest } = ans;
  return rest;
}
