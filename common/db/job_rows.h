// SQL column lists and row decoders shared by MetadataStore and JobQueue, so
// both read jobs, models and datasets exactly the same way.
#pragma once

#include <string>

#include "common/db/connection.h"
#include "common/db/records.h"

namespace prune::db {

// `alias` is the table alias used in the query ("j", "m", ...).
std::string JobColumns(const std::string& alias);
std::string ModelColumns(const std::string& alias);
std::string DatasetColumns(const std::string& alias);
constexpr int kJobColumnCount = 18;
constexpr int kModelColumnCount = 7;
constexpr int kDatasetColumnCount = 6;

// Decode the columns starting at `first`.
JobRecord JobFromRow(const Result& result, int row, int first = 0);
ModelRecord ModelFromRow(const Result& result, int row, int first = 0);
DatasetRecord DatasetFromRow(const Result& result, int row, int first = 0);

// The jobs.spec jsonb text for these parameters, and back.
std::string EncodeJobSpec(const JobParameters& params);
JobParameters DecodeJobSpec(const std::string& json);
bool SameJobParameters(const JobParameters& a, const JobParameters& b);

// True for the canonical 8-4-4-4-12 hex form Postgres prints for uuid.
bool LooksLikeUuid(const std::string& text);

// Epoch microseconds of a timestamptz column, as a select-list expression.
std::string Micros(const std::string& column);

}  // namespace prune::db

namespace prune::db {

// Wraps an `UPDATE jobs ... SET last_event_seq = last_event_seq + 1 ...`
// (without RETURNING) so that the same statement appends the matching
// job_events row: the state change and its event commit together or not at
// all. `time_sql` and `message_sql` are SQL expressions over the updated row
// (alias `changed`). The statement returns one row (the job id) per change.
std::string WithJobEvent(const std::string& update_sql, const std::string& time_sql,
                         const std::string& message_sql);

}  // namespace prune::db
