/**
 * Two link ends over several bearers in simulated time: each end is a
 * LinkEndpoint with a MultiBearerDriver (the relay's), each bearer a seeded
 * LinkEmulator engine with the profile's bearer, all on one ManualClock.
 * Each end records what it delivered (id, bearer that carried the frame,
 * time) and what the partner acknowledged; the receiver confirms each
 * delivery at once (as a spool that stores instantly).
 */
import { LinkEndpoint, type LinkTuning } from '../../../src/link/core/index.ts';
import { DriverBase, type DriverBaseOptions, type DriverFactory, type DriverHooks, type LinkEndpointLike } from '../../../src/link/drivers/index.ts';
import { multiBearerDriver, type BearerDef, type MultiBearerDriver } from '../../../src/link/bearers/index.ts';
import { LinkEmulator, type BearerParams, type Direction } from '../../../src/emulator/index.ts';
import { ManualClock } from '../../../src/time/index.ts';
import { Metrics } from '../../../src/obs/metrics.ts';
import { loadProfile, bearerDownAfterS, bearerProbeS } from '../../../src/config/index.ts';
import { profileTuning } from '../core/emu-pair.ts';
import { seededBytes, rng } from '../core/pair.ts';

type SideName = 'a' | 'b';

/** One bearer's transport in the simulation: frames go into the bearer's emulator. */
class EmuBearerDriver extends DriverBase {
  constructor(endpoint: LinkEndpointLike, base: DriverBaseOptions, hooks: DriverHooks, private readonly net: SimNet, private readonly bearer: number, private readonly side: SideName) {
    super(endpoint, base, hooks);
  }
  async start(): Promise<void> {
    this.net.attach(this.bearer, this.side, this);
    this.hooks.onTransport?.(true);
    this.poke();
  }
  async close(): Promise<void> {
    this.stopLoop();
  }
  protected canSend(): boolean {
    return true;
  }
  protected send(frame: Buffer, now: number): void {
    this.net.send(this.bearer, this.side, frame, now);
  }
  deliver(frame: Buffer): void {
    this.input(frame);
  }
}

export interface Delivered { id: bigint; bearer: number; at: number }

/** The bearers' emulators and who listens at each end. */
class SimNet {
  readonly emus: LinkEmulator[];
  private readonly ends: Array<Partial<Record<SideName, EmuBearerDriver>>>;
  /** The bearer whose frame is being handed in now. */
  carrying = -1;
  private wake: Array<(() => void) | undefined>;

  constructor(params: BearerParams[], seed: number, private readonly clock: ManualClock) {
    this.emus = params.map((p, i) => new LinkEmulator(p, seed * 31 + i));
    this.ends = params.map(() => ({}));
    this.wake = params.map(() => undefined);
  }
  attach(bearer: number, side: SideName, d: EmuBearerDriver): void {
    this.ends[bearer][side] = d;
  }
  send(bearer: number, side: SideName, frame: Buffer, now: number): void {
    this.emus[bearer].send(now, side === 'a' ? 'ab' : 'ba', frame);
    this.arm(bearer);
  }
  private arm(bearer: number): void {
    const at = this.emus[bearer].nextTimeout();
    this.wake[bearer]?.();
    this.wake[bearer] = at === undefined ? undefined : this.clock.schedule(at - this.clock.now(), () => this.arrive(bearer));
  }
  private arrive(bearer: number): void {
    this.wake[bearer] = undefined;
    for (const d of this.emus[bearer].poll(this.clock.now())) {
      const to: SideName = (d.dir as Direction) === 'ab' ? 'b' : 'a';
      this.carrying = bearer;
      this.ends[bearer][to]?.deliver(d.data);
      this.carrying = -1;
    }
    this.arm(bearer);
  }
}

export class SimEnd {
  readonly endpoint: LinkEndpoint;
  readonly driver: MultiBearerDriver;
  readonly delivered: Delivered[] = [];
  readonly acked = new Set<bigint>();
  readonly metrics = new Metrics();
  readonly logs: Array<{ msg: string; fields: Record<string, unknown> }> = [];
  /** The bearers switched to, in order (MultiOptions.onSwitch). */
  readonly switchedTo: string[] = [];
  private nextId = 1n;

  constructor(readonly name: SideName, private readonly pair: SimPair, defs: BearerDef[], holdDownMs: number, seed: number) {
    const r = rng(seed * 7 + (name === 'a' ? 1 : 2));
    this.endpoint = new LinkEndpoint(
      { tuning: defs[0].tuning, key: pair.key, role: name, localDomains: [`${name}.example`], remoteDomains: [`${name === 'a' ? 'b' : 'a'}.example`], random: seededBytes(r) },
      pair.clock.now(),
    );
    const log = (level: string) => (fields: unknown, msg?: string) => {
      if (typeof fields === 'string') this.logs.push({ msg: fields, fields: { level } });
      else this.logs.push({ msg: msg ?? '', fields: { level, ...(fields as Record<string, unknown>) } });
    };
    const logger = { debug: () => {}, info: log('info'), warn: log('warn'), error: log('error'), child: () => logger } as unknown as DriverBaseOptions['logger'];
    this.driver = multiBearerDriver({ bearers: defs, holdDownMs, onSwitch: (b) => this.switchedTo.push(b.name) }).create(this.endpoint, { name: 'link', clock: pair.clock, metrics: this.metrics, logger }, { onEvents: () => this.onEvents() }) as MultiBearerDriver;
  }

  private onEvents(): void {
    for (let ev = this.endpoint.pollEvent(); ev; ev = this.endpoint.pollEvent()) {
      if (ev.type === 'deliver') {
        this.delivered.push({ id: ev.id, bearer: this.pair.net.carrying, at: this.pair.clock.now() });
        this.endpoint.confirmDelivered(ev.id, this.pair.clock.now());
      } else if (ev.type === 'acked') this.acked.add(ev.id);
    }
  }

  /** One stanza of `bytes` random bytes, submitted now. */
  submit(bytes = 200): bigint {
    const id = this.nextId++;
    this.endpoint.submit(id, this.pair.payload(bytes), 'high', this.pair.clock.now());
    this.driver.poke();
    return id;
  }
}

export interface SimPairOptions {
  profiles: string[];
  seed: number;
  holdDownMs?: number;
  /** false: the profiles' loss is switched off. */
  loss?: boolean;
}

export class SimPair {
  readonly clock = new ManualClock();
  readonly key = Buffer.alloc(32, 7);
  readonly net: SimNet;
  readonly a: SimEnd;
  readonly b: SimEnd;
  private readonly bytes: (n: number) => Buffer;

  constructor(o: SimPairOptions) {
    const profiles = o.profiles.map((p) => loadProfile(p));
    const receiveMtu = Math.max(...profiles.map((p) => p.bearer.mtu));
    const params: BearerParams[] = profiles.map((p) => {
      const b: BearerParams = { ...p.bearer, outages: [] };
      if (o.loss === false) delete b.loss;
      return b;
    });
    this.net = new SimNet(params, o.seed, this.clock);
    this.bytes = seededBytes(rng(o.seed));
    const defs = (side: SideName): BearerDef[] =>
      profiles.map((p, i) => {
        const tuning: LinkTuning = { ...profileTuning(p), receiveMtu };
        const bearer = { tuning: p.tuning, peer: side === 'a' ? 'peer' : null };
        return {
          name: `${i + 1}:${p.name}`, profile: p.name, transport: 'emu', tuning,
          driver: this.factory(i, side),
          downAfterMs: bearerDownAfterS(p.tuning) * 1000,
          probeMs: bearerProbeS(bearer) * 1000,
        };
      });
    const hold = o.holdDownMs ?? 20_000;
    this.a = new SimEnd('a', this, defs('a'), hold, o.seed);
    this.b = new SimEnd('b', this, defs('b'), hold, o.seed);
  }

  private factory(bearer: number, side: SideName): DriverFactory {
    return { kind: 'emu', where: () => 'emu', create: (ep, base, hooks) => new EmuBearerDriver(ep, base, hooks, this.net, bearer, side) };
  }

  payload(n: number): Buffer {
    return this.bytes(n);
  }

  async start(): Promise<void> {
    await this.a.driver.start();
    await this.b.driver.start();
  }

  /** Bearer `index` dark both ways over [startMs, startMs + durationMs) (simulated time). */
  outage(index: number, startMs: number, durationMs: number): void {
    this.net.emus[index].addOutage(startMs, durationMs);
  }

  /** Runs simulated time forward to `t` ms. */
  runUntil(t: number): void {
    this.clock.advance(t - this.clock.now());
  }
}
