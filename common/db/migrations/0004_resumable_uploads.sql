-- prune-service schema, version 4: resumable uploads. A client whose upload
-- stream broke asks how much is staged (GetUploadStatus) and continues from
-- there. See common/db/README.md ("Resumable uploads").

-- The resume key of an upload staged for a tenant's UploadModel/UploadDataset:
-- (tenant, kind, expected_sha256, expected_size). The sha256 names the content,
-- so any stream of the same tenant with the same key sends the same bytes.
-- Not unique: concurrent streams of one file each stage their own copy, and a
-- resume continues the one holding the most bytes.
-- NULL tenant: not resumable (worker results, committed uploads; Commit clears
-- the key in the transaction that publishes the blob).
ALTER TABLE blob_uploads
  ADD COLUMN tenant       text,
  ADD COLUMN kind         text CHECK (kind IN ('model', 'dataset')),
  ADD COLUMN display_name text NOT NULL DEFAULT '',
  -- Last staged chunk; staged uploads are purged a TTL after it.
  ADD COLUMN updated_at   timestamptz NOT NULL DEFAULT now(),
  ADD CHECK ((tenant IS NULL) = (kind IS NULL));

CREATE INDEX blob_uploads_resume_idx
  ON blob_uploads (tenant, kind, expected_sha256, expected_size) WHERE tenant IS NOT NULL;
