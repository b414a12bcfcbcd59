#include "common/db/blob_store.h"

#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

#include "common/db/connection.h"
#include "common/db/db_test_fixture.h"

namespace prune::db::testing {
namespace {

std::string RandomBytes(size_t size, uint32_t seed) {
  std::mt19937 random(seed);
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(random());
  return bytes;
}

class BlobStoreTest : public DbTest {
 protected:
  int64_t Count(const std::string& table) {
    auto conn = pool_->Acquire();
    EXPECT_TRUE(conn.ok());
    auto rows = (*conn)->Exec("SELECT count(*) FROM " + table);
    EXPECT_TRUE(rows.ok()) << rows.status();
    return rows.ok() ? rows->Int64(0, 0) : -1;
  }
};

TEST_F(BlobStoreTest, MultiChunkRoundTrip) {
  const std::string content = RandomBytes(3 * BlobStore::kBlobChunkBytes + 12345, 1);
  const std::string sha = Sha256Hex(content);
  ASSERT_OK_AND_ASSIGN(writer, blobs_->Begin(static_cast<int64_t>(content.size()), sha));
  // Odd-sized pieces exercise re-chunking across Append calls.
  for (size_t offset = 0; offset < content.size(); offset += 700001) {
    ASSERT_OK(writer->Append(std::string_view(content).substr(offset, 700001)));
  }
  EXPECT_EQ(writer->bytes_written(), static_cast<int64_t>(content.size()));
  // Not visible before Commit.
  EXPECT_EQ(blobs_->Size(sha).status().code(), absl::StatusCode::kNotFound);
  ASSERT_OK(writer->Commit());

  std::string read;
  int chunks = 0;
  ASSERT_OK(blobs_->Read(sha, [&](std::string_view chunk) {
    EXPECT_LE(static_cast<int64_t>(chunk.size()), BlobStore::kBlobChunkBytes);
    read.append(chunk);
    ++chunks;
    return true;
  }));
  EXPECT_EQ(chunks, 4);
  EXPECT_TRUE(read == content);
  ASSERT_OK_AND_ASSIGN(size, blobs_->Size(sha));
  EXPECT_EQ(size, static_cast<int64_t>(content.size()));
  EXPECT_EQ(Count("blob_chunks"), 4);
}

TEST_F(BlobStoreTest, ShaMismatchIsRejectedAndNothingIsVisible) {
  const std::string content = RandomBytes(BlobStore::kBlobChunkBytes + 10, 2);
  const std::string wrong_sha = Sha256Hex("something else");
  ASSERT_OK_AND_ASSIGN(writer, blobs_->Begin(static_cast<int64_t>(content.size()), wrong_sha));
  ASSERT_OK(writer->Append(content));
  const absl::Status committed = writer->Commit();
  EXPECT_EQ(committed.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(committed.message().find("SHA256_MISMATCH"), std::string::npos);
  EXPECT_EQ(blobs_->Size(wrong_sha).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Count("blobs"), 0);
  EXPECT_EQ(Count("blob_chunks"), 0);
  EXPECT_EQ(Count("blob_uploads"), 0);
}

TEST_F(BlobStoreTest, SizeMismatchIsRejectedBothWays) {
  const std::string content = RandomBytes(1000, 3);
  const std::string sha = Sha256Hex(content);
  {
    ASSERT_OK_AND_ASSIGN(writer, blobs_->Begin(999, sha));
    const absl::Status appended = writer->Append(content);
    EXPECT_EQ(appended.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(appended.message().find("SIZE_MISMATCH"), std::string::npos);
  }
  {
    ASSERT_OK_AND_ASSIGN(writer, blobs_->Begin(1001, sha));
    ASSERT_OK(writer->Append(content));
    const absl::Status committed = writer->Commit();
    EXPECT_EQ(committed.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(committed.message().find("SIZE_MISMATCH"), std::string::npos);
  }
  EXPECT_EQ(Count("blobs"), 0);
  EXPECT_EQ(Count("blob_uploads"), 0);
}

TEST_F(BlobStoreTest, AbandonedWriterLeavesNothing) {
  const std::string content = RandomBytes(BlobStore::kBlobChunkBytes * 2, 4);
  {
    ASSERT_OK_AND_ASSIGN(writer,
                         blobs_->Begin(static_cast<int64_t>(content.size()), Sha256Hex(content)));
    ASSERT_OK(writer->Append(content.substr(0, BlobStore::kBlobChunkBytes + 1)));
  }
  EXPECT_EQ(Count("blob_chunks"), 0);
  EXPECT_EQ(Count("blob_uploads"), 0);
}

TEST_F(BlobStoreTest, SameContentIsStoredOnce) {
  const std::string content = RandomBytes(BlobStore::kBlobChunkBytes + 5, 5);
  const std::string sha = PutBlob(content);
  EXPECT_EQ(PutBlob(content), sha);
  // A duplicate with a wrong hash claim is still caught.
  ASSERT_OK_AND_ASSIGN(writer, blobs_->Begin(static_cast<int64_t>(content.size()), sha));
  std::string corrupted = content;
  corrupted[17] ^= 1;
  ASSERT_OK(writer->Append(corrupted));
  EXPECT_EQ(writer->Commit().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Count("blobs"), 1);
  EXPECT_EQ(Count("blob_chunks"), 2);
  EXPECT_EQ(Count("blob_uploads"), 1);
}

TEST_F(BlobStoreTest, EmptyBlob) {
  const std::string sha = PutBlob("");
  std::string read = "untouched";
  int chunks = 0;
  ASSERT_OK(blobs_->Read(sha, [&](std::string_view) { return ++chunks, true; }));
  EXPECT_EQ(chunks, 0);
  ASSERT_OK_AND_ASSIGN(size, blobs_->Size(sha));
  EXPECT_EQ(size, 0);
}

TEST_F(BlobStoreTest, ReadMissingAndEarlyStop) {
  EXPECT_EQ(blobs_->Read(Sha256Hex("absent"), [](std::string_view) { return true; }).code(),
            absl::StatusCode::kNotFound);
  const std::string sha = PutBlob(RandomBytes(BlobStore::kBlobChunkBytes * 2, 6));
  int chunks = 0;
  EXPECT_EQ(blobs_->Read(sha, [&](std::string_view) { return ++chunks < 1; }).code(),
            absl::StatusCode::kCancelled);
  EXPECT_EQ(chunks, 1);
}

TEST_F(BlobStoreTest, BeginRejectsMalformedSha) {
  EXPECT_EQ(blobs_->Begin(1, "ABC").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(BlobStoreTest, PutFileAndReadToFile) {
  const std::string content = RandomBytes(BlobStore::kBlobChunkBytes + 777, 7);
  const std::string in_path = ::testing::TempDir() + "/prune_blob_in.bin";
  const std::string out_path = ::testing::TempDir() + "/prune_blob_out.bin";
  std::ofstream(in_path, std::ios::binary) << content;
  ASSERT_OK_AND_ASSIGN(sha, blobs_->PutFile(in_path));
  EXPECT_EQ(sha, Sha256Hex(content));
  ASSERT_OK(blobs_->ReadToFile(sha, out_path));
  std::ifstream in(out_path, std::ios::binary);
  std::stringstream read;
  read << in.rdbuf();
  EXPECT_TRUE(read.str() == content);
  std::remove(in_path.c_str());
  std::remove(out_path.c_str());
}

TEST_F(BlobStoreTest, PurgeStaleUploadsRemovesOrphans) {
  const std::string content = RandomBytes(BlobStore::kBlobChunkBytes + 1, 8);
  PutBlob(content);
  {
    // Simulate a process that died mid-upload: staged rows, no writer.
    ASSERT_OK_AND_ASSIGN(conn, pool_->Acquire());
    ASSERT_OK(conn->Exec("INSERT INTO blob_uploads (expected_sha256, expected_size)"
                         " VALUES (repeat('a', 64), 10)")
                  .status());
  }
  ASSERT_OK_AND_ASSIGN(purged, blobs_->PurgeStaleUploads(absl::Now() + absl::Minutes(1)));
  EXPECT_EQ(purged, 1);
  ASSERT_OK_AND_ASSIGN(size, blobs_->Size(Sha256Hex(content)));
  EXPECT_EQ(size, static_cast<int64_t>(content.size()));
}

TEST_F(BlobStoreTest, SuspendedScopedUploadResumesFromItsWholeChunks) {
  const std::string content = RandomBytes(3 * BlobStore::kBlobChunkBytes + 777, 9);
  const std::string sha = Sha256Hex(content);
  const int64_t size = static_cast<int64_t>(content.size());
  const UploadScope scope{"default", "model", "net"};
  {
    ASSERT_OK_AND_ASSIGN(writer, blobs_->Begin(size, sha, scope));
    EXPECT_EQ(writer->staged_bytes(), 0);
    // 2.5 MiB arrive, then the stream breaks: the half chunk is not staged.
    ASSERT_OK(writer->Append(std::string_view(content).substr(0, 5 * (1 << 19))));
    writer->Suspend();
  }
  ASSERT_OK_AND_ASSIGN(staged, blobs_->FindStagedUpload("default", "model", sha, size));
  EXPECT_EQ(staged.committed_bytes, 2 * BlobStore::kBlobChunkBytes);
  EXPECT_EQ(staged.display_name, "net");
  // Other tenants, kinds and contents see nothing.
  EXPECT_EQ(blobs_->FindStagedUpload("other", "model", sha, size).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(blobs_->FindStagedUpload("default", "dataset", sha, size).status().code(),
            absl::StatusCode::kNotFound);

  ASSERT_OK_AND_ASSIGN(resumed, blobs_->Begin(size, sha, scope));
  ASSERT_EQ(resumed->staged_bytes(), 2 * BlobStore::kBlobChunkBytes);
  std::string observed;
  ASSERT_OK(resumed->ResumeStaged([&](std::string_view chunk) { observed.append(chunk); }));
  EXPECT_TRUE(observed == content.substr(0, observed.size()));
  EXPECT_EQ(resumed->bytes_written(), 2 * BlobStore::kBlobChunkBytes);
  ASSERT_OK(resumed->Append(std::string_view(content).substr(observed.size())));
  ASSERT_OK(resumed->Commit());

  std::string read;
  ASSERT_OK(blobs_->Read(sha, [&](std::string_view chunk) {
    read.append(chunk);
    return true;
  }));
  EXPECT_TRUE(read == content);
  // Committed: no longer resumable, and a new upload of it is only hashed.
  EXPECT_EQ(blobs_->FindStagedUpload("default", "model", sha, size).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(BlobStoreTest, StartOverStagesItsOwnCopyAndBadContentDropsOnlyThat) {
  const std::string content = RandomBytes(2 * BlobStore::kBlobChunkBytes + 5, 10);
  const std::string sha = Sha256Hex(content);
  const int64_t size = static_cast<int64_t>(content.size());
  const UploadScope scope{"default", "dataset", "d"};
  {
    ASSERT_OK_AND_ASSIGN(writer, blobs_->Begin(size, sha, scope));
    ASSERT_OK(writer->Append(std::string_view(content).substr(0, BlobStore::kBlobChunkBytes)));
    writer->Suspend();
  }
  {
    ASSERT_OK_AND_ASSIGN(writer, blobs_->Begin(size, sha, scope));
    ASSERT_EQ(writer->staged_bytes(), BlobStore::kBlobChunkBytes);
    ASSERT_OK(writer->StartOver());
    std::string wrong = content;
    wrong[7] ^= 1;
    ASSERT_OK(writer->Append(wrong));
    EXPECT_EQ(Count("blob_chunks"), 3);  // the staged chunk and 2 of ours
    EXPECT_EQ(writer->Commit().code(), absl::StatusCode::kInvalidArgument);
  }
  // The earlier staged upload is untouched and still resumable.
  ASSERT_OK_AND_ASSIGN(staged, blobs_->FindStagedUpload("default", "dataset", sha, size));
  EXPECT_EQ(staged.committed_bytes, BlobStore::kBlobChunkBytes);
  EXPECT_EQ(Count("blob_uploads"), 1);
}

// The load test's case: many streams of one file at once, each from byte 0.
TEST_F(BlobStoreTest, ConcurrentStreamsOfOneFileDoNotShareAStagedUpload) {
  const std::string content = RandomBytes(2 * BlobStore::kBlobChunkBytes + 9, 12);
  const std::string sha = Sha256Hex(content);
  const int64_t size = static_cast<int64_t>(content.size());
  const UploadScope scope{"default", "model", "m"};
  ASSERT_OK_AND_ASSIGN(first, blobs_->Begin(size, sha, scope));
  ASSERT_OK_AND_ASSIGN(second, blobs_->Begin(size, sha, scope));
  ASSERT_OK(first->Append(std::string_view(content).substr(0, BlobStore::kBlobChunkBytes)));
  ASSERT_OK(second->Append(std::string_view(content).substr(0, BlobStore::kBlobChunkBytes)));
  ASSERT_OK(first->Append(std::string_view(content).substr(BlobStore::kBlobChunkBytes)));
  ASSERT_OK(second->Append(std::string_view(content).substr(BlobStore::kBlobChunkBytes)));
  ASSERT_OK(first->Commit());
  ASSERT_OK(second->Commit());  // same content: shares the published blob
  ASSERT_OK_AND_ASSIGN(stored, blobs_->Size(sha));
  EXPECT_EQ(stored, size);
  EXPECT_EQ(Count("blob_uploads"), 1);  // the loser's copy is gone
}

TEST_F(BlobStoreTest, PurgeStaleUploadsCountsFromTheLastStagedChunk) {
  const std::string content = RandomBytes(2 * BlobStore::kBlobChunkBytes, 11);
  const std::string sha = Sha256Hex(content);
  {
    ASSERT_OK_AND_ASSIGN(writer, blobs_->Begin(static_cast<int64_t>(content.size()), sha,
                                               UploadScope{"default", "model", "m"}));
    ASSERT_OK(writer->Append(std::string_view(content).substr(0, BlobStore::kBlobChunkBytes)));
    writer->Suspend();
  }
  {
    ASSERT_OK_AND_ASSIGN(conn, pool_->Acquire());
    ASSERT_OK(
        conn->Exec("UPDATE blob_uploads SET created_at = now() - interval '2 days'").status());
  }
  // Begun long ago but written just now: kept.
  ASSERT_OK_AND_ASSIGN(kept, blobs_->PurgeStaleUploads(absl::Now() - absl::Hours(1)));
  EXPECT_EQ(kept, 0);
  ASSERT_OK_AND_ASSIGN(purged, blobs_->PurgeStaleUploads(absl::Now() + absl::Minutes(1)));
  EXPECT_EQ(purged, 1);
  EXPECT_EQ(Count("blob_chunks"), 0);
}

}  // namespace
}  // namespace prune::db::testing
