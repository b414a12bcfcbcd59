// libFuzzer harness for what pruned checks in a request before anything
// touches the database. One harness for the whole concept, dispatching on the
// first byte: the targets share one small build (prune_proto + four server
// sources), one CI run covers them all, and strings the fuzzer learns in one
// mode (resource names, display names, sha256s) help the others.
//
//   byte 0 % 4 == 0  CreateJobRequest    ValidateJobSpec, ValidateRequestId, ResolveReference
//                 1  UploadMetadata      ValidateUploadMetadata (model and dataset)
//                 2  upload stream       ReceiveUpload + UploadSession over a fake BlobWriter
//                 3  resource names      ParseResourceName / FormatResourceName / ResolveReference
//
// The rest is a serialized message (modes 0, 1), the wire format of a
// `repeated UploadModelRequest requests = 1;` (mode 2, byte 0 & 4 selects a
// dataset upload), or raw text (mode 3). Unparsable messages are rejected
// early. Properties that must hold are checked with FUZZ_CHECK (abort).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/stubs/logging.h"
#include "prune/v1/service.pb.h"
#include "server/job_spec_validation.h"
#include "server/model_archive_check.h"
#include "server/resource_names.h"
#include "server/upload_handler.h"

#include "tests/fuzz/fuzz_check.h"

namespace prune::server {
namespace {

constexpr int64_t kFuzzMaxUploadBytes = 1 << 16;

// An INVALID_ARGUMENT / NOT_FOUND carries "REASON: ..." (e.g. SHA256_INVALID).
void CheckReason(const absl::Status& s) {
  bool ok =
      s.code() == absl::StatusCode::kInvalidArgument || s.code() == absl::StatusCode::kNotFound;
  const absl::string_view m = s.message();
  const size_t colon = m.find(':');
  ok = ok && colon != absl::string_view::npos && colon > 0;
  for (size_t i = 0; ok && i < colon; ++i)
    ok = absl::ascii_isupper(m[i]) || absl::ascii_isdigit(m[i]) || m[i] == '_';
  if (!ok) std::fprintf(stderr, "status without a reason: %s\n", s.ToString().c_str());
  FUZZ_CHECK(ok);
}

// Accepted strings reach PostgreSQL as text parameters, which libpq passes as
// C strings: an embedded NUL would silently cut them short there.
bool IsPostgresText(absl::string_view s) { return !absl::StrContains(s, '\0'); }

void FuzzCreateJob(const uint8_t* data, size_t size) {
  v1::CreateJobRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return;
  const absl::Status id_status = ValidateRequestId(request.request_id());
  if (id_status.ok()) {
    FUZZ_CHECK(request.request_id().size() <= kMaxRequestIdBytes);
    FUZZ_CHECK(IsPostgresText(request.request_id()));
  } else {
    CheckReason(id_status);
  }

  const v1::Job& job = request.job();
  absl::StatusOr<ValidatedJobSpec> spec = ValidateJobSpec(job);
  if (!spec.ok()) {
    CheckReason(spec.status());
    return;
  }
  const db::JobParameters& p = spec->params;
  FUZZ_CHECK(!spec->model_ref.empty() && spec->model_ref == job.model());
  FUZZ_CHECK(spec->dataset_ref == job.dataset());
  FUZZ_CHECK(p.target_ratio > 0.0 && p.target_ratio < 1.0);
  FUZZ_CHECK(p.target_kind == "flops" || p.target_kind == "params" || p.target_kind == "latency");
  FUZZ_CHECK(!p.strategy.empty());
  FUZZ_CHECK(p.finetune_epochs >= 0 && p.finetune_epochs <= kMaxFinetuneEpochs);
  FUZZ_CHECK(std::isfinite(p.finetune_lr) && p.finetune_lr >= 0.0 && p.finetune_lr <= 10.0);
  FUZZ_CHECK(p.priority >= 1 && p.priority <= kMaxPriority);
  FUZZ_CHECK(p.search_max_evaluations >= 0 && p.search_max_evaluations <= 100000);
  FUZZ_CHECK(std::isfinite(p.search_seconds) && p.search_seconds >= 0);
  FUZZ_CHECK(p.importance != "taylor" || !spec->dataset_ref.empty());

  // What CreateJob does next with the references.
  for (const auto& [ref, collection] :
       {std::pair{spec->model_ref, kModels}, std::pair{spec->dataset_ref, kDatasets}}) {
    absl::StatusOr<std::string> key = ResolveReference(ref, "t1", collection, "NOT_FOUND");
    if (!key.ok()) {
      CheckReason(key.status());
      continue;
    }
    FUZZ_CHECK(!key->empty() && IsPostgresText(*key));
    if (!LooksLikeResourceName(ref)) FUZZ_CHECK(*key == ref);
  }
}

void FuzzUploadMetadata(const uint8_t* data, size_t size) {
  v1::UploadMetadata original;
  if (!original.ParseFromArray(data, static_cast<int>(size))) return;
  for (UploadKind kind : {UploadKind::kModel, UploadKind::kDataset}) {
    v1::UploadMetadata m = original;
    const absl::Status s = ValidateUploadMetadata(kind, kFuzzMaxUploadBytes, &m);
    if (!s.ok()) {
      CheckReason(s);
      continue;
    }
    FUZZ_CHECK(!m.display_name().empty() && m.display_name().size() <= kMaxDisplayNameBytes);
    FUZZ_CHECK(IsPostgresText(m.display_name()));
    FUZZ_CHECK(!LooksLikeResourceName(m.display_name()));
    FUZZ_CHECK(m.size_bytes() > 0 && m.size_bytes() <= kFuzzMaxUploadBytes);
    FUZZ_CHECK(m.sha256().size() == 64);
    for (char c : m.sha256()) FUZZ_CHECK(absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f'));
    FUZZ_CHECK(absl::AsciiStrToLower(original.sha256()) == m.sha256());
    if (kind == UploadKind::kDataset) FUZZ_CHECK(m.input_shape().empty());
    if (kind == UploadKind::kModel) {
      FUZZ_CHECK(m.input_shape().size() >= 2 && m.input_shape().size() <= 5);
      for (int64_t d : m.input_shape()) FUZZ_CHECK(d > 0);
    }
  }
}

// Keeps what it is given and checks the calls UploadSession makes.
class FakeBlobWriter : public db::BlobWriter {
 public:
  FakeBlobWriter(int64_t expected_size, std::string* sink)
      : expected_size_(expected_size), sink_(sink) {}
  absl::Status Append(std::string_view data) override {
    FUZZ_CHECK(!committed_);
    // UploadSession must refuse oversize chunks before they reach the store.
    FUZZ_CHECK(static_cast<int64_t>(sink_->size() + data.size()) <= expected_size_);
    sink_->append(data.data(), data.size());
    return absl::OkStatus();
  }
  int64_t bytes_written() const override { return static_cast<int64_t>(sink_->size()); }
  absl::Status Commit() override {
    FUZZ_CHECK(!committed_);
    FUZZ_CHECK(static_cast<int64_t>(sink_->size()) == expected_size_);
    committed_ = true;
    return absl::OkStatus();
  }
  bool committed() const { return committed_; }

 private:
  int64_t expected_size_;
  std::string* sink_;
  bool committed_ = false;
};

// Reads the messages of field 1 of the wire format, one per call.
class RequestReader {
 public:
  RequestReader(const uint8_t* data, size_t size) : input_(data, static_cast<int>(size)) {}
  template <typename Request>
  bool Next(Request* request) {
    if (done_) return false;
    const uint32_t tag = input_.ReadTag();
    uint32_t length = 0;
    std::string bytes;
    if (tag != ((1 << 3) | 2) || !input_.ReadVarint32(&length) ||
        !input_.ReadString(&bytes, static_cast<int>(length)) || !request->ParseFromString(bytes)) {
      done_ = true;  // end of stream (or garbage: the client went away)
      return false;
    }
    return true;
  }

 private:
  google::protobuf::io::CodedInputStream input_;
  bool done_ = false;
};

template <typename Request>
void FuzzUploadStream(UploadKind kind, const uint8_t* data, size_t size) {
  std::string stored;
  FakeBlobWriter* writer = nullptr;
  int begins = 0;
  UploadSession session(
      kind, kFuzzMaxUploadBytes,
      [&](const v1::UploadMetadata& metadata)
          -> absl::StatusOr<std::unique_ptr<db::BlobWriter>> {
        ++begins;
        const int64_t size_bytes = metadata.size_bytes();
        FUZZ_CHECK(size_bytes > 0 && size_bytes <= kFuzzMaxUploadBytes);
        FUZZ_CHECK(metadata.sha256().size() == 64);
        auto w = std::make_unique<FakeBlobWriter>(size_bytes, &stored);
        writer = w.get();
        return w;
      });
  RequestReader reader(data, size);
  const absl::Status s =
      ReceiveUpload<Request>([&](Request* r) { return reader.Next(r); }, &session);
  FUZZ_CHECK(begins <= 1);
  if (!s.ok()) {
    CheckReason(s);
    if (writer != nullptr) FUZZ_CHECK(!writer->committed());
    return;
  }
  FUZZ_CHECK(writer != nullptr && writer->committed());
  FUZZ_CHECK(session.has_metadata());
  FUZZ_CHECK(static_cast<int64_t>(stored.size()) == session.metadata().size_bytes());
  // Differential: the streaming sniffer inside the session accepted the model;
  // the whole-file check must agree.
  if (kind == UploadKind::kModel) FUZZ_CHECK(CheckModelArchive(stored).ok());
}

void FuzzResourceNames(const uint8_t* data, size_t size) {
  if (size == 0) return;
  const absl::string_view collections[] = {kModels, kDatasets, kJobs};
  const absl::string_view collection = collections[data[0] % 3];
  const absl::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  // "name\ntenant": the tenant the caller is authenticated as.
  const size_t nl = text.find('\n');
  const absl::string_view name = text.substr(0, nl);
  const absl::string_view tenant =
      nl == absl::string_view::npos ? absl::string_view("t1") : text.substr(nl + 1);

  absl::StatusOr<ResourceName> parsed = ParseResourceName(name, collection);
  if (parsed.ok()) {
    FUZZ_CHECK(LooksLikeResourceName(name));
    FUZZ_CHECK(parsed->collection == collection);
    FUZZ_CHECK(!parsed->tenant.empty() && !parsed->id.empty());
    FUZZ_CHECK(!absl::StrContains(parsed->tenant, '/') && !absl::StrContains(parsed->id, '/'));
    // Round trip.
    FUZZ_CHECK(FormatResourceName(parsed->tenant, parsed->collection, parsed->id) == name);
  } else {
    CheckReason(parsed.status());
  }

  absl::StatusOr<std::string> key = ResolveReference(name, tenant, collection, "GONE");
  if (!key.ok()) {
    CheckReason(key.status());
    // Another tenant's resource looks exactly like a missing one.
    if (key.status().code() == absl::StatusCode::kNotFound) {
      bool control = false;
      for (char c : name) control = control || absl::ascii_iscntrl(static_cast<unsigned char>(c));
      FUZZ_CHECK(control || (parsed.ok() && parsed->tenant != tenant));
      FUZZ_CHECK(absl::StartsWith(key.status().message(), "GONE: "));
    }
    return;
  }
  FUZZ_CHECK(!name.empty() && IsPostgresText(*key));
  if (LooksLikeResourceName(name)) {
    FUZZ_CHECK(parsed.ok() && parsed->tenant == tenant && *key == parsed->id);
  } else {
    FUZZ_CHECK(*key == name);
  }
}

}  // namespace
}  // namespace prune::server

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Invalid UTF-8 in string fields is an expected parse failure, not news.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace prune::server;
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  ++data;
  --size;
  switch (mode % 4) {
    case 0:
      FuzzCreateJob(data, size);
      break;
    case 1:
      FuzzUploadMetadata(data, size);
      break;
    case 2:
      if (mode & 4) {
        FuzzUploadStream<prune::v1::UploadDatasetRequest>(UploadKind::kDataset, data, size);
      } else {
        FuzzUploadStream<prune::v1::UploadModelRequest>(UploadKind::kModel, data, size);
      }
      break;
    case 3:
      FuzzResourceNames(data, size);
      break;
  }
  return 0;
}
