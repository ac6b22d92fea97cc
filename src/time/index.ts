/**
 * time/ — the clock hosts inject into their parts (link/, relay/): monotonic
 * `now()` for protocol timers, `wall()` for times kept on disk, and one-shot
 * timers. SystemClock puts all timers of one host on one Node timer;
 * ManualClock is simulated time, advanced by tests and simulations.
 * Takes: nothing. Gives: Clock, SystemClock, ManualClock, sleep.
 * Must not import other satrelay folders.
 */
export { SystemClock, ManualClock, sleep, type Clock, type Cancel } from './clock.ts';
