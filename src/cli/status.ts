import { ConfigError, loadSiteConfig, parseHostPort } from '../config/index.ts';
import type { RelayStatus } from '../relay/relay.ts';
import { configArg } from './main.ts';

/** `satrelay status -c FILE`: one-screen summary of the running relay, read from its status endpoint. */
export async function statusCommand(args: string[]): Promise<number> {
  const file = configArg(args);
  if (!file) {
    process.stderr.write('usage: satrelay status -c site.yaml\n');
    return 2;
  }
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
  process.stdout.write(formatStatus(st));
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
    if (l.lastError) lines.push(`  ${''.padEnd(12)} last error: ${l.lastError}`);
  }
  lines.push('', 's2s sessions');
  if (st.sessions.length === 0) lines.push('  none');
  for (const s of st.sessions) lines.push(`  ${s.direction.padEnd(4)} ${s.local} <-> ${s.remote}  ${s.state}${s.tls ? ' tls' : ''}${s.auth ? ` ${s.auth}` : ''}`);
  if (st.pending) lines.push(`  ${pendingLine(st.pending)}`);
  if (st.lastError) lines.push('', `last error: ${st.lastError}`);
  return lines.join('\n') + '\n';
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
