/**
 * A ship behind a NAT and a roaming shore in simulated time, over the
 * emulator's engine with one profile's bearer: the ship (a) may sit behind a
 * NAT (the emulator's nat.ts); the shore (b) has no peer and follows the ship
 * with the udp driver's sans-IO part (link/drivers/roaming.ts), sending only
 * once it has heard the ship, as the driver does.
 */
import { LinkEndpoint, type LinkTuning } from '../../../src/link/core/index.ts';
import { RoamingPeer } from '../../../src/link/drivers/index.ts';
import { silentLogger } from '../../../src/obs/log.ts';
import type { NatParams } from '../../../src/emulator/index.ts';
import { EmuPair } from './emu-pair.ts';

/** a: the ship, keepalive `shipKeepaliveS`; b: the shore, no peer, the profile's keepalive. */
export class RoamPair extends EmuPair {
  readonly roam: RoamingPeer;

  /** loss false: the profile's loss and bit errors off. */
  constructor(profile: string, seed: number, nat: NatParams | undefined, shipKeepaliveS?: number, loss = true) {
    super({ profile, seed, loss, ...(nat ? { nat } : {}), ...(shipKeepaliveS ? { tuning: { keepaliveS: shipKeepaliveS } } : {}) });
    // The shore keeps the profile's keepalive (from-config lowers it only on the end with peer).
    const shore: LinkTuning = { ...this.tuning, keepaliveS: this.profile.tuning.keepalive_s };
    this.b.ep = new LinkEndpoint({ ...this.b.makeOpts(undefined, { ...this.b.sessions }), tuning: shore }, 0);
    this.roam = new RoamingPeer({ metrics: this.b.metrics, log: silentLogger, labels: { link: 'ship' } });
  }

  override step(): boolean {
    this.steps++;
    let busy = false;
    const to = this.roam.current;
    for (const [side, dir] of [[this.a, 'ab'], [this.b, 'ba']] as const) {
      if (side === this.b && !to) continue; // the driver waits for the partner's address
      const due = side.ep.pollTimeout();
      if (due !== undefined && due <= this.now) { side.ep.handleTimeout(this.now); busy = true; }
      for (let f = side.ep.pollTransmit(this.now); f; f = side.ep.pollTransmit(this.now)) {
        this.emu.send(this.now, dir, f, 'datagram', undefined, side === this.b ? to!.port : undefined);
        busy = true;
      }
    }
    for (const d of this.emu.poll(this.now)) {
      if (d.dir === 'ab') {
        const taken = this.b.ep.handleFrame(this.now, d.data) === true;
        this.roam.heard({ host: '192.0.2.1', port: d.mapping ?? 0 }, taken);
      } else this.a.ep.handleFrame(this.now, d.data);
      busy = true;
    }
    this.a.drainEvents(this.now);
    this.b.drainEvents(this.now);
    return busy;
  }

  override nextEventTime(): number | undefined {
    const ts = [this.emu.nextTimeout(), this.a.ep.pollTimeout(), this.roam.current ? this.b.ep.pollTimeout() : undefined].filter((t): t is number => t !== undefined);
    return ts.length ? Math.min(...ts) : undefined;
  }
}
