// Markers the worker reads back to skip work (a training's saved result, a slot's set-up, a candidate's
// ref) are signed with a key of the worker's own, and trusted only when the signature holds and they
// say they are for exactly this step. Candidate code runs where it might write such a file (unsandboxed,
// or through a hole not yet found); without the key it can only make a marker that reads as absent.
// Absent is the safe side: the worker then does the work again (a training trains once more), which
// costs time, never a forged number. Deleting the key costs just that: every saved result trains again.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { homePath } from '../system/home';

export type MarkerPurpose = 'trained' | 'exited' | 'result' | 'setup' | 'candidate' | 'rebased' | 'answer';

/**
 * What a marker is for: its purpose and the fields that name the step (commit, run id, tag, experiment
 * number, seed, repeat, ...). A reader passes the fields it expects; a marker that names any other value,
 * or has a field the reader does not name, is not for this step.
 */
export type MarkerFields = { purpose: MarkerPurpose } & Record<string, string | number | undefined>;

const KEY_BYTES = 32;

export function workerKeyPath(): string {
  return homePath('worker.key');
}

/**
 * This worker's key: 32 random bytes in AUTORESEARCH_HOME/worker.key, made on first use. It is written
 * to a file of its own and then linked into place, which fails if the key exists already: two workers
 * starting at once end up with one key, whichever linked first, and never read half a file.
 */
export function workerKey(): Buffer {
  const file = workerKeyPath();
  const existing = readKey(file);
  if (existing) return existing;
  mkdirSync(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(temp, randomBytes(KEY_BYTES), { mode: 0o600, flag: 'wx' });
  try {
    linkSync(temp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    rmSync(temp, { force: true });
  }
  return readKey(file)!;
}

function readKey(file: string): Buffer | null {
  let key: Buffer;
  try {
    key = readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  if (key.length !== KEY_BYTES)
    throw new Error(
      `${file} is not a worker key: it holds ${key.length} bytes, not ${KEY_BYTES}. Delete it and the worker ` +
        'makes a new one (results saved for retries are then trained again).',
    );
  return key;
}

/** JSON with the keys of every object sorted and undefined fields left out: one text per value. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function mac(key: Buffer, payload: unknown): Buffer {
  return createHmac('sha256', key).update(canonicalJson(payload)).digest();
}

/**
 * The text of a marker for `fields` holding `data`, signed: what writeSignedMarker writes, for a writer
 * without the key (the training's supervisor, which writes it only if the training ends on its own).
 */
export function signedMarkerText(fields: MarkerFields, data?: unknown): string {
  const payload = { fields, data };
  return JSON.stringify({ payload, mac: mac(workerKey(), payload).toString('hex') });
}

/**
 * Writes `data` with what it is for, signed. Atomically (a file of its own, then renamed): a reader sees
 * the whole marker or none (a torn one would read as absent anyway, and cost a retraining).
 */
export function writeSignedMarker(file: string, fields: MarkerFields, data?: unknown): void {
  const text = signedMarkerText(fields, data);
  mkdirSync(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(temp, text);
  renameSync(temp, file);
}

/**
 * The data of a marker this worker signed for exactly `fields`; null for anything else (missing,
 * unreadable, unsigned, signed with another key, tampered with, or for another step), so the caller does
 * the work again.
 */
export function readSignedMarker<T = unknown>(file: string, fields: MarkerFields): T | null {
  let marker: { payload?: { fields?: unknown; data?: unknown }; mac?: unknown };
  try {
    marker = JSON.parse(readFileSync(file, 'utf8')) as typeof marker;
  } catch {
    return null;
  }
  if (!marker || typeof marker !== 'object' || typeof marker.mac !== 'string' || !marker.payload) return null;
  const expected = mac(workerKey(), marker.payload);
  const given = Buffer.from(marker.mac, 'hex');
  // timingSafeEqual wants equal lengths; a signature of another length is simply wrong.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  if (canonicalJson(marker.payload.fields) !== canonicalJson(fields)) return null;
  return (marker.payload.data ?? null) as T | null;
}
