/**
 * The files a site file names: paths resolved against the site file's
 * directory; certificate files that must exist now; each link's profile
 * (with its `tuning:` overrides) and key file, read from the raw data so that
 * their issues join the schema's.
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { ConfigIssue } from './errors.ts';
import { KeyFileError, readKeyFile } from './keyfile.ts';
import { checkTuning, isProfilePath, loadProfileFile, resolveProfileFile, resolveTuning, tuningSchema, type ProfileConfig, type TuningProfile } from './profile.ts';
import type { LoadOptions } from './site-types.ts';
import type { PathSeg, YamlSource } from './source.ts';

/** Makes a path from the site file absolute: relative ones are taken from the site file's directory. */
export function pathResolver(file: string): { baseDir: string; abs: (p: string) => string } {
  const baseDir = dirname(resolve(file));
  return { baseDir, abs: (p) => (isAbsolute(p) ? p : resolve(baseDir, p)) };
}

const rawLinks = (src: YamlSource): unknown[] => {
  const links = src.get(['links']);
  return Array.isArray(links) ? links : [];
};

/** Certificate files must exist now, not when the first local server connects. */
export function certFileIssues(src: YamlSource, abs: (p: string) => string): ConfigIssue[] {
  const certPaths: PathSeg[][] = [['local', 'tls', 'cert'], ['local', 'tls', 'key']];
  rawLinks(src).forEach((_, i) => certPaths.push(['links', i, 'tls', 'cert'], ['links', i, 'tls', 'key']));
  const out: ConfigIssue[] = [];
  for (const path of certPaths) {
    const v = src.get(path);
    if (typeof v === 'string' && v.length > 0 && !existsSync(abs(v))) out.push(src.issue(path, `file not found: ${abs(v)}`));
  }
  return out;
}

export interface LinkFiles {
  /** Per link index: the profile loaded with the link's effective tuning; undefined when it could not be. */
  profiles: Array<{ profile: ProfileConfig; tuning: TuningProfile; name: string } | undefined>;
  /** Per link index: the id of the key in key_file, when it was read. */
  keyIds: Array<string | null>;
  /** Per link index with bearers: each bearer's profile and tuning, like `profiles`. */
  bearerProfiles: Array<Array<LoadedAt | undefined> | undefined>;
  issues: ConfigIssue[];
}

type LoadedAt = { profile: ProfileConfig; tuning: TuningProfile; name: string };

/** The profile named at at/profile, with the tuning keys at at/tuning on top; issues at their keys. */
function profileAt(src: YamlSource, at: PathSeg[], baseDir: string, issues: ConfigIssue[]): LoadedAt | undefined {
  const ref = src.get([...at, 'profile']);
  if (typeof ref !== 'string' || ref === '') return undefined;
  const found = resolveProfileFile(ref, baseDir);
  if ('error' in found) {
    issues.push(src.issue([...at, 'profile'], found.error));
    return undefined;
  }
  const { loaded, issues: pIssues } = loadProfileFile(found.file);
  if (!loaded) {
    issues.push(src.issue([...at, 'profile'], `profile ${JSON.stringify(ref)} is invalid (see ${pIssues[0]?.file ?? found.file})`));
    issues.push(...pIssues);
    return undefined;
  }
  const overrides = tuningSchema.safeParse(src.get([...at, 'tuning']) ?? {});
  if (!overrides.success) return undefined;
  const tuning = resolveTuning(loaded.profile.bearer, { ...loaded.tuningGiven, ...overrides.data });
  checkTuning(loaded.profile.bearer, tuning, (key, msg) => {
    const path: PathSeg[] = key in overrides.data ? [...at, 'tuning', key] : [...at, 'profile'];
    issues.push(src.issue(path, `${path.at(-1) === 'profile' ? `tuning.${key}: ` : ''}${msg}`));
  });
  return { profile: loaded.profile, tuning, name: isProfilePath(ref) ? found.file : ref };
}

/** Loads each link's profile and key file. */
export function loadLinkFiles(src: YamlSource, where: { baseDir: string; abs: (p: string) => string }, opts: LoadOptions): LinkFiles {
  const out: LinkFiles = { profiles: [], keyIds: [], bearerProfiles: [], issues: [] };
  const { issues } = out;
  rawLinks(src).forEach((_, i) => {
    out.profiles[i] = profileAt(src, ['links', i], where.baseDir, issues);
    const bearers = src.get(['links', i, 'bearers']);
    if (Array.isArray(bearers)) out.bearerProfiles[i] = bearers.map((__, j) => profileAt(src, ['links', i, 'bearers', j], where.baseDir, issues));
    out.keyIds[i] = null;
    const kf = src.get(['links', i, 'key_file']);
    if (opts.checkKeyFiles !== false && typeof kf === 'string' && kf !== '') {
      try {
        const k = readKeyFile(where.abs(kf));
        out.keyIds[i] = k.id;
        for (const w of k.warnings) opts.onWarning?.(w);
      } catch (err) {
        if (!(err instanceof KeyFileError)) throw err;
        issues.push(src.issue(['links', i, 'key_file'], err.message));
      }
    }
  });
  return out;
}
