/**
 * What `check` accepts, `run` runs (property, fast-check, seeded): site files
 * generated over the schema (transports, bind/peer present or not, link names
 * with dots, domain patterns, roles, optional sections) are given to the
 * loader `satrelay check` uses; every one it accepts must build, start and
 * stop as a relay (in process, as `satrelay run` does). Addresses are
 * loopback with ports reserved up front, serial devices real ptys, so an
 * environment error (a port in use) cannot pass for a finding.
 * Seed: CHECK_RUN_SEED; runs: CHECK_RUN_RUNS.
 */
import test from 'ava';
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ConfigError, generateKeyText, parseSiteConfig } from '../../src/config/index.ts';
import { buildRelay } from '../../src/relay/from-config.ts';
import { startPtyEmulator } from '../../src/emulator/index.ts';
import { freeTcpPort, freeUdpPort } from '../helpers/ports.ts';

const SEED = Number(process.env.CHECK_RUN_SEED ?? 20261203);
const RUNS = Number(process.env.CHECK_RUN_RUNS ?? 100);

const NAMES = ['shore', 'to-b.example', 'shore.link', 'ship_1', 'a..b', '.hidden', 'x-1.v2', 'SHIP'];
const REMOTE = ['b.example', '*.b.example', 'c.example', 'muc.c.example', '*', '*.a.example', 'a.example'];
const PROFILES = ['lan', 'bgan-64k', 'iridium-2400', 'hf-1200'];

interface Env { dir: string; key: string; devices: string[]; tcp: number[]; udp: number[]; nobody: number }

/** Mostly `v`, sometimes absent: most generated files are plausible, some miss a key. */
const usually = <T>(arb: fc.Arbitrary<T>) => fc.oneof({ arbitrary: arb, weight: 5 }, { arbitrary: fc.constant(undefined), weight: 1 });
const seldom = <T>(arb: fc.Arbitrary<T>) => fc.oneof({ arbitrary: arb, weight: 1 }, { arbitrary: fc.constant(undefined), weight: 5 });
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

/** Where a tcp or xep0361 end connects: listens (bind), dials (peer), both (refused unless tcp bind port 0) or neither (refused). */
const ends = (bind: fc.Arbitrary<string>, peer: fc.Arbitrary<string>) =>
  fc.oneof(
    { arbitrary: fc.record({ bind }), weight: 4 },
    { arbitrary: fc.record({ peer }), weight: 4 },
    { arbitrary: fc.record({ bind, peer }), weight: 1 },
    { arbitrary: fc.constant({}), weight: 1 },
  );

/** Remote domains of the link at `index`: its own few, sometimes another's or a local one (check refuses those). */
const DOMAIN_POOLS = [['b.example', '*.b.example', '*', '*.a.example'], ['c.example', 'muc.c.example'], ['d.example', '*.d.example']];

/** One link entry; `undefined` values are left out of the YAML. */
const linkArb = (env: Env, index: number) => {
  const named: Record<string, string> = {
    tcpA: `127.0.0.1:${env.tcp[0]}`, tcpB: `127.0.0.1:${env.tcp[1]}`, udpA: `127.0.0.1:${env.udp[0]}`, udpB: `127.0.0.1:${env.udp[1]}`, nobody: `127.0.0.1:${env.nobody}`,
  };
  const addr = (...choices: string[]) => fc.constantFrom(...choices).map((v) => named[v] ?? v);
  const domains = fc.oneof(
    { arbitrary: fc.uniqueArray(fc.constantFrom(...DOMAIN_POOLS[index]), { minLength: 1, maxLength: 2 }), weight: 8 },
    { arbitrary: fc.uniqueArray(fc.constantFrom(...REMOTE), { minLength: 1, maxLength: 2 }), weight: 1 },
  );
  const common = {
    name: fc.oneof(fc.constantFrom(...NAMES), fc.stringMatching(/^[A-Za-z0-9_.-]{1,10}$/)),
    domains,
    profile: fc.constantFrom(...PROFILES),
    reconnect: maybe(fc.record({ min_s: fc.constantFrom(0.1, 1), max_s: fc.constantFrom(1, 60) })),
  };
  const spooled = { key_file: usually(fc.constant(env.key)), role: maybe(fc.constantFrom('a', 'b')), limits: maybe(fc.record({ spool_max_stanzas: fc.integer({ min: 1, max: 1000 }) })) };
  const tcpEnds = ends(addr('tcpA', 'tcpB', '127.0.0.1:0'), addr('nobody', '198.18.0.2:5299', 'tcpA'));
  return fc.oneof(
    fc.record({ ...common, ...spooled, transport: fc.constant('udp'), bind: usually(addr('udpA', 'udpB', '127.0.0.1:0', '0.0.0.0:0')), peer: usually(addr('nobody', '198.18.0.2:5299', 'udpA')) }),
    fc.tuple(fc.record({ ...common, ...spooled, transport: fc.constant('tcp') }), tcpEnds).map(([l, e]) => ({ ...l, ...e })),
    fc.tuple(fc.record({ ...common, transport: fc.constant('xep0361'), acks: maybe(fc.boolean()), key_file: seldom(fc.constant(env.key)) }), tcpEnds).map(([l, e]) => ({ ...l, ...e })),
    fc.record({ ...common, ...spooled, transport: fc.constant('serial'), device: usually(fc.constantFrom(...env.devices)), baud: maybe(fc.constantFrom(9600, 115200)), bind: seldom(addr('127.0.0.1:0')) }),
  );
};

const siteArb = (env: Env) =>
  fc.record(
    {
      local: fc.record({
        domains: fc.uniqueArray(fc.constantFrom('a.example', 'muc.a.example', 'b.example'), { minLength: 1, maxLength: 2 }),
        listen: fc.constant(['127.0.0.1:0']),
        direct_tls_listen: fc.option(fc.constant(['127.0.0.1:0']), { nil: undefined }),
        routes: fc.option(fc.constant({ 'a.example': '127.0.0.2:5269' }), { nil: undefined }),
      }, { requiredKeys: ['domains', 'listen'] }),
      links: fc.oneof({ arbitrary: fc.tuple(linkArb(env, 0)), weight: 3 }, { arbitrary: fc.tuple(linkArb(env, 0), linkArb(env, 1)), weight: 2 }, fc.tuple(linkArb(env, 0), linkArb(env, 1), linkArb(env, 2))),
      optimize: fc.option(fc.record({ presence: fc.constantFrom('coalesce', 'fold', 'off'), disco_cache: fc.boolean(), fanout: fc.boolean() }), { nil: undefined }),
      policy: fc.option(fc.record({ allow: fc.constantFrom(['*'], ['b.example', '*.b.example']), block: fc.constantFrom([], ['evil.example']) }), { nil: undefined }),
      limits: fc.option(fc.record({ held_stanza_timeout_s: fc.constantFrom(1, 600), spool_max_stanzas: fc.constantFrom(10, 100000) }), { nil: undefined }),
      s2s: fc.option(fc.record({ connect_timeout_s: fc.constantFrom(1, 30), idle_timeout_s: fc.constantFrom(5, 600) }), { nil: undefined }),
      metrics: fc.constantFrom({ listen: null }, { listen: '127.0.0.1:0' }),
    },
    { requiredKeys: ['local', 'links', 'metrics'] },
  );

/** Drops undefined values, as an operator would leave the key out. */
const clean = (v: unknown): unknown =>
  Array.isArray(v) ? v.map(clean) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => [k, clean(x)])) : v;

test.serial('every site file check accepts starts and stops as a relay (property)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-check-run-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const key = join(dir, 'link.key');
  writeFileSync(key, generateKeyText(), { mode: 0o600 });
  const pty = await startPtyEmulator({ params: { rate_bps: 115_200, delay_ms: 1, mtu: 4096 }, seed: 5, dir });
  t.teardown(() => pty.close());
  const env: Env = { dir, key, devices: [pty.deviceA, pty.deviceB], tcp: [await freeTcpPort(), await freeTcpPort()], udp: [await freeUdpPort(), await freeUdpPort()], nobody: await freeTcpPort() };
  let accepted = 0;
  let refused = 0;
  let n = 0;
  const result = await fc.check(
    fc.asyncProperty(siteArb(env), async (site) => {
      const file = join(dir, `site-${n}.yaml`);
      const text = stringify(clean({ site: 'prop', data_dir: join(dir, `data-${n++}`), ...site }));
      let cfg;
      try {
        cfg = parseSiteConfig(text, file);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        refused++;
        return;
      }
      accepted++;
      const relay = buildRelay(cfg, {});
      try {
        await relay.start();
      } finally {
        await relay.stop();
      }
    }),
    { seed: SEED, numRuns: RUNS, endOnFailure: true },
  );
  if (result.failed) {
    const site = result.counterexample?.[0];
    t.fail(`seed ${SEED} path ${result.counterexamplePath}: check accepted this site file but run failed: ${String((result.errorInstance as Error)?.message ?? result.errorInstance)}\n${stringify(clean(site))}`);
    return;
  }
  t.log(`${accepted} accepted and run, ${refused} refused by check (seed ${SEED})`);
  t.true(accepted >= RUNS / 5, `too few accepted site files to mean anything: ${accepted} of ${RUNS}`);
});
