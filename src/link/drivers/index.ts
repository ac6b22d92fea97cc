/**
 * link/drivers/ — run a sans-IO LinkEndpoint (src/link/core) over a real
 * transport, on the owner's clock (time/) and its one timer.
 *
 * Takes: an endpoint (LinkEndpointLike: handleFrame/handleTimeout in,
 *   pollTransmit/pollTimeout out), transport options, hooks.onEvents().
 * Gives: UdpLinkDriver (datagrams), SerialLinkDriver (tty/pty, COBS+CRC-32
 *   framing, writes paced to the baud rate), TcpLinkDriver (u16 length
 *   prefix; dialler re-dials with back-off). After every handleFrame /
 *   handleTimeout a driver drains pollTransmit and calls hooks.onEvents();
 *   after submit() the owner calls driver.poke().
 *   transportDriver(): a DriverFactory for a udp, tcp or serial transport
 *   (the relay builds it; the constrained link calls create()).
 * Clock: the owner's Clock (time/): its now() and one timer; a SystemClock
 *   of the driver's own unless `clock` is given.
 * Must not import: spool/, s2s/, optimize/ (the owner wires those).
 */
export { DriverBase, DriverError, parseHostPort } from './driver.ts';
export type { LinkDriver, LinkEndpointLike, DriverHooks, DriverBaseOptions, DriverErrorCode, HostPort } from './driver.ts';
export { UdpLinkDriver } from './udp.ts';
export type { UdpDriverOptions } from './udp.ts';
export { TcpLinkDriver, LengthPrefixDecoder, encodeLengthPrefixed } from './tcp.ts';
export type { TcpDriverOptions } from './tcp.ts';
export { SerialLinkDriver } from './serial.ts';
export { RoamingPeer, formatAddress } from './roaming.ts';
export type { Address, RoamResult } from './roaming.ts';
export { ConnectWatch, failureFields } from './connect-watch.ts';
export { Backoff } from './backoff.ts';
export { transportDriver, transportWhere, type ConstrainedTransport, type DriverFactory } from './factory.ts';
export type { ConnectFailure, FailureFields } from './connect-watch.ts';
export type { SerialDriverOptions } from './serial.ts';
export { SerialFrameDecoder, encodeSerialFrame, cobsDecode, maxEncodedLength } from './serial-framing.ts';
export type { SerialDecoderStats, SerialDropReason } from './serial-framing.ts';
