/** The router adapts a link to the hook contract: hooks see the link's name, and their replies go the right way. */
import test from 'ava';
import { Router } from '../../src/relay/router.ts';
import { parseXml } from '../../src/xml/index.ts';
import type { XmlElement } from '../../src/xml/element.ts';
import type { HookContext, StanzaHook } from '../../src/xmpp/hooks.ts';
import type { RelayLink } from '../../src/link/port.ts';
import { StanzaError } from '../../src/xmpp/errors.ts';

function link(name: string, domains: string[], sent: XmlElement[]): RelayLink {
  return {
    name, domains, async start() {}, async stop() {},
    send: async (el) => void sent.push(el),
    status: () => ({ name, transport: 'test', up: true, queued: 0, inFlight: 0, sent: 0, received: 0 }),
  };
}

const msg = (from: string, to: string, id: string): XmlElement =>
  parseXml(`<message xmlns='jabber:server' from='${from}' to='${to}' id='${id}'><body>hi</body></message>`);

test('each hook sees the name of the link the stanza takes or came over; replyRemote crosses that link, replyLocal is delivered here', async (t) => {
  const toShore: XmlElement[] = [];
  const toHub: XmlElement[] = [];
  const delivered: XmlElement[] = [];
  const seen: string[] = [];
  const hook: StanzaHook = {
    name: 'probe',
    outbound(s: XmlElement, ctx: HookContext) {
      seen.push(`out ${ctx.link} ${s.attr('id')}`);
      ctx.replyRemote(msg('relay@a.example', s.attr('to')!, `remote-${s.attr('id')}`));
      ctx.replyLocal(msg(s.attr('to')!, s.attr('from')!, `local-${s.attr('id')}`));
      return s;
    },
    inbound(s: XmlElement, ctx: HookContext) {
      seen.push(`in ${ctx.link} ${s.attr('id')}`);
      return [s];
    },
  };
  const shore = link('shore', ['b.example'], toShore);
  const hub = link('hub', ['c.example'], toHub);
  const router = new Router({ localDomains: ['a.example'], links: [shore, hub], local: { deliver: (el) => void delivered.push(el) }, hooks: [hook] });

  await router.fromLocal(msg('alice@a.example', 'bob@b.example', 'm1'));
  await router.fromLocal(msg('alice@a.example', 'carol@c.example', 'm2'));
  await router.fromLink(hub, msg('carol@c.example', 'alice@a.example', 'm3'));
  await new Promise((r) => setImmediate(r));

  t.deepEqual(seen, ['out shore m1', 'out hub m2', 'in hub m3']);
  t.deepEqual(toShore.map((e) => e.attr('id')), ['remote-m1', 'm1']);
  t.deepEqual(toHub.map((e) => e.attr('id')), ['remote-m2', 'm2']);
  t.deepEqual(delivered.map((e) => e.attr('id')), ['local-m1', 'local-m2', 'm3']);
});

test('outbound hooks that answer later and at once run in their order; a refusal bounces to the sender, a consumed stanza goes nowhere, a failed send bounces', async (t) => {
  const toShore: XmlElement[] = [];
  const delivered: XmlElement[] = [];
  const order: string[] = [];
  const later: StanzaHook = {
    name: 'later',
    outbound: async (s) => {
      order.push(`later ${s.attr('id')}`);
      if (s.attr('id') === 'refused') return new StanzaError('not-allowed', 'no');
      const c = s.clone();
      c.setAttr('type', 'chat');
      return c;
    },
  };
  const atOnce: StanzaHook = {
    name: 'at-once',
    outbound: (s) => {
      order.push(`at-once ${s.attr('id')} ${s.attr('type')}`);
      return s.attr('id') === 'consumed' ? 'consumed' : s;
    },
  };
  const shore = link('shore', ['b.example'], toShore);
  const failing: RelayLink = { ...link('hub', ['c.example'], []), send: () => Promise.reject(new Error('spool full')) };
  const router = new Router({ localDomains: ['a.example'], links: [shore, failing], local: { deliver: (el) => void delivered.push(el) }, hooks: [later, atOnce] });
  for (const id of ['sent', 'refused', 'consumed']) await router.fromLocal(msg('alice@a.example', 'bob@b.example', id));
  await router.fromLocal(msg('alice@a.example', 'carol@c.example', 'unsendable'));
  t.deepEqual(order, ['later sent', 'at-once sent chat', 'later refused', 'later consumed', 'at-once consumed chat', 'later unsendable', 'at-once unsendable chat']);
  t.deepEqual(toShore.map((e) => `${e.attr('id')} ${e.attr('type')}`), ['sent chat']);
  t.deepEqual(
    delivered.map((e) => `${e.attr('id')} ${e.attr('type')} ${e.getChild('error')?.elements()[0]?.local}`),
    ['refused error not-allowed', 'unsendable error internal-server-error'],
  );
});
