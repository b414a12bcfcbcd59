-- prune-service schema, version 5: ListJobs filtered by model (newest first)
-- reads an index instead of every job of the tenant.
CREATE INDEX jobs_model_idx ON jobs (tenant, (spec->>'model_id'), created_at DESC, id DESC);
