/**
 * Axis ticks on round values: a step of 1, 2 or 5 times a power of ten, so
 * that about `target` steps cover [0, max]. Returns the tick values from 0 to
 * the first tick at or above max. Used by the status page and bench charts.
 */
export function niceTicks(max: number, target = 4): number[] {
  if (!(max > 0) || !Number.isFinite(max)) return [0, 1];
  const pow = 10 ** Math.floor(Math.log10(max / target));
  const count = (step: number): number => Math.ceil(max / step - 1e-9);
  // The 1-2-5 step whose number of intervals is closest to the target (the larger step on a tie).
  const step = [10, 5, 2, 1].map((m) => m * pow).reduce((best, s) => (Math.abs(count(s) - target) < Math.abs(count(best) - target) ? s : best));
  return Array.from({ length: count(step) + 1 }, (_, i) => Number((i * step).toPrecision(12)));
}
