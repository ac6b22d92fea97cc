export { freeTcpPort, freeUdpPort } from '../../src/sim/ports.ts';
