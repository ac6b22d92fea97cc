/**
 * What the host gives an endpoint (LinkOptions), checked once, and the
 * settings derived from it. The window formula lives here, once.
 */
import { LinkError } from './errors.ts';
import type { CoreLogger } from './log.ts';
import type { SessionState } from './session.ts';
import type { ZlibImpl } from './zstream.ts';

export interface LinkTuning {
  mtu: number;
  frameBytes?: number;
  windowFrames?: number;
  rateBps?: number;
  rttEstimateMs?: number; // window sized from BDP when windowFrames absent
  rtoMinMs: number;
  rtoMaxMs: number;
  ackDelayMs: number;
  keepaliveS: number;
  compressionLevel: number;
  maxStanzaBytes?: number;
  /**
   * How long new messages that fill less than a frame wait for more before
   * they go (ms, default 0: at once). Counted from when the core is handed
   * the first of them (submit), so a lone message is never held longer;
   * retransmissions never wait.
   */
  coalesceDelayMs?: number;
  /** The link is declared down after this long without an authentic frame from the partner, s (default 3 x keepaliveS). */
  linkDownAfterS?: number;
  /** Probe cadence in an outage while stanzas wait, ms (outage.ts: default 1.5 x rttEstimateMs + 1 s - line time of 2 frames and 2 probes). */
  probeIntervalMs?: number;
  /** Largest frame taken from the partner (default mtu): the largest mtu of the link's bearers, when it has several. */
  receiveMtu?: number;
}

export interface LinkOptions {
  tuning: LinkTuning;
  key: Buffer; // 32-byte PSK
  role: 'a' | 'b';
  localDomains: string[];
  remoteDomains: string[];
  /** Any logger with debug/info/warn (pino's fits); default: silent. */
  logger?: CoreLogger;
  random: (n: number) => Buffer;
  /**
   * From the durable store after a restart. `delivered` (optional, an
   * addition to the brief's API): ids above deliveredUpTo that are already
   * stored (delivery is in transmit order, so stored ids need not be contiguous).
   */
  resume?: { nextSendId: bigint; deliveredUpTo: bigint; delivered?: Iterable<bigint> };
  /** Session numbers from the host's durable store (session.ts); absent: a random session, nothing kept across runs. */
  session?: SessionState;
  /** Deflate implementation (zstream.ts): native zlib where this Node allows it, else pako; both read either's stream. */
  zlib?: ZlibImpl;
}

export const DEFAULT_MAX_STANZA_BYTES = 256 * 1024;

/** The tuning checked, defaults filled in, and what follows from it. */
export interface Settings {
  mtu: number;
  /** Largest frame taken (max of mtu and receiveMtu). */
  rxMtu: number;
  /** Largest frame this end builds (min of mtu and frameBytes). */
  maxFrame: number;
  rateBps: number | undefined;
  /** Line time of a full frame at rateBps (0: rate unknown), ms. */
  frameMs: number;
  rtoMinMs: number;
  rtoMaxMs: number;
  ackDelayMs: number;
  /** A MSGACK waits for the ACK that the next two data frames bring (it rides along), alone only after this. */
  msgAckDelayMs: number;
  keepaliveMs: number;
  compressionLevel: number;
  maxStanza: number;
  coalesceDelayMs: number;
  deadAfterMs: number;
  /** Frames in flight: configured, or the BDP estimate until an RTT sample replaces it (unless configured). */
  window: number;
  windowFixed: boolean;
}

export function settings(tu: LinkTuning): Settings {
  if (!(tu.mtu >= 64 && tu.mtu <= 65507)) throw new LinkError('LINK_BAD_OPTIONS', `mtu out of range: ${tu.mtu}`);
  if (!(tu.rtoMinMs > 0 && tu.rtoMaxMs >= tu.rtoMinMs)) throw new LinkError('LINK_BAD_OPTIONS', 'rtoMinMs/rtoMaxMs');
  if (!(tu.ackDelayMs >= 0) || !(tu.keepaliveS >= 0)) throw new LinkError('LINK_BAD_OPTIONS', 'ackDelayMs/keepaliveS');
  if (!(tu.compressionLevel >= 0 && tu.compressionLevel <= 9)) throw new LinkError('LINK_BAD_OPTIONS', 'compressionLevel 0..9');
  if (tu.coalesceDelayMs !== undefined && !(tu.coalesceDelayMs >= 0)) throw new LinkError('LINK_BAD_OPTIONS', 'coalesceDelayMs');
  if (tu.linkDownAfterS !== undefined && !(tu.linkDownAfterS > 0)) throw new LinkError('LINK_BAD_OPTIONS', 'linkDownAfterS');
  const maxFrame = Math.min(tu.mtu, tu.frameBytes ?? tu.mtu);
  if (maxFrame < 64) throw new LinkError('LINK_BAD_OPTIONS', 'frameBytes < 64');
  const rateBps = tu.rateBps && tu.rateBps > 0 ? tu.rateBps : undefined;
  const frameMs = rateBps ? (maxFrame * 8000) / rateBps : 0;
  return {
    mtu: tu.mtu, rxMtu: Math.max(tu.mtu, tu.receiveMtu ?? 0), maxFrame, rateBps, frameMs, rtoMinMs: tu.rtoMinMs, rtoMaxMs: tu.rtoMaxMs, ackDelayMs: tu.ackDelayMs,
    msgAckDelayMs: tu.ackDelayMs + Math.min(2 * frameMs, tu.rtoMinMs / 2),
    keepaliveMs: tu.keepaliveS * 1000, compressionLevel: tu.compressionLevel,
    maxStanza: tu.maxStanzaBytes ?? DEFAULT_MAX_STANZA_BYTES, coalesceDelayMs: tu.coalesceDelayMs ?? 0,
    deadAfterMs: tu.linkDownAfterS !== undefined ? tu.linkDownAfterS * 1000 : tu.keepaliveS > 0 ? 3 * tu.keepaliveS * 1000 : 3 * tu.rtoMaxMs,
    window: windowFrames(tu, maxFrame), windowFixed: tu.windowFrames !== undefined,
  };
}

/** Window in frames: configured, or 2 x bandwidth-delay product (rate x RTT), at least 2. */
export function windowFrames(t: LinkTuning, frameBytes: number): number {
  if (t.windowFrames !== undefined) return Math.max(1, Math.floor(t.windowFrames));
  if (t.rateBps && t.rttEstimateMs) return bdpWindow(t.rateBps, t.rttEstimateMs, frameBytes);
  return 8;
}

/** 2 x bandwidth-delay product in frames, 2 to 1024. */
export function bdpWindow(rateBps: number, rttMs: number, frameBytes: number): number {
  const bdpBytes = (rateBps / 8) * (rttMs / 1000);
  return Math.min(1024, Math.max(2, Math.ceil((2 * bdpBytes) / frameBytes)));
}
