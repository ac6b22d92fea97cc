import { ConfigError, loadSiteConfig, parseHostPort } from '../config/index.ts';
import type { RelayStatus } from '../relay/relay.ts';
import { CONFIG_OPTION, configFile, runCommand, type CommandSpec } from './args.ts';

export const STATUS: CommandSpec = {
  name: 'status',
  summary: 'Asks the running relay (at metrics.listen of its site file) for a one-screen summary: links, RTT,\nqueues, spool, S2S sessions, last errors. The same page in a browser: http://METRICS_LISTEN/',
  usage: '(-c FILE | FILE)',
  options: { ...CONFIG_OPTION, json: { type: 'boolean', help: 'print the status as JSON (what GET /status serves)' } },
  positionals: { max: 1 },
};

/** `satrelay status -c FILE`: one-screen summary of the running relay, read from its status endpoint. */
export async function statusCommand(args: string[]): Promise<number> {
  return runCommand(STATUS, args, (values, positionals) => status(configFile(values, positionals), values.json === true));
}

async function status(file: string, json: boolean): Promise<number> {
  let listen: string | null;
  try {
    listen = loadSiteConfig(file, { checkKeyFiles: false }).metrics.listen;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 1;
    }
    throw err;
  }
  if (!listen) {
    process.stderr.write(`${file}: metrics.listen is off, so the running relay cannot be asked; set it to e.g. "127.0.0.1:9105"\n`);
    return 1;
  }
  const { host, port } = parseHostPort(listen);
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host}:${port}/status`;
  let st: RelayStatus;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    st = (await res.json()) as RelayStatus;
  } catch (err) {
    process.stderr.write(`no relay answers at ${url}: ${(err as Error).message}\n`);
    return 1;
  }
  process.stdout.write(json ? JSON.stringify(st, null, 2) + '\n' : `${formatStatus(st)}\nin a browser, with charts of the last hour: ${url.replace(/status$/, '')}\n`);
  return 0;
}

export function formatStatus(st: RelayStatus): string {
  const lines = [`site ${st.site}   up ${formatDuration(st.uptimeS)} (since ${st.startedAt})`, ''];
  lines.push('links');
  for (const l of st.links) {
    const rtt = l.rttMs === undefined ? '-' : `${Math.round(l.rttMs)} ms`;
    // Spooled links (one spool each, hub mode included): depth and age of the oldest held stanza.
    const spool = l.spooled === undefined ? '' : `  spool ${l.spooled}${l.spooled > 0 && l.oldestAgeS !== undefined ? ` (oldest ${formatDuration(Math.round(l.oldestAgeS))})` : ''}`;
    lines.push(`  ${l.name.padEnd(12)} ${l.transport.padEnd(8)} ${(l.up ? 'UP' : 'DOWN').padEnd(5)} rtt ${rtt.padEnd(8)} queued ${String(l.queued).padEnd(6)} in flight ${String(l.inFlight).padEnd(5)} sent ${l.sent}  received ${l.received}${spool}`);
    for (const b of l.bearers ?? []) {
      const cost = b.costToday === undefined ? '' : `  cost today ${b.costToday.toFixed(2)}`;
      lines.push(`  ${''.padEnd(12)} bearer ${b.name.padEnd(22)} ${b.transport.padEnd(7)} ${(b.up ? 'UP' : 'DOWN').padEnd(5)} ${(b.current ? 'current' : '').padEnd(8)} sent ${b.bytesSent} B  received ${b.bytesReceived} B${cost}`);
    }
    const failing = l.failingForS === undefined ? '' : ` (failing for ${formatDuration(l.failingForS)}, ${l.connectFailures} attempts)`;
    if (l.lastError) lines.push(`  ${''.padEnd(12)} last error: ${l.lastError}${failing}`);
    if (l.metered?.metered) lines.push(`  ${''.padEnd(12)} ${meteredLine(l.metered)}`);
  }
  lines.push('', 's2s sessions');
  if (st.sessions.length === 0) lines.push('  none');
  // how the session was authenticated: EXTERNAL or dialback, and the peer certificate by PKIX or DANE (trust rules)
  const auth = (s: RelayStatus['sessions'][number]): string => `${s.auth ? ` ${s.auth === 'sasl-external' ? 'EXTERNAL' : 'dialback'}` : ''}${s.peerCert ? ` cert ${s.peerCert.toUpperCase()}` : ''}`;
  for (const s of st.sessions) lines.push(`  ${s.direction.padEnd(4)} ${s.local} <-> ${s.remote}  ${s.state}${s.tls ? ' tls' : ''}${auth(s)}`);
  if (st.pending) lines.push(`  ${pendingLine(st.pending)}`);
  if (st.lastError) lines.push('', `last error: ${st.lastError}`);
  return lines.join('\n') + '\n';
}

/** A metered bearer's day in one line: cost so far, budget left, what waits. */
export function meteredLine(m: NonNullable<RelayStatus['links'][number]['metered']>): string {
  const mb = (b: number) => `${(b / 1e6).toFixed(2)} MB`;
  const money = `${m.costToday.toFixed(2)}${m.currency ? ` ${m.currency}` : ''}`;
  const left = m.spent ? 'budget SPENT: only urgent stanzas cross' : `budget left ${mb(m.remainingBytes ?? 0)} of ${mb(m.budgetBytes ?? 0)}`;
  return `metered ${m.bearer}: today (UTC ${m.day}) ${mb(m.bytesToday)}, cost ${money}; ${left}; carries ${m.carry?.join(', ')}; ${m.held} held for a better bearer`;
}

/** Unauthenticated connections in one line: counts and addresses only, never a name they claimed. */
export function pendingLine(p: NonNullable<RelayStatus['pending']>): string {
  const busiest = p.busiest && p.addresses > 1 ? `, most from ${p.busiest.address} (${p.busiest.pending})` : p.busiest ? ` (${p.busiest.address})` : '';
  const refused = p.refused.total + p.refused.per_address;
  return `not yet authenticated: ${p.pending} from ${p.addresses} address${p.addresses === 1 ? '' : 'es'}${busiest}; refused ${refused} since start (limits ${p.limits.maxPending} in all, ${p.limits.maxPendingPerAddress} per address)`;
}

function formatDuration(s: number): string {
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return d ? `${d}d ${h}h ${m}m` : h ? `${h}h ${m}m` : `${m}m ${s % 60}s`;
}
