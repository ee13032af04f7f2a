// Markers the worker signs and trusts alone: a key of its own under AUTORESEARCH_HOME, an HMAC over
// what the marker says and what it is for; anything else (unsigned, tampered, for another purpose or
// experiment) reads as absent.
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { canonicalJson, readSignedMarker, workerKey, writeSignedMarker } from '../store/signedMarker';

const scratch = (prefix: string) => mkdtempSync(path.join(tmpdir(), prefix));

/** Runs `body` with AUTORESEARCH_HOME set to a fresh folder (the worker key lives there). */
function inHome<T>(body: (home: string) => T): T {
  const saved = process.env.AUTORESEARCH_HOME;
  const home = scratch('ar-home-');
  process.env.AUTORESEARCH_HOME = home;
  try {
    return body(home);
  } finally {
    if (saved === undefined) delete process.env.AUTORESEARCH_HOME;
    else process.env.AUTORESEARCH_HOME = saved;
  }
}

const about = { purpose: 'result', commit: 'abc', runId: 'run-1', tag: 't', n: 3 } as const;

describe('signed markers', () => {
  it('reads back what the worker wrote, for what it was written for', () => {
    inHome(() => {
      const file = path.join(scratch('ar-marker-'), 'm.json');
      writeSignedMarker(file, about, { metricText: '0.5', nested: { b: 1, a: [2, 3] } });
      assert.deepEqual(readSignedMarker(file, about), { metricText: '0.5', nested: { b: 1, a: [2, 3] } });
      // The order of the fields the reader names does not matter.
      assert.ok(readSignedMarker(file, { n: 3, tag: 't', runId: 'run-1', commit: 'abc', purpose: 'result' }));
    });
  });

  it('ignores a marker for another purpose, experiment, seed, repeat, commit or run', () => {
    inHome(() => {
      const file = path.join(scratch('ar-marker-'), 'm.json');
      writeSignedMarker(file, about, { ok: true });
      for (const other of [
        { ...about, purpose: 'trained' as const },
        { ...about, n: 4 },
        { ...about, seed: 1 },
        { ...about, repeat: 1 },
        { ...about, commit: 'abd' },
        { ...about, runId: 'run-2' },
      ])
        assert.equal(readSignedMarker(file, other), null, JSON.stringify(other));
      writeSignedMarker(file, { ...about, seed: 1 }, { ok: true });
      assert.equal(readSignedMarker(file, about), null, 'a seeded marker is not the unseeded one');
      assert.deepEqual(readSignedMarker(file, { ...about, seed: 1 }), { ok: true });
    });
  });

  it('ignores an unsigned, tampered, truncated or missing marker, and one signed with another key', () => {
    const dir = scratch('ar-marker-');
    const file = path.join(dir, 'm.json');
    inHome(() => {
      assert.equal(readSignedMarker(file, about), null, 'missing');
      writeFileSync(file, JSON.stringify({ ...about, outcome: { metricText: '0.1' } }));
      assert.equal(readSignedMarker(file, about), null, 'unsigned (the format before markers were signed)');
      writeSignedMarker(file, about, { metricText: '0.5' });
      const good = readFileSync(file, 'utf8');
      writeFileSync(file, good.replace('0.5', '0.4'));
      assert.equal(readSignedMarker(file, about), null, 'a changed byte in what it says');
      const mac = /"mac":"([0-9a-f]+)"/.exec(good)![1]!;
      const flipped = mac.slice(0, -1) + (mac.endsWith('0') ? '1' : '0');
      writeFileSync(file, good.replace(mac, flipped));
      assert.equal(readSignedMarker(file, about), null, 'a changed byte in the signature');
      writeFileSync(file, good.replace(mac, mac.slice(0, 10)));
      assert.equal(readSignedMarker(file, about), null, 'a short signature');
      writeFileSync(file, good.slice(0, good.length / 2));
      assert.equal(readSignedMarker(file, about), null, 'truncated');
      writeFileSync(file, good);
      assert.deepEqual(readSignedMarker(file, about), { metricText: '0.5' });
    });
    // Another worker's key (another home): not this worker's marker.
    inHome(() => assert.equal(readSignedMarker(file, about), null, 'signed with another key'));
  });

  it('canonical JSON: keys sorted at every depth, undefined fields left out', () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: undefined } }),
      '{"a":{"d":[1,{"x":1,"y":2}]},"b":1}',
    );
  });
});

describe('the worker key', () => {
  it('is 32 random bytes, readable by its owner only, made once', () => {
    inHome((home) => {
      const key = workerKey();
      assert.equal(key.length, 32);
      const file = path.join(home, 'worker.key');
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.deepEqual(workerKey(), key, 'the same key on every call');
    });
  });

  it('is the same for workers that start at once', async () => {
    const home = scratch('ar-home-');
    const module = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'store', 'signedMarker.ts');
    const script = `const m = await import(${JSON.stringify(module)}); console.log(m.workerKey().toString('hex'));`;
    const keys = await Promise.all(
      Array.from({ length: 4 }, () =>
        execa(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
          env: { ...process.env, AUTORESEARCH_HOME: home },
        }).then((r) => r.stdout.trim()),
      ),
    );
    assert.equal(new Set(keys).size, 1, keys.join('\n'));
    assert.equal(readFileSync(path.join(home, 'worker.key')).toString('hex'), keys[0]);
  });

  it('a key file of the wrong size is named, with the fix', () => {
    inHome((home) => {
      writeFileSync(path.join(home, 'worker.key'), 'short');
      assert.throws(() => workerKey(), /worker\.key.*5 bytes.*Delete it/);
    });
  });
});
