#include "common/db/migrations.h"

#include <thread>
#include <vector>

#include "common/db/connection.h"
#include "common/db/db_test_fixture.h"

namespace prune::db::testing {
namespace {

class MigrationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto database = ScratchDatabase::Create();
    ASSERT_TRUE(database.ok()) << database.status().ToString();
    database_ = *std::move(database);
    auto pool = ConnectionPool::Create(database_->url(), 2);
    ASSERT_TRUE(pool.ok());
    pool_ = *std::move(pool);
  }
  void TearDown() override {
    pool_.reset();
    database_.reset();
  }
  int64_t AppliedCount() {
    auto conn = pool_->Acquire();
    EXPECT_TRUE(conn.ok());
    auto rows = (*conn)->Exec("SELECT count(*) FROM schema_migrations");
    EXPECT_TRUE(rows.ok()) << rows.status();
    return rows.ok() ? rows->Int64(0, 0) : -1;
  }
  std::unique_ptr<ScratchDatabase> database_;
  std::unique_ptr<ConnectionPool> pool_;
};

TEST_F(MigrationsTest, EmbeddedMigrationsAreNumberedInOrder) {
  const auto& migrations = EmbeddedMigrations();
  ASSERT_FALSE(migrations.empty());
  for (size_t i = 0; i < migrations.size(); ++i) {
    EXPECT_EQ(migrations[i].version, static_cast<int>(i + 1));
    EXPECT_FALSE(migrations[i].sql.empty());
  }
  EXPECT_EQ(migrations[0].name, "initial");
}

TEST_F(MigrationsTest, ApplyIsIdempotent) {
  ASSERT_OK(ApplyMigrations(pool_.get()));
  ASSERT_OK(ApplyMigrations(pool_.get()));
  EXPECT_EQ(AppliedCount(), static_cast<int64_t>(EmbeddedMigrations().size()));
}

TEST_F(MigrationsTest, ConcurrentCallersAreSafe) {
  std::vector<absl::Status> results(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      auto pool = ConnectionPool::Create(database_->url(), 1);
      results[i] = pool.ok() ? ApplyMigrations(pool->get()) : pool.status();
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& result : results) EXPECT_OK(result);
  EXPECT_EQ(AppliedCount(), static_cast<int64_t>(EmbeddedMigrations().size()));
}

TEST_F(MigrationsTest, FailedMigrationLeavesNoTrace) {
  std::vector<Migration> migrations = EmbeddedMigrations();
  migrations.push_back({999, "broken", "CREATE TABLE half_done (x int); SELECT no_such_column;"});
  EXPECT_FALSE(ApplyMigrations(pool_.get(), migrations).ok());
  EXPECT_EQ(AppliedCount(), static_cast<int64_t>(EmbeddedMigrations().size()));
  auto conn = pool_->Acquire();
  ASSERT_TRUE(conn.ok());
  auto table = (*conn)->Exec("SELECT to_regclass('half_done') IS NULL");
  ASSERT_TRUE(table.ok());
  EXPECT_TRUE(table->Bool(0, 0));
}

}  // namespace
}  // namespace prune::db::testing
