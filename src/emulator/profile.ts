/**
 * Reads the `bearer:` half of a link profile (profiles/NAME.yaml or a path).
 * Stand-in until src/config's loadProfile exists: the lead can swap the body of
 * loadBearerParams for it; callers only see BearerParams.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { BearerParams } from './engine.ts';
import { validateParams } from './engine.ts';
import { EmulatorError } from './errors.ts';

const REPO_PROFILES = fileURLToPath(new URL('../../profiles/', import.meta.url));

/** A profile name ("bgan-64k") or a file path -> the file that holds it. */
export function resolveProfilePath(nameOrPath: string, cwd = process.cwd()): string {
  if (nameOrPath.includes('/') || nameOrPath.endsWith('.yaml') || nameOrPath.endsWith('.yml')) return path.resolve(cwd, nameOrPath);
  for (const dir of [path.join(cwd, 'profiles'), REPO_PROFILES]) {
    for (const ext of ['.yaml', '.yml']) {
      const p = path.join(dir, nameOrPath + ext);
      if (fs.existsSync(p)) return p;
    }
  }
  throw new EmulatorError('EMU_PROFILE', `profile "${nameOrPath}" not found in ${path.join(cwd, 'profiles')} or ${REPO_PROFILES}`);
}

/** Loads and validates the bearer half of a profile. Throws EmulatorError EMU_PROFILE / EMU_BAD_PARAMS. */
export function loadBearerParams(nameOrPath: string, cwd = process.cwd()): BearerParams {
  const file = resolveProfilePath(nameOrPath, cwd);
  let doc: unknown;
  try {
    doc = parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new EmulatorError('EMU_PROFILE', `${file}: ${(err as Error).message}`);
  }
  const bearer = (doc as { bearer?: unknown } | null)?.bearer;
  if (typeof bearer !== 'object' || bearer === null) throw new EmulatorError('EMU_PROFILE', `${file}: no "bearer:" mapping`);
  try {
    validateParams(bearer as BearerParams);
  } catch (err) {
    throw new EmulatorError('EMU_BAD_PARAMS', `${file}: ${(err as Error).message}`);
  }
  return bearer as BearerParams;
}
