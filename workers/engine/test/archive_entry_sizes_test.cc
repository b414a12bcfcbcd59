#include "archive_entry_sizes.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>

#include "dataset.h"
#include "engine_error.h"
#include "test_support.h"

namespace prune::engine {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string Check(const std::string& bytes) {
  return CheckArchiveEntrySizes(bytes.data(), bytes.size());
}

// The first central-directory entry's uncompressed size set to `value`.
std::string WithClaimedSize(std::string bytes, uint32_t value) {
  const size_t entry = bytes.find(std::string("PK\x01\x02", 4));
  EXPECT_NE(entry, std::string::npos);
  for (int i = 0; i < 4; ++i) bytes[entry + 24 + i] = static_cast<char>((value >> (8 * i)) & 0xFF);
  return bytes;
}

TEST(ArchiveEntrySizes, AcceptsWhatTorchSaveWrites) {
  const std::string dataset = ReadFile(testing::DataPath("dataset.pt"));
  ASSERT_GT(dataset.size(), 1000u);
  EXPECT_EQ(Check(dataset), "");
}

TEST(ArchiveEntrySizes, RefusesEntriesClaimingMoreThanTheFile) {
  const std::string dataset = ReadFile(testing::DataPath("dataset.pt"));
  const std::string bomb = WithClaimedSize(dataset, 0x7FFFFFFF);
  EXPECT_NE(Check(bomb).find("claims 2147483647 bytes unpacked"), std::string::npos) << Check(bomb);
  // Through the reader: a clear DATASET_INVALID, and LibTorch never allocates.
  try {
    LoadDatasetFromBytes(std::vector<char>(bomb.begin(), bomb.end()), {1, 1, 28, 28});
    FAIL() << "expected DATASET_INVALID";
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), "DATASET_INVALID");
    EXPECT_NE(std::string(e.what()).find("claims"), std::string::npos) << e.what();
  }
}

TEST(ArchiveEntrySizes, RefusesWhatIsNotAWholeZip) {
  const std::string dataset = ReadFile(testing::DataPath("dataset.pt"));
  EXPECT_NE(Check(dataset.substr(0, dataset.size() - 30)), "");  // the end record cut off
  EXPECT_NE(Check(std::string(4096, 'x')), "");
  EXPECT_NE(Check(""), "");
  // A directory offset past the end of the file.
  std::string moved = dataset;
  const size_t end = moved.rfind(std::string("PK\x05\x06", 4));
  ASSERT_NE(end, std::string::npos);
  moved[end + 19] = static_cast<char>(0x7F);
  EXPECT_EQ(Check(moved), "central directory outside the file");
}

}  // namespace
}  // namespace prune::engine
