#include "sha256_file.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <string>

namespace prune::client {
namespace {

std::string WriteTempFile(const std::string& bytes) {
  std::string path = ::testing::TempDir() + "sha256_file_test.bin";
  std::ofstream(path, std::ios::binary).write(bytes.data(), bytes.size());
  return path;
}

// The digest computed by coreutils, an independent implementation.
std::string Sha256sum(const std::string& path) {
  FILE* pipe = popen(("sha256sum '" + path + "'").c_str(), "r");
  if (pipe == nullptr) return "";
  char hex[65] = {};
  const size_t got = fread(hex, 1, 64, pipe);
  pclose(pipe);
  return std::string(hex, got);
}

TEST(Sha256FileTest, EmptyFileHasTheWellKnownDigest) {
  absl::StatusOr<FileDigest> digest = Sha256File(WriteTempFile(""));
  ASSERT_TRUE(digest.ok()) << digest.status();
  EXPECT_EQ(digest->size_bytes, 0);
  EXPECT_EQ(digest->sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256FileTest, MatchesSha256sumOnMultiBlockFile) {
  std::string bytes(2'500'000 + 7, '\0');
  std::mt19937 random(42);
  for (char& c : bytes) c = static_cast<char>(random());
  const std::string path = WriteTempFile(bytes);
  absl::StatusOr<FileDigest> digest = Sha256File(path);
  ASSERT_TRUE(digest.ok()) << digest.status();
  EXPECT_EQ(digest->size_bytes, static_cast<int64_t>(bytes.size()));
  EXPECT_EQ(digest->sha256, Sha256sum(path));
}

TEST(Sha256FileTest, MissingFileIsNotFound) {
  EXPECT_EQ(Sha256File("/nonexistent/prunectl/file").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace prune::client
