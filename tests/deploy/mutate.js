// Breaks a rendered manifest in one named way, for catch_breakage_test.sh.
// Usage: node mutate.js MUTATION IN.yaml OUT.yaml
'use strict';
const fs = require('fs');
const yaml = require('js-yaml');
const [mutation, input, output] = process.argv.slice(2);
const docs = yaml.loadAll(fs.readFileSync(input, 'utf8')).filter((d) => d != null);
const byName = (kind, name) => docs.find((d) => d.kind === kind && d.metadata.name === name);
const container = (name) => byName('Deployment', name).spec.template.spec.containers[0];
const mutations = {
  'writable-root': () => { container('prune-server').securityContext.readOnlyRootFilesystem = false; },
  'keep-capabilities': () => { delete container('prune-worker').securityContext.capabilities; },
  'privilege-escalation': () => { delete byName('Job', 'prune-migrate').spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation; },
  'no-seccomp': () => {
    delete byName('Deployment', 'prune-worker').spec.template.spec.securityContext.seccompProfile;
    delete container('prune-worker').securityContext.seccompProfile;
  },
  'probe-wrong-port': () => { container('prune-server').readinessProbe.grpc.port = 9090; },
  'probe-http': () => { container('prune-server').livenessProbe = { tcpSocket: { port: 50051 } }; },
  'inline-token': () => {
    const env = container('prune-server').env.find((e) => e.name === 'PRUNE_TOKEN');
    delete env.valueFrom;
    env.value = 'hunter2';
  },
  'short-grace': () => { byName('Deployment', 'prune-worker').spec.template.spec.terminationGracePeriodSeconds = 30; },
  'no-worker-pdb': () => { docs.splice(docs.indexOf(byName('PodDisruptionBudget', 'prune-worker')), 1); },
  'scale-wrong-target': () => { byName('ScaledObject', 'prune-worker').spec.scaleTargetRef.name = 'prune-wrker'; },
  'tmp-on-root': () => {
    const c = container('prune-server');
    c.volumeMounts = c.volumeMounts.filter((m) => m.mountPath !== '/tmp');
  },
  'schema-replicas-string': () => { byName('Deployment', 'prune-server').spec.replicas = 'three'; },
  'schema-container-no-name': () => { delete container('prune-worker').name; },
  'schema-unknown-kind': () => { docs.push({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }); },
};
if (!mutations[mutation]) {
  console.error(`unknown mutation ${mutation}; known: ${Object.keys(mutations).join(' ')}`);
  process.exit(2);
}
mutations[mutation]();
fs.writeFileSync(output, docs.map((d) => yaml.dump(d)).join('---\n'));
