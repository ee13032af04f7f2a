// The Node versions package.json declares are true: every package the lock file installs admits all
// of them (no EBADENGINE on `npm install` with any Node the range allows), and this Node is one of them.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import semver from 'semver';

const read = (file: string) => JSON.parse(readFileSync(new URL(`../${file}`, import.meta.url), 'utf8'));

test('every package in package-lock.json admits every Node version package.json declares', () => {
  const declared: string = read('package.json').engines.node;
  const lock = read('package-lock.json') as {
    packages: Record<string, { version?: string; engines?: { node?: string } | string[] }>;
  };
  assert.equal(
    (lock.packages['']?.engines as { node?: string } | undefined)?.node,
    declared,
    'the lock is current',
  );
  const narrower = Object.entries(lock.packages)
    .filter(([name]) => name !== '')
    .map(([name, pkg]) => ({ name, version: pkg.version, node: (pkg.engines as { node?: string })?.node }))
    .filter((p) => typeof p.node === 'string' && !semver.subset(declared, p.node))
    .map((p) => `${p.name.replace(/^.*node_modules\//, '')}@${p.version} needs node ${p.node}`);
  assert.deepEqual(
    narrower,
    [],
    `package.json declares node ${declared}, but these packages do not run on all of it: pick versions that do, or narrow the range`,
  );
  assert.ok(
    semver.satisfies(process.version, declared),
    `this Node (${process.version}) is outside the declared ${declared}`,
  );
});
