#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include <google/protobuf/message.h>
#include <google/protobuf/timestamp.pb.h>

namespace prune::client {

// A text table whose columns are padded to their widest cell.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : rows_{std::move(header)} {}
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void Print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// "key:  value" lines with the values aligned; empty values are skipped.
void PrintFields(std::ostream& out, const std::vector<std::pair<std::string, std::string>>& fields);

// "2024-05-01 12:34:56Z" (UTC), or "-" when unset.
std::string FormatTime(const google::protobuf::Timestamp& time);

// "812 B", "1.5 KiB", "2.50 MiB".
std::string FormatBytes(int64_t bytes);

// "12.3M", "4.56K", "999".
std::string FormatCount(double count);

// "42%".
std::string FormatPercent(double fraction);

// One-line JSON with proto field names and defaults included.
std::string ToJson(const google::protobuf::Message& message);

}  // namespace prune::client
