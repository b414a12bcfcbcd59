#include "common/db/blob_store.h"

#include <openssl/evp.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/db/connection.h"
#include "common/db/connection_pool.h"

namespace prune::db {
namespace {

struct EvpMdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

// Incremental sha256 so that the digest never needs the whole blob.
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr); }
  void Update(std::string_view data) { EVP_DigestUpdate(ctx_.get(), data.data(), data.size()); }
  std::string HexDigest() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(ctx_.get(), digest, &length);
    // Debian's absl::string_view is not std::string_view.
    return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), length));
  }

 private:
  std::unique_ptr<EVP_MD_CTX, EvpMdCtxDeleter> ctx_;
};

bool IsSha256Hex(const std::string& text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// Stages chunks under an upload id; nothing is visible as a blob until
// Commit inserts the `blobs` row. A verify-only writer (the blob already
// exists) only hashes and checks the bytes, never stores them twice.
//
// A scoped (resumable) writer picks its upload when the stream's first chunk
// arrives: it continues the scope's staged upload (ResumeStaged) or stages a
// new one of its own (StartOver). So concurrent streams of the same content
// never share a staged upload unless they both resume the same one, which
// the chunk key (upload_id, seq) turns into UPLOAD_CONFLICT for the later.
class PostgresBlobWriter : public BlobWriter {
 public:
  struct Staged {
    std::string upload_id;  // empty: nothing staged for the scope
    int32_t chunks = 0;
  };

  // Verify-only (upload_id empty, no scope) or a plain upload.
  PostgresBlobWriter(ConnectionPool* pool, int64_t expected_size, std::string expected_sha256,
                     std::string upload_id)
      : pool_(pool),
        expected_size_(expected_size),
        expected_sha256_(std::move(expected_sha256)),
        upload_id_(std::move(upload_id)),
        verify_only_(upload_id_.empty()) {}

  // A resumable upload of `scope`; `staged` is the scope's best candidate.
  PostgresBlobWriter(ConnectionPool* pool, int64_t expected_size, std::string expected_sha256,
                     UploadScope scope, Staged staged)
      : pool_(pool),
        expected_size_(expected_size),
        expected_sha256_(std::move(expected_sha256)),
        verify_only_(false),
        scope_(std::move(scope)),
        staged_(std::move(staged)) {}

  ~PostgresBlobWriter() override {
    if (!finished_) (void)Discard();
  }

  int64_t staged_bytes() const override {
    return upload_id_.empty() ? int64_t{staged_.chunks} * BlobStore::kBlobChunkBytes : 0;
  }

  absl::Status ResumeStaged(const std::function<void(std::string_view)>& observe) override {
    if (!upload_id_.empty() || bytes_written_ != 0) {
      return absl::FailedPreconditionError("upload already started");
    }
    if (staged_.upload_id.empty()) return StartOver();
    upload_id_ = staged_.upload_id;
    // One chunk per query and no connection held in between, like Read().
    for (int32_t seq = 0; seq < staged_.chunks; ++seq) {
      std::string chunk;
      {
        absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
        if (!conn.ok()) return conn.status();
        absl::StatusOr<Result> row = (*conn)->ExecBinary(
            "SELECT data FROM blob_chunks WHERE upload_id = $1::uuid AND seq = $2::integer",
            {upload_id_, seq});
        if (!row.ok()) return row.status();
        if (row->rows() == 0) {
          // Purged, or committed by a concurrent resume of the same upload.
          upload_id_.clear();
          return absl::AbortedError(
              absl::StrCat("UPLOAD_CONFLICT: the staged upload changed while resuming (chunk ",
                           seq, " is gone); ask GetUploadStatus again"));
        }
        chunk = row->Text(0, 0);
      }
      if (static_cast<int64_t>(chunk.size()) != BlobStore::kBlobChunkBytes) {
        return absl::DataLossError(
            absl::StrCat("staged upload ", upload_id_, " chunk ", seq, " is not a whole chunk"));
      }
      sha_.Update(chunk);
      if (observe) observe(chunk);
      bytes_written_ += static_cast<int64_t>(chunk.size());
    }
    next_seq_ = staged_.chunks;
    return absl::OkStatus();
  }

  absl::Status StartOver() override {
    if (verify_only_ || !upload_id_.empty()) return absl::OkStatus();
    // The staged candidate, if any, stays for whoever resumes it (or the
    // purge); this stream stages its own copy.
    absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
    if (!conn.ok()) return conn.status();
    absl::StatusOr<Result> upload = (*conn)->Exec(
        "INSERT INTO blob_uploads (expected_sha256, expected_size, tenant, kind, display_name)"
        " VALUES ($1, $2::bigint, $3, $4, $5) RETURNING id",
        {expected_sha256_, expected_size_, scope_->tenant, scope_->kind, scope_->display_name});
    if (!upload.ok()) return upload.status();
    upload_id_ = upload->Text(0, 0);
    return absl::OkStatus();
  }

  void Suspend() override {
    finished_ = true;
    buffer_.clear();
  }

  absl::Status Append(std::string_view data) override {
    if (finished_) return absl::FailedPreconditionError("blob writer already finished");
    if (scope_ && upload_id_.empty()) {
      if (absl::Status s = StartOver(); !s.ok()) return s;
    }
    if (bytes_written_ + static_cast<int64_t>(data.size()) > expected_size_) {
      (void)Discard();
      return absl::InvalidArgumentError(
          absl::StrCat("SIZE_MISMATCH: more than the announced ", expected_size_, " bytes"));
    }
    sha_.Update(data);
    bytes_written_ += static_cast<int64_t>(data.size());
    while (!data.empty()) {
      const size_t take =
          std::min(data.size(), static_cast<size_t>(BlobStore::kBlobChunkBytes) - buffer_.size());
      buffer_.append(data.substr(0, take));
      data.remove_prefix(take);
      if (static_cast<int64_t>(buffer_.size()) == BlobStore::kBlobChunkBytes) {
        if (absl::Status flushed = Flush(); !flushed.ok()) return flushed;
      }
    }
    return absl::OkStatus();
  }

  int64_t bytes_written() const override { return bytes_written_; }

  absl::Status Commit() override {
    if (finished_) return absl::FailedPreconditionError("blob writer already finished");
    if (bytes_written_ != expected_size_) {
      (void)Discard();
      return absl::InvalidArgumentError(absl::StrCat("SIZE_MISMATCH: received ", bytes_written_,
                                                     " bytes, expected ", expected_size_));
    }
    const std::string actual = sha_.HexDigest();
    if (actual != expected_sha256_) {
      (void)Discard();
      return absl::InvalidArgumentError(
          absl::StrCat("SHA256_MISMATCH: received ", actual, ", expected ", expected_sha256_));
    }
    if (verify_only_) {
      finished_ = true;
      return absl::OkStatus();
    }
    if (upload_id_.empty()) {
      if (absl::Status s = StartOver(); !s.ok()) return s;
    }
    absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
    if (!conn.ok()) return conn.status();
    // One transaction: the resume key goes away together with the partial
    // last chunk arriving, so a staged upload only ever holds whole chunks.
    absl::StatusOr<Transaction> txn = Transaction::Begin(conn->get());
    if (!txn.ok()) return txn.status();
    absl::StatusOr<Result> unkeyed = (*conn)->Exec(
        "UPDATE blob_uploads SET tenant = NULL, kind = NULL WHERE id = $1::uuid", {upload_id_});
    if (!unkeyed.ok()) return unkeyed.status();
    if (absl::Status flushed = Flush(conn->get()); !flushed.ok()) return flushed;
    // One statement publishes the blob; when the same content is already
    // stored (or a concurrent upload won), our staged copy is dropped.
    absl::StatusOr<Result> published = (*conn)->Exec(
        "WITH published AS ("
        "  INSERT INTO blobs (sha256, upload_id, size_bytes, chunk_count)"
        "  VALUES ($1, $2::uuid, $3::bigint, $4::integer)"
        "  ON CONFLICT (sha256) DO NOTHING RETURNING 1)"
        "DELETE FROM blob_uploads WHERE id = $2::uuid AND NOT EXISTS (SELECT 1 FROM published)",
        {expected_sha256_, upload_id_, bytes_written_, next_seq_});
    if (!published.ok()) return published.status();
    if (absl::Status committed = txn->Commit(); !committed.ok()) return committed;
    finished_ = true;
    return absl::OkStatus();
  }

 private:
  absl::Status Flush(Connection* in_transaction = nullptr) {
    if (verify_only_) buffer_.clear();
    if (buffer_.empty()) return absl::OkStatus();
    std::optional<ConnectionPool::Lease> lease;
    Connection* conn = in_transaction;
    if (conn == nullptr) {
      absl::StatusOr<ConnectionPool::Lease> acquired = pool_->Acquire();
      if (!acquired.ok()) return acquired.status();
      lease.emplace(std::move(*acquired));
      conn = lease->get();
    }
    // updated_at marks the upload alive for PurgeStaleUploads' TTL.
    absl::StatusOr<Result> inserted = conn->Exec(
        "WITH alive AS (UPDATE blob_uploads SET updated_at = now() WHERE id = $1::uuid)"
        " INSERT INTO blob_chunks (upload_id, seq, data) VALUES ($1::uuid, $2::integer, $3)",
        {upload_id_, next_seq_, Param::Binary(buffer_)});
    if (absl::IsAlreadyExists(inserted.status())) {
      // Another stream resumed the same staged upload and got here first.
      // Its chunks are not ours to discard.
      Suspend();
      return absl::AbortedError(
          "UPLOAD_CONFLICT: another stream is uploading the same content; retry later");
    }
    if (!inserted.ok()) return inserted.status();
    ++next_seq_;
    buffer_.clear();
    return absl::OkStatus();
  }

  absl::Status Discard() {
    finished_ = true;
    buffer_.clear();
    if (verify_only_ || upload_id_.empty()) return absl::OkStatus();
    absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
    if (!conn.ok()) return conn.status();  // PurgeStaleUploads cleans up later
    return (*conn)->Exec("DELETE FROM blob_uploads WHERE id = $1::uuid", {upload_id_}).status();
  }

  ConnectionPool* pool_;
  const int64_t expected_size_;
  const std::string expected_sha256_;
  std::string upload_id_;  // empty for a scoped writer until it picks one
  const bool verify_only_;
  std::optional<UploadScope> scope_;
  Staged staged_;  // the scope's candidate for ResumeStaged
  Sha256 sha_;
  std::string buffer_;  // < kBlobChunkBytes pending bytes
  int64_t bytes_written_ = 0;
  int32_t next_seq_ = 0;
  bool finished_ = false;
};

}  // namespace

BlobStore::BlobStore(ConnectionPool* pool) : pool_(pool) {}

absl::StatusOr<std::unique_ptr<BlobWriter>> BlobStore::Begin(
    int64_t expected_size, std::string expected_sha256, const std::optional<UploadScope>& scope) {
  if (expected_size < 0) return absl::InvalidArgumentError("blob size must be >= 0");
  if (!IsSha256Hex(expected_sha256)) {
    return absl::InvalidArgumentError("sha256 must be 64 lower-case hex digits");
  }
  absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  absl::StatusOr<Result> existing =
      (*conn)->Exec("SELECT size_bytes FROM blobs WHERE sha256 = $1", {expected_sha256});
  if (!existing.ok()) return existing.status();
  if (existing->rows() > 0 && existing->Int64(0, 0) == expected_size) {
    return std::unique_ptr<BlobWriter>(
        new PostgresBlobWriter(pool_, expected_size, std::move(expected_sha256), ""));
  }
  if (!scope.has_value()) {
    absl::StatusOr<Result> upload = (*conn)->Exec(
        "INSERT INTO blob_uploads (expected_sha256, expected_size) VALUES ($1, $2::bigint)"
        " RETURNING id",
        {expected_sha256, expected_size});
    if (!upload.ok()) return upload.status();
    return std::unique_ptr<BlobWriter>(new PostgresBlobWriter(
        pool_, expected_size, std::move(expected_sha256), upload->Text(0, 0)));
  }
  // Which upload this stream writes is decided by its first chunk's offset
  // (see PostgresBlobWriter); here only the candidate to resume is found.
  absl::StatusOr<StagedUpload> staged = FindStaged(conn->get(), scope->tenant, scope->kind,
                                                   expected_sha256, expected_size);
  PostgresBlobWriter::Staged candidate;
  if (staged.ok()) {
    candidate.upload_id = staged->upload_id;
    candidate.chunks = static_cast<int32_t>(staged->committed_bytes / kBlobChunkBytes);
  } else if (!absl::IsNotFound(staged.status())) {
    return staged.status();
  }
  return std::unique_ptr<BlobWriter>(new PostgresBlobWriter(
      pool_, expected_size, std::move(expected_sha256), *scope, std::move(candidate)));
}

absl::StatusOr<StagedUpload> BlobStore::FindStagedUpload(const std::string& tenant,
                                                         const std::string& kind,
                                                         const std::string& sha256,
                                                         int64_t size_bytes) {
  absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  return FindStaged(conn->get(), tenant, kind, sha256, size_bytes);
}

absl::StatusOr<StagedUpload> BlobStore::FindStaged(Connection* conn, const std::string& tenant,
                                                   const std::string& kind,
                                                   const std::string& sha256, int64_t size_bytes) {
  // Several may exist (concurrent or restarted streams of the same file);
  // all hold the same bytes, so the one furthest along is the one to resume.
  absl::StatusOr<Result> found = conn->Exec(
      "SELECT u.display_name, (extract(epoch from u.updated_at) * 1000000)::bigint, n, u.id"
      " FROM blob_uploads u,"
      "  LATERAL (SELECT count(*) AS n FROM blob_chunks c WHERE c.upload_id = u.id) chunks"
      " WHERE u.tenant = $1 AND u.kind = $2 AND u.expected_sha256 = $3"
      " AND u.expected_size = $4::bigint"
      " ORDER BY n DESC, u.updated_at DESC LIMIT 1",
      {tenant, kind, sha256, size_bytes});
  if (!found.ok()) return found.status();
  if (found->rows() == 0) {
    return absl::NotFoundError(absl::StrCat("UPLOAD_NOT_FOUND: no staged ", kind, " upload of ",
                                            size_bytes, " bytes with sha256 ", sha256));
  }
  StagedUpload staged;
  staged.display_name = found->Text(0, 0);
  staged.updated_at = found->TimeFromMicros(0, 1);
  staged.committed_bytes = found->Int64(0, 2) * kBlobChunkBytes;
  staged.size_bytes = size_bytes;
  staged.upload_id = found->Text(0, 3);
  return staged;
}

absl::StatusOr<std::string> BlobStore::PutFile(const std::string& path) {
  // Two passes (hash, then upload) so the writer can verify like any upload.
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::vector<char> buffer(kBlobChunkBytes);
  Sha256 sha;
  int64_t size = 0;
  while (in.read(buffer.data(), buffer.size()) || in.gcount() > 0) {
    sha.Update(std::string_view(buffer.data(), in.gcount()));
    size += in.gcount();
  }
  const std::string digest = sha.HexDigest();
  absl::StatusOr<std::unique_ptr<BlobWriter>> writer = Begin(size, digest);
  if (!writer.ok()) return writer.status();
  in.clear();
  in.seekg(0);
  while (in.read(buffer.data(), buffer.size()) || in.gcount() > 0) {
    if (absl::Status appended = (*writer)->Append(std::string_view(buffer.data(), in.gcount()));
        !appended.ok()) {
      return appended;
    }
  }
  if (absl::Status committed = (*writer)->Commit(); !committed.ok()) {
    // The file changed while we read it.
    return committed;
  }
  return digest;
}

absl::Status BlobStore::Read(const std::string& sha256,
                             const std::function<bool(std::string_view)>& on_chunk) {
  std::string upload_id;
  int32_t chunk_count = 0;
  {
    absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
    if (!conn.ok()) return conn.status();
    absl::StatusOr<Result> blob =
        (*conn)->Exec("SELECT upload_id, chunk_count FROM blobs WHERE sha256 = $1", {sha256});
    if (!blob.ok()) return blob.status();
    if (blob->rows() == 0) return absl::NotFoundError(absl::StrCat("BLOB_NOT_FOUND: ", sha256));
    upload_id = blob->Text(0, 0);
    chunk_count = static_cast<int32_t>(blob->Int64(0, 1));
  }
  // One chunk per query, and no connection held while the consumer works
  // (it may be a slow network stream): memory and pool use stay bounded.
  for (int32_t seq = 0; seq < chunk_count; ++seq) {
    std::string chunk;
    {
      absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
      if (!conn.ok()) return conn.status();
      absl::StatusOr<Result> row = (*conn)->ExecBinary(
          "SELECT data FROM blob_chunks WHERE upload_id = $1::uuid AND seq = $2::integer",
          {upload_id, seq});
      if (!row.ok()) return row.status();
      if (row->rows() == 0) {
        return absl::DataLossError(absl::StrCat("blob ", sha256, " lacks chunk ", seq));
      }
      chunk = row->Text(0, 0);
    }
    if (!on_chunk(chunk)) return absl::CancelledError("blob read stopped by the consumer");
  }
  return absl::OkStatus();
}

absl::Status BlobStore::ReadToFile(const std::string& sha256, const std::string& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  absl::Status read = Read(sha256, [&out](std::string_view chunk) {
    out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    return static_cast<bool>(out);
  });
  out.close();
  if (read.ok() && !out) return absl::InternalError(absl::StrCat("cannot write ", path));
  if (absl::IsCancelled(read)) return absl::InternalError(absl::StrCat("cannot write ", path));
  return read;
}

absl::StatusOr<int64_t> BlobStore::Size(const std::string& sha256) {
  absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  absl::StatusOr<Result> blob =
      (*conn)->Exec("SELECT size_bytes FROM blobs WHERE sha256 = $1", {sha256});
  if (!blob.ok()) return blob.status();
  if (blob->rows() == 0) return absl::NotFoundError(absl::StrCat("BLOB_NOT_FOUND: ", sha256));
  return blob->Int64(0, 0);
}

absl::StatusOr<int> BlobStore::PurgeStaleUploads(absl::Time idle_since) {
  absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  absl::StatusOr<Result> purged = (*conn)->Exec(
      "DELETE FROM blob_uploads u WHERE u.updated_at < $1::timestamptz"
      " AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.upload_id = u.id)",
      {Param::Time(idle_since)});
  if (!purged.ok()) return purged.status();
  return static_cast<int>(purged->affected_rows());
}

}  // namespace prune::db
