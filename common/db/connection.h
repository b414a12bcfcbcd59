// RAII wrapper over one libpq connection. Only parameterised statements
// (PQexecParams) are offered for data, so no value is ever spliced into SQL;
// libpq errors become absl::Status codes that callers can act on (retry on
// UNAVAILABLE/ABORTED, report ALREADY_EXISTS, ...).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

struct pg_conn;
struct pg_result;

namespace prune::db {

// One statement parameter: text (the default, NULL when empty optional) or
// raw bytes for bytea columns (binary format avoids hex-encoding 1 MiB
// chunks).
class Param {
 public:
  Param(std::nullopt_t) {}  // NOLINT: NULL reads naturally at call sites.
  Param(std::string value) : value_(std::move(value)) {}                 // NOLINT
  Param(const char* value) : value_(std::string(value)) {}               // NOLINT
  Param(std::optional<std::string> value) : value_(std::move(value)) {}  // NOLINT
  Param(int32_t value) : value_(std::to_string(value)) {}                // NOLINT
  Param(int64_t value) : value_(std::to_string(value)) {}                // NOLINT
  Param(double value);                                                   // NOLINT
  static Param Bool(bool value) { return Param(value ? "true" : "false"); }
  static Param Binary(std::string_view bytes);
  // timestamptz text with microseconds, for `$n::timestamptz`.
  static Param Time(absl::Time time);
  // Whole microseconds, for `$n::bigint * interval '1 microsecond'`.
  static Param Micros(absl::Duration duration);

  const std::optional<std::string>& value() const { return value_; }
  bool binary() const { return binary_; }

 private:
  std::optional<std::string> value_;
  bool binary_ = false;
};

struct PGresultDeleter {
  void operator()(pg_result* result) const;
};

// A successful statement's rows. Values are text unless the statement asked
// for binary results.
class Result {
 public:
  explicit Result(std::unique_ptr<pg_result, PGresultDeleter> result);

  int rows() const;
  int64_t affected_rows() const;  // UPDATE/DELETE/INSERT row count
  std::string_view command_tag() const;
  bool IsNull(int row, int col) const;
  std::string_view View(int row, int col) const;
  std::string Text(int row, int col) const { return std::string(View(row, col)); }
  // Empty string when NULL.
  std::string TextOr(int row, int col, std::string fallback = "") const;
  int64_t Int64(int row, int col) const;
  double Double(int row, int col) const;
  bool Bool(int row, int col) const;
  // Column selected as `(extract(epoch from x) * 1000000)::bigint`.
  absl::Time TimeFromMicros(int row, int col) const;
  std::optional<absl::Time> OptionalTimeFromMicros(int row, int col) const;

 private:
  std::unique_ptr<pg_result, PGresultDeleter> result_;
};

struct PGconnDeleter {
  void operator()(pg_conn* conn) const;
};

class Connection {
 public:
  // UNAVAILABLE when the server cannot be reached within connect_timeout
  // (libpq rounds it up to 2 s). A connect_timeout in `url` wins.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const std::string& url,
                                                          absl::Duration connect_timeout);

  absl::StatusOr<Result> Exec(std::string_view sql, const std::vector<Param>& params = {});
  // Same, with every result column in binary format (bytea reads).
  absl::StatusOr<Result> ExecBinary(std::string_view sql, const std::vector<Param>& params);
  // Several statements without parameters (migration files only).
  absl::Status ExecScript(const std::string& sql);

  // True once the socket failed: the pool drops such connections.
  bool IsBroken() const;
  // True when no transaction is open or in progress.
  bool IsIdle() const;
  int Socket() const;
  // Reads pending input; returns the number of NOTIFY messages received.
  absl::StatusOr<int> ConsumeNotifications();

 private:
  explicit Connection(std::unique_ptr<pg_conn, PGconnDeleter> conn);
  absl::StatusOr<Result> ExecImpl(std::string_view sql, const std::vector<Param>& params,
                                  int result_format);

  std::unique_ptr<pg_conn, PGconnDeleter> conn_;
};

// BEGIN on creation, ROLLBACK on destruction unless Commit() succeeded.
class Transaction {
 public:
  static absl::StatusOr<Transaction> Begin(Connection* conn);
  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  ~Transaction();

  absl::Status Commit();
  Connection* conn() const { return conn_; }

 private:
  explicit Transaction(Connection* conn) : conn_(conn) {}
  Connection* conn_;
  bool open_ = true;
};

// Maps a libpq SQLSTATE (e.g. "23505") to a status code.
absl::StatusCode StatusCodeForSqlState(std::string_view sqlstate);

}  // namespace prune::db
