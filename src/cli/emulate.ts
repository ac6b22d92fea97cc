/**
 * `satrelay emulate`: runs the link emulator standalone (udp, tcp or pty mode),
 * prints a stats line every few seconds and a summary on SIGINT / SIGTERM.
 */
import type { Writable } from 'node:stream';
import { EmulatorError, startPtyEmulator, startTcpEmulator, startUdpEmulator, type EmulatorHandle, type Outage } from '../emulator/index.ts';
import { emulateSettings, need, parseOutage, type EmulateSettings } from '../emulator/cli.ts';
import { parseCommand, runCommand, UsageError, type CommandSpec, type Values } from './args.ts';

const s = (value: string, help: string) => ({ type: 'string' as const, value, help });

export const EMULATE: CommandSpec = {
  name: 'emulate',
  summary: 'Runs the link emulator between two relays: rate, delay, jitter, loss, bit errors, MTU, outages, half duplex.\nThe bearer comes from a profile (profiles/NAME.yaml or a path) and/or the options below, which override it.',
  usage: '(--profile NAME | --rate BPS --delay MS) [bearer options] [--mode udp|tcp|pty ...]',
  options: {
    profile: s('NAME', 'link profile whose bearer half is emulated (profiles/NAME.yaml or a path)'),
    mode: s('MODE', 'udp (default), tcp or pty'),
    'a-listen': s('H:P', 'udp: where side a (one relay) sends its datagrams'),
    'a-forward': s('H:P', 'udp: where datagrams for side a go (default: the last address that sent to a-listen)'),
    'b-listen': s('H:P', 'udp: where side b sends its datagrams'),
    'b-forward': s('H:P', 'udp: where datagrams for side b go (default: the last address that sent to b-listen)'),
    listen: s('H:P', 'tcp: the address the dialling relay connects to'),
    target: s('H:P', 'tcp: the listening relay the emulator connects on to'),
    'no-handshake': { type: 'boolean', help: 'tcp: do not delay the TCP handshake by the bearer delay' },
    dir: s('DIR', 'pty: folder for the two device links (default a temp folder)'),
    rate: s('BPS', 'bearer rate in bit/s: 9600, 64k, 1M'),
    delay: s('MS', 'one-way delay'),
    jitter: s('MS', 'delay jitter'),
    loss: s('P', 'Bernoulli loss probability per packet, 0..1'),
    ge: s('P_GB,P_BG[,LOSS_GOOD,LOSS_BAD]', 'Gilbert-Elliott burst loss'),
    ber: s('X', 'bit error rate'),
    mtu: s('BYTES', 'largest packet carried; bigger ones are dropped'),
    'half-duplex': { type: 'boolean', help: 'one direction at a time' },
    turnaround: s('MS', 'half duplex: time to turn the line around'),
    duplicate: s('P', 'probability a packet is delivered twice'),
    reorder: s('P', 'probability a packet is held back behind the next'),
    outage: { ...s('START_S:DURATION_S', 'one outage'), multiple: true },
    'outage-every': { ...s('EVERY_S:DURATION_S[:OFFSET_S]', 'periodic outages'), multiple: true },
    queue: s('BYTES', 'bearer queue size; packets beyond it are dropped'),
    overhead: s('BYTES', 'bytes of framing added to each packet on the bearer'),
    'nat-rebind': s('S', 'udp: a NAT in front of one side gives it a new source port every S seconds (the other relay must follow: no peer there)'),
    'nat-rebind-at': s('T1,T2,...', 'udp: ... or at these times, seconds'),
    'nat-side': s('a|b', 'the side behind the NAT (default a)'),
    'nat-timeout': s('S', 'the NAT forgets a port unused this long (default the profile\'s nat_timeout_s)'),
    seed: s('N', 'seed of the loss and jitter draws (default: from the clock)'),
    interval: s('S', 'seconds between stats lines (default 5)'),
  },
  notes: 'In pty mode it prints the two device paths; give one to each relay as its serial device.',
};

export interface EmulateIo {
  out?: Writable;
  err?: Writable;
  /** Stops the emulator like SIGINT (tests). */
  signal?: AbortSignal;
}

/** Option values -> the emulator's settings; a bad value is a UsageError naming the option. */
function settings(values: Values): EmulateSettings {
  const opts = new Map<string, string>();
  const flags = new Set<string>();
  const outages: Outage[] = [];
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined || k === 'help') continue;
    if (k === 'outage' || k === 'outage-every') for (const x of v as string[]) outages.push(parseOutage(k, x));
    else if (typeof v === 'boolean') flags.add(k);
    else opts.set(k, v as string);
  }
  return emulateSettings(opts, flags, outages);
}

/** Parses emulate arguments (tests); throws UsageError or EmulatorError. */
export function parseEmulateArgs(args: string[]): EmulateSettings {
  return settings(parseCommand(EMULATE, args).values);
}

export async function emulateCommand(args: string[], io: EmulateIo = {}): Promise<number> {
  const out = io.out ?? process.stdout;
  const err = io.err ?? process.stderr;
  return runCommand(
    EMULATE,
    args,
    async (values) => {
      let parsed: EmulateSettings;
      try {
        parsed = settings(values);
      } catch (e) {
        if (e instanceof EmulatorError && e.code === 'EMU_BAD_ARGS') throw new UsageError(e.message);
        if (e instanceof EmulatorError) {
          err.write(`satrelay emulate: ${e.message}\n`);
          return 2;
        }
        throw e;
      }
      return run(parsed, out, err, io.signal);
    },
    { out, err },
  );
}

async function run(parsed: EmulateSettings, out: Writable, err: Writable, signal?: AbortSignal): Promise<number> {
  const { params, seed, opts } = parsed;
  let handle: EmulatorHandle;
  try {
    if (parsed.mode === 'udp') {
      const h = await startUdpEmulator({
        params, seed,
        a: { listen: need(opts, 'a-listen'), forward: opts.get('a-forward') },
        b: { listen: need(opts, 'b-listen'), forward: opts.get('b-forward') },
      });
      out.write(`emulate udp: a listens on ${h.addresses.a.address}:${h.addresses.a.port}, b listens on ${h.addresses.b.address}:${h.addresses.b.port}, seed ${seed}\n`);
      handle = h;
    } else if (parsed.mode === 'tcp') {
      const h = await startTcpEmulator({ params, seed, listen: need(opts, 'listen'), target: need(opts, 'target'), handshake: !parsed.flags.has('no-handshake') });
      out.write(`emulate tcp: listening on ${h.address.address}:${h.address.port} -> ${opts.get('target')}, seed ${seed}\n`);
      handle = h;
    } else {
      const h = await startPtyEmulator({ params, seed, dir: opts.get('dir') });
      out.write(`emulate pty: deviceA ${h.deviceA} deviceB ${h.deviceB}, seed ${seed}\n`);
      handle = h;
    }
  } catch (e) {
    err.write(`satrelay emulate: ${(e as Error).message}\n`);
    return e instanceof EmulatorError && e.code === 'EMU_BAD_ARGS' ? 2 : 1;
  }
  out.write(`bearer: ${JSON.stringify(params)}\n`);

  const started = Date.now();
  const tick = setInterval(() => {
    const st = handle.stats();
    const t = ((Date.now() - started) / 1000).toFixed(0);
    const line = (['ab', 'ba'] as const)
      .map((d) => {
        const x = st[d];
        const dropped = x.dropped_loss + x.dropped_mtu + x.dropped_queue + x.dropped_outage + x.dropped_nat;
        return `${d} ${x.delivered}/${x.sent} pkts ${x.bytes_delivered} B dropped ${dropped} corrupted ${x.corrupted_packets}`;
      })
      .join(' | ');
    out.write(`[${t}s] ${line}\n`);
  }, parsed.intervalS * 1000);

  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      signal?.removeEventListener('abort', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    if (signal?.aborted) stop();
    else signal?.addEventListener('abort', stop);
  });
  clearInterval(tick);
  await handle.close();
  out.write(`summary after ${((Date.now() - started) / 1000).toFixed(1)} s:\n${handle.summary()}\n`);
  return 0;
}
