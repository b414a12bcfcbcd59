#include "server/upload_handler.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/resource_names.h"

namespace prune::server {
namespace {

constexpr int kMinInputRank = 2;
constexpr int kMaxInputRank = 5;

bool IsLowerHexSha256(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

absl::Status ValidateDisplayName(const std::string& name) {
  if (name.empty()) {
    return absl::InvalidArgumentError("DISPLAY_NAME_REQUIRED: metadata.display_name is required");
  }
  if (name.size() > kMaxDisplayNameBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "DISPLAY_NAME_INVALID: display_name is longer than ", kMaxDisplayNameBytes, " bytes"));
  }
  if (LooksLikeResourceName(name)) {
    return absl::InvalidArgumentError(
        "DISPLAY_NAME_INVALID: display_name must not start with 'tenants/' (reserved for "
        "resource names)");
  }
  for (char c : name) {
    if (absl::ascii_iscntrl(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(
          "DISPLAY_NAME_INVALID: display_name must not contain control characters");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateInputShape(UploadKind kind, const v1::UploadMetadata& metadata) {
  const auto& shape = metadata.input_shape();
  if (kind == UploadKind::kDataset) {
    if (!shape.empty()) {
      return absl::InvalidArgumentError(
          "INPUT_SHAPE_INVALID: input_shape is for models; datasets carry their own shapes");
    }
    return absl::OkStatus();
  }
  bool positive = true;
  for (int64_t dim : shape) positive = positive && dim > 0;
  if (shape.size() < kMinInputRank || shape.size() > kMaxInputRank || !positive) {
    return absl::InvalidArgumentError(absl::StrCat(
        "INPUT_SHAPE_INVALID: input_shape must have ", kMinInputRank, " to ", kMaxInputRank,
        " positive dimensions including the batch, e.g. [1,3,224,224]; got [",
        absl::StrJoin(shape, ","), "]"));
  }
  return absl::OkStatus();
}

}  // namespace

const char* UploadKindName(UploadKind kind) {
  return kind == UploadKind::kModel ? "model" : "dataset";
}

absl::Status ValidateUploadMetadata(UploadKind kind, int64_t max_upload_bytes,
                                    v1::UploadMetadata* metadata) {
  if (absl::Status s = ValidateDisplayName(metadata->display_name()); !s.ok()) return s;
  if (metadata->size_bytes() <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "UPLOAD_SIZE_INVALID: metadata.size_bytes must be positive, got ", metadata->size_bytes()));
  }
  if (metadata->size_bytes() > max_upload_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("UPLOAD_TOO_LARGE: ", metadata->size_bytes(),
                                                   " bytes exceed this server's limit of ",
                                                   max_upload_bytes, " bytes"));
  }
  std::string sha = absl::AsciiStrToLower(metadata->sha256());
  if (!IsLowerHexSha256(sha)) {
    return absl::InvalidArgumentError(
        "SHA256_INVALID: metadata.sha256 must be the 64 hex digits of the file's sha256");
  }
  metadata->set_sha256(std::move(sha));
  return ValidateInputShape(kind, *metadata);
}

UploadSession::UploadSession(UploadKind kind, int64_t max_upload_bytes, BeginBlob begin_blob,
                             CheckMetadata check_metadata)
    : kind_(kind),
      max_upload_bytes_(max_upload_bytes),
      begin_blob_(std::move(begin_blob)),
      check_metadata_(std::move(check_metadata)) {}

UploadSession::~UploadSession() {
  if (writer_ != nullptr && keep_staged_) writer_->Suspend();
}

absl::Status UploadSession::OnMetadata(v1::UploadMetadata metadata) {
  if (absl::Status s = ValidateUploadMetadata(kind_, max_upload_bytes_, &metadata); !s.ok()) {
    return s;
  }
  if (check_metadata_) {
    if (absl::Status s = check_metadata_(metadata); !s.ok()) return s;
  }
  absl::StatusOr<std::unique_ptr<db::BlobWriter>> writer = begin_blob_(metadata);
  if (!writer.ok()) return writer.status();
  writer_ = std::move(*writer);
  metadata_ = std::move(metadata);
  return absl::OkStatus();
}

absl::Status UploadSession::Start(int64_t offset) {
  const int64_t staged = writer_->staged_bytes();
  if (offset == 0) {
    // Clients that know nothing of resuming always start at 0: they win.
    if (absl::Status s = writer_->StartOver(); !s.ok()) return s;
  } else if (offset == staged) {
    // The sha256 and the archive check cover the whole file, so the staged
    // bytes are read back through both, one chunk at a time.
    absl::Status resumed = writer_->ResumeStaged([this](std::string_view data) {
      if (kind_ == UploadKind::kModel) sniffer_.Feed(absl::string_view(data.data(), data.size()));
    });
    if (!resumed.ok()) return resumed;
    received_ = staged;
    if (kind_ == UploadKind::kModel && sniffer_.rejected()) return sniffer_.Verdict();
  } else {
    keep_staged_ = true;  // the staged bytes are fine; only this stream is wrong
    return absl::InvalidArgumentError(absl::StrCat(
        "UPLOAD_OFFSET_MISMATCH: the server holds ", staged, " committed bytes of this upload; ",
        "resume at offset ", staged, " or start over at offset 0 (got offset ", offset, ")"));
  }
  started_ = true;
  return absl::OkStatus();
}

absl::Status UploadSession::OnChunk(const v1::UploadChunk& chunk) {
  const std::string& data = chunk.data();
  if (static_cast<int64_t>(data.size()) > kMaxChunkBytes) {
    return absl::InvalidArgumentError(absl::StrCat("CHUNK_TOO_LARGE: chunks carry at most ",
                                                   kMaxChunkBytes, " bytes, got ", data.size()));
  }
  if (!started_) {
    if (absl::Status s = Start(chunk.offset()); !s.ok()) return s;
  }
  if (chunk.offset() != received_) {
    keep_staged_ = true;  // what was staged before the gap is still good
    return absl::InvalidArgumentError(absl::StrCat("CHUNK_OFFSET_MISMATCH: expected offset ",
                                                   received_, ", got ", chunk.offset()));
  }
  if (received_ + static_cast<int64_t>(data.size()) > metadata_->size_bytes()) {
    return absl::InvalidArgumentError(absl::StrCat("SIZE_MISMATCH: received more than the ",
                                                   metadata_->size_bytes(),
                                                   " bytes announced in metadata.size_bytes"));
  }
  if (kind_ == UploadKind::kModel) {
    sniffer_.Feed(data);
    if (sniffer_.rejected()) return sniffer_.Verdict();
  }
  if (absl::Status s = writer_->Append(data); !s.ok()) return s;
  received_ += static_cast<int64_t>(data.size());
  return absl::OkStatus();
}

absl::Status UploadSession::Finish() {
  const int64_t staged = writer_->staged_bytes();
  if (!started_ && staged > 0) {
    // Everything was staged before the previous stream broke: a resuming
    // client has no chunk left to send.
    if (staged == metadata_->size_bytes()) {
      if (absl::Status s = Start(staged); !s.ok()) return s;
    } else {
      keep_staged_ = true;  // an empty stream says nothing about those bytes
    }
  }
  if (received_ != metadata_->size_bytes()) {
    return absl::InvalidArgumentError(absl::StrCat("SIZE_MISMATCH: the stream ended after ",
                                                   received_, " of ", metadata_->size_bytes(),
                                                   " bytes"));
  }
  if (kind_ == UploadKind::kModel) {
    if (absl::Status s = sniffer_.Verdict(); !s.ok()) return s;
  }
  return writer_->Commit();
}

absl::Status UploadSession::Interrupt() {
  keep_staged_ = true;
  const int64_t kept = received_ - received_ % db::BlobStore::kBlobChunkBytes;
  return absl::AbortedError(absl::StrCat("UPLOAD_INTERRUPTED: the stream broke after ", received_,
                                         " of ", metadata_->size_bytes(), " bytes; up to ", kept,
                                         " bytes (whole chunks) stay staged for a resume"));
}

}  // namespace prune::server
