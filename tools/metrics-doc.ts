/**
 * `npm run docs:metrics`: writes the metric reference table of
 * docs/operator-guide.md from the catalog (src/obs/catalog.ts), between the
 * `<!-- metrics:begin ... -->` and `<!-- metrics:end -->` markers.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { metricsTable } from '../src/obs/catalog.ts';

const file = new URL('../docs/operator-guide.md', import.meta.url);
const text = readFileSync(file, 'utf8');
const re = /(<!-- metrics:begin[^>]*-->\n)[\s\S]*?(<!-- metrics:end -->)/;
if (!re.test(text)) throw new Error('docs/operator-guide.md: no <!-- metrics:begin --> ... <!-- metrics:end --> markers');
writeFileSync(file, text.replace(re, (_m, begin: string, end: string) => `${begin}${metricsTable()}${end}`));
process.stdout.write('docs/operator-guide.md: metric table written\n');
