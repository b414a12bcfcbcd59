// GetUploadStatus: how much of a broken upload the server kept, so that a
// client resumes instead of sending the whole file again.
#include "absl/strings/str_cat.h"
#include "server/proto_conversion.h"
#include "server/prune_service.h"
#include "server/upload_handler.h"

namespace prune::server {
namespace {

absl::StatusOr<UploadKind> KindOf(v1::UploadKind kind) {
  switch (kind) {
    case v1::UPLOAD_KIND_MODEL:
      return UploadKind::kModel;
    case v1::UPLOAD_KIND_DATASET:
      return UploadKind::kDataset;
    default:
      return absl::InvalidArgumentError(
          "UPLOAD_KIND_INVALID: kind must be UPLOAD_KIND_MODEL or UPLOAD_KIND_DATASET");
  }
}

}  // namespace

grpc::Status PruneServiceImpl::GetUploadStatus(grpc::ServerContext* context,
                                               const v1::GetUploadStatusRequest* request,
                                               v1::UploadStatus* response) {
  return Handle("GetUploadStatus", context, [&](const std::string& tenant) -> absl::Status {
    absl::StatusOr<UploadKind> kind = KindOf(request->kind());
    if (!kind.ok()) return kind.status();
    // The same rules as an upload's metadata, so a key that could never have
    // been staged is an error rather than a silent NOT_FOUND.
    v1::UploadMetadata metadata;
    metadata.set_display_name("status");
    metadata.set_size_bytes(request->size_bytes());
    metadata.set_sha256(request->sha256());
    if (*kind == UploadKind::kModel) {
      for (int64_t dim : {1, 1, 1, 1}) metadata.add_input_shape(dim);
    }
    if (absl::Status s = ValidateUploadMetadata(*kind, options_.max_upload_bytes, &metadata);
        !s.ok()) {
      return s;
    }
    absl::StatusOr<db::StagedUpload> staged = blobs_->FindStagedUpload(
        tenant, UploadKindName(*kind), metadata.sha256(), metadata.size_bytes());
    if (!staged.ok()) return staged.status();
    response->set_committed_bytes(staged->committed_bytes);
    response->set_size_bytes(staged->size_bytes);
    response->set_display_name(staged->display_name);
    ToTimestamp(staged->updated_at + options_.upload_ttl, response->mutable_expire_time());
    return absl::OkStatus();
  });
}

}  // namespace prune::server
