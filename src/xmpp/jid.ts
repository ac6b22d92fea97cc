/** Minimal JID handling (RFC 7622): split and compare; no full PRECIS. */
export interface Jid {
  local?: string;
  domain: string;
  resource?: string;
}

export function parseJid(s: string): Jid | undefined {
  if (!s) return undefined;
  let rest = s;
  let resource: string | undefined;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    resource = rest.slice(slash + 1);
    rest = rest.slice(0, slash);
    if (!resource) return undefined;
  }
  let local: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    local = rest.slice(0, at);
    rest = rest.slice(at + 1);
    if (!local) return undefined;
  }
  const domain = rest.toLowerCase().replace(/\.$/, '');
  if (!domain || domain.length > 1023 || /[\s@/<>"']/.test(domain)) return undefined;
  return { local, domain, resource };
}

/** Recent domainOf answers: a relay asks about the same few JIDs at every step of every stanza. */
const DOMAIN_MEMO_MAX = 4096;
const domainMemo = new Map<string, string | undefined>();

/** The last two answers: a stanza's from and to, asked for again at each step (most often the same string object). */
let lastA = '';
let domA: string | undefined;
let lastB = '';
let domB: string | undefined;

/** Domain part of a JID string, lower-cased; undefined when it is not a JID. */
export function domainOf(s: string | undefined): string | undefined {
  if (s === undefined) return undefined;
  if (s === lastA) return domA;
  if (s === lastB) return domB;
  const d = memoDomain(s);
  lastB = lastA;
  domB = domA;
  lastA = s;
  domA = d;
  return d;
}

function memoDomain(s: string): string | undefined {
  let d = domainMemo.get(s);
  if (d !== undefined || domainMemo.has(s)) return d;
  d = parseJid(s)?.domain;
  if (domainMemo.size >= DOMAIN_MEMO_MAX) domainMemo.clear();
  domainMemo.set(s, d);
  return d;
}

export function bareJid(s: string): string {
  const j = parseJid(s);
  if (!j) return s;
  return j.local ? `${j.local}@${j.domain}` : j.domain;
}

/** Matches a domain against a pattern list: exact, "*.example.org" (subdomains only), or "*" (all). */
export function domainMatches(domain: string, patterns: readonly string[]): boolean {
  // A plain loop: called several times per stanza (toLowerCase gives back a string already in lower case as it is).
  const d = domain.toLowerCase();
  for (let i = 0; i < patterns.length; i++) {
    const q = patterns[i].toLowerCase();
    if (q === '*' || q === d) return true;
    if (q.length >= 2 && q.charCodeAt(0) === 0x2a && q.charCodeAt(1) === 0x2e && endsWithFrom(d, q, 1)) return true;
  }
  return false;
}

/** `d` ends with q[from..]. */
function endsWithFrom(d: string, q: string, from: number): boolean {
  const n = q.length - from;
  if (d.length < n) return false;
  for (let k = 1; k <= n; k++) if (d.charCodeAt(d.length - k) !== q.charCodeAt(q.length - k)) return false;
  return true;
}
