/**
 * `satrelay bench --outage START_S:DURATION_S`: the bearer goes dark both
 * ways START_S seconds after the burst was injected, for DURATION_S seconds
 * (the emulator's runtime outage). Figures:
 *   resume_ms           bearer restored -> the next stanza (or iq answer) delivered
 *   outage_probe_bytes  bytes of the relays' outage probes and of every frame their
 *                       links sent in an outage (link stats outageBytes), while dark
 *   outage_bytes        everything offered to the bearer while dark, both ways (what
 *                       was already released when it went dark included)
 */
import { performance } from 'node:perf_hooks';
import type { EmulatorControl, DirStats } from '../emulator/index.ts';
import type { ConstrainedLink } from '../link/constrained/link.ts';
import type { Relay } from '../relay/relay.ts';
import type { RelayUsage } from './relay-process.ts';
import type { Logger } from '../obs/log.ts';

export interface OutageSpec {
  startS: number;
  durationS: number;
}

export interface OutageFigures {
  /** null: nothing was delivered after the bearer returned (the burst was over, or it never returned). */
  resume_ms: number | null;
  outage_probe_bytes: number;
  outage_bytes: number;
  /** when the bearer was cut, ms after the burst started, and for how long. */
  outage: { start_ms: number; duration_ms: number } | null;
}

/** Parses "START_S:DURATION_S" (seconds, decimals allowed). */
export function parseOutageArg(v: string): OutageSpec {
  const m = /^(\d+(?:\.\d+)?):(\d+(?:\.\d+)?)$/.exec(v);
  if (!m || !(Number(m[2]) > 0)) throw new Error(`--outage: expected START_S:DURATION_S (seconds, duration > 0), got "${v}"`);
  return { startS: Number(m[1]), durationS: Number(m[2]) };
}

interface Where {
  control?: EmulatorControl;
  emulatorStats(): { ab: DirStats; ba: DirStats };
  relays?: Record<'a' | 'b', Relay>;
  usage?: () => Promise<Record<'a' | 'b', RelayUsage>>;
}

/** Cuts the bearer once, START_S after arm(); figures() afterwards. */
export class OutageRun {
  private timer: NodeJS.Timeout | undefined;
  private cutAt: number | undefined;
  private burstAt = 0;
  private atCut: Promise<{ bearer: number; probe: number }> = Promise.resolve({ bearer: 0, probe: 0 });
  private atRestore: Promise<{ bearer: number; probe: number }> | undefined;

  constructor(private readonly world: Where, readonly spec: OutageSpec, private readonly log: Logger) {}

  get durationMs(): number { return this.spec.durationS * 1000; }

  /** Called when the burst is injected. */
  arm(): void {
    if (!this.world.control) return;
    this.burstAt = performance.now();
    this.timer = setTimeout(() => this.cut(), this.spec.startS * 1000);
  }

  private cut(): void {
    this.cutAt = performance.now();
    this.atCut = this.counters();
    this.world.control!.outage(this.durationMs);
    this.log.info({ ms: this.durationMs }, 'bearer cut both ways');
    this.timer = setTimeout(() => {
      this.atRestore = this.counters();
      this.log.info({}, 'bearer restored');
    }, this.durationMs);
  }

  /** Bearer bytes now; the links' probe bytes from the relays in this process or from the relay processes. */
  private async counters(): Promise<{ bearer: number; probe: number }> {
    const s = this.world.emulatorStats();
    const bearer = s.ab.bytes_sent + s.ba.bytes_sent;
    let probes: number[] = [];
    if (this.world.relays) probes = (['a', 'b'] as const).map((x) => (this.world.relays![x].links[0] as ConstrainedLink).stats()?.outageBytes ?? 0);
    else if (this.world.usage) {
      const u = await this.world.usage();
      probes = [...u.a.links, ...u.b.links].map((l) => l.outageBytes);
    }
    return { bearer, probe: probes.reduce((n, p) => n + p, 0) };
  }

  /** After the run: `arrivals` are the delivery times (performance.now()) of every stanza and answer. */
  async figures(arrivals: number[]): Promise<OutageFigures> {
    if (this.timer) clearTimeout(this.timer);
    if (this.cutAt === undefined) return { resume_ms: null, outage_probe_bytes: 0, outage_bytes: 0, outage: null };
    const restoredAt = this.cutAt + this.durationMs;
    const end = await (this.atRestore ?? this.counters());
    const atCut = await this.atCut;
    const after = arrivals.filter((a) => a >= restoredAt);
    return {
      resume_ms: after.length ? Math.round(Math.min(...after) - restoredAt) : null,
      outage_probe_bytes: end.probe - atCut.probe,
      outage_bytes: end.bearer - atCut.bearer,
      outage: { start_ms: Math.round(this.cutAt - this.burstAt), duration_ms: this.durationMs },
    };
  }
}
