#include "upload_stream.h"

#include <fstream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "sha256_file.h"

namespace prune::client {
namespace {

using prune::v1::UploadMetadata;

// Writes metadata then the file's chunks to `writer`, and finishes the call.
// Request is UploadModelRequest or UploadDatasetRequest (same shape).
template <typename Request>
absl::Status StreamFile(grpc::ClientContext& context, grpc::ClientWriterInterface<Request>& writer,
                        const std::string& path, const UploadMetadata& metadata,
                        int64_t chunk_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    context.TryCancel();
    writer.Finish();
    return absl::NotFoundError(absl::StrCat("cannot open ", path));
  }
  Request first;
  *first.mutable_metadata() = metadata;
  bool stream_open = writer.Write(first);

  int64_t offset = 0;
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

}  // namespace

absl::StatusOr<prune::v1::Model> UploadModelFile(Connection& connection, const std::string& path,
                                                 const std::string& display_name,
                                                 const std::vector<int64_t>& input_shape,
                                                 int64_t chunk_bytes) {
  absl::StatusOr<UploadMetadata> metadata = DescribeFile(path, display_name, chunk_bytes);
  if (!metadata.ok()) return metadata.status();
  for (int64_t dim : input_shape) metadata->add_input_shape(dim);

  std::unique_ptr<grpc::ClientContext> context = connection.NewContext(CallKind::kTransfer);
  prune::v1::Model model;
  auto writer = connection.stub().UploadModel(context.get(), &model);
  absl::Status status = StreamFile(*context, *writer, path, *metadata, chunk_bytes);
  if (!status.ok()) return status;
  return model;
}

absl::StatusOr<prune::v1::Dataset> UploadDatasetFile(Connection& connection,
                                                     const std::string& path,
                                                     const std::string& display_name,
                                                     int64_t chunk_bytes) {
  absl::StatusOr<UploadMetadata> metadata = DescribeFile(path, display_name, chunk_bytes);
  if (!metadata.ok()) return metadata.status();

  std::unique_ptr<grpc::ClientContext> context = connection.NewContext(CallKind::kTransfer);
  prune::v1::Dataset dataset;
  auto writer = connection.stub().UploadDataset(context.get(), &dataset);
  absl::Status status = StreamFile(*context, *writer, path, *metadata, chunk_bytes);
  if (!status.ok()) return status;
  return dataset;
}

}  // namespace prune::client
