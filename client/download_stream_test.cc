#include "download_stream.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <sstream>

#include "fake_prune_service.h"

namespace prune::client {
namespace {

class DownloadStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ConnectionOptions options;
    options.server = server_.address();
    connection_ = std::move(*Connection::Create(options));
    service_.job.set_name("tenants/t/jobs/j1");
    service_.artifact.resize(3 * (1 << 20) + 123);
    std::mt19937 random(3);
    for (char& c : service_.artifact) c = static_cast<char>(random());
    out_path_ = ::testing::TempDir() + "download_stream_test.pt";
    std::remove(out_path_.c_str());
  }

  static std::string ReadFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    return bytes.str();
  }

  FakePruneService service_;
  FakeServer server_{&service_};
  std::unique_ptr<Connection> connection_;
  std::string out_path_;
};

TEST_F(DownloadStreamTest, WritesTheExactBytes) {
  absl::StatusOr<DownloadedFile> file =
      DownloadArtifactToFile(*connection_, "tenants/t/jobs/j1", prune::v1::PRUNED_MODEL, out_path_);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->path, out_path_);
  EXPECT_EQ(file->size_bytes, static_cast<int64_t>(service_.artifact.size()));
  EXPECT_TRUE(ReadFile(out_path_) == service_.artifact);
  EXPECT_NE(access((out_path_ + ".part").c_str(), F_OK), 0);
}

TEST_F(DownloadStreamTest, RejectsShaMismatchAndLeavesNoFile) {
  service_.announced_sha256 = std::string(64, 'a');
  absl::StatusOr<DownloadedFile> file =
      DownloadArtifactToFile(*connection_, "tenants/t/jobs/j1", prune::v1::PRUNED_MODEL, out_path_);
  EXPECT_EQ(file.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(access(out_path_.c_str(), F_OK), 0);
  EXPECT_NE(access((out_path_ + ".part").c_str(), F_OK), 0);
}

TEST_F(DownloadStreamTest, PassesServerErrorsThrough) {
  absl::StatusOr<DownloadedFile> file =
      DownloadArtifactToFile(*connection_, "tenants/t/jobs/other", prune::v1::REPORT, out_path_);
  EXPECT_EQ(file.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(access(out_path_.c_str(), F_OK), 0);
}

}  // namespace
}  // namespace prune::client
