// Validates every object in the given multi-document YAML files against the
// Kubernetes OpenAPI schemas (kubernetes-models), the KEDA and Prometheus
// Operator CRD schemas, and, for the CloudNativePG Cluster, which no
// installed package covers, its required fields by hand.
// Usage: node k8s_schema_check.js FILE.yaml...   (NODE_PATH: the npm tree)
'use strict';
const fs = require('fs');
const yaml = require('js-yaml');

const packageRoots = {
  'keda.sh': '@kubernetes-models/keda',
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
};

function modelClass(apiVersion, kind) {
  const slash = apiVersion.indexOf('/');
  const group = slash < 0 ? '' : apiVersion.slice(0, slash);
  const modulePath = packageRoots[group]
    ? `${packageRoots[group]}/${apiVersion}/${kind}`
    : `kubernetes-models/${apiVersion}/${kind}`;
  try {
    return require(modulePath)[kind];
  } catch (e) {
    return undefined;
  }
}

// CloudNativePG: the fields the operator rejects a Cluster without, and the
// shapes this repository relies on.
function checkCnpgCluster(obj) {
  const errors = [];
  const spec = obj.spec || {};
  if (!obj.metadata || !obj.metadata.name) errors.push('metadata.name is required');
  if (!Number.isInteger(spec.instances) || spec.instances < 1) {
    errors.push('spec.instances must be an integer >= 1');
  }
  if (!spec.storage || typeof spec.storage.size !== 'string') {
    errors.push('spec.storage.size is required (e.g. "50Gi")');
  }
  const backup = spec.backup;
  if (backup !== undefined) {
    const store = backup.barmanObjectStore;
    if (!store || typeof store.destinationPath !== 'string') {
      errors.push('spec.backup.barmanObjectStore.destinationPath is required');
    }
  }
  const bootstrap = spec.bootstrap && spec.bootstrap.initdb;
  if (bootstrap && (typeof bootstrap.database !== 'string' || typeof bootstrap.owner !== 'string')) {
    errors.push('spec.bootstrap.initdb needs database and owner');
  }
  return errors;
}

const handChecked = {
  'postgresql.cnpg.io/v1/Cluster': checkCnpgCluster,
  'postgresql.cnpg.io/v1/ScheduledBackup': (obj) =>
    obj.spec && typeof obj.spec.schedule === 'string' && obj.spec.cluster &&
    typeof obj.spec.cluster.name === 'string'
      ? []
      : ['spec.schedule and spec.cluster.name are required'],
};

let failures = 0;
let checked = 0;
for (const file of process.argv.slice(2)) {
  const docs = yaml.loadAll(fs.readFileSync(file, 'utf8')).filter((d) => d != null);
  if (docs.length === 0) {
    console.error(`${file}: no objects`);
    failures++;
  }
  for (const obj of docs) {
    const id = `${file}: ${obj.kind}/${obj.metadata && obj.metadata.name}`;
    checked++;
    if (typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string') {
      console.error(`${id}: apiVersion and kind are required`);
      failures++;
      continue;
    }
    const hand = handChecked[`${obj.apiVersion}/${obj.kind}`];
    if (hand) {
      for (const err of hand(obj)) {
        console.error(`${id}: ${err}`);
        failures++;
      }
      continue;
    }
    const Model = modelClass(obj.apiVersion, obj.kind);
    if (!Model) {
      console.error(`${id}: no schema for ${obj.apiVersion} ${obj.kind}`);
      failures++;
      continue;
    }
    // kustomize v5 wraps long base64 Secret values over lines; the API
    // server's decoder (Go encoding/base64) skips the newlines, the schema's
    // "byte" format does not.
    if (obj.kind === 'Secret' && obj.data) {
      for (const key of Object.keys(obj.data)) obj.data[key] = String(obj.data[key]).replace(/\s+/g, '');
    }
    try {
      new Model(obj).validate();
    } catch (e) {
      console.error(`${id}: ${e.message}`);
      failures++;
    }
  }
}
console.log(`k8s_schema_check: ${checked} objects, ${failures} problems`);
process.exit(failures === 0 && checked > 0 ? 0 : 1);
