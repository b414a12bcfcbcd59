// Shared plumbing of PruneServiceImpl and the model/dataset handlers; the job
// handlers live in job_handlers.cc.
#include "server/prune_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "server/proto_conversion.h"
#include "server/resource_names.h"
#include "server/rpc_log.h"
#include "server/status_conversion.h"
#include "server/upload_handler.h"

namespace prune::server {
namespace {

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;

// `uploaded_bytes` (may be null) counts the chunk bytes as they arrive,
// including those of uploads that fail later.
// A cancelled context (client gone, deadline, server shutdown) is a broken
// stream: its staged chunks are kept for a resume.
template <typename Request>
absl::Status ReadUpload(grpc::ServerContext* context, grpc::ServerReader<Request>* reader,
                        UploadSession* session, metrics::Counter* uploaded_bytes) {
  return ReceiveUpload<Request>(
      [reader, uploaded_bytes](Request* r) {
        if (!reader->Read(r)) return false;
        if (uploaded_bytes != nullptr && r->part_case() == Request::kChunk) {
          uploaded_bytes->Increment(static_cast<double>(r->chunk().data().size()));
        }
        return true;
      },
      session, [context] { return context->IsCancelled(); });
}

// Resumable uploads are keyed by tenant and kind (0004_resumable_uploads.sql).
db::UploadScope ScopeOf(const std::string& tenant, UploadKind kind,
                        const v1::UploadMetadata& metadata) {
  return db::UploadScope{tenant, UploadKindName(kind), metadata.display_name()};
}

}  // namespace

absl::StatusOr<int> EffectivePageSize(int32_t requested) {
  if (requested < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("PAGE_SIZE_INVALID: page_size must not be negative, got ", requested));
  }
  if (requested == 0) return kDefaultPageSize;
  return std::min(requested, kMaxPageSize);
}

PruneServiceImpl::PruneServiceImpl(db::MetadataStore* store, db::BlobStore* blobs,
                                   const Authenticator* authenticator, PruneServiceOptions options)
    : store_(store), blobs_(blobs), authenticator_(authenticator), options_(options) {}

grpc::Status PruneServiceImpl::Handle(const char* method, grpc::ServerContext* context,
                                      const Body& body) const {
  RpcLog log(method, options_.metrics);
  absl::StatusOr<std::string> tenant = authenticator_->Authenticate(context->client_metadata());
  if (!tenant.ok()) return log.Finish(ToGrpcStatus(tenant.status()));
  return log.Finish(ToGrpcStatus(body(*tenant)));
}

metrics::Counter* PruneServiceImpl::UploadBytesCounter(const char* kind) const {
  if (options_.metrics == nullptr) return nullptr;
  return &options_.metrics->upload_bytes->WithLabels({kind});
}

absl::StatusOr<db::ModelRecord> PruneServiceImpl::FindModel(const std::string& tenant,
                                                            const std::string& reference) const {
  absl::StatusOr<std::string> key = ResolveReference(reference, tenant, kModels, "MODEL_NOT_FOUND");
  if (!key.ok()) return key.status();
  absl::StatusOr<db::ModelRecord> model = store_->GetModel(tenant, *key);
  if (!model.ok()) return RenameNotFound(model.status(), "MODEL_NOT_FOUND", "model", reference);
  return model;
}

absl::StatusOr<db::DatasetRecord> PruneServiceImpl::FindDataset(
    const std::string& tenant, const std::string& reference) const {
  absl::StatusOr<std::string> key =
      ResolveReference(reference, tenant, kDatasets, "DATASET_NOT_FOUND");
  if (!key.ok()) return key.status();
  absl::StatusOr<db::DatasetRecord> dataset = store_->GetDataset(tenant, *key);
  if (!dataset.ok()) {
    return RenameNotFound(dataset.status(), "DATASET_NOT_FOUND", "dataset", reference);
  }
  return dataset;
}

grpc::Status PruneServiceImpl::UploadModel(grpc::ServerContext* context,
                                           grpc::ServerReader<v1::UploadModelRequest>* reader,
                                           v1::Model* response) {
  return Handle("UploadModel", context, [&](const std::string& tenant) -> absl::Status {
    UploadSession session(
        UploadKind::kModel, options_.max_upload_bytes,
        [&](const v1::UploadMetadata& metadata) {
          return blobs_->Begin(metadata.size_bytes(), metadata.sha256(),
                               ScopeOf(tenant, UploadKind::kModel, metadata));
        },
        [&](const v1::UploadMetadata& metadata) -> absl::Status {
          if (store_->GetModel(tenant, metadata.display_name()).ok()) {
            return absl::AlreadyExistsError(absl::StrCat("MODEL_ALREADY_EXISTS: a model named '",
                                                         metadata.display_name(), "' exists"));
          }
          return store_->CheckStorageQuota(tenant, metadata.size_bytes(), metadata.sha256());
        });
    if (absl::Status s = ReadUpload(context, reader, &session, UploadBytesCounter("model"));
        !s.ok()) {
      return s;
    }
    const v1::UploadMetadata& metadata = session.metadata();
    absl::StatusOr<db::ModelRecord> model = store_->CreateModel(
        tenant, metadata.display_name(),
        std::vector<int64_t>(metadata.input_shape().begin(), metadata.input_shape().end()),
        metadata.sha256(), metadata.size_bytes());
    if (!model.ok()) return model.status();
    *response = ToProto(*model);
    return absl::OkStatus();
  });
}

grpc::Status PruneServiceImpl::GetModel(grpc::ServerContext* context,
                                        const v1::GetModelRequest* request, v1::Model* response) {
  return Handle("GetModel", context, [&](const std::string& tenant) -> absl::Status {
    absl::StatusOr<db::ModelRecord> model = FindModel(tenant, request->name());
    if (!model.ok()) return model.status();
    *response = ToProto(*model);
    return absl::OkStatus();
  });
}

grpc::Status PruneServiceImpl::ListModels(grpc::ServerContext* context,
                                          const v1::ListModelsRequest* request,
                                          v1::ListModelsResponse* response) {
  return Handle("ListModels", context, [&](const std::string& tenant) -> absl::Status {
    absl::StatusOr<int> page_size = EffectivePageSize(request->page_size());
    if (!page_size.ok()) return page_size.status();
    absl::StatusOr<db::Page<db::ModelRecord>> page =
        store_->ListModels(tenant, *page_size, request->page_token());
    if (!page.ok()) return page.status();
    for (const db::ModelRecord& model : page->items) *response->add_models() = ToProto(model);
    response->set_next_page_token(page->next_page_token);
    return absl::OkStatus();
  });
}

grpc::Status PruneServiceImpl::DeleteModel(grpc::ServerContext* context,
                                           const v1::DeleteModelRequest* request,
                                           v1::DeleteResponse*) {
  return Handle("DeleteModel", context, [&](const std::string& tenant) -> absl::Status {
    absl::StatusOr<db::ModelRecord> model = FindModel(tenant, request->name());
    if (!model.ok()) return model.status();
    return AddReasonIfMissing(RenameNotFound(store_->DeleteModel(tenant, model->id),
                                             "MODEL_NOT_FOUND", "model", request->name()),
                              absl::StatusCode::kFailedPrecondition, "MODEL_IN_USE");
  });
}

grpc::Status PruneServiceImpl::UploadDataset(grpc::ServerContext* context,
                                             grpc::ServerReader<v1::UploadDatasetRequest>* reader,
                                             v1::Dataset* response) {
  return Handle("UploadDataset", context, [&](const std::string& tenant) -> absl::Status {
    UploadSession session(
        UploadKind::kDataset, options_.max_upload_bytes,
        [&](const v1::UploadMetadata& metadata) {
          return blobs_->Begin(metadata.size_bytes(), metadata.sha256(),
                               ScopeOf(tenant, UploadKind::kDataset, metadata));
        },
        [&](const v1::UploadMetadata& metadata) -> absl::Status {
          if (store_->GetDataset(tenant, metadata.display_name()).ok()) {
            return absl::AlreadyExistsError(absl::StrCat(
                "DATASET_ALREADY_EXISTS: a dataset named '", metadata.display_name(), "' exists"));
          }
          return store_->CheckStorageQuota(tenant, metadata.size_bytes(), metadata.sha256());
        });
    if (absl::Status s = ReadUpload(context, reader, &session, UploadBytesCounter("dataset"));
        !s.ok()) {
      return s;
    }
    const v1::UploadMetadata& metadata = session.metadata();
    absl::StatusOr<db::DatasetRecord> dataset = store_->CreateDataset(
        tenant, metadata.display_name(), metadata.sha256(), metadata.size_bytes());
    if (!dataset.ok()) return dataset.status();
    *response = ToProto(*dataset);
    return absl::OkStatus();
  });
}

grpc::Status PruneServiceImpl::GetDataset(grpc::ServerContext* context,
                                          const v1::GetDatasetRequest* request,
                                          v1::Dataset* response) {
  return Handle("GetDataset", context, [&](const std::string& tenant) -> absl::Status {
    absl::StatusOr<db::DatasetRecord> dataset = FindDataset(tenant, request->name());
    if (!dataset.ok()) return dataset.status();
    *response = ToProto(*dataset);
    return absl::OkStatus();
  });
}

grpc::Status PruneServiceImpl::ListDatasets(grpc::ServerContext* context,
                                            const v1::ListDatasetsRequest* request,
                                            v1::ListDatasetsResponse* response) {
  return Handle("ListDatasets", context, [&](const std::string& tenant) -> absl::Status {
    absl::StatusOr<int> page_size = EffectivePageSize(request->page_size());
    if (!page_size.ok()) return page_size.status();
    absl::StatusOr<db::Page<db::DatasetRecord>> page =
        store_->ListDatasets(tenant, *page_size, request->page_token());
    if (!page.ok()) return page.status();
    for (const db::DatasetRecord& d : page->items) *response->add_datasets() = ToProto(d);
    response->set_next_page_token(page->next_page_token);
    return absl::OkStatus();
  });
}

grpc::Status PruneServiceImpl::DeleteDataset(grpc::ServerContext* context,
                                             const v1::DeleteDatasetRequest* request,
                                             v1::DeleteResponse*) {
  return Handle("DeleteDataset", context, [&](const std::string& tenant) -> absl::Status {
    absl::StatusOr<db::DatasetRecord> dataset = FindDataset(tenant, request->name());
    if (!dataset.ok()) return dataset.status();
    return AddReasonIfMissing(RenameNotFound(store_->DeleteDataset(tenant, dataset->id),
                                             "DATASET_NOT_FOUND", "dataset", request->name()),
                              absl::StatusCode::kFailedPrecondition, "DATASET_IN_USE");
  });
}

}  // namespace prune::server
