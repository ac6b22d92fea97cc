/** Checks BearerParams (engine.ts) before the engine takes them. */
import type { BearerParams } from './engine.ts';
import { EmulatorError } from './errors.ts';
import { validateNat } from './nat.ts';

/** Throws EmulatorError EMU_BAD_PARAMS naming the first bad field. */
export function validateParams(p: BearerParams): void {
  const bad = (field: string, why: string): never => {
    throw new EmulatorError('EMU_BAD_PARAMS', `bearer.${field}: ${why}`);
  };
  if (typeof p !== 'object' || p === null) bad('', 'must be an object');
  const num = (v: unknown, field: string, min: number, max = Infinity, optional = true): void => {
    if (v === undefined && optional) return;
    if (typeof v !== 'number' || !Number.isFinite(v)) bad(field, `must be a finite number, got ${JSON.stringify(v)}`);
    if ((v as number) < min || (v as number) > max) bad(field, `must be in [${min}, ${max}], got ${v}`);
  };
  num(p.rate_bps, 'rate_bps', Number.MIN_VALUE, Infinity, false);
  num(p.delay_ms, 'delay_ms', 0, Infinity, false);
  num(p.jitter_ms, 'jitter_ms', 0);
  num(p.ber, 'ber', 0, 1);
  num(p.mtu, 'mtu', 1);
  num(p.turnaround_ms, 'turnaround_ms', 0);
  num(p.duplicate, 'duplicate', 0, 1);
  num(p.reorder, 'reorder', 0, 1);
  num(p.queue_bytes, 'queue_bytes', 1);
  num(p.overhead_bytes, 'overhead_bytes', 0);
  num(p.nat_timeout_s, 'nat_timeout_s', Number.MIN_VALUE);
  if (p.nat !== undefined) validateNat(p.nat);
  if (p.duplex !== undefined && p.duplex !== 'full' && p.duplex !== 'half') bad('duplex', `must be 'full' or 'half'`);
  if (p.loss !== undefined) {
    if (p.loss.model === 'bernoulli') num(p.loss.p, 'loss.p', 0, 1, false);
    else if (p.loss.model === 'gilbert_elliott') {
      num(p.loss.p_gb, 'loss.p_gb', 0, 1, false);
      num(p.loss.p_bg, 'loss.p_bg', 0, 1, false);
      num(p.loss.loss_good, 'loss.loss_good', 0, 1);
      num(p.loss.loss_bad, 'loss.loss_bad', 0, 1);
    } else bad('loss.model', `must be 'bernoulli' or 'gilbert_elliott'`);
  }
  if (p.outages !== undefined) {
    if (!Array.isArray(p.outages)) bad('outages', 'must be a list');
    p.outages.forEach((o, i) => {
      num(o?.duration_s, `outages[${i}].duration_s`, 0, Infinity, false);
      if ('every_s' in o) {
        num(o.every_s, `outages[${i}].every_s`, Number.MIN_VALUE, Infinity, false);
        num(o.offset_s, `outages[${i}].offset_s`, 0);
        if (o.duration_s >= o.every_s) bad(`outages[${i}]`, 'duration_s must be shorter than every_s');
      } else num((o as { start_s?: unknown }).start_s, `outages[${i}].start_s`, 0, Infinity, false);
    });
  }
}
