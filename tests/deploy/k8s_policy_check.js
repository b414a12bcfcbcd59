// Checks the rendered manifests of one overlay against the deployment rules
// of prune-service (docs/OPERATIONS.md): restricted securityContext on every
// container, writable paths only on emptyDirs, gRPC probes on the gRPC port,
// Secrets referenced by env and not inlined, selectors that select something,
// the worker drain window, and GPU scheduling for GPU overlays.
// Usage: node k8s_policy_check.js [--expect-gpu] [--external-secret NAME]... FILE.yaml
'use strict';
const fs = require('fs');
const yaml = require('js-yaml');

const args = process.argv.slice(2);
let expectGpu = false;
const externalSecrets = new Set();
let file;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--expect-gpu') expectGpu = true;
  else if (args[i] === '--external-secret') externalSecrets.add(args[++i]);
  else file = args[i];
}
if (!file) {
  console.error('usage: k8s_policy_check.js [--expect-gpu] [--external-secret NAME]... FILE');
  process.exit(2);
}

const objects = yaml.loadAll(fs.readFileSync(file, 'utf8')).filter((d) => d != null);
const problems = [];
const fail = (msg) => problems.push(msg);
const named = (kind) => objects.filter((o) => o.kind === kind);
const find = (kind, name) => named(kind).find((o) => o.metadata.name === name);
const id = (o) => `${o.kind}/${o.metadata.name}`;

const GRACE_SECONDS = 120;
const GRPC_PORT = 50051;

function podSpecOf(o) {
  switch (o.kind) {
    case 'Deployment': case 'StatefulSet': case 'DaemonSet': case 'ReplicaSet': case 'Job':
      return o.spec.template.spec;
    case 'CronJob': return o.spec.jobTemplate.spec.template.spec;
    case 'Pod': return o.spec;
    default: return undefined;
  }
}
function podLabelsOf(o) {
  if (o.kind === 'Pod') return o.metadata.labels || {};
  if (o.kind === 'CronJob') return o.spec.jobTemplate.spec.template.metadata.labels || {};
  return (o.spec.template.metadata || {}).labels || {};
}
const workloads = objects.filter((o) => podSpecOf(o) !== undefined);
const matches = (selector, labels) =>
  Object.entries(selector || {}).every(([k, v]) => labels[k] === v) &&
  Object.keys(selector || {}).length > 0;
const isPruneImage = (image) => /(^|\/)prune-(server|worker)/.test(image || '');
const argValue = (c, flag) => {
  const all = [...(c.command || []), ...(c.args || [])];
  for (let i = 0; i < all.length; i++) {
    if (all[i].startsWith(`${flag}=`)) return all[i].slice(flag.length + 1);
    if (all[i] === flag) return all[i + 1];
  }
  return undefined;
};

if (workloads.length === 0) fail('no workloads rendered');

for (const w of workloads) {
  const pod = podSpecOf(w);
  const podSc = pod.securityContext || {};
  const volumes = new Map((pod.volumes || []).map((v) => [v.name, v]));
  const containers = [...(pod.initContainers || []), ...(pod.containers || [])];
  for (const c of containers) {
    const where = `${id(w)} container ${c.name}`;
    const sc = c.securityContext || {};
    const eff = (key) => (sc[key] !== undefined ? sc[key] : podSc[key]);
    if (eff('runAsNonRoot') !== true) fail(`${where}: runAsNonRoot must be true`);
    if (eff('runAsUser') === 0) fail(`${where}: runAsUser must not be 0`);
    if (sc.allowPrivilegeEscalation !== false) fail(`${where}: allowPrivilegeEscalation must be false`);
    if (sc.readOnlyRootFilesystem !== true) fail(`${where}: readOnlyRootFilesystem must be true`);
    if (sc.privileged === true) fail(`${where}: must not be privileged`);
    const drop = ((sc.capabilities || {}).drop || []);
    if (!drop.includes('ALL')) fail(`${where}: capabilities.drop must include ALL`);
    if (((sc.capabilities || {}).add || []).length > 0) fail(`${where}: must not add capabilities`);
    const seccomp = (eff('seccompProfile') || {}).type;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') {
      fail(`${where}: seccompProfile.type must be RuntimeDefault`);
    }
    // A read-only root needs writable scratch space, and it must not be a
    // hostPath or anything else that outlives the pod.
    const mounts = c.volumeMounts || [];
    const tmp = mounts.find((m) => m.mountPath === '/tmp');
    if (!tmp || !(volumes.get(tmp.name) || {}).emptyDir) fail(`${where}: /tmp must be an emptyDir`);
    for (const m of mounts) {
      const v = volumes.get(m.name);
      if (!v) fail(`${where}: volumeMount ${m.name} has no volume`);
      else if (v.hostPath) fail(`${where}: hostPath volume ${m.name} is not allowed`);
    }
    const workDir = argValue(c, '--work-dir');
    if (workDir !== undefined) {
      const m = mounts.find((x) => x.mountPath === workDir);
      if (!m || !(volumes.get(m.name) || {}).emptyDir) fail(`${where}: --work-dir ${workDir} must be an emptyDir mount`);
    }
    // Probes: a gRPC probe must point at a declared port, and the server's
    // liveness/readiness must be native gRPC probes on the gRPC port.
    const ports = c.ports || [];
    for (const kind of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
      const probe = c[kind];
      if (!probe) continue;
      if (probe.grpc && !ports.some((p) => p.containerPort === probe.grpc.port)) {
        fail(`${where}: ${kind} gRPC port ${probe.grpc.port} is not a container port`);
      }
      const httpPort = probe.httpGet && probe.httpGet.port;
      if (typeof httpPort === 'string' && !ports.some((p) => p.name === httpPort)) {
        fail(`${where}: ${kind} port ${httpPort} is not a named container port`);
      }
    }
    if (isPruneImage(c.image) && (c.args || [])[0] === 'serve') {
      const grpcPort = ports.find((p) => p.name === 'grpc');
      if (!grpcPort || grpcPort.containerPort !== GRPC_PORT) fail(`${where}: needs port grpc ${GRPC_PORT}`);
      const listen = argValue(c, '--listen') || '';
      if (!listen.endsWith(`:${GRPC_PORT}`)) fail(`${where}: --listen must use port ${GRPC_PORT}`);
      for (const kind of ['livenessProbe', 'readinessProbe']) {
        const probe = c[kind];
        if (!probe || !probe.grpc || probe.grpc.port !== GRPC_PORT) {
          fail(`${where}: ${kind} must be a gRPC probe on port ${GRPC_PORT}`);
        }
      }
    }
    // Secrets: referenced by env, never inlined into prune containers.
    for (const e of c.env || []) {
      const ref = e.valueFrom && e.valueFrom.secretKeyRef;
      if (ref && !find('Secret', ref.name) && !externalSecrets.has(ref.name)) {
        fail(`${where}: env ${e.name} references missing Secret ${ref.name}`);
      }
      if (isPruneImage(c.image) && /TOKEN|PASSWORD|DATABASE_URL/.test(e.name) && e.value !== undefined) {
        fail(`${where}: env ${e.name} must come from a Secret, not a literal`);
      }
    }
    if (isPruneImage(c.image) && /(^|\/)prune-worker/.test(c.image)) {
      const limits = (c.resources || {}).limits || {};
      const gpu = limits['nvidia.com/gpu'];
      if (expectGpu && String(gpu) !== '1') fail(`${where}: GPU overlay needs limits nvidia.com/gpu: 1`);
      if (!expectGpu && gpu !== undefined) fail(`${where}: CPU overlay must not request GPUs`);
      const device = argValue(c, '--device');
      if (expectGpu && device !== 'cuda') fail(`${where}: GPU overlay needs --device=cuda`);
      if (!expectGpu && device === 'cuda') fail(`${where}: CPU overlay must not use --device=cuda`);
      if ((pod.terminationGracePeriodSeconds || 30) < GRACE_SECONDS) {
        fail(`${id(w)}: terminationGracePeriodSeconds must be >= ${GRACE_SECONDS} (worker drain)`);
      }
      if (expectGpu) {
        if (!pod.nodeSelector || Object.keys(pod.nodeSelector).length === 0) fail(`${id(w)}: GPU workers need a nodeSelector`);
        if (!(pod.tolerations || []).some((t) => t.key === 'nvidia.com/gpu')) fail(`${id(w)}: GPU workers need the nvidia.com/gpu toleration`);
      }
    }
  }
}

// Exactly the pieces operations relies on.
const server = find('Deployment', 'prune-server');
const worker = find('Deployment', 'prune-worker');
if (!server) fail('Deployment/prune-server is missing');
if (!worker) fail('Deployment/prune-worker is missing');
const migrate = named('Job').find((j) => podSpecOf(j).containers.some((c) => (c.args || [])[0] === 'migrate'));
if (!migrate) fail('no Job runs `pruned migrate`');

for (const svc of named('Service')) {
  const targets = workloads.filter((w) => w.kind !== 'Job' && matches(svc.spec.selector, podLabelsOf(w)));
  if (targets.length === 0) { fail(`${id(svc)}: selector matches no workload`); continue; }
  for (const p of svc.spec.ports || []) {
    if (typeof p.targetPort !== 'string') continue;
    const ok = targets.every((w) => podSpecOf(w).containers.some((c) => (c.ports || []).some((cp) => cp.name === p.targetPort)));
    if (!ok) fail(`${id(svc)}: targetPort ${p.targetPort} is not a container port of the selected pods`);
  }
}
const grpcService = named('Service').find((s) => (s.spec.ports || []).some((p) => p.port === GRPC_PORT));
if (!grpcService) fail(`no Service exposes gRPC port ${GRPC_PORT}`);

for (const pdb of named('PodDisruptionBudget')) {
  if (!workloads.some((w) => matches(pdb.spec.selector.matchLabels, podLabelsOf(w)))) fail(`${id(pdb)}: selector matches no workload`);
}
for (const w of [server, worker].filter(Boolean)) {
  if (!named('PodDisruptionBudget').some((pdb) => matches(pdb.spec.selector.matchLabels, podLabelsOf(w)))) {
    fail(`${id(w)}: no PodDisruptionBudget`);
  }
}

for (const sm of named('ServiceMonitor')) {
  const services = named('Service').filter((s) => matches(sm.spec.selector.matchLabels, s.metadata.labels || {}));
  if (services.length === 0) fail(`${id(sm)}: selector matches no Service`);
  for (const ep of sm.spec.endpoints || []) {
    if (!services.every((s) => (s.spec.ports || []).some((p) => p.name === ep.port))) fail(`${id(sm)}: port ${ep.port} missing on a selected Service`);
  }
}
for (const w of [server, worker].filter(Boolean)) {
  const scraped = named('ServiceMonitor').some((sm) => named('Service').some((s) =>
    matches(sm.spec.selector.matchLabels, s.metadata.labels || {}) && matches(s.spec.selector, podLabelsOf(w))));
  if (!scraped) fail(`${id(w)}: no ServiceMonitor scrapes it`);
}

const scaled = named('ScaledObject');
if (scaled.length === 0) fail('no KEDA ScaledObject');
for (const so of scaled) {
  const target = find(so.spec.scaleTargetRef.kind || 'Deployment', so.spec.scaleTargetRef.name);
  if (!target) fail(`${id(so)}: scaleTargetRef ${so.spec.scaleTargetRef.name} does not exist`);
  for (const t of so.spec.triggers || []) {
    if (t.authenticationRef && !find('TriggerAuthentication', t.authenticationRef.name)) {
      fail(`${id(so)}: TriggerAuthentication ${t.authenticationRef.name} does not exist`);
    }
    if (t.type === 'postgresql' && !/FROM\s+jobs\b/i.test(t.metadata.query || '')) fail(`${id(so)}: postgresql trigger must count jobs`);
    if (t.type === 'prometheus' && !/prune_jobs\{[^}]*state="queued"/.test(t.metadata.query || '')) fail(`${id(so)}: prometheus trigger must use prune_jobs{state="queued"}`);
  }
}
for (const ta of named('TriggerAuthentication')) {
  for (const ref of ta.spec.secretTargetRef || []) {
    if (!find('Secret', ref.name) && !externalSecrets.has(ref.name)) fail(`${id(ta)}: references missing Secret ${ref.name}`);
  }
}

for (const p of problems) console.error(`${file}: ${p}`);
console.log(`k8s_policy_check: ${objects.length} objects, ${workloads.length} workloads, ${problems.length} problems`);
process.exit(problems.length === 0 ? 0 : 1);
