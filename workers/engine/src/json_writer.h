#ifndef PRUNE_ENGINE_JSON_WRITER_H_
#define PRUNE_ENGINE_JSON_WRITER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace prune::engine {

// Minimal streaming JSON writer (the engine may depend on LibTorch only).
// Commas are inserted automatically; non-finite numbers are written as null.
class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view value);
  JsonWriter& Number(double value);
  JsonWriter& Number(std::optional<double> value);
  JsonWriter& Int(int64_t value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();

  const std::string& str() const { return out_; }

 private:
  void BeforeValue();
  void Quote(std::string_view s);

  std::string out_;
  std::vector<bool> first_in_scope_;
  bool after_key_ = false;
};

}  // namespace prune::engine

#endif  // PRUNE_ENGINE_JSON_WRITER_H_
