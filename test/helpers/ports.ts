export { freeTcpPort, freeUdpPort } from '../../bench/ports.ts';
