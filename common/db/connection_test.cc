#include "common/db/connection.h"

#include "absl/time/clock.h"
#include "common/db/db_test_fixture.h"

namespace prune::db::testing {
namespace {

using ConnectionTest = DbTest;

TEST_F(ConnectionTest, ParametersRoundTripIncludingNullAndBytes) {
  ASSERT_OK_AND_ASSIGN(conn, pool_->Acquire());
  const std::string bytes("a\0b'\"\\", 6);
  ASSERT_OK_AND_ASSIGN(
      row, conn->Exec("SELECT $1::text, $2::text IS NULL, $3::bigint + 1, octet_length($4::bytea)",
                      {"it's", std::nullopt, int64_t{41}, Param::Binary(bytes)}));
  EXPECT_EQ(row.Text(0, 0), "it's");
  EXPECT_TRUE(row.Bool(0, 1));
  EXPECT_EQ(row.Int64(0, 2), 42);
  EXPECT_EQ(row.Int64(0, 3), 6);
}

TEST_F(ConnectionTest, TimeParameterKeepsMicroseconds) {
  ASSERT_OK_AND_ASSIGN(conn, pool_->Acquire());
  const absl::Time t = absl::FromUnixMicros(1700000000123456);
  ASSERT_OK_AND_ASSIGN(
      row,
      conn->Exec(absl::StrCat("SELECT ", "(extract(epoch FROM $1::timestamptz) * 1000000)::bigint"),
                 {Param::Time(t)}));
  EXPECT_EQ(row.TimeFromMicros(0, 0), t);
}

TEST_F(ConnectionTest, SqlStatesMapToStatusCodes) {
  ASSERT_OK_AND_ASSIGN(conn, pool_->Acquire());
  EXPECT_EQ(conn->Exec("INSERT INTO tenants (name) VALUES ('acme')").status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(conn->Exec("SELECT 'x'::uuid").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(conn->Exec("SELEC 1").status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(StatusCodeForSqlState("40001"), absl::StatusCode::kAborted);
  EXPECT_EQ(StatusCodeForSqlState("08006"), absl::StatusCode::kUnavailable);
}

TEST_F(ConnectionTest, TransactionRollsBackUnlessCommitted) {
  ASSERT_OK_AND_ASSIGN(conn, pool_->Acquire());
  {
    ASSERT_OK_AND_ASSIGN(txn, Transaction::Begin(conn.get()));
    ASSERT_OK(conn->Exec("INSERT INTO tenants (name) VALUES ('rolled_back')").status());
  }
  {
    ASSERT_OK_AND_ASSIGN(txn, Transaction::Begin(conn.get()));
    ASSERT_OK(conn->Exec("INSERT INTO tenants (name) VALUES ('kept')").status());
    ASSERT_OK(txn.Commit());
  }
  ASSERT_OK_AND_ASSIGN(
      rows, conn->Exec("SELECT name FROM tenants WHERE name IN ('rolled_back', 'kept')"));
  ASSERT_EQ(rows.rows(), 1);
  EXPECT_EQ(rows.Text(0, 0), "kept");
}

TEST_F(ConnectionTest, CommitOfFailedTransactionIsAborted) {
  ASSERT_OK_AND_ASSIGN(conn, pool_->Acquire());
  ASSERT_OK_AND_ASSIGN(txn, Transaction::Begin(conn.get()));
  EXPECT_FALSE(conn->Exec("SELECT 1/0").ok());
  EXPECT_EQ(txn.Commit().code(), absl::StatusCode::kAborted);
}

TEST(ConnectionOpenTest, UnreachableDatabaseFailsFastWithUnavailable) {
  const absl::Time start = absl::Now();
  auto pool = ConnectionPool::Create("postgresql://postgres@127.0.0.1:1/none", 2);
  ASSERT_TRUE(pool.ok());
  auto conn = (*pool)->Acquire(absl::Seconds(2));
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST_F(ConnectionTest, PoolDropsBrokenConnectionAndReconnects) {
  std::string pid;
  {
    ASSERT_OK_AND_ASSIGN(conn, pool_->Acquire());
    ASSERT_OK_AND_ASSIGN(row, conn->Exec("SELECT pg_backend_pid()"));
    pid = row.Text(0, 0);
  }
  {
    // Kill the pooled backend from another session, as a server restart would.
    ASSERT_OK_AND_ASSIGN(killer, Connection::Open(database_->url(), absl::Seconds(5)));
    ASSERT_OK(killer->Exec("SELECT pg_terminate_backend($1::integer)", {pid}).status());
  }
  {
    ASSERT_OK_AND_ASSIGN(conn, pool_->Acquire());
    // The dead connection may be handed out once; it fails as UNAVAILABLE...
    auto result = conn->Exec("SELECT 1");
    if (!result.ok()) {
      EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
    }
  }
  // ...and is then dropped, so the next lease works.
  ASSERT_OK_AND_ASSIGN(conn, pool_->Acquire());
  EXPECT_OK(conn->Exec("SELECT 1").status());
}

TEST_F(ConnectionTest, AcquireTimesOutWhenPoolIsExhausted) {
  ASSERT_OK_AND_ASSIGN(small, ConnectionPool::Create(database_->url(), 1));
  ASSERT_OK_AND_ASSIGN(held, small->Acquire());
  auto second = small->Acquire(absl::Milliseconds(200));
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace prune::db::testing
