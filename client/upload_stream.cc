#include "upload_stream.h"

#include <fstream>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "sha256_file.h"

namespace prune::client {
namespace {

using prune::v1::UploadMetadata;

// Writes metadata then the file's chunks from `offset` on to `writer`, and
// finishes the call. Request is UploadModelRequest or UploadDatasetRequest
// (same shape).
template <typename Request>
absl::Status StreamFile(grpc::ClientContext& context, grpc::ClientWriterInterface<Request>& writer,
                        const std::string& path, const UploadMetadata& metadata, int64_t offset,
                        int64_t chunk_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (in && offset > 0) in.seekg(offset);
  if (!in) {
    context.TryCancel();
    writer.Finish();
    return absl::NotFoundError(absl::StrCat("cannot open ", path, " at offset ", offset));
  }
  Request first;
  *first.mutable_metadata() = metadata;
  bool stream_open = writer.Write(first);

  std::string buffer(static_cast<size_t>(chunk_bytes), '\0');
  while (stream_open && in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const std::streamsize got = in.gcount();
    if (got <= 0) break;
    Request request;
    request.mutable_chunk()->set_offset(offset);
    request.mutable_chunk()->set_data(buffer.data(), static_cast<size_t>(got));
    offset += got;
    stream_open = writer.Write(request);
  }
  // A closed stream means the server already answered; its status says why.
  if (stream_open && (in.bad() || offset != metadata.size_bytes())) {
    context.TryCancel();
    writer.Finish();
    return absl::AbortedError(absl::StrCat(path, " changed while uploading (hashed ",
                                           metadata.size_bytes(), " bytes, read ", offset, ")"));
  }
  if (stream_open) writer.WritesDone();
  return FromGrpc(writer.Finish());
}

absl::StatusOr<UploadMetadata> DescribeFile(const std::string& path,
                                            const std::string& display_name, int64_t chunk_bytes) {
  if (chunk_bytes <= 0 || chunk_bytes > kMaxUploadChunkBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("chunk size must be in (0, ", kMaxUploadChunkBytes, "]"));
  }
  absl::StatusOr<FileDigest> digest = Sha256File(path);
  if (!digest.ok()) return digest.status();
  UploadMetadata metadata;
  metadata.set_display_name(display_name);
  metadata.set_size_bytes(digest->size_bytes);
  metadata.set_sha256(digest->sha256);
  return metadata;
}

// Where to continue: the server's committed size, 0 when it kept nothing.
absl::StatusOr<int64_t> CommittedBytes(Connection& connection, prune::v1::UploadKind kind,
                                       const UploadMetadata& metadata) {
  prune::v1::GetUploadStatusRequest request;
  request.set_kind(kind);
  request.set_sha256(metadata.sha256());
  request.set_size_bytes(metadata.size_bytes());
  prune::v1::UploadStatus status;
  std::unique_ptr<grpc::ClientContext> context = connection.NewContext(CallKind::kUnary);
  absl::Status got = FromGrpc(connection.stub().GetUploadStatus(context.get(), request, &status));
  if (absl::IsNotFound(got)) return 0;
  if (!got.ok()) return got;
  return status.committed_bytes();
}

// Streams with bounded retries; `open(context, response)` starts one call.
template <typename Request, typename Response, typename OpenFn>
absl::StatusOr<Response> UploadWithRetries(Connection& connection, prune::v1::UploadKind kind,
                                           const std::string& path, const UploadMetadata& metadata,
                                           const UploadOptions& options, OpenFn&& open) {
  int64_t offset = 0;
  bool ask_server = options.resume;
  std::chrono::milliseconds backoff = options.retry.initial_backoff;
  for (int attempt = 0;; ++attempt) {
    absl::Status status;
    if (ask_server) {
      absl::StatusOr<int64_t> committed = CommittedBytes(connection, kind, metadata);
      status = committed.status();
      if (committed.ok()) {
        offset = *committed;
        ask_server = false;
        if (offset > 0 && options.log != nullptr) {
          *options.log << "resuming the upload of " << path << " at byte " << offset << " of "
                       << metadata.size_bytes() << "\n";
        }
      }
    }
    if (!ask_server) {
      std::unique_ptr<grpc::ClientContext> context = connection.NewContext(CallKind::kTransfer);
      Response response;
      std::unique_ptr<grpc::ClientWriterInterface<Request>> writer = open(context.get(), &response);
      status = StreamFile(*context, *writer, path, metadata, offset, options.chunk_bytes);
      if (status.ok()) return response;
      ask_server = true;
    }
    if (!IsResumableUploadFailure(status) || attempt >= options.retry.max_retries) return status;
    if (options.log != nullptr) {
      *options.log << "upload interrupted (" << absl::StatusCodeToString(status.code()) << ": "
                   << status.message() << "); retrying in " << backoff.count() << " ms\n";
    }
    options.retry.Sleep(backoff);
    backoff = options.retry.NextBackoff(backoff);
  }
}

}  // namespace

bool IsResumableUploadFailure(const absl::Status& status) {
  if (absl::IsUnavailable(status) || absl::IsAborted(status)) return true;
  // The staged bytes moved on (another stream) or expired: ask again.
  return absl::IsInvalidArgument(status) &&
         absl::StartsWith(status.message(), "UPLOAD_OFFSET_MISMATCH:");
}

absl::StatusOr<prune::v1::Model> UploadModelFile(Connection& connection, const std::string& path,
                                                 const std::string& display_name,
                                                 const std::vector<int64_t>& input_shape,
                                                 const UploadOptions& options) {
  absl::StatusOr<UploadMetadata> metadata = DescribeFile(path, display_name, options.chunk_bytes);
  if (!metadata.ok()) return metadata.status();
  for (int64_t dim : input_shape) metadata->add_input_shape(dim);
  return UploadWithRetries<prune::v1::UploadModelRequest, prune::v1::Model>(
      connection, prune::v1::UPLOAD_KIND_MODEL, path, *metadata, options,
      [&](grpc::ClientContext* context, prune::v1::Model* response) {
        return connection.stub().UploadModel(context, response);
      });
}

absl::StatusOr<prune::v1::Dataset> UploadDatasetFile(Connection& connection,
                                                     const std::string& path,
                                                     const std::string& display_name,
                                                     const UploadOptions& options) {
  absl::StatusOr<UploadMetadata> metadata = DescribeFile(path, display_name, options.chunk_bytes);
  if (!metadata.ok()) return metadata.status();
  return UploadWithRetries<prune::v1::UploadDatasetRequest, prune::v1::Dataset>(
      connection, prune::v1::UPLOAD_KIND_DATASET, path, *metadata, options,
      [&](grpc::ClientContext* context, prune::v1::Dataset* response) {
        return connection.stub().UploadDataset(context, response);
      });
}

}  // namespace prune::client
