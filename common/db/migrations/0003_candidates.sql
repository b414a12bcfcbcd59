-- prune-service schema, version 3: the candidates a search strategy evaluated
-- (its trajectory and Pareto front), served by ListCandidates.
-- See common/db/README.md ("Search candidates").

-- Written by JobQueue::Complete in the same transaction as the succeeded
-- state, so a job's candidates appear exactly when it succeeds. idx is the
-- engine's candidate index (the order in which the search evaluated them).
-- widths: the kept channels per prunable group, a JSON array of integers.
CREATE TABLE job_candidates (
  job_id   uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  idx      bigint NOT NULL CHECK (idx >= 0),
  macs     bigint NOT NULL CHECK (macs >= 0),
  params   bigint NOT NULL CHECK (params >= 0),
  score    double precision NOT NULL,
  feasible boolean NOT NULL,
  pareto   boolean NOT NULL,
  widths   jsonb NOT NULL DEFAULT '[]'::jsonb,
  PRIMARY KEY (job_id, idx)
);
CREATE INDEX job_candidates_pareto_idx ON job_candidates (job_id, idx) WHERE pareto;
