// gtest fixture: each test gets its own migrated database, a pool, the
// stores, and two tenants ("acme", "globex") with one uploaded blob.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "common/db/blob_store.h"
#include "common/db/connection_pool.h"
#include "common/db/job_queue.h"
#include "common/db/metadata_store.h"
#include "common/db/migrations.h"
#include "common/db/test_database.h"
#include "gtest/gtest.h"

#define ASSERT_OK(expr)                              \
  do {                                               \
    const absl::Status _status = (expr);             \
    ASSERT_TRUE(_status.ok()) << _status.ToString(); \
  } while (0)
#define EXPECT_OK(expr)                              \
  do {                                               \
    const absl::Status _status = (expr);             \
    EXPECT_TRUE(_status.ok()) << _status.ToString(); \
  } while (0)

namespace prune::db::testing {

// Assigns the value of a StatusOr or fails the test.
#define ASSERT_OK_AND_ASSIGN(lhs, expr)                       \
  auto lhs##_or = (expr);                                     \
  ASSERT_TRUE(lhs##_or.ok()) << lhs##_or.status().ToString(); \
  auto lhs = *std::move(lhs##_or)

class DbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto database = ScratchDatabase::Create();
    ASSERT_TRUE(database.ok()) << database.status().ToString();
    database_ = *std::move(database);
    auto pool = ConnectionPool::Create(database_->url(), 8);
    ASSERT_TRUE(pool.ok()) << pool.status().ToString();
    pool_ = *std::move(pool);
    ASSERT_OK(ApplyMigrations(pool_.get()));
    blobs_ = std::make_unique<BlobStore>(pool_.get());
    store_ = std::make_unique<MetadataStore>(pool_.get());
    queue_ = std::make_unique<JobQueue>(pool_.get());
    ASSERT_OK(store_->EnsureTenant("acme"));
    ASSERT_OK(store_->EnsureTenant("globex"));
  }

  void TearDown() override {
    queue_.reset();
    store_.reset();
    blobs_.reset();
    pool_.reset();
    database_.reset();
  }

  // Stores `content` as a blob and returns its sha256.
  std::string PutBlob(const std::string& content);

  // A model (and blob) named `name` in `tenant`.
  ModelRecord MakeModel(const std::string& tenant, const std::string& name);

  std::unique_ptr<ScratchDatabase> database_;
  std::unique_ptr<ConnectionPool> pool_;
  std::unique_ptr<BlobStore> blobs_;
  std::unique_ptr<MetadataStore> store_;
  std::unique_ptr<JobQueue> queue_;
};

// sha256 of `data` as lower-case hex.
std::string Sha256Hex(const std::string& data);

}  // namespace prune::db::testing
