import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ConfigError, loadSiteConfig } from '../config/index.ts';
import { linkSpoolDir } from '../relay/from-config.ts';
import { SpoolError, inspectSpool, isDamaged, type SpoolReport } from '../spool/index.ts';
import { CONFIG_OPTION, UsageError, configFile, runCommand, type CommandSpec } from './args.ts';

export const SPOOL: CommandSpec = {
  name: 'spool',
  summary: "check: verifies each spooled link's spool (best with the relay stopped) and lists what it holds;\nexit 0 when every spool is sound, 1 when one is damaged or unreadable.",
  usage: 'check (-c FILE | FILE) [--json]',
  options: { ...CONFIG_OPTION, json: { type: 'boolean', help: 'print the report as JSON' } },
  positionals: { max: 2, help: 'check: the only action so far' },
};

interface Target {
  link: string;
  dir: string;
  report?: SpoolReport;
  error?: string;
  /** Earlier spools of this link moved aside as damaged, with their reason. */
  setAside: Array<{ dir: string; reason: string }>;
}

/** `satrelay spool check -c FILE`: the relay's start-up spool checks, offline, and what each spool holds. */
export async function spoolCommand(args: string[]): Promise<number> {
  return runCommand(SPOOL, args, (values, positionals) => {
    const [action, ...rest] = positionals;
    if (action !== 'check') throw new UsageError(action ? `unknown action "${action}": expected check` : 'which action? expected check');
    return spoolCheck(configFile(values, rest), values.json === true);
  });
}

function spoolCheck(file: string, json: boolean): number {
  let cfg;
  try {
    cfg = loadSiteConfig(file, { checkKeyFiles: false });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return 1;
  }
  const targets: Target[] = cfg.links.filter((l) => l.transport !== 'xep0361').map((l) => ({ link: l.name, dir: linkSpoolDir(cfg, l), setAside: [] }));
  // The spool shared by all links before per-link spools (moved or split at the next start).
  const shared = join(cfg.data_dir, 'spool');
  if (existsSync(join(shared, 'data.mdb'))) targets.push({ link: '(shared spool of an earlier version)', dir: shared, setAside: [] });
  for (const t of targets) {
    try {
      t.report = inspectSpool(t.dir);
    } catch (err) {
      if (!(err instanceof SpoolError)) throw err;
      t.error = err.message;
    }
    t.setAside = setAsideOf(t.dir);
  }
  if (json) {
    process.stdout.write(JSON.stringify(targets, null, 2) + '\n');
  } else {
    process.stdout.write(targets.map(format).join('\n'));
  }
  return targets.some((t) => t.error || (t.report && isDamaged(t.report))) ? 1 : 0;
}

function setAsideOf(dir: string): Array<{ dir: string; reason: string }> {
  const parent = dirname(dir);
  const prefix = `${basename(dir)}.corrupt-`;
  let names: string[] = [];
  try {
    names = readdirSync(parent).filter((n) => n.startsWith(prefix)).sort();
  } catch {
    return [];
  }
  return names.map((n) => {
    let reason = '';
    try {
      reason = readFileSync(join(parent, n, 'REASON.txt'), 'utf8').trim();
    } catch {
      reason = '(no REASON.txt)';
    }
    return { dir: join(parent, n), reason };
  });
}

function format(t: Target): string {
  const out = [`link ${t.link}: ${t.dir}`];
  const r = t.report;
  if (t.error) out.push(`  UNREADABLE: ${t.error}`);
  else if (!r || r.empty) out.push('  empty (nothing stored yet)');
  else if (r.problem) {
    out.push(`  DAMAGED: ${r.problem}`);
    out.push(`  \`satrelay run\` will move it to ${basename(t.dir)}.corrupt-<time> and start this link on a fresh spool; what it holds is not delivered`);
  } else {
    const s = r.structure;
    out.push(`  structure: sound (checked in ${r.checkMs} ms; ${s?.pages ?? 0} pages, ${s?.free ?? 0} free)`);
    for (const w of s?.warnings ?? []) out.push(`  note: ${w} (statistics only; lmdb does not use them)`);
    for (const l of r.links) {
      const prefix = r.links.length > 1 || l.link !== t.link ? `  [${l.link}] ` : '  ';
      const oldest = l.oldestAcceptedAt === undefined ? '' : `, oldest accepted ${new Date(l.oldestAcceptedAt).toISOString()} (${ago(l.oldestAcceptedAt)} ago)`;
      out.push(`${prefix}outbound: ${l.outbound} stanzas, ${kb(l.outboundBytes)}${oldest}; ${l.messages} link messages not yet acknowledged`);
      out.push(`${prefix}inbound: ${l.inbound} messages waiting for a local server`);
      out.push(`${prefix}link message ids: last sent #${l.lastMessageId ?? 0}, received up to #${l.deliveredUpTo ?? 0}${l.stateDamaged ? ' (STATE DAMAGED: ids restart above any used before at the next start)' : ''}`);
      if (l.unchecked) out.push(`${prefix}${l.unchecked} records written before checksums (read unchecked)`);
      if (l.damaged.length === 0) out.push(`${prefix}damaged records: none`);
      else {
        out.push(`${prefix}DAMAGED records: ${l.damaged.length}; \`satrelay run\` bounces those whose sender is known and logs the rest`);
        for (const d of l.damaged) out.push(`${prefix}  ${d.store} #${d.id}: ${d.sender ? `sender ${d.sender}` : 'sender unknown'}`);
      }
    }
  }
  for (const a of t.setAside) out.push(`  set aside earlier: ${a.dir}: ${a.reason}`);
  return out.join('\n') + '\n';
}

function kb(n: number): string {
  return n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function ago(at: number): string {
  const s = Math.max(0, Math.round((Date.now() - at) / 1000));
  return s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;
}
