/** Real-time drivers of the link emulator: UDP relay pair, TCP proxy, pty pair. */
export { startUdpEmulator, type UdpEmulatorOptions, type UdpEmulatorHandle, type UdpSide } from './drivers/udp.ts';
export { startTcpEmulator, type TcpEmulatorOptions, type TcpEmulatorHandle } from './drivers/tcp.ts';
export { startPtyEmulator, type PtyEmulatorOptions, type PtyEmulatorHandle } from './drivers/pty.ts';
export { RealtimeRunner, formatSummary, type DriverOptions, type EmulatorControl, type EmulatorHandle } from './drivers/runner.ts';
export { parseHostPort, type HostPort } from './drivers/address.ts';
