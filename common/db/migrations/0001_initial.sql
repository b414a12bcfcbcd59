-- prune-service schema, version 1. See common/db/README.md for the design.
-- Times the queue reasons about (scheduled_at, lease_expires_at, ...) are
-- written from the caller's `now`, never from SQL now(), so that lease expiry
-- and rescue are testable; created_at columns use the database clock.

CREATE TABLE tenants (
  name       text PRIMARY KEY CHECK (name <> ''),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Blob bytes are written as chunks of an upload; a blob becomes visible only
-- when its row in `blobs` is inserted (at commit, after the sha256 and size
-- were verified), so a half-written upload can never be read as complete.
CREATE TABLE blob_uploads (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  expected_sha256 text NOT NULL,
  expected_size   bigint NOT NULL CHECK (expected_size >= 0),
  created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE blob_chunks (
  upload_id uuid NOT NULL REFERENCES blob_uploads (id) ON DELETE CASCADE,
  seq       integer NOT NULL CHECK (seq >= 0),
  data      bytea NOT NULL CHECK (octet_length(data) BETWEEN 1 AND 1048576),
  PRIMARY KEY (upload_id, seq)
);

CREATE TABLE blobs (
  sha256      text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  upload_id   uuid NOT NULL UNIQUE REFERENCES blob_uploads (id),
  size_bytes  bigint NOT NULL CHECK (size_bytes >= 0),
  chunk_count integer NOT NULL CHECK (chunk_count >= 0),
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Models and datasets are soft-deleted: finished jobs keep referring to them,
-- and a deleted name can be reused.
CREATE TABLE models (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant       text NOT NULL REFERENCES tenants (name),
  display_name text NOT NULL CHECK (display_name <> ''),
  input_shape  bigint[] NOT NULL DEFAULT '{}',
  sha256       text NOT NULL REFERENCES blobs (sha256),
  size_bytes   bigint NOT NULL CHECK (size_bytes >= 0),
  created_at   timestamptz NOT NULL DEFAULT now(),
  deleted_at   timestamptz
);
CREATE UNIQUE INDEX models_tenant_name_idx ON models (tenant, display_name) WHERE deleted_at IS NULL;
CREATE INDEX models_tenant_list_idx ON models (tenant, created_at, id) WHERE deleted_at IS NULL;

CREATE TABLE datasets (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant       text NOT NULL REFERENCES tenants (name),
  display_name text NOT NULL CHECK (display_name <> ''),
  sha256       text NOT NULL REFERENCES blobs (sha256),
  size_bytes   bigint NOT NULL CHECK (size_bytes >= 0),
  created_at   timestamptz NOT NULL DEFAULT now(),
  deleted_at   timestamptz
);
CREATE UNIQUE INDEX datasets_tenant_name_idx ON datasets (tenant, display_name) WHERE deleted_at IS NULL;
CREATE INDEX datasets_tenant_list_idx ON datasets (tenant, created_at, id) WHERE deleted_at IS NULL;

CREATE TABLE jobs (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant              text NOT NULL REFERENCES tenants (name),
  model_id            uuid NOT NULL REFERENCES models (id),
  dataset_id          uuid REFERENCES datasets (id),
  spec                jsonb NOT NULL,  -- every JobParameters field
  strategy            text NOT NULL,
  priority            integer NOT NULL DEFAULT 100,  -- lower runs first
  state               text NOT NULL DEFAULT 'queued'
                      CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  attempt             integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
  max_attempts        integer NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
  scheduled_at        timestamptz NOT NULL DEFAULT now(),
  lease_owner         text,
  lease_expires_at    timestamptz,
  heartbeat_at        timestamptz,
  cancel_requested_at timestamptz,
  progress            double precision NOT NULL DEFAULT 0,
  stage               text NOT NULL DEFAULT '',
  error               text NOT NULL DEFAULT '',
  error_reason        text NOT NULL DEFAULT '',
  report              jsonb,
  checkpoint_sha256   text REFERENCES blobs (sha256),  -- search state to resume from
  request_id          text,
  last_event_seq      bigint NOT NULL DEFAULT 0,  -- job_events.sequence of the newest event
  created_at          timestamptz NOT NULL DEFAULT now(),
  started_at          timestamptz,
  finished_at         timestamptz,
  updated_at          timestamptz NOT NULL DEFAULT now(),
  -- A running job always has a lease; nothing else has one.
  CHECK ((state = 'running') = (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL)),
  CHECK ((state IN ('succeeded', 'failed', 'cancelled')) = (finished_at IS NOT NULL))
);
-- The claim query's path: only queued rows, in claim order.
CREATE INDEX jobs_fetch_idx ON jobs (priority, scheduled_at, id) WHERE state = 'queued';
-- The reaper's path: only running rows, by expiry.
CREATE INDEX jobs_lease_idx ON jobs (lease_expires_at) WHERE state = 'running';
CREATE UNIQUE INDEX jobs_request_id_idx ON jobs (tenant, request_id) WHERE request_id IS NOT NULL;
CREATE INDEX jobs_tenant_list_idx ON jobs (tenant, created_at DESC, id DESC);
CREATE INDEX jobs_tenant_state_list_idx ON jobs (tenant, state, created_at DESC, id DESC);
CREATE INDEX jobs_model_active_idx ON jobs (model_id) WHERE state IN ('queued', 'running');
CREATE INDEX jobs_dataset_active_idx ON jobs (dataset_id) WHERE state IN ('queued', 'running');

CREATE TABLE job_events (
  job_id   uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  sequence bigint NOT NULL CHECK (sequence >= 1),
  time     timestamptz NOT NULL,
  state    text NOT NULL,
  progress double precision NOT NULL DEFAULT 0,
  stage    text NOT NULL DEFAULT '',
  message  text NOT NULL DEFAULT '',
  PRIMARY KEY (job_id, sequence)
);

CREATE TABLE job_artifacts (
  job_id     uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  kind       text NOT NULL CHECK (kind IN ('pruned_model', 'report')),
  sha256     text NOT NULL REFERENCES blobs (sha256),
  size_bytes bigint NOT NULL CHECK (size_bytes >= 0),
  PRIMARY KEY (job_id, kind)
);

-- Wake idle workers whenever a job becomes queued (enqueue, retry, release,
-- rescue). An empty payload lets Postgres fold a burst into one message per
-- transaction; NOTIFY is only a hint, workers still poll.
CREATE FUNCTION prune_jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('prune_jobs', '');
  RETURN NULL;
END
$$;
CREATE TRIGGER jobs_notify_queued
  AFTER INSERT OR UPDATE OF state ON jobs
  FOR EACH ROW WHEN (NEW.state = 'queued')
  EXECUTE FUNCTION prune_jobs_notify();
