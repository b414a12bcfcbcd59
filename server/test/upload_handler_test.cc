#include "server/upload_handler.h"

#include <deque>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/ascii.h"
#include "server/test/zip_builder.h"

namespace prune::server {
namespace {

using ::testing::StartsWith;

// What an earlier, broken stream left staged, and what the session did to it.
struct Staged {
  std::string bytes;
  bool resumed = false;
  bool started_over = false;
  bool suspended = false;
};

// Keeps the bytes; Commit() fails with SHA256_MISMATCH when told to.
class FakeBlobWriter : public db::BlobWriter {
 public:
  FakeBlobWriter(std::string* sink, bool* committed, bool sha_matches, Staged* staged)
      : sink_(sink), committed_(committed), sha_matches_(sha_matches), staged_(staged) {}
  absl::Status Append(std::string_view data) override {
    sink_->append(data.data(), data.size());
    return absl::OkStatus();
  }
  int64_t bytes_written() const override { return static_cast<int64_t>(sink_->size()); }
  int64_t staged_bytes() const override { return static_cast<int64_t>(staged_->bytes.size()); }
  absl::Status ResumeStaged(const std::function<void(std::string_view)>& observe) override {
    staged_->resumed = true;
    *sink_ = staged_->bytes;
    for (size_t at = 0; at < sink_->size(); at += 1000) {
      observe(std::string_view(*sink_).substr(at, 1000));
    }
    return absl::OkStatus();
  }
  absl::Status StartOver() override {
    staged_->started_over = true;
    return absl::OkStatus();
  }
  void Suspend() override { staged_->suspended = true; }
  absl::Status Commit() override {
    if (!sha_matches_) return absl::InvalidArgumentError("SHA256_MISMATCH: differs");
    *committed_ = true;
    return absl::OkStatus();
  }

 private:
  std::string* sink_;
  bool* committed_;
  bool sha_matches_;
  Staged* staged_;
};

constexpr char kSha[] = "ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789";

class UploadSessionTest : public ::testing::Test {
 protected:
  UploadSession MakeSession(UploadKind kind, int64_t max_bytes = 1 << 30) {
    return UploadSession(kind, max_bytes, [this](const v1::UploadMetadata& metadata) {
      begun_sha_ = metadata.sha256();
      return absl::StatusOr<std::unique_ptr<db::BlobWriter>>(
          std::make_unique<FakeBlobWriter>(&stored_, &committed_, sha_matches_, &staged_));
    });
  }

  static v1::UploadMetadata Metadata(int64_t size, UploadKind kind = UploadKind::kModel) {
    v1::UploadMetadata metadata;
    metadata.set_display_name("net");
    metadata.set_size_bytes(size);
    metadata.set_sha256(kSha);
    if (kind == UploadKind::kModel) {
      for (int64_t dim : {1, 1, 28, 28}) metadata.add_input_shape(dim);
    }
    return metadata;
  }

  static absl::Status SendAll(UploadSession* session, const std::string& bytes, size_t chunk) {
    for (size_t at = 0; at < bytes.size(); at += chunk) {
      v1::UploadChunk c;
      c.set_offset(static_cast<int64_t>(at));
      c.set_data(bytes.substr(at, chunk));
      if (absl::Status s = session->OnChunk(c); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  std::string stored_;
  Staged staged_;
  std::string begun_sha_;
  bool committed_ = false;
  bool sha_matches_ = true;
};

void ExpectReason(const absl::Status& status, const std::string& reason) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()), StartsWith(reason + ": "));
}

TEST_F(UploadSessionTest, StreamsModelIntoTheBlobAndCommits) {
  const std::string archive = testing::FakeTorchScriptArchive(3 << 20);
  UploadSession session = MakeSession(UploadKind::kModel);
  ASSERT_TRUE(session.OnMetadata(Metadata(archive.size())).ok());
  EXPECT_EQ(begun_sha_, absl::AsciiStrToLower(kSha));
  ASSERT_TRUE(SendAll(&session, archive, kMaxChunkBytes).ok());
  ASSERT_TRUE(session.Finish().ok());
  EXPECT_TRUE(committed_);
  EXPECT_EQ(stored_, archive);
}

TEST_F(UploadSessionTest, MetadataValidation) {
  auto check = [&](v1::UploadMetadata metadata, const std::string& reason,
                   UploadKind kind = UploadKind::kModel) {
    UploadSession session = MakeSession(kind, 1000);
    ExpectReason(session.OnMetadata(std::move(metadata)), reason);
  };
  v1::UploadMetadata m = Metadata(10);
  m.clear_display_name();
  check(m, "DISPLAY_NAME_REQUIRED");
  m = Metadata(10);
  m.set_display_name("tenants/x/models/y");
  check(m, "DISPLAY_NAME_INVALID");
  check(Metadata(0), "UPLOAD_SIZE_INVALID");
  check(Metadata(1001), "UPLOAD_TOO_LARGE");
  m = Metadata(10);
  m.set_sha256("abc");
  check(m, "SHA256_INVALID");
  m.set_sha256(std::string(64, 'g'));
  check(m, "SHA256_INVALID");
  m = Metadata(10);
  m.clear_input_shape();
  check(m, "INPUT_SHAPE_INVALID");
  m.add_input_shape(1);
  check(m, "INPUT_SHAPE_INVALID");
  for (int i = 0; i < 5; ++i) m.add_input_shape(2);
  check(m, "INPUT_SHAPE_INVALID");  // 6 dims
  m = Metadata(10);
  m.set_input_shape(2, 0);
  check(m, "INPUT_SHAPE_INVALID");
  check(Metadata(10, UploadKind::kModel), "INPUT_SHAPE_INVALID", UploadKind::kDataset);
  UploadSession dataset = MakeSession(UploadKind::kDataset);
  EXPECT_TRUE(dataset.OnMetadata(Metadata(10, UploadKind::kDataset)).ok());
}

TEST_F(UploadSessionTest, CheckMetadataRunsBeforeTheBlobBegins) {
  bool begun = false;
  UploadSession session(
      UploadKind::kDataset, 100,
      [&](const v1::UploadMetadata&) -> absl::StatusOr<std::unique_ptr<db::BlobWriter>> {
        begun = true;
        return absl::InternalError("unused");
      },
      [](const v1::UploadMetadata&) {
        return absl::AlreadyExistsError("DATASET_ALREADY_EXISTS: x");
      });
  EXPECT_EQ(session.OnMetadata(Metadata(10, UploadKind::kDataset)).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_FALSE(begun);
}

TEST_F(UploadSessionTest, ChunkRules) {
  UploadSession session = MakeSession(UploadKind::kDataset);
  ASSERT_TRUE(session.OnMetadata(Metadata(kMaxChunkBytes + 10, UploadKind::kDataset)).ok());
  v1::UploadChunk chunk;
  chunk.set_offset(5);
  chunk.set_data("abc");
  // Nothing is staged: the first chunk must start at 0.
  ExpectReason(session.OnChunk(chunk), "UPLOAD_OFFSET_MISMATCH");
  chunk.set_offset(0);
  chunk.set_data(std::string(kMaxChunkBytes + 1, 'x'));
  ExpectReason(session.OnChunk(chunk), "CHUNK_TOO_LARGE");
  chunk.set_data(std::string(kMaxChunkBytes, 'x'));
  ASSERT_TRUE(session.OnChunk(chunk).ok());
  chunk.set_offset(kMaxChunkBytes);
  chunk.set_data(std::string(11, 'x'));
  ExpectReason(session.OnChunk(chunk), "SIZE_MISMATCH");
  chunk.set_offset(3);
  chunk.set_data("abc");
  ExpectReason(session.OnChunk(chunk), "CHUNK_OFFSET_MISMATCH");
}

TEST_F(UploadSessionTest, TruncatedStreamIsSizeMismatch) {
  UploadSession session = MakeSession(UploadKind::kDataset);
  ASSERT_TRUE(session.OnMetadata(Metadata(100, UploadKind::kDataset)).ok());
  ASSERT_TRUE(SendAll(&session, std::string(60, 'd'), 50).ok());
  ExpectReason(session.Finish(), "SIZE_MISMATCH");
  EXPECT_FALSE(committed_);
}

TEST_F(UploadSessionTest, NonZipModelFailsOnTheFirstChunk) {
  UploadSession session = MakeSession(UploadKind::kModel);
  ASSERT_TRUE(session.OnMetadata(Metadata(1000)).ok());
  v1::UploadChunk chunk;
  chunk.set_data(std::string(100, 'n'));
  ExpectReason(session.OnChunk(chunk), "MODEL_NOT_TORCHSCRIPT");
  EXPECT_TRUE(stored_.empty());
}

TEST_F(UploadSessionTest, ZipWithoutCodeFailsAtTheEnd) {
  const std::string zip = testing::BuildZip({{"a/data.pkl", "xyz"}});
  UploadSession session = MakeSession(UploadKind::kModel);
  ASSERT_TRUE(session.OnMetadata(Metadata(zip.size())).ok());
  ASSERT_TRUE(SendAll(&session, zip, 16).ok());
  ExpectReason(session.Finish(), "MODEL_NOT_TORCHSCRIPT");
  EXPECT_FALSE(committed_);
}

TEST_F(UploadSessionTest, ShaMismatchComesFromTheBlobWriter) {
  sha_matches_ = false;
  UploadSession session = MakeSession(UploadKind::kDataset);
  ASSERT_TRUE(session.OnMetadata(Metadata(3, UploadKind::kDataset)).ok());
  ASSERT_TRUE(SendAll(&session, "abc", 3).ok());
  ExpectReason(session.Finish(), "SHA256_MISMATCH");
}

TEST_F(UploadSessionTest, ReceiveUploadRequiresMetadataFirstAndOnlyOnce) {
  auto run = [&](std::deque<v1::UploadDatasetRequest> requests) {
    UploadSession session = MakeSession(UploadKind::kDataset);
    return ReceiveUpload<v1::UploadDatasetRequest>(
        [&](v1::UploadDatasetRequest* r) {
          if (requests.empty()) return false;
          *r = requests.front();
          requests.pop_front();
          return true;
        },
        &session);
  };
  v1::UploadDatasetRequest metadata;
  *metadata.mutable_metadata() = Metadata(3, UploadKind::kDataset);
  v1::UploadDatasetRequest chunk;
  chunk.mutable_chunk()->set_data("abc");

  ExpectReason(run({}), "UPLOAD_METADATA_MISSING");
  ExpectReason(run({chunk}), "UPLOAD_METADATA_MISSING");
  ExpectReason(run({metadata, metadata}), "UPLOAD_METADATA_REPEATED");
  EXPECT_TRUE(run({metadata, chunk}).ok());
}

}  // namespace
}  // namespace prune::server

namespace prune::server {
namespace {

// The chunks of `bytes` from `from` on, as an upload stream would send them.
absl::Status SendFrom(UploadSession* session, const std::string& bytes, size_t from) {
  for (size_t at = from; at < bytes.size(); at += kMaxChunkBytes) {
    v1::UploadChunk c;
    c.set_offset(static_cast<int64_t>(at));
    c.set_data(bytes.substr(at, kMaxChunkBytes));
    if (absl::Status s = session->OnChunk(c); !s.ok()) return s;
  }
  return absl::OkStatus();
}

TEST_F(UploadSessionTest, ResumeAtTheStagedEndChecksTheArchiveFromByteZero) {
  const std::string archive = testing::FakeTorchScriptArchive(3 << 20);
  staged_.bytes = archive.substr(0, 2 << 20);
  UploadSession session = MakeSession(UploadKind::kModel);
  ASSERT_TRUE(session.OnMetadata(Metadata(archive.size())).ok());
  // Bytes at 2 MiB are no zip header: only a sniffer fed from byte 0 passes.
  ASSERT_TRUE(SendFrom(&session, archive, 2 << 20).ok());
  ASSERT_TRUE(session.Finish().ok());
  EXPECT_TRUE(staged_.resumed);
  EXPECT_TRUE(committed_);
  EXPECT_EQ(stored_, archive);
}

TEST_F(UploadSessionTest, WrongResumeOffsetNamesTheCommittedSizeAndKeepsTheStagedBytes) {
  staged_.bytes = std::string(2 << 20, 's');
  {
    UploadSession session = MakeSession(UploadKind::kDataset);
    ASSERT_TRUE(session.OnMetadata(Metadata(3 << 20, UploadKind::kDataset)).ok());
    v1::UploadChunk chunk;
    chunk.set_offset(1 << 20);
    chunk.set_data("x");
    const absl::Status status = session.OnChunk(chunk);
    ExpectReason(status, "UPLOAD_OFFSET_MISMATCH");
    EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr("2097152"));
  }
  EXPECT_TRUE(staged_.suspended);
  EXPECT_FALSE(staged_.started_over);
}

TEST_F(UploadSessionTest, OffsetZeroStartsOverTheStagedUpload) {
  staged_.bytes = std::string(1 << 20, 's');
  UploadSession session = MakeSession(UploadKind::kDataset);
  const std::string data(1500000, 'd');
  ASSERT_TRUE(session.OnMetadata(Metadata(data.size(), UploadKind::kDataset)).ok());
  ASSERT_TRUE(SendFrom(&session, data, 0).ok());
  ASSERT_TRUE(session.Finish().ok());
  EXPECT_TRUE(staged_.started_over);
  EXPECT_FALSE(staged_.resumed);
  EXPECT_EQ(stored_, data);
}

TEST_F(UploadSessionTest, BrokenStreamKeepsStagedChunksButBadContentDoesNot) {
  auto receive = [&](bool cancelled, bool sha_matches) {
    sha_matches_ = sha_matches;
    staged_ = Staged();
    stored_.clear();
    std::deque<v1::UploadDatasetRequest> requests(2);
    *requests[0].mutable_metadata() = Metadata(3, UploadKind::kDataset);
    requests[1].mutable_chunk()->set_data(cancelled ? "ab" : "abc");
    UploadSession session = MakeSession(UploadKind::kDataset);
    return ReceiveUpload<v1::UploadDatasetRequest>(
        [&](v1::UploadDatasetRequest* r) {
          if (requests.empty()) return false;
          *r = requests.front();
          requests.pop_front();
          return true;
        },
        &session, [cancelled] { return cancelled; });
  };
  const absl::Status broken = receive(/*cancelled=*/true, true);
  EXPECT_EQ(broken.code(), absl::StatusCode::kAborted) << broken;
  EXPECT_THAT(std::string(broken.message()), StartsWith("UPLOAD_INTERRUPTED: "));
  EXPECT_TRUE(staged_.suspended);
  ExpectReason(receive(/*cancelled=*/false, /*sha_matches=*/false), "SHA256_MISMATCH");
  EXPECT_FALSE(staged_.suspended);
}

}  // namespace
}  // namespace prune::server
