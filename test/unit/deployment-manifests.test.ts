import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { parse, parseAllDocuments } from 'yaml';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { EnvSchema } from '../../src/config.js';

/**
 * The deployment material as an operator applies it: the Kubernetes manifests checked against the
 * Kubernetes API schemas (kubernetes-models, offline) and against each other, the compose files
 * against what the server needs. A misspelt setting, a probe on the wrong path, a selector that
 * matches no pod or a grace period shorter than the drain fails here, not in production.
 */
const SETTINGS = new Set(Object.keys(EnvSchema.shape));
/** Settings that carry a secret: never in a ConfigMap or a compose default, always from a Secret. */
const SECRETS = ['REDIS_PASSWORD', 'REDIS_SENTINEL_PASSWORD', 'METRICS_TOKEN', 'ADMIN_API_KEY', 'INTROSPECTION_CLIENTS', 'DPOP_NONCE_SECRET'];
const SHUTDOWN_GRACE_MS = (env: Record<string, string | undefined>) => Number(env.SHUTDOWN_GRACE_MS ?? EnvSchema.shape.SHUTDOWN_GRACE_MS.parse(undefined));

type Manifest = { apiVersion: string; kind: string; metadata: { name: string }; [k: string]: unknown };
const MODELS: Record<string, { new (data: never): { validate(): void } }> = {
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
};

const manifests: Manifest[] = readdirSync('deploy/k8s')
  .filter((f) => /\.ya?ml$/.test(f))
  .flatMap((f) => parseAllDocuments(readFileSync(`deploy/k8s/${f}`, 'utf8')).map((d) => d.toJS() as Manifest))
  .filter(Boolean);
const one = <T,>(kind: string): T => {
  const found = manifests.filter((m) => m.kind === kind);
  expect(found).toHaveLength(1);
  return found[0] as unknown as T;
};

interface Probe {
  httpGet: { path: string; port: string | number };
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  ports?: Array<{ name?: string; containerPort: number }>;
  env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }>;
  envFrom?: Array<{ configMapRef?: { name: string } }>;
  resources?: { limits?: { cpu?: string } };
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
}
interface PodTemplate {
  metadata: { labels: Record<string, string> };
  spec: { containers: Container[]; terminationGracePeriodSeconds?: number };
}
type DeploymentManifest = Manifest & { spec: { replicas: number; selector: { matchLabels: Record<string, string> }; template: PodTemplate } };
type JobManifest = Manifest & { spec: { template: PodTemplate } };
type ServiceManifest = Manifest & { spec: { selector: Record<string, string>; ports: Array<{ port: number; targetPort: string | number }> } };
type PdbManifest = Manifest & { spec: { selector: { matchLabels: Record<string, string> }; maxUnavailable?: number; minAvailable?: number } };
type ConfigMapManifest = Manifest & { data: Record<string, string> };

const matches = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);

describe('Kubernetes manifests (deploy/k8s)', () => {
  it('are valid against the Kubernetes API schemas', () => {
    expect(manifests.map((m) => m.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'Job', 'PodDisruptionBudget', 'Service']);
    for (const m of manifests) {
      const Model = MODELS[`${m.apiVersion}/${m.kind}`];
      expect(Model).toBeDefined();
      expect(() => new Model!(m as never).validate()).not.toThrow();
    }
  });

  it('the schema check catches a wrong type (so the check above can fail)', () => {
    const broken = structuredClone(one<DeploymentManifest>('Deployment'));
    (broken.spec.template.spec.containers[0]!.ports![0] as { containerPort: unknown }).containerPort = 'http';
    expect(() => new Deployment(broken as never).validate()).toThrow(/containerPort/);
  });

  it('select the pods they mean: Deployment, Service and PodDisruptionBudget agree with the pod labels', () => {
    const deployment = one<DeploymentManifest>('Deployment');
    const labels = deployment.spec.template.metadata.labels;
    expect(matches(deployment.spec.selector.matchLabels, labels)).toBe(true);
    expect(matches(one<ServiceManifest>('Service').spec.selector, labels)).toBe(true);
    const pdb = one<PdbManifest>('PodDisruptionBudget');
    expect(matches(pdb.spec.selector.matchLabels, labels)).toBe(true);
    // A budget that still lets a drain proceed, and keeps pods serving during it.
    expect(pdb.spec.maxUnavailable ?? deployment.spec.replicas - pdb.spec.minAvailable!).toBeGreaterThanOrEqual(1);
    expect(deployment.spec.replicas - (pdb.spec.maxUnavailable ?? 0)).toBeGreaterThanOrEqual(2);
  });

  it('route the Service to the listening port, liveness to /healthz and readiness to /readyz', () => {
    const deployment = one<DeploymentManifest>('Deployment');
    const configMap = one<ConfigMapManifest>('ConfigMap');
    const [container] = deployment.spec.template.spec.containers;
    const port = Number(configMap.data.PORT ?? EnvSchema.shape.PORT.parse(undefined));
    const http = container!.ports!.find((p) => p.containerPort === port);
    expect(http?.name).toBeDefined();
    const portRefs = (ref: string | number) => ref === http!.name || ref === port;
    for (const p of one<ServiceManifest>('Service').spec.ports) expect(portRefs(p.targetPort)).toBe(true);
    expect(container!.livenessProbe?.httpGet.path).toBe('/healthz');
    expect(container!.startupProbe?.httpGet.path ?? '/healthz').toBe('/healthz');
    expect(container!.readinessProbe?.httpGet.path).toBe('/readyz');
    for (const probe of [container!.livenessProbe, container!.readinessProbe, container!.startupProbe]) if (probe) expect(portRefs(probe.httpGet.port)).toBe(true);
  });

  it('name only known settings, take secrets from a Secret, and keep them out of the ConfigMap', () => {
    const configMap = one<ConfigMapManifest>('ConfigMap');
    for (const name of Object.keys(configMap.data)) expect(SETTINGS).toContain(name);
    for (const secret of SECRETS) expect(Object.keys(configMap.data)).not.toContain(secret);
    expect(configMap.data.NODE_ENV).toBe('production');
    for (const workload of [one<DeploymentManifest>('Deployment'), one<JobManifest>('Job')]) {
      for (const c of workload.spec.template.spec.containers) {
        expect(c.envFrom?.map((e) => e.configMapRef?.name)).toEqual([configMap.metadata.name]);
        for (const e of c.env ?? []) {
          expect(SETTINGS).toContain(e.name);
          if (SECRETS.includes(e.name)) expect(e.valueFrom?.secretKeyRef?.key).toBe(e.name);
        }
      }
    }
  });

  it('run one worker per CPU of the limit, and drain within the termination grace period', () => {
    const deployment = one<DeploymentManifest>('Deployment');
    const configMap = one<ConfigMapManifest>('ConfigMap');
    const [container] = deployment.spec.template.spec.containers;
    const workers = Number(container!.env!.find((e) => e.name === 'WORKERS')?.value);
    expect(workers).toBe(Number(container!.resources!.limits!.cpu));
    const preStop = container!.lifecycle?.preStop?.exec?.command;
    const pauseSeconds = preStop?.[0] === 'sleep' ? Number(preStop[1]) : 0;
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds! * 1000).toBeGreaterThan(pauseSeconds * 1000 + SHUTDOWN_GRACE_MS(configMap.data));
  });

  it('migrate with the same image and settings as the server', () => {
    const [server] = one<DeploymentManifest>('Deployment').spec.template.spec.containers;
    const [migrate] = one<JobManifest>('Job').spec.template.spec.containers;
    expect(migrate!.image).toBe(server!.image);
    expect(migrate!.command).toEqual(['node', 'dist/src/cli/migrate.js']);
  });
});

type ComposeService = {
  image?: string;
  build?: unknown;
  command?: string | string[];
  environment?: Record<string, string>;
  restart?: string;
  stop_grace_period?: string;
  healthcheck?: { test: string[] };
  deploy?: { replicas?: number };
  ports?: string[];
};
const seconds = (d: string) => Number(/^(\d+)s$/.exec(d)?.[1] ?? NaN);

describe.each(['docker-compose.yml', 'docker-compose.cluster.yml'])('%s', (file) => {
  const services = (parse(readFileSync(file, 'utf8'), { merge: true }) as { services: Record<string, ComposeService> }).services;
  const assetgate = Object.entries(services).filter(([, s]) => s.image?.startsWith('assetgate'));
  const redis = Object.entries(services).filter(([, s]) => s.image?.startsWith('redis') && /redis-server/.test(String(s.command)));
  const oneShot = ['migrate', 'cluster-create'];

  it('builds the image once and runs every assetgate service from it', () => {
    const built = Object.entries(services).filter(([, s]) => s.build !== undefined);
    expect(built.map(([name]) => name)).toEqual(['migrate']);
    expect(new Set(assetgate.map(([, s]) => s.image))).toEqual(new Set([built[0]![1].image]));
  });

  it('restarts long-running services and stops the server later than its own drain', () => {
    for (const [name, s] of Object.entries(services)) expect([name, s.restart]).toEqual([name, oneShot.includes(name) ? 'no' : 'unless-stopped']);
    const [, server] = assetgate.find(([name]) => name === 'assetgate')!;
    expect(seconds(server.stop_grace_period ?? '10s') * 1000).toBeGreaterThan(SHUTDOWN_GRACE_MS(server.environment ?? {}));
    // The image's HEALTHCHECK (liveness) applies: no readiness probe restarts a container on a Redis blip.
    expect(server.healthcheck).toBeUndefined();
  });

  it('runs Redis with a password, persistence and noeviction', () => {
    expect(redis.length).toBeGreaterThan(0);
    for (const [, s] of redis) {
      const command = String(s.command);
      expect(command).toMatch(/--requirepass "\$\$REDIS_PASSWORD"/);
      expect(command).toMatch(/--appendonly yes/);
      expect(command).toMatch(/--maxmemory-policy noeviction/);
      expect(s.environment?.REDISCLI_AUTH).toMatch(/^\$\{REDIS_PASSWORD:\?/);
    }
  });

  it('requires PUBLIC_URL, TRUSTED_ISSUERS and the Redis password, and names only known settings', () => {
    expect(assetgate.length).toBeGreaterThan(0);
    for (const [, s] of assetgate) {
      const env = s.environment!;
      for (const name of Object.keys(env)) expect(SETTINGS).toContain(name);
      expect(env.NODE_ENV).toBe('production');
      for (const required of ['PUBLIC_URL', 'TRUSTED_ISSUERS', 'REDIS_PASSWORD']) expect(env[required]).toMatch(new RegExp(`^\\$\\{${required}:\\?`));
      for (const secret of SECRETS) if (env[secret] !== undefined) expect(env[secret]).toMatch(new RegExp(`^\\$\\{${secret}:[-?]\\}?`));
    }
  });

  if (file === 'docker-compose.cluster.yml') {
    it('runs replicas: two assetgate instances, and a replica for every Redis master', () => {
      expect(services.assetgate?.deploy?.replicas).toBeGreaterThanOrEqual(2);
      expect(String(services['cluster-create']?.command)).toMatch(/--cluster-replicas [1-9]/);
      expect(redis.length).toBeGreaterThanOrEqual(6);
    });
  }
});
