#include "upload_stream.h"

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>

#include "fake_prune_service.h"
#include "sha256_file.h"

namespace prune::client {
namespace {

class UploadStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ConnectionOptions options;
    options.server = server_.address();
    options.token = "secret";
    connection_ = std::move(*Connection::Create(options));
  }

  std::string WriteFile(size_t size) {
    std::string bytes(size, '\0');
    std::mt19937 random(7);
    for (char& c : bytes) c = static_cast<char>(random());
    std::string path = ::testing::TempDir() + "upload_stream_test.bin";
    std::ofstream(path, std::ios::binary).write(bytes.data(), bytes.size());
    bytes_ = bytes;
    return path;
  }

  // Retries without waiting; retry notes go to log_.
  UploadOptions NoWait() {
    UploadOptions options;
    options.retry.sleep = [this](std::chrono::milliseconds d) { slept_.push_back(d.count()); };
    options.log = &log_;
    return options;
  }

  std::string bytes_;
  std::vector<int64_t> slept_;
  std::ostringstream log_;

  FakePruneService service_;
  FakeServer server_{&service_};
  std::unique_ptr<Connection> connection_;
};

TEST_F(UploadStreamTest, SendsMetadataThenOneMiBChunksWithOffsets) {
  const size_t size = 5 * (1 << 20) / 2;  // 2.5 MiB
  const std::string path = WriteFile(size);
  absl::StatusOr<prune::v1::Model> model =
      UploadModelFile(*connection_, path, "lenet", {1, 1, 28, 28});
  ASSERT_TRUE(model.ok()) << model.status();

  const FileDigest digest = *Sha256File(path);
  EXPECT_EQ(model->name(), "tenants/t/models/m1");
  EXPECT_EQ(model->sha256(), digest.sha256);

  std::lock_guard<std::mutex> lock(service_.mu);
  const auto& messages = service_.model_upload_messages;
  ASSERT_EQ(messages.size(), 4u);
  ASSERT_TRUE(messages[0].has_metadata());
  const auto& metadata = messages[0].metadata();
  EXPECT_EQ(metadata.display_name(), "lenet");
  EXPECT_EQ(std::vector<int64_t>(metadata.input_shape().begin(), metadata.input_shape().end()),
            (std::vector<int64_t>{1, 1, 28, 28}));
  EXPECT_EQ(metadata.size_bytes(), static_cast<int64_t>(size));
  EXPECT_EQ(metadata.sha256(), digest.sha256);
  const int64_t mib = 1 << 20;
  const int64_t expected_offsets[] = {0, mib, 2 * mib};
  const size_t expected_sizes[] = {1 << 20, 1 << 20, 1 << 19};
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(messages[i + 1].has_chunk());
    EXPECT_EQ(messages[i + 1].chunk().offset(), expected_offsets[i]);
    EXPECT_EQ(messages[i + 1].chunk().data().size(), expected_sizes[i]);
  }
  EXPECT_EQ(service_.authorization_headers, std::vector<std::string>{"Bearer secret"});
}

TEST_F(UploadStreamTest, DatasetUploadUsesTheSameProtocol) {
  const std::string path = WriteFile(1000);
  absl::StatusOr<prune::v1::Dataset> dataset = UploadDatasetFile(*connection_, path, "fmnist");
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->size_bytes(), 1000);
  std::lock_guard<std::mutex> lock(service_.mu);
  ASSERT_EQ(service_.dataset_upload_messages.size(), 2u);
  EXPECT_EQ(service_.dataset_upload_messages[1].chunk().data().size(), 1000u);
}

TEST_F(UploadStreamTest, EmptyFileSendsMetadataOnly) {
  absl::StatusOr<prune::v1::Dataset> dataset =
      UploadDatasetFile(*connection_, WriteFile(0), "empty");
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  std::lock_guard<std::mutex> lock(service_.mu);
  EXPECT_EQ(service_.dataset_upload_messages.size(), 1u);
}

TEST_F(UploadStreamTest, MissingFileFailsBeforeCallingTheServer) {
  EXPECT_EQ(UploadModelFile(*connection_, "/nonexistent/model.pt", "x", {1}).status().code(),
            absl::StatusCode::kNotFound);
  std::lock_guard<std::mutex> lock(service_.mu);
  EXPECT_TRUE(service_.model_upload_messages.empty());
}

constexpr int64_t kMiB = 1 << 20;

TEST_F(UploadStreamTest, BrokenStreamAsksTheCommittedSizeAndResumesThere) {
  const std::string path = WriteFile(3 * kMiB + kMiB / 2);
  service_.upload_breaks = 1;
  service_.break_after_bytes = 2 * kMiB + kMiB / 2;
  UploadOptions options = NoWait();
  options.chunk_bytes = kMiB / 2;
  absl::StatusOr<prune::v1::Model> model =
      UploadModelFile(*connection_, path, "lenet", {1, 1, 28, 28}, options);
  ASSERT_TRUE(model.ok()) << model.status();
  std::lock_guard<std::mutex> lock(service_.mu);
  // The half MiB past the last whole chunk is sent again, nothing before it.
  EXPECT_EQ(service_.upload_first_offsets, (std::vector<int64_t>{0, 2 * kMiB}));
  EXPECT_EQ(service_.upload_status_calls, 1);
  EXPECT_EQ(slept_, std::vector<int64_t>{500});
  EXPECT_NE(log_.str().find("upload interrupted (UNAVAILABLE"), std::string::npos) << log_.str();
  EXPECT_NE(log_.str().find("resuming the upload"), std::string::npos) << log_.str();
}

TEST_F(UploadStreamTest, ResumeAsksBeforeTheFirstStream) {
  const std::string path = WriteFile(2 * kMiB + 10);
  service_.staged = bytes_.substr(0, kMiB);  // left by an earlier run
  UploadOptions options = NoWait();
  options.resume = true;
  absl::StatusOr<prune::v1::Dataset> dataset =
      UploadDatasetFile(*connection_, path, "fmnist", options);
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  std::lock_guard<std::mutex> lock(service_.mu);
  EXPECT_EQ(service_.upload_first_offsets, std::vector<int64_t>{kMiB});
  EXPECT_TRUE(slept_.empty());
}

TEST_F(UploadStreamTest, WithoutResumeTheFirstStreamStartsOver) {
  const std::string path = WriteFile(2 * kMiB + 10);
  service_.staged = bytes_.substr(0, kMiB);
  ASSERT_TRUE(UploadDatasetFile(*connection_, path, "fmnist", NoWait()).ok());
  std::lock_guard<std::mutex> lock(service_.mu);
  EXPECT_EQ(service_.upload_first_offsets, std::vector<int64_t>{0});
  EXPECT_EQ(service_.upload_status_calls, 0);
}

TEST_F(UploadStreamTest, RetriesAreBoundedWithBackoff) {
  const std::string path = WriteFile(3 * kMiB + 5);
  service_.upload_breaks = 100;
  service_.break_after_bytes = 1;
  UploadOptions options = NoWait();
  options.retry.max_retries = 3;
  absl::StatusOr<prune::v1::Dataset> dataset =
      UploadDatasetFile(*connection_, path, "fmnist", options);
  EXPECT_EQ(dataset.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(slept_, (std::vector<int64_t>{500, 1000, 2000}));
  std::lock_guard<std::mutex> lock(service_.mu);
  EXPECT_EQ(service_.upload_first_offsets.size(), 4u);
}

TEST_F(UploadStreamTest, VerdictsOnTheFileAreNotRetried) {
  EXPECT_FALSE(IsResumableUploadFailure(absl::InvalidArgumentError("SHA256_MISMATCH: x")));
  EXPECT_FALSE(IsResumableUploadFailure(absl::InvalidArgumentError("MODEL_NOT_TORCHSCRIPT: x")));
  EXPECT_TRUE(IsResumableUploadFailure(absl::InvalidArgumentError("UPLOAD_OFFSET_MISMATCH: x")));
  EXPECT_TRUE(IsResumableUploadFailure(absl::UnavailableError("reset")));
  EXPECT_TRUE(IsResumableUploadFailure(absl::AbortedError("UPLOAD_CONFLICT: x")));
}

}  // namespace
}  // namespace prune::client
