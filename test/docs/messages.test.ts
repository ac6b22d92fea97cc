/**
 * The operator guide quotes what satrelay prints: the troubleshooting table
 * (§13, first column) and the log lines of §12. Each quote must be a message
 * the code still prints (test/helpers/messages.ts says how a quote is matched),
 * so a reworded message or an old stack trace format fails here.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { covered, sourceTemplates } from '../helpers/messages.ts';

const guide = readFileSync('docs/operator-guide.md', 'utf8');
const section = (from: string, to: string): string => guide.slice(guide.indexOf(from), guide.indexOf(to));
const templates = sourceTemplates('src');

/** Backtick quotes in the first column of a Markdown table that read as messages (a space, not a metric or a key). */
function symptomQuotes(table: string): string[] {
  return table
    .split('\n')
    .filter((l) => l.startsWith('| ') && !l.startsWith('| symptom') && !l.startsWith('|---'))
    .flatMap((l) => [...l.split(' | ')[0].matchAll(/`([^`]+)`/g)].map((m) => m[1]))
    .filter((q) => q.includes(' ') && !/^satrelay_/.test(q) && !/^satrelay (status|check)$/.test(q) && !/^[\w.]+: \S+$/.test(q)); // not metrics, commands or site-file settings
}

test('the matcher: real messages are found, reworded or stale ones are not', (t) => {
  for (const q of [
    'ship.yaml:10:16: links[0].transport: expected one of udp, serial, tcp, xep0361, got "udpp"',
    'satrelay: cannot start site ship-1 (/etc/satrelay/satrelay.yaml): cannot listen on 0.0.0.0:5269: listen EADDRINUSE: address already in use 0.0.0.0:5269',
    'warning: /etc/satrelay/shore.key: key file is open to everyone (mode 644); run chmod 600 on it',
  ]) t.true(covered(q, templates), q);
  for (const q of [
    'satrelay: CertError: configured TLS certificate unusable: ENOENT ...',
    'satrelay: S2SError: cannot listen on 0.0.0.0:5269: listen EADDRINUSE',
    'warning: /etc/satrelay/shore.key: key file is open to its group (mode 640); run chmod 600 on it',
    'stopping',
    'relay started',
  ]) t.false(covered(q, templates), q);
});

test('every message quoted in the troubleshooting table is one the program prints', (t) => {
  const quotes = symptomQuotes(section('## 13. Troubleshooting', '## 14. Upgrades'));
  t.true(quotes.length >= 12, `${quotes.length} quotes`);
  for (const q of quotes) t.true(covered(q, templates), `not printed by satrelay: ${q}`);
});

test('every log message of the guide\'s log examples is one the program logs', (t) => {
  const msgs = [...section('## 11. What the relay guarantees', '## 13. Troubleshooting').matchAll(/"msg":("(?:[^"\\]|\\.)+")/g)].map((m) => JSON.parse(m[1]) as string);
  t.true(msgs.length >= 10, `${msgs.length} lines`);
  for (const m of msgs) t.true(covered(m, templates), `not logged by satrelay: ${m}`);
});
