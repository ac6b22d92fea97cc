/**
 * Admission of inbound S2S connections: how many may be unauthenticated at
 * once, in total and per source address. A connection holds a slot from
 * accept until it authenticates (or closes); one over a limit is refused at
 * once (RFC 6120 §4.9.3.17 resource-constraint when the relay is full,
 * §4.9.3.18 policy-violation when its address has too many). Authenticated
 * sessions are not limited here: a local server that got in stays in.
 */
import type { Socket } from 'node:net';
import { StreamError } from '../xmpp/errors.ts';
import { newId, streamHeader } from './stream.ts';
import { s2sAdmission } from '../config/defaults.ts';
import type { S2SRuntime } from './runtime.ts';

export interface AdmissionLimits {
  /** Unauthenticated inbound connections at once, all addresses together. */
  maxPending: number;
  /** Unauthenticated inbound connections at once from one address. */
  maxPendingPerAddress: number;
}

/** s2s.max_pending and max_pending_per_address of the site file (config/defaults.ts). */
export const DEFAULT_ADMISSION: AdmissionLimits = s2sAdmission();

/** Held by a connection until it authenticates or closes; release() is idempotent. */
export interface Slot {
  release(): void;
}

export type Refusal = 'total' | 'per_address';

export interface PendingSummary {
  /** Unauthenticated connections now. */
  pending: number;
  /** Distinct source addresses among them. */
  addresses: number;
  /** The address holding most of them (its count), when any. */
  busiest?: { address: string; pending: number };
  refused: { total: number; per_address: number };
  limits: AdmissionLimits;
}

export class Admission {
  private readonly byAddress = new Map<string, number>();
  private pending = 0;
  private readonly refused = { total: 0, per_address: 0 };

  constructor(readonly limits: AdmissionLimits = DEFAULT_ADMISSION) {}

  /** A slot for a new connection from `address`, or why it is refused. */
  admit(address: string): Slot | Refusal {
    const here = this.byAddress.get(address) ?? 0;
    if (here >= this.limits.maxPendingPerAddress) return this.refuse('per_address');
    if (this.pending >= this.limits.maxPending) return this.refuse('total');
    this.byAddress.set(address, here + 1);
    this.pending++;
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        this.pending--;
        const n = (this.byAddress.get(address) ?? 1) - 1;
        if (n > 0) this.byAddress.set(address, n);
        else this.byAddress.delete(address);
      },
    };
  }

  private refuse(why: Refusal): Refusal {
    this.refused[why]++;
    return why;
  }

  summary(): PendingSummary {
    let busiest: PendingSummary['busiest'];
    for (const [address, pending] of this.byAddress) if (!busiest || pending > busiest.pending) busiest = { address, pending };
    return { pending: this.pending, addresses: this.byAddress.size, busiest, refused: { ...this.refused }, limits: this.limits };
  }
}

/**
 * Refuses a plain-TCP connection with a stream error before reading its header
 * (RFC 6120 §4.9.1.1: our header first, then the error, then the close tag),
 * and drops it a second later whatever the peer does.
 */
export function refuseConnection(sock: Socket, why: Refusal, rt: S2SRuntime): void {
  const err = why === 'total' ? new StreamError('resource-constraint', 'too many unauthenticated connections') : new StreamError('policy-violation', 'too many unauthenticated connections from your address');
  sock.on('error', () => undefined);
  sock.on('data', () => undefined); // read and discard: unread input would turn our close into a reset
  sock.end(streamHeader({ id: newId(rt) }) + err.toElement().toString() + '</stream:stream>');
  rt.after(1000, () => sock.destroy());
}
