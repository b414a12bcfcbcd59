-- prune-service schema, version 2: API tokens per tenant and tenant quotas.
-- See common/db/README.md ("Tenants, tokens and quotas").

-- Quotas: NULL means unlimited. The defaults are generous on purpose; an
-- operator tightens them per tenant with `pruned admin tenant set-quota`.
-- Running jobs are unlimited by default: the worker fleet bounds them anyway.
ALTER TABLE tenants
  ADD COLUMN max_queued_jobs  integer DEFAULT 1000
    CHECK (max_queued_jobs IS NULL OR max_queued_jobs >= 0),
  ADD COLUMN max_running_jobs integer DEFAULT NULL
    CHECK (max_running_jobs IS NULL OR max_running_jobs >= 0),
  ADD COLUMN max_stored_bytes bigint DEFAULT 107374182400  -- 100 GiB
    CHECK (max_stored_bytes IS NULL OR max_stored_bytes >= 0);

-- Only the sha256 of a token's 32 random bytes is stored; the plaintext
-- ("prn_" + 64 hex digits) is shown once, when it is issued.
CREATE TABLE tokens (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant     text NOT NULL REFERENCES tenants (name),
  name       text NOT NULL CHECK (name <> ''),
  token_hash text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);
CREATE UNIQUE INDEX tokens_tenant_name_idx ON tokens (tenant, name) WHERE revoked_at IS NULL;
CREATE INDEX tokens_tenant_list_idx ON tokens (tenant, created_at, id);

