import test from 'ava';
import { parseXml } from '../../src/xml/index.ts';
import { StreamError } from '../../src/xmpp/errors.ts';
import { checkStanza, type StanzaAuth } from '../../src/s2s/stanza-check.ts';

/** a.example authenticated for b.example only; the relay serves b.example and c.example. */
const auth = (authenticated = true): StanzaAuth => ({
  authenticated: () => authenticated,
  hasFrom: (from) => from === 'a.example',
  mayReach: (from, to) => from === 'a.example' && to === 'b.example',
  isServed: (to) => to === 'b.example' || to === 'c.example',
});

const verdict = (xml: string, a = auth()): string => {
  const r = checkStanza(parseXml(xml), a);
  return r instanceof StreamError ? r.condition : `${r.from} -> ${r.to}`;
};

test('stanza checks (RFC 6120 §8.1, §4.9.3): the first failing check names the stream error', (t) => {
  const ns = `xmlns='jabber:server'`;
  t.is(verdict(`<message ${ns} from='u@a.example/r' to='v@b.example'/>`), 'a.example -> b.example');
  t.is(verdict(`<iq ${ns} from='a.example' to='b.example' type='get' id='1'/>`), 'a.example -> b.example');
  t.is(verdict(`<message ${ns} from='u@a.example' to='v@b.example'/>`, auth(false)), 'not-authorized');
  t.is(verdict(`<foo ${ns} from='u@a.example' to='v@b.example'/>`), 'unsupported-stanza-type');
  t.is(verdict(`<message xmlns='jabber:client' from='u@a.example' to='v@b.example'/>`), 'unsupported-stanza-type');
  t.is(verdict(`<message ${ns} to='v@b.example'/>`), 'improper-addressing');
  t.is(verdict(`<message ${ns} from='u@a.example'/>`), 'improper-addressing');
  t.is(verdict(`<presence ${ns} from='u@x.example' to='v@b.example'/>`), 'invalid-from');
  t.is(verdict(`<presence ${ns} from='u@a.example' to='v@elsewhere.example'/>`), 'host-unknown');
  t.is(verdict(`<presence ${ns} from='u@a.example' to='v@c.example'/>`), 'invalid-from', 'served, but not a pair this stream authenticated');
});
