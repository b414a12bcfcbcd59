#include "server/model_archive_check.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "server/test/zip_builder.h"

namespace prune::server {
namespace {

using testing::BuildZip;
using ::testing::HasSubstr;

absl::Status FeedInPieces(const std::string& bytes, size_t piece) {
  ModelArchiveSniffer sniffer;
  for (size_t at = 0; at < bytes.size(); at += piece) {
    sniffer.Feed(absl::string_view(bytes).substr(at, piece));
  }
  return sniffer.Verdict();
}

TEST(ModelArchiveCheck, AcceptsTorchScriptArchiveWhateverThePieceSize) {
  const std::string archive = testing::FakeTorchScriptArchive(200000);
  for (size_t piece : {1ul, 3ul, 29ul, 30ul, 31ul, 4096ul, 1ul << 20}) {
    EXPECT_TRUE(FeedInPieces(archive, piece).ok()) << piece;
  }
}

TEST(ModelArchiveCheck, CodeEntryAfterLargeDataIsFound) {
  const std::string archive =
      BuildZip({{"m/data/0", std::string(3 << 20, 'x')}, {"m/code/__torch__/a.py", "x"}});
  EXPECT_TRUE(FeedInPieces(archive, 65536).ok());
}

TEST(ModelArchiveCheck, ConstantsPklAloneIsEnough) {
  EXPECT_TRUE(CheckModelArchive(BuildZip({{"m/constants.pkl", "c"}})).ok());
}

TEST(ModelArchiveCheck, RejectsNonZipFromTheFirstBytes) {
  ModelArchiveSniffer sniffer;
  sniffer.Feed("\x80\x02}q\x00");  // a torch.save pickle, not an archive
  EXPECT_TRUE(sniffer.rejected());
  const absl::Status verdict = sniffer.Verdict();
  EXPECT_EQ(verdict.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(verdict.message(), HasSubstr("MODEL_NOT_TORCHSCRIPT: "));
  EXPECT_THAT(verdict.message(), HasSubstr("not a zip archive"));
}

TEST(ModelArchiveCheck, RejectsZipWithoutTorchScriptCode) {
  const absl::Status verdict =
      CheckModelArchive(BuildZip({{"archive/data.pkl", "x"}, {"archive/version", "3"}}));
  EXPECT_EQ(verdict.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(verdict.message(), HasSubstr("no TorchScript code"));
}

TEST(ModelArchiveCheck, RejectsEmptyAndTruncatedInput) {
  EXPECT_FALSE(CheckModelArchive("").ok());
  EXPECT_FALSE(CheckModelArchive("PK").ok());
  EXPECT_FALSE(CheckModelArchive(std::string("PK\x03\x04", 4)).ok());
}

TEST(ModelArchiveCheck, DataDescriptorEntriesFallBackToScanningNames) {
  const std::string with_code =
      BuildZip({{"m/data.pkl", "abc"}, {"m/code/x.py", "y"}}, {/*data_descriptor=*/true});
  EXPECT_TRUE(FeedInPieces(with_code, 7).ok());
  const std::string without_code =
      BuildZip({{"m/data.pkl", "abc"}, {"m/version", "3"}}, {/*data_descriptor=*/true});
  EXPECT_FALSE(FeedInPieces(without_code, 7).ok());
}

TEST(ModelArchiveCheck, NameSplitAcrossPiecesInScanModeIsFound) {
  const std::string archive =
      BuildZip({{"m/data.pkl", std::string(5000, 'q')}, {"m/constants.pkl", "c"}},
               {/*data_descriptor=*/true});
  for (size_t piece : {1ul, 5ul, 13ul, 1000ul}) EXPECT_TRUE(FeedInPieces(archive, piece).ok());
}

TEST(ModelArchiveCheck, EntryNames) {
  EXPECT_TRUE(IsTorchScriptEntryName("code/__torch__/m.py"));
  EXPECT_TRUE(IsTorchScriptEntryName("archive/code/__torch__/m.py"));
  EXPECT_TRUE(IsTorchScriptEntryName("archive/constants.pkl"));
  EXPECT_FALSE(IsTorchScriptEntryName("archive/data.pkl"));
  EXPECT_FALSE(IsTorchScriptEntryName("archive/mycode/x"));
}

}  // namespace
}  // namespace prune::server
