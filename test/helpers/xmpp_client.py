#!/usr/bin/python3
"""Real XMPP client (slixmpp) driven over stdio, for the satrelay interop harness.

Usage: /usr/bin/python3 xmpp_client.py   (options as one JSON object in argv[1]:
  {"jid", "password", "host", "port", "tls": false, "resource": "t", "autoAccept": false})

stdin: one JSON command per line
  {"cmd":"message","to","body","id"?,"type"?}
  {"cmd":"presence","to"?,"type"?,"show"?,"status"?}
  {"cmd":"disco_info","to","req","timeout"?,"node"?}   -> {"event":"disco_info","req",...,"node","xml"}
  {"cmd":"disco_set","node","identities":[{category,type,name?}],"features":[...]}
                                               (answer disco#info for that node; -> {"event":"disco_set"})
  {"cmd":"roster","req"}                       -> {"event":"roster","req","items":[...]}
  {"cmd":"raw","xml"}                          (sent as is)
  {"cmd":"close"}
stdout: one JSON event per line: ready, message, presence, iq, disco_info, roster,
  failed_auth, disconnected, error (bad command). Stanza events carry the raw XML.
"""
import asyncio
import json
import logging
import ssl
import sys
import threading

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout

STANZA_TAGS = {
    '{jabber:client}message': 'message',
    '{jabber:client}presence': 'presence',
    '{jabber:client}iq': 'iq',
}


def emit(obj):
    sys.stdout.write(json.dumps(obj) + '\n')
    sys.stdout.flush()


def stanza_fields(stanza, kind):
    ev = {
        'event': kind,
        'from': str(stanza['from']) or None,
        'to': str(stanza['to']) or None,
        'type': stanza.xml.get('type'),
        'id': stanza.xml.get('id'),
        'xml': str(stanza),
    }
    if kind == 'message':
        body = stanza.xml.find('{jabber:client}body')
        ev['body'] = body.text if body is not None else None
    if kind == 'presence':
        show = stanza.xml.find('{jabber:client}show')
        status = stanza.xml.find('{jabber:client}status')
        ev['show'] = show.text if show is not None else None
        ev['status'] = status.text if status is not None else None
    if ev['type'] == 'error':
        ev['error'] = {
            'condition': stanza['error']['condition'] or None,
            'type': stanza['error']['type'] or None,
            'text': stanza['error']['text'] or None,
        }
    return ev


class Client(slixmpp.ClientXMPP):
    def __init__(self, opts):
        jid = opts['jid']
        if '/' not in jid:
            jid = jid + '/' + opts.get('resource', 't')
        super().__init__(jid, opts['password'])
        self.opts = opts
        # None: leave subscription requests to the test (no auto-accept, no auto-deny).
        self.auto_authorize = True if opts.get('autoAccept') else None
        self.auto_subscribe = bool(opts.get('autoAccept'))
        self.register_plugin('xep_0030')
        self.register_plugin('xep_0199')
        self['feature_mechanisms'].unencrypted_plain = True
        if opts.get('tls'):
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self.ssl_context = ctx
        self.add_filter('in', self._incoming)
        self.add_event_handler('session_start', self._start)
        self.add_event_handler('failed_auth', lambda _e: emit({'event': 'failed_auth'}))
        self.add_event_handler('disconnected', self._disconnected)
        self.closing = False

    def _incoming(self, stanza):
        kind = STANZA_TAGS.get(stanza.tag)
        if kind is not None:
            emit(stanza_fields(stanza, kind))
        return stanza

    async def _start(self, _event):
        if self.opts.get('initialPresence', True):
            self.send_presence()
        emit({'event': 'ready', 'jid': str(self.boundjid)})

    def _disconnected(self, reason):
        emit({'event': 'disconnected', 'reason': str(reason) if reason else None})
        self.loop.call_soon(self.loop.stop)

    async def command(self, cmd):
        c = cmd.get('cmd')
        if c == 'message':
            msg = self.make_message(mto=cmd['to'], mbody=cmd.get('body'), mtype=cmd.get('type') or 'chat')
            if cmd.get('id'):
                msg['id'] = cmd['id']
            msg.send()
        elif c == 'presence':
            pres = self.make_presence(pto=cmd.get('to'), ptype=cmd.get('type'),
                                      pshow=cmd.get('show'), pstatus=cmd.get('status'))
            pres.send()
        elif c == 'disco_info':
            await self._disco(cmd)
        elif c == 'disco_set':
            disco = self['xep_0030']
            for i in cmd.get('identities', []):
                disco.add_identity(i['category'], i['type'], i.get('name') or '', node=cmd['node'])
            for f in cmd.get('features', []):
                disco.add_feature(f, node=cmd['node'])
            emit({'event': 'disco_set', 'node': cmd['node']})
        elif c == 'roster':
            try:
                iq = await self.get_roster(timeout=cmd.get('timeout', 10))
                items = [{'jid': str(j), 'subscription': it['subscription'], 'ask': it['ask'] or None,
                          'name': it['name'] or None}
                         for j, it in iq['roster']['items'].items()]
                emit({'event': 'roster', 'req': cmd.get('req'), 'ok': True, 'items': items})
            except (IqError, IqTimeout) as e:
                emit({'event': 'roster', 'req': cmd.get('req'), 'ok': False, 'error': type(e).__name__})
        elif c == 'raw':
            self.send_raw(cmd['xml'])
        elif c == 'close':
            await self.close()
        else:
            emit({'event': 'error', 'code': 'BAD_COMMAND', 'command': cmd})

    async def _disco(self, cmd):
        req = cmd.get('req')
        try:
            iq = await self['xep_0030'].get_info(jid=cmd['to'], node=cmd.get('node'), timeout=cmd.get('timeout', 10),
                                                 local=False, cached=False)
            info = iq['disco_info']
            emit({'event': 'disco_info', 'req': req, 'ok': True,
                  'features': list(info['features']),
                  'identities': [{'category': i[0], 'type': i[1], 'name': i[3]} for i in info['identities']],
                  'node': info['node'] or None, 'from': str(iq['from']), 'xml': str(iq)})
        except IqError as e:
            emit({'event': 'disco_info', 'req': req, 'ok': False, 'features': [], 'identities': [],
                  'error': e.iq['error']['condition'] or 'undefined-condition'})
        except IqTimeout:
            emit({'event': 'disco_info', 'req': req, 'ok': False, 'features': [], 'identities': [],
                  'error': 'timeout'})

    async def close(self):
        self.closing = True
        self.disconnect(wait=1.0)
        await asyncio.sleep(0)
        self.loop.call_later(3, self.loop.stop)


def main():
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    opts = json.loads(sys.argv[1])
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    client = Client(opts)

    def on_line(line):
        try:
            cmd = json.loads(line)
        except ValueError:
            emit({'event': 'error', 'code': 'BAD_JSON', 'line': line})
            return
        task = loop.create_task(client.command(cmd))
        task.add_done_callback(lambda t: t.exception() and emit(
            {'event': 'error', 'code': 'COMMAND_FAILED', 'command': cmd, 'message': repr(t.exception())}))

    def read_stdin():
        for line in sys.stdin:
            line = line.strip()
            if line:
                loop.call_soon_threadsafe(on_line, line)
        loop.call_soon_threadsafe(lambda: loop.create_task(client.close()))

    threading.Thread(target=read_stdin, daemon=True).start()
    tls = bool(opts.get('tls'))
    client.connect((opts['host'], int(opts['port'])), use_ssl=False,
                   force_starttls=tls, disable_starttls=not tls)
    loop.run_forever()


if __name__ == '__main__':
    main()
