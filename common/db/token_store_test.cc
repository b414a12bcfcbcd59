#include "common/db/token_store.h"

#include <string>

#include "absl/strings/match.h"
#include "common/db/connection.h"
#include "common/db/db_test_fixture.h"

namespace prune::db::testing {
namespace {

using TokenStoreTest = DbTest;

TEST_F(TokenStoreTest, IssuedTokenLooksUpItsTenant) {
  TokenStore tokens(pool_.get());
  ASSERT_OK_AND_ASSIGN(issued, tokens.IssueToken("acme", "ci"));
  EXPECT_TRUE(absl::StartsWith(issued.plaintext, "prn_")) << issued.plaintext;
  EXPECT_EQ(issued.plaintext.size(), 4u + 64u);
  EXPECT_EQ(issued.record.tenant, "acme");
  EXPECT_EQ(issued.record.name, "ci");
  EXPECT_FALSE(issued.record.revoked_at.has_value());
  ASSERT_OK_AND_ASSIGN(hash, TokenHash(issued.plaintext));
  ASSERT_OK_AND_ASSIGN(tenant, tokens.TenantForToken(hash));
  EXPECT_EQ(tenant, "acme");
  ASSERT_OK_AND_ASSIGN(record, tokens.LookupToken(hash));
  EXPECT_EQ(record.id, issued.record.id);

  // Another secret, a malformed token and the hash of the plaintext itself
  // authenticate nothing.
  ASSERT_OK_AND_ASSIGN(other, TokenHash("prn_" + std::string(64, 'a')));
  EXPECT_EQ(tokens.TenantForToken(other).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(TokenHash("prn_short").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(TokenHash(issued.plaintext.substr(4)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(tokens.TenantForToken(Sha256Hex(issued.plaintext)).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(TokenStoreTest, OnlyTheHashIsStored) {
  TokenStore tokens(pool_.get());
  ASSERT_OK_AND_ASSIGN(issued, tokens.IssueToken("acme", "ci"));
  auto conn = pool_->Acquire();
  ASSERT_TRUE(conn.ok());
  auto rows = (*conn)->Exec("SELECT t::text FROM tokens t");
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->rows(), 1);
  EXPECT_EQ(rows->Text(0, 0).find(issued.plaintext.substr(4)), std::string::npos);
}

TEST_F(TokenStoreTest, RevokedTokenNoLongerAuthenticates) {
  TokenStore tokens(pool_.get());
  ASSERT_OK_AND_ASSIGN(issued, tokens.IssueToken("acme", "ci"));
  ASSERT_OK_AND_ASSIGN(hash, TokenHash(issued.plaintext));
  ASSERT_OK_AND_ASSIGN(live, tokens.AnyLiveToken());
  EXPECT_TRUE(live);
  ASSERT_OK_AND_ASSIGN(revoked, tokens.RevokeToken(issued.record.id));
  ASSERT_TRUE(revoked.revoked_at.has_value());
  EXPECT_EQ(tokens.TenantForToken(hash).status().code(), absl::StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(record, tokens.LookupToken(hash));
  EXPECT_TRUE(record.revoked_at.has_value());
  // Idempotent: the first revocation time stays.
  ASSERT_OK_AND_ASSIGN(again, tokens.RevokeToken(issued.record.id));
  EXPECT_EQ(again.revoked_at, revoked.revoked_at);
  EXPECT_EQ(tokens.RevokeToken("not-a-uuid").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(tokens.RevokeToken("00000000-0000-0000-0000-000000000000").status().code(),
            absl::StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(still_live, tokens.AnyLiveToken());
  EXPECT_FALSE(still_live);
  // The name can be reused once the old token is revoked.
  EXPECT_OK(tokens.IssueToken("acme", "ci").status());
}

TEST_F(TokenStoreTest, ListShowsTheTenantsTokensWithoutSecrets) {
  TokenStore tokens(pool_.get());
  ASSERT_OK_AND_ASSIGN(first, tokens.IssueToken("acme", "first"));
  ASSERT_OK_AND_ASSIGN(second, tokens.IssueToken("acme", "second"));
  ASSERT_OK(tokens.IssueToken("globex", "theirs").status());
  ASSERT_OK(tokens.RevokeToken(first.record.id).status());
  ASSERT_OK_AND_ASSIGN(listed, tokens.ListTokens("acme"));
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].id, first.record.id);
  EXPECT_TRUE(listed[0].revoked_at.has_value());
  EXPECT_EQ(listed[1].id, second.record.id);
  EXPECT_FALSE(listed[1].revoked_at.has_value());
  EXPECT_EQ(tokens.ListTokens("nobody").status().code(), absl::StatusCode::kNotFound);
  // TokenRecord has no field that could hold a secret; duplicates are refused.
  EXPECT_EQ(tokens.IssueToken("acme", "second").status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(tokens.IssueToken("nobody", "x").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(TokenStoreTest, CreateTenantValidatesAndRefusesDuplicates) {
  TokenStore tokens(pool_.get());
  ASSERT_OK(tokens.CreateTenant("initech"));
  EXPECT_EQ(tokens.CreateTenant("initech").code(), absl::StatusCode::kAlreadyExists);
  for (const char* bad : {"", "Upper", "-dash", "a/b", "with space"}) {
    EXPECT_EQ(tokens.CreateTenant(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  ASSERT_OK_AND_ASSIGN(names, tokens.ListTenants());
  EXPECT_EQ(names, (std::vector<std::string>{"acme", "globex", "initech"}));
}

TEST_F(TokenStoreTest, QuotasHaveDefaultsAndCanBeSetOrCleared) {
  TokenStore tokens(pool_.get());
  ASSERT_OK_AND_ASSIGN(defaults, tokens.GetQuota("acme"));
  EXPECT_EQ(defaults.max_queued_jobs, 1000);
  EXPECT_FALSE(defaults.max_running_jobs.has_value());
  EXPECT_EQ(defaults.max_stored_bytes, int64_t{100} << 30);
  QuotaUpdate update;
  update.max_queued_jobs = std::optional<int64_t>(2);
  update.max_stored_bytes = std::optional<int64_t>();  // unlimited
  ASSERT_OK_AND_ASSIGN(set, tokens.SetQuota("acme", update));
  EXPECT_EQ(set.max_queued_jobs, 2);
  EXPECT_FALSE(set.max_running_jobs.has_value());  // unchanged
  EXPECT_FALSE(set.max_stored_bytes.has_value());
  EXPECT_EQ(tokens.SetQuota("nobody", update).status().code(), absl::StatusCode::kNotFound);
  update.max_queued_jobs = std::optional<int64_t>(-1);
  EXPECT_EQ(tokens.SetQuota("acme", update).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(TokenStoreTest, QueuedJobQuotaRejectsCreateJobButNotARepeat) {
  TokenStore tokens(pool_.get());
  QuotaUpdate update;
  update.max_queued_jobs = std::optional<int64_t>(2);
  ASSERT_OK(tokens.SetQuota("acme", update).status());
  const ModelRecord model = MakeModel("acme", "m");
  JobParameters params;
  params.model_id = model.id;
  ASSERT_OK(store_->CreateJob("acme", params, "r1").status());
  ASSERT_OK(store_->CreateJob("acme", params, "").status());
  const auto third = store_->CreateJob("acme", params, "");
  EXPECT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(third.status().message(), "QUOTA_QUEUED_JOBS: 2 queued jobs (limit 2)");
  EXPECT_OK(store_->CreateJob("acme", params, "r1").status());  // the first job again
  // Other tenants are not affected.
  const ModelRecord theirs = MakeModel("globex", "m");
  params.model_id = theirs.id;
  EXPECT_OK(store_->CreateJob("globex", params, "").status());
}

TEST_F(TokenStoreTest, RunningJobQuotaKeepsJobsQueued) {
  TokenStore tokens(pool_.get());
  QuotaUpdate update;
  update.max_running_jobs = std::optional<int64_t>(1);
  ASSERT_OK(tokens.SetQuota("acme", update).status());
  const ModelRecord model = MakeModel("acme", "m");
  JobParameters params;
  params.model_id = model.id;
  ASSERT_OK(store_->CreateJob("acme", params, "").status());
  ASSERT_OK(store_->CreateJob("acme", params, "").status());
  const ModelRecord theirs = MakeModel("globex", "m");
  params.model_id = theirs.id;
  params.priority = 500;  // after both of acme's
  ASSERT_OK_AND_ASSIGN(globex_job, store_->CreateJob("globex", params, ""));
  const absl::Time now = absl::Now();
  ASSERT_OK_AND_ASSIGN(first, queue_->Claim("w1", absl::Seconds(60), now));
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->job.tenant, "acme");
  // acme is at its limit: the next claim skips acme's second job.
  ASSERT_OK_AND_ASSIGN(second, queue_->Claim("w2", absl::Seconds(60), now));
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->job.id, globex_job.id);
  ASSERT_OK_AND_ASSIGN(none, queue_->Claim("w3", absl::Seconds(60), now));
  EXPECT_FALSE(none.has_value());
}

TEST_F(TokenStoreTest, StorageQuotaCountsLiveModelsAndDatasets) {
  TokenStore tokens(pool_.get());
  const ModelRecord model = MakeModel("acme", "m");  // some bytes
  ASSERT_OK_AND_ASSIGN(stored, store_->StoredBytes("acme"));
  EXPECT_EQ(stored, model.size_bytes);
  ASSERT_OK_AND_ASSIGN(none, store_->StoredBytes("globex"));
  EXPECT_EQ(none, 0);
  QuotaUpdate update;
  update.max_stored_bytes = std::optional<int64_t>(stored + 10);
  ASSERT_OK(tokens.SetQuota("acme", update).status());
  EXPECT_OK(store_->CheckStorageQuota("acme", 10));
  const absl::Status over = store_->CheckStorageQuota("acme", 11);
  EXPECT_EQ(over.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(absl::StartsWith(over.message(), "QUOTA_STORED_BYTES: ")) << over.message();
  EXPECT_NE(over.message().find(std::to_string(stored) + " bytes stored"), std::string::npos)
      << over.message();
  ASSERT_OK(store_->DeleteModel("acme", model.id));
  EXPECT_OK(store_->CheckStorageQuota("acme", 11));
}

// A broken upload's staged chunks count until resumed or purged, except for
// a resume of that same file, which counts whole as incoming.
TEST_F(TokenStoreTest, StorageQuotaCountsStagedUploadsButNotTheOneBeingResumed) {
  TokenStore tokens(pool_.get());
  const std::string chunk(BlobStore::kBlobChunkBytes, 'x');
  const std::string sha(64, 'a');  // never verified: the upload is not committed
  {
    ASSERT_OK_AND_ASSIGN(writer, blobs_->Begin(3 * BlobStore::kBlobChunkBytes, sha,
                                               UploadScope{"acme", "dataset", "big"}));
    ASSERT_OK(writer->Append(chunk + chunk));
    writer->Suspend();
  }
  ASSERT_OK_AND_ASSIGN(stored, store_->StoredBytes("acme"));
  EXPECT_EQ(stored, 2 * BlobStore::kBlobChunkBytes);
  ASSERT_OK_AND_ASSIGN(other_tenant, store_->StoredBytes("globex"));
  EXPECT_EQ(other_tenant, 0);
  QuotaUpdate update;
  update.max_stored_bytes = std::optional<int64_t>(3 * BlobStore::kBlobChunkBytes);
  ASSERT_OK(tokens.SetQuota("acme", update).status());
  EXPECT_EQ(store_->CheckStorageQuota("acme", 2 * BlobStore::kBlobChunkBytes).code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_OK(store_->CheckStorageQuota("acme", 3 * BlobStore::kBlobChunkBytes, sha));
}

}  // namespace
}  // namespace prune::db::testing
