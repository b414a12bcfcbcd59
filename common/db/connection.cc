#include "common/db/connection.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace prune::db {

Param::Param(double value) {
  // %.17g round-trips every double (absl::StrCat keeps only 6 digits).
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.17g", value);
  value_ = buffer;
}

Param Param::Binary(std::string_view bytes) {
  Param param{std::string(bytes)};
  param.binary_ = true;
  return param;
}

Param Param::Time(absl::Time time) {
  return Param(absl::FormatTime("%Y-%m-%dT%H:%M:%E6S+00:00", time, absl::UTCTimeZone()));
}

Param Param::Micros(absl::Duration duration) {
  return Param(static_cast<int64_t>(absl::ToInt64Microseconds(duration)));
}

void PGresultDeleter::operator()(pg_result* result) const { PQclear(result); }
void PGconnDeleter::operator()(pg_conn* conn) const { PQfinish(conn); }

Result::Result(std::unique_ptr<pg_result, PGresultDeleter> result) : result_(std::move(result)) {}

int Result::rows() const { return PQntuples(result_.get()); }

int64_t Result::affected_rows() const {
  int64_t count = 0;
  return absl::SimpleAtoi(PQcmdTuples(result_.get()), &count) ? count : 0;
}

std::string_view Result::command_tag() const { return PQcmdStatus(result_.get()); }

bool Result::IsNull(int row, int col) const { return PQgetisnull(result_.get(), row, col) != 0; }

std::string_view Result::View(int row, int col) const {
  return std::string_view(PQgetvalue(result_.get(), row, col),
                          PQgetlength(result_.get(), row, col));
}

std::string Result::TextOr(int row, int col, std::string fallback) const {
  return IsNull(row, col) ? fallback : Text(row, col);
}

int64_t Result::Int64(int row, int col) const {
  int64_t value = 0;
  const std::string_view text = View(row, col);
  (void)absl::SimpleAtoi(absl::string_view(text.data(), text.size()), &value);
  return value;
}

double Result::Double(int row, int col) const {
  double value = 0;
  const std::string_view text = View(row, col);
  (void)absl::SimpleAtod(absl::string_view(text.data(), text.size()), &value);
  return value;
}

bool Result::Bool(int row, int col) const { return View(row, col) == "t"; }

absl::Time Result::TimeFromMicros(int row, int col) const {
  return absl::FromUnixMicros(Int64(row, col));
}

std::optional<absl::Time> Result::OptionalTimeFromMicros(int row, int col) const {
  if (IsNull(row, col)) return std::nullopt;
  return TimeFromMicros(row, col);
}

absl::StatusCode StatusCodeForSqlState(std::string_view sqlstate) {
  if (sqlstate == "23505") return absl::StatusCode::kAlreadyExists;
  if (sqlstate == "23503") return absl::StatusCode::kFailedPrecondition;  // foreign key
  if (sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "55P03") {
    return absl::StatusCode::kAborted;  // serialization, deadlock, lock not available
  }
  if (sqlstate == "57014") return absl::StatusCode::kDeadlineExceeded;  // statement timeout
  if (sqlstate.size() == 5) {
    std::string_view cls = sqlstate.substr(0, 2);
    if (cls == "08" || cls == "57") return absl::StatusCode::kUnavailable;  // connection, shutdown
    if (cls == "53") return absl::StatusCode::kResourceExhausted;
    if (cls == "22" || cls == "23") return absl::StatusCode::kInvalidArgument;  // data, checks
  }
  return absl::StatusCode::kInternal;
}

namespace {

std::string TrimmedMessage(const char* message) {
  std::string text = message ? message : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

Connection::Connection(std::unique_ptr<pg_conn, PGconnDeleter> conn) : conn_(std::move(conn)) {}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(const std::string& url,
                                                             absl::Duration connect_timeout) {
  // Keywords before dbname are defaults; the expanded URL overrides them.
  const std::string timeout = std::to_string(
      std::max<int64_t>(1, absl::ToInt64Seconds(absl::Ceil(connect_timeout, absl::Seconds(1)))));
  const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {timeout.c_str(), "prune-service", url.c_str(), nullptr};
  std::unique_ptr<pg_conn, PGconnDeleter> conn(
      PQconnectdbParams(keys, values, /*expand_dbname=*/1));
  if (conn == nullptr) return absl::ResourceExhaustedError("libpq: out of memory");
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return absl::UnavailableError(
        absl::StrCat("cannot connect to database: ", TrimmedMessage(PQerrorMessage(conn.get()))));
  }
  // Server NOTICEs ("already exists, skipping") are expected during
  // migrations; libpq would print them raw to stderr and break JSON logs.
  PQsetNoticeProcessor(conn.get(), [](void*, const char*) {}, nullptr);
  return std::unique_ptr<Connection>(new Connection(std::move(conn)));
}

absl::StatusOr<Result> Connection::Exec(std::string_view sql, const std::vector<Param>& params) {
  return ExecImpl(sql, params, /*result_format=*/0);
}

absl::StatusOr<Result> Connection::ExecBinary(std::string_view sql,
                                              const std::vector<Param>& params) {
  return ExecImpl(sql, params, /*result_format=*/1);
}

absl::StatusOr<Result> Connection::ExecImpl(std::string_view sql, const std::vector<Param>& params,
                                            int result_format) {
  std::vector<const char*> values(params.size());
  std::vector<int> lengths(params.size());
  std::vector<int> formats(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    const auto& value = params[i].value();
    values[i] = value ? value->data() : nullptr;
    lengths[i] = value ? static_cast<int>(value->size()) : 0;
    formats[i] = params[i].binary() ? 1 : 0;
  }
  const std::string statement(sql);
  std::unique_ptr<pg_result, PGresultDeleter> result(PQexecParams(
      conn_.get(), statement.c_str(), static_cast<int>(params.size()),
      /*paramTypes=*/nullptr, values.data(), lengths.data(), formats.data(), result_format));
  if (result == nullptr || IsBroken()) {
    return absl::UnavailableError(
        absl::StrCat("database connection lost: ", TrimmedMessage(PQerrorMessage(conn_.get()))));
  }
  const ExecStatusType status = PQresultStatus(result.get());
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return Result(std::move(result));
  const char* sqlstate = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
  const char* message = PQresultErrorField(result.get(), PG_DIAG_MESSAGE_PRIMARY);
  const char* detail = PQresultErrorField(result.get(), PG_DIAG_MESSAGE_DETAIL);
  return absl::Status(
      StatusCodeForSqlState(sqlstate ? sqlstate : ""),
      absl::StrCat(message ? message : TrimmedMessage(PQresultErrorMessage(result.get())),
                   detail ? absl::StrCat(" (", detail, ")") : "", " [SQLSTATE ",
                   sqlstate ? sqlstate : "?", "]"));
}

absl::Status Connection::ExecScript(const std::string& sql) {
  std::unique_ptr<pg_result, PGresultDeleter> result(PQexec(conn_.get(), sql.c_str()));
  if (result == nullptr || IsBroken()) {
    return absl::UnavailableError(
        absl::StrCat("database connection lost: ", TrimmedMessage(PQerrorMessage(conn_.get()))));
  }
  const ExecStatusType status = PQresultStatus(result.get());
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return absl::OkStatus();
  const char* sqlstate = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
  return absl::Status(StatusCodeForSqlState(sqlstate ? sqlstate : ""),
                      TrimmedMessage(PQresultErrorMessage(result.get())));
}

bool Connection::IsBroken() const { return PQstatus(conn_.get()) != CONNECTION_OK; }

bool Connection::IsIdle() const { return PQtransactionStatus(conn_.get()) == PQTRANS_IDLE; }

int Connection::Socket() const { return PQsocket(conn_.get()); }

absl::StatusOr<int> Connection::ConsumeNotifications() {
  if (PQconsumeInput(conn_.get()) == 0 || IsBroken()) {
    return absl::UnavailableError(
        absl::StrCat("database connection lost: ", TrimmedMessage(PQerrorMessage(conn_.get()))));
  }
  int count = 0;
  while (PGnotify* notify = PQnotifies(conn_.get())) {
    PQfreemem(notify);
    ++count;
  }
  return count;
}

absl::StatusOr<Transaction> Transaction::Begin(Connection* conn) {
  absl::StatusOr<Result> begun = conn->Exec("BEGIN");
  if (!begun.ok()) return begun.status();
  return Transaction(conn);
}

Transaction::Transaction(Transaction&& other) noexcept : conn_(other.conn_), open_(other.open_) {
  other.open_ = false;
}

Transaction::~Transaction() {
  // A failed ROLLBACK leaves the connection non-idle or broken; the pool
  // then discards it instead of reusing a half-open transaction.
  if (open_) (void)conn_->Exec("ROLLBACK");
}

absl::Status Transaction::Commit() {
  open_ = false;
  absl::StatusOr<Result> committed = conn_->Exec("COMMIT");
  if (!committed.ok()) return committed.status();
  // COMMIT of a transaction that already failed reports success but rolls back.
  if (committed->command_tag() == "ROLLBACK") {
    return absl::AbortedError("transaction was rolled back by the server");
  }
  return absl::OkStatus();
}

}  // namespace prune::db
