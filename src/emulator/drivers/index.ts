/**
 * emulator/drivers — the engine against the wall clock: UDP (two ports), TCP
 * proxy (one shared bearer for several listen/target pairs) and pty (two
 * socat ptys). Each returns stats(), summary() and close().
 */
export * from '../drivers.ts';
