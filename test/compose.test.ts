// docker-compose.yml cannot run here (no Docker engine), so it is checked instead: against the Compose
// Specification's JSON schema (the copy the dclint package ships), and for what would break only when
// someone runs it: dependencies, the GPU reservation, the search attributes, secrets, image pins. Its setup
// jobs run deploy/temporal/'s scripts, which test/postgresCluster.test.ts runs on a real server.
import Ajv from 'ajv';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { devServerSearchAttributeFlags } from '../common/searchAttributes';
import { SERVER_DYNAMIC_CONFIG } from '../temporal/serverSettings';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const COMPOSE_TEXT = readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8');
const DOCKERFILE = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');

type Service = {
  image?: string;
  security_opt?: string[];
  networks?: string[] | Record<string, unknown>;
  build?: unknown;
  restart?: string;
  command?: string | string[];
  entrypoint?: string | string[];
  configs?: (string | { source: string; target?: string })[];
  user?: string;
  environment?: Record<string, string | number | boolean | null> | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: unknown; disable?: boolean };
  volumes?: (string | { source?: string; target: string })[];
  deploy?: {
    resources?: {
      reservations?: {
        devices?: {
          driver?: string;
          count?: number | string;
          device_ids?: string[];
          capabilities: string[];
        }[];
      };
    };
  };
};
type Compose = {
  services: Record<string, Service>;
  configs?: Record<string, { file?: string; content?: string }>;
  volumes?: Record<string, unknown>;
  networks?: Record<string, { internal?: boolean } | null>;
};

const require = createRequire(import.meta.url);

/** The Compose Specification's schema (draft-07, whose meta-schema it names by its https address). */
function composeValidator() {
  const schemaFile = path.join(
    path.dirname(require.resolve('dclint/package.json')),
    'schemas',
    'compose.schema.json',
  );
  const schema = JSON.parse(readFileSync(schemaFile, 'utf8'));
  assert.match(
    schema.$schema,
    /draft-07/,
    'the schema moved to another JSON Schema draft: pick the matching Ajv class',
  );
  // strictTypes off: the spec's schema omits `type: object` beside some keywords; every other strict check stays.
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false });
  ajv.addMetaSchema({ ...require('ajv/dist/refs/json-schema-draft-07.json'), $id: schema.$schema });
  return ajv.compile(schema);
}
const validateCompose = composeValidator();

function schemaErrors(doc: unknown): string[] {
  return validateCompose(doc)
    ? []
    : (validateCompose.errors ?? []).map(
        (e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`,
      );
}

/** The YAML as Compose reads it (merge keys allowed, duplicate keys refused). */
function parseCompose(text: string): Compose {
  return parse(text, { merge: true, uniqueKeys: true }) as Compose;
}

/** The file as `docker compose` sees it with nothing set in the environment: every default taken. */
function interpolateDefaults(text: string): string {
  return text.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}/g, (all, _name, fallback) =>
    all === '$$' ? '$' : (fallback ?? ''),
  );
}

function env(service: Service): Record<string, string> {
  const raw = service.environment ?? {};
  const pairs = Array.isArray(raw)
    ? raw.map((entry) => [entry.split('=')[0]!, entry.split('=').slice(1).join('=')])
    : Object.entries(raw).map(([k, v]) => [k, v === null ? '' : String(v)]);
  return Object.fromEntries(pairs);
}

function dependencies(service: Service): Record<string, string> {
  const deps = service.depends_on ?? [];
  return Array.isArray(deps)
    ? Object.fromEntries(deps.map((name) => [name, 'service_started']))
    : Object.fromEntries(Object.entries(deps).map(([name, d]) => [name, d.condition ?? 'service_started']));
}

/** The networks a service joins (Compose puts one without `networks` on `default`). */
function networksOf(service: Service): string[] {
  const joined = service.networks ?? ['default'];
  return Array.isArray(joined) ? joined : Object.keys(joined);
}

function script(service: Service): string {
  return Array.isArray(service.command) ? service.command.join(' ') : (service.command ?? '');
}

/**
 * The shell script a one-shot job runs: `/bin/sh <file>` where the file is a config mounted from this
 * repository (deploy/temporal/: the scripts test/postgresCluster.test.ts runs for real); its path and text.
 */
function jobScript(service: Service): { file: string; text: string } | null {
  const entry = Array.isArray(service.entrypoint) ? service.entrypoint : [];
  if (entry.length !== 2 || entry[0] !== '/bin/sh') return null;
  const mount = (service.configs ?? []).find((c) => typeof c !== 'string' && c.target === entry[1]);
  const file = mount && typeof mount !== 'string' ? compose.configs?.[mount.source]?.file : undefined;
  if (!file) return null;
  return { file: path.normalize(file), text: readFileSync(path.join(ROOT, file), 'utf8') };
}

/** What breaks only at `docker compose up`: each dependency exists, its condition can be met, no cycle. */
function dependencyProblems(compose: Compose): string[] {
  const problems: string[] = [];
  const services = compose.services;
  for (const [name, service] of Object.entries(services))
    for (const [dep, condition] of Object.entries(dependencies(service))) {
      const target = services[dep];
      if (!target) {
        problems.push(`${name} depends on ${dep}, which is not a service`);
        continue;
      }
      if (condition === 'service_healthy' && (!target.healthcheck?.test || target.healthcheck.disable))
        problems.push(`${name} waits for ${dep} to be healthy, but ${dep} has no healthcheck`);
      if (condition === 'service_completed_successfully' && target.restart !== 'no')
        problems.push(
          `${name} waits for ${dep} to complete, but ${dep} is restarted (restart: ${target.restart})`,
        );
    }
  const visiting = new Set<string>();
  const done = new Set<string>();
  const visit = (name: string, trail: string[]): void => {
    if (done.has(name) || !services[name]) return;
    if (visiting.has(name)) {
      problems.push(`dependency cycle: ${[...trail, name].join(' -> ')}`);
      return;
    }
    visiting.add(name);
    for (const dep of Object.keys(dependencies(services[name]!))) visit(dep, [...trail, name]);
    visiting.delete(name);
    done.add(name);
  };
  for (const name of Object.keys(services)) visit(name, []);
  return problems;
}

const SECRET_NAME = /(API_KEY|APIKEY|TOKEN|SECRET|PASSWORD|PASSWD|PWD|CREDENTIAL|PRIVATE_KEY|ACCESS_KEY)/i;
const SECRET_VALUE = [
  /sk-ant-[A-Za-z0-9_-]{10,}/,
  /\bsk-[A-Za-z0-9]{20,}/,
  /\bgh[pousr]_[A-Za-z0-9]{20,}/,
  /\bAKIA[0-9A-Z]{16}\b/,
  /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
];

const compose = parseCompose(COMPOSE_TEXT);
const resolved = parseCompose(interpolateDefaults(COMPOSE_TEXT));
const services = compose.services;
/** The services running `autoresearch worker` (the image's entrypoint is the CLI). */
const workers = Object.entries(services).filter(([, s]) =>
  Array.isArray(s.command) ? s.command[0] === 'worker' : /^worker\b/.test(s.command ?? ''),
);
const imageOf = (prefix: string) =>
  Object.entries(services).filter(([, s]) => s.image?.startsWith(`${prefix}:`));
const serverName = imageOf('temporalio/server')[0]?.[0] ?? 'no temporalio/server service';

describe('docker-compose.yml', () => {
  it('is valid against the Compose Specification, as written and with every default interpolated', () => {
    assert.deepEqual(schemaErrors(compose), []);
    assert.deepEqual(schemaErrors(resolved), []);
  });

  it('fails the schema with a misspelt key (the check can fail)', () => {
    const typo = COMPOSE_TEXT.replace(
      '    depends_on:\n      temporal-setup:',
      '    depend_on:\n      temporal-setup:',
    );
    assert.notEqual(typo, COMPOSE_TEXT);
    const errors = schemaErrors(parseCompose(typo));
    assert.ok(
      errors.some((e) => e.includes('must NOT have additional properties') && e.includes('depend_on')),
      errors.join('\n'),
    );
    const badReservation = COMPOSE_TEXT.replace('capabilities: [gpu]', 'capability: [gpu]');
    assert.notEqual(schemaErrors(parseCompose(badReservation)), []);
  });

  it('runs with nothing set: every variable it reads has a default (the API key an empty one)', () => {
    const bare = [...COMPOSE_TEXT.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-[^}]*)?\}/g)].filter(
      (m) => !m[2],
    );
    assert.deepEqual(
      bare.map((m) => m[0]),
      [],
    );
  });

  it('depends only on services that exist, through conditions they can meet, without a cycle', () => {
    assert.deepEqual(dependencyProblems(compose), []);
    const broken = structuredClone(compose);
    broken.services['gpu-worker']!.depends_on = {
      'temporal-setupp': { condition: 'service_completed_successfully' },
    };
    broken.services.postgresql!.depends_on = { temporal: { condition: 'service_healthy' } };
    const problems = dependencyProblems(broken);
    assert.ok(
      problems.some((p) => p.includes('temporal-setupp, which is not a service')),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.startsWith('dependency cycle')),
      problems.join('\n'),
    );
  });

  it('brings up Postgres, the server, the UI and the setup jobs in order', () => {
    const postgres = imageOf('postgres')[0];
    assert.ok(postgres, 'a postgres service');
    const server = imageOf('temporalio/server')[0];
    assert.ok(server, 'a temporalio/server service');
    assert.equal(dependencies(services[server[0]]!)[postgres[0]], 'service_healthy');
    const ui = imageOf('temporalio/ui')[0];
    assert.ok(ui, 'a temporalio/ui service');
    assert.equal(env(ui[1]).TEMPORAL_ADDRESS, `${server[0]}:7233`);
    const tools = imageOf('temporalio/admin-tools');
    assert.ok(tools.length > 0, 'an admin-tools job');
    for (const [name, job] of tools) assert.equal(job.restart, 'no', `${name} is a one-shot job`);
    const version = (image: string | undefined) => image?.split(':')[1];
    for (const [name, job] of tools)
      assert.equal(
        version(job.image),
        version(server[1].image),
        `${name}: the admin tools match the server's version`,
      );
    assert.ok(
      services[postgres[0]]!.volumes?.some((v) => typeof v === 'string' && /^[a-z][\w-]*:/.test(v)),
      'Postgres keeps its data on a named volume',
    );
  });

  it("runs deploy/temporal's scripts in its setup jobs: the files test/postgresCluster.test.ts runs on a real server", () => {
    const jobs = Object.fromEntries(
      imageOf('temporalio/admin-tools').map(([name, job]) => [
        name,
        jobScript(job)?.file ?? 'no mounted script',
      ]),
    );
    assert.deepEqual(jobs, {
      'temporal-schema': path.join('deploy', 'temporal', 'schema.sh'),
      'temporal-setup': path.join('deploy', 'temporal', 'setup.sh'),
    });
    assert.match(
      jobScript(services['temporal-schema']!)!.text,
      /temporal-sql-tool --db temporal_visibility update-schema/,
    );
    for (const [name, job] of imageOf('temporalio/admin-tools'))
      assert.equal(job.command, undefined, `${name}: the script is the whole job, no command beside it`);
  });

  it("registers exactly common/searchAttributes.ts's attributes, with their types, within Postgres's limits", () => {
    const expected = devServerSearchAttributeFlags()
      .filter((flag) => flag !== '--search-attribute')
      .sort();
    const setup = Object.entries(services).filter(([, s]) =>
      jobScript(s)?.text.includes('search-attribute create'),
    );
    assert.equal(setup.length, 1, 'one job registers the search attributes');
    const [name, job] = setup[0]!;
    const text = jobScript(job)!.text;
    assert.equal(job.restart, 'no');
    assert.ok(job.image?.startsWith('temporalio/admin-tools:'), `${name} runs the admin tools`);
    assert.equal(dependencies(job)[serverName], 'service_healthy', `${name} waits for the server`);
    const create = text.slice(text.indexOf('search-attribute create'));
    const pairs = [...create.matchAll(/--name\s+(\S+)\s+--type\s+(\S+)/g)]
      .map((m) => `${m[1]}=${m[2]}`)
      .sort();
    assert.deepEqual(pairs, expected);
    assert.match(text, /namespace create/, `${name} creates the namespace`);
    const limits: Record<string, number> = { Keyword: 10, Double: 3, Int: 3, Bool: 3, Datetime: 3, Text: 3 };
    const perType = new Map<string, number>();
    for (const pair of pairs) {
      const type = pair.split('=')[1]!;
      perType.set(type, (perType.get(type) ?? 0) + 1);
    }
    for (const [type, count] of perType)
      assert.ok(count <= (limits[type] ?? 0), `${count} ${type} attributes`);
  });

  it("gives the server deploy/temporal/dynamicconfig.yaml, which sets temporal/serverSettings.ts's values", () => {
    const server = services[serverName]!;
    const target = env(server).DYNAMIC_CONFIG_FILE_PATH;
    const mount = (server.configs ?? []).find((c) => typeof c !== 'string' && c.target === target);
    assert.ok(mount && typeof mount !== 'string', `the server mounts a config at ${target}`);
    const file = compose.configs?.[mount.source]?.file;
    assert.equal(file && path.normalize(file), path.join('deploy', 'temporal', 'dynamicconfig.yaml'));
    const values = parse(readFileSync(path.join(ROOT, file!), 'utf8')) as Record<
      string,
      { value: unknown }[]
    >;
    const settings = Object.fromEntries(Object.entries(values).map(([key, list]) => [key, list[0]?.value]));
    assert.deepEqual(settings, SERVER_DYNAMIC_CONFIG);
    assert.match(
      readFileSync(path.join(ROOT, 'deploy', 'temporal', 'postgres.yaml'), 'utf8'),
      /dynamicConfigClient:\n {2}filepath: .*"deploy\/temporal\/dynamicconfig\.yaml"/,
      'the server set up by hand reads the same file',
    );
  });

  it('runs a control worker and a GPU worker that reserves NVIDIA GPUs, both after the setup', () => {
    const control = workers.filter(([, s]) => script(s).includes('--control-only'));
    const gpu = workers.filter(([, s]) => script(s).includes('--train-only') && script(s).includes('--gpus'));
    assert.equal(control.length, 1, 'one control worker');
    assert.equal(gpu.length, 1, 'one GPU worker');
    const [, gpuWorker] = gpu[0]!;
    const devices = gpuWorker.deploy?.resources?.reservations?.devices ?? [];
    assert.ok(
      devices.some(
        (d) =>
          d.driver === 'nvidia' &&
          d.capabilities.includes('gpu') &&
          (d.count !== undefined || d.device_ids?.length),
      ),
      JSON.stringify(devices),
    );
    const setupJob = Object.entries(services).find(([, s]) =>
      jobScript(s)?.text.includes('search-attribute create'),
    )![0];
    for (const [name, worker] of workers) {
      assert.equal(
        dependencies(worker)[setupJob],
        'service_completed_successfully',
        `${name} waits for the setup`,
      );
      assert.equal(env(worker).TEMPORAL_ADDRESS, `${serverName}:7233`, `${name} reaches the server`);
    }
  });

  it('gives every worker the same view of the targets and a volume for its home', () => {
    const home = /AUTORESEARCH_HOME=(\S+)/.exec(DOCKERFILE)?.[1];
    assert.ok(home, 'the Dockerfile sets AUTORESEARCH_HOME');
    const targetMounts = new Set<string>();
    for (const [name, worker] of Object.entries(resolved.services).filter(([n]) =>
      workers.some(([w]) => w === n),
    )) {
      const mounts = (worker.volumes ?? []).map((v) =>
        typeof v === 'string' ? v : `${v.source}:${v.target}`,
      );
      const targets = mounts.filter((m) => m.split(':')[1]?.startsWith('/targets'));
      assert.equal(targets.length, 1, `${name} mounts the target repositories`);
      targetMounts.add(targets[0]!);
      const homeVolume = mounts.find(
        (m) => home.startsWith(m.split(':')[1]!) && resolved.volumes && m.split(':')[0]! in resolved.volumes,
      );
      assert.ok(homeVolume, `${name} keeps ${home} on a named volume`);
    }
    assert.equal(
      targetMounts.size,
      1,
      `the control worker and training see a run's repository at one path: ${[...targetMounts]}`,
    );
  });

  it('holds no secret: secret-named settings come from the environment, and only the control worker gets the API key', () => {
    for (const pattern of SECRET_VALUE) assert.doesNotMatch(COMPOSE_TEXT, pattern);
    for (const [name, service] of Object.entries(services))
      for (const [key, value] of Object.entries(env(service)))
        if (SECRET_NAME.test(key))
          assert.match(
            value,
            /^\$\{[A-Za-z_][A-Za-z0-9_]*(:?-[^}]*)?\}$/,
            `${name}: ${key} must come from the environment`,
          );
    const control = workers.find(([, s]) => script(s).includes('--control-only'));
    assert.equal(control && env(control[1]).ANTHROPIC_API_KEY, '${ANTHROPIC_API_KEY:-}');
    for (const [name, worker] of workers.filter(([, s]) => script(s).includes('--train-only')))
      assert.deepEqual(
        Object.keys(env(worker)).filter((k) => SECRET_NAME.test(k) || k.startsWith('ANTHROPIC_')),
        [],
        `${name} trains code an agent wrote: it gets no secret`,
      );
  });

  it('trains in the bubblewrap sandbox: bubblewrap in the image, and what it needs as user 1000 in Docker', () => {
    assert.match(DOCKERFILE, /apt-get install[^\n]*\bbubblewrap\b/, 'the Dockerfile installs bubblewrap');
    const trainers = workers.filter(([, s]) => script(s).includes('--train-only'));
    assert.ok(trainers.length >= 2, 'the GPU and the CPU worker');
    for (const [name, worker] of trainers) {
      assert.notEqual(env(worker).AUTORESEARCH_SANDBOX, 'off', `${name} trains sandboxed`);
      assert.doesNotMatch(script(worker), /--no-sandbox/, `${name} trains sandboxed`);
      // Docker's default seccomp profile refuses the user namespace bwrap makes as a non-root user, its
      // AppArmor profile refuses the mounts, and its masked /proc paths refuse a fresh /proc.
      for (const opt of ['seccomp=unconfined', 'apparmor=unconfined', 'systempaths=unconfined'])
        assert.ok(worker.security_opt?.includes(opt), `${name}: security_opt ${opt}`);
      assert.equal(worker.user, '${AUTORESEARCH_UID:-1000}:${AUTORESEARCH_GID:-1000}', `${name} is not root`);
    }
    const control = workers.find(([, s]) => script(s).includes('--control-only'))!;
    assert.equal(control[1].security_opt, undefined, "the control worker keeps Docker's confinement");
  });

  it('lets no training worker reach the database: Postgres is on a network of its own, with the server only', () => {
    const postgres = imageOf('postgres')[0]![0];
    const dbNetworks = networksOf(services[postgres]!);
    assert.ok(
      dbNetworks.every((n) => compose.networks?.[n]?.internal === true),
      `${postgres}'s networks (${dbNetworks}) are internal: no route out`,
    );
    for (const [name, service] of Object.entries(services)) {
      const shared = networksOf(service).filter((n) => dbNetworks.includes(n));
      const needsDb = name === postgres || name === serverName || env(service).SQL_HOST === postgres;
      assert.equal(
        shared.length > 0,
        needsDb,
        `${name} ${needsDb ? 'reaches' : 'does not reach'} ${postgres}`,
      );
    }
    for (const [name, worker] of workers)
      assert.ok(
        networksOf(worker).some((n) => networksOf(services[serverName]!).includes(n)),
        `${name} reaches ${serverName}:7233 to poll`,
      );
  });

  it("reads the control worker's agent allowlist from the environment (.env), and gives it to no other worker", () => {
    const control = workers.find(([, s]) => script(s).includes('--control-only'))!;
    assert.equal(env(control[1]).AUTORESEARCH_AGENT_COMMANDS, '${AUTORESEARCH_AGENT_COMMANDS:-}');
    assert.equal(env(control[1]).AUTORESEARCH_PASS_ENV, '${AUTORESEARCH_PASS_ENV:-}');
    for (const [name, worker] of workers.filter(([n]) => n !== control[0]))
      assert.deepEqual(
        Object.keys(env(worker)).filter(
          (k) => k === 'AUTORESEARCH_AGENT_COMMANDS' || k === 'AUTORESEARCH_PASS_ENV',
        ),
        [],
        `${name} runs no proposer`,
      );
    for (const name of ['AUTORESEARCH_AGENT_COMMANDS', 'AUTORESEARCH_PASS_ENV'])
      assert.match(
        COMPOSE_TEXT.split('\nservices:')[0]!,
        new RegExp(`^#\\s+${name}\\s`, 'm'),
        `${name} documented`,
      );
  });

  it('pins every image it pulls to a version, and the Dockerfile its base', () => {
    for (const [name, service] of Object.entries(services)) {
      assert.ok(service.image, `${name} names its image`);
      if (service.build) continue; // built here, from the Dockerfile
      const [, tag] = service.image.split(/:(?=[^/]+$)/);
      assert.ok(
        tag && tag !== 'latest' && /\d+\.\d+/.test(tag),
        `${name}: ${service.image} is not pinned to a version`,
      );
    }
    const bases = [...DOCKERFILE.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]!);
    assert.ok(bases.length > 0);
    for (const base of bases) assert.match(base, /:(?!latest\b)[\w.-]*\d/, `FROM ${base} is not pinned`);
  });
});
