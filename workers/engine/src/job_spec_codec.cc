#include "prune/engine/job_spec_codec.h"

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <type_traits>

namespace prune::engine {
namespace {

// Every JobSpec field that crosses the process boundary, once. A test
// (job_spec_codec_test.cc) reads job.h and fails when a JobSpec member is
// neither here nor in JobSpecFieldsNotEncoded(), so a new option cannot be
// silently dropped on its way to the sandboxed engine.
#define PRUNE_JOB_SPEC_FIELDS(X) \
  X(model_path)                  \
  X(dataset_path)                \
  X(output_model_path)           \
  X(input_shape)                 \
  X(strategy)                    \
  X(target_kind)                 \
  X(target_ratio)                \
  X(finetune_epochs)             \
  X(finetune_lr)                 \
  X(batch_size)                  \
  X(calibration_batches)         \
  X(seed)                        \
  X(device)                      \
  X(latency_batch_size)          \
  X(latency_runs)                \
  X(optimized_latency)           \
  X(latency_table_cache_dir)     \
  X(latency_table_grid)          \
  X(importance)                  \
  X(group_reduction)             \
  X(normalization)               \
  X(round_to)                    \
  X(min_channels)                \
  X(taylor_batches)              \
  X(kd_alpha)                    \
  X(kd_temperature)              \
  X(search_max_evaluations)      \
  X(search_seconds)              \
  X(accuracy_floor)              \
  X(amc_episodes)                \
  X(amc_warmup_episodes)         \
  X(evo_generations)             \
  X(evo_population)              \
  X(search_eval_samples)         \
  X(search_calibration_batches)  \
  X(autoslim_step)               \
  X(metapruning_mode)            \
  X(pruningnet_steps)            \
  X(search_checkpoint_every)

std::string Escape(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '%' || c == '\n' || c == '\r' || c == '=') {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", static_cast<unsigned char>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

bool Unescape(const std::string& text, std::string* out) {
  out->clear();
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      *out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return false;
    const std::string hex = text.substr(i + 1, 2);
    char* end = nullptr;
    const long value = std::strtol(hex.c_str(), &end, 16);
    if (hex.size() != 2 || end != hex.c_str() + 2) return false;
    *out += static_cast<char>(value);
    i += 2;
  }
  return true;
}

std::string Format(const std::string& value) { return Escape(value); }
std::string Format(bool value) { return value ? "1" : "0"; }
std::string Format(int value) { return std::to_string(value); }
std::string Format(uint64_t value) { return std::to_string(value); }
std::string Format(double value) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.17g", value);
  return buf;
}
std::string Format(const std::vector<int64_t>& values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(values[i]);
  }
  return out;
}

bool Parse(const std::string& text, std::string* value) { return Unescape(text, value); }
bool Parse(const std::string& text, bool* value) {
  if (text != "0" && text != "1") return false;
  *value = text == "1";
  return true;
}
bool ParseInteger(const std::string& text, long long* value) {
  if (text.empty()) return false;
  errno = 0;
  char* end = nullptr;
  *value = std::strtoll(text.c_str(), &end, 10);
  return errno == 0 && end == text.c_str() + text.size();
}
bool Parse(const std::string& text, int* value) {
  long long parsed = 0;
  if (!ParseInteger(text, &parsed) || parsed < INT32_MIN || parsed > INT32_MAX) return false;
  *value = static_cast<int>(parsed);
  return true;
}
bool Parse(const std::string& text, uint64_t* value) {
  if (text.empty() || text[0] == '-') return false;
  errno = 0;
  char* end = nullptr;
  *value = std::strtoull(text.c_str(), &end, 10);
  return errno == 0 && end == text.c_str() + text.size();
}
bool Parse(const std::string& text, double* value) {
  if (text.empty()) return false;
  char* end = nullptr;
  *value = std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size();
}
bool Parse(const std::string& text, std::vector<int64_t>* values) {
  values->clear();
  if (text.empty()) return true;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    long long parsed = 0;
    if (!ParseInteger(item, &parsed)) return false;
    values->push_back(parsed);
  }
  return true;
}

}  // namespace

std::string EncodeJobSpec(const JobSpec& spec) {
  std::string text;
#define PRUNE_ENCODE_FIELD(name) text += #name "=" + Format(spec.name) + "\n";
  PRUNE_JOB_SPEC_FIELDS(PRUNE_ENCODE_FIELD)
#undef PRUNE_ENCODE_FIELD
  return text;
}

std::string DecodeJobSpec(const std::string& text, JobSpec* spec) {
  std::stringstream stream(text);
  std::string line;
  int line_number = 0;
  while (std::getline(stream, line)) {
    ++line_number;
    if (line.empty()) continue;
    const size_t equals = line.find('=');
    if (equals == std::string::npos) {
      return "line " + std::to_string(line_number) + " has no '='";
    }
    const std::string name = line.substr(0, equals);
    const std::string value = line.substr(equals + 1);
    bool known = false;
    bool parsed = false;
#define PRUNE_DECODE_FIELD(field) \
  if (!known && name == #field) { \
    known = true;                 \
    parsed = Parse(value, &spec->field); \
  }
    PRUNE_JOB_SPEC_FIELDS(PRUNE_DECODE_FIELD)
#undef PRUNE_DECODE_FIELD
    if (!known) return "unknown job spec field '" + name + "'";
    if (!parsed) return "bad value for job spec field '" + name + "'";
  }
  return "";
}

std::vector<std::string> JobSpecEncodedFieldNames() {
  return {
#define PRUNE_FIELD_NAME(name) #name,
      PRUNE_JOB_SPEC_FIELDS(PRUNE_FIELD_NAME)
#undef PRUNE_FIELD_NAME
  };
}

std::vector<std::string> JobSpecFieldsNotEncoded() {
  return {"search_resume_state", "on_checkpoint"};
}

}  // namespace prune::engine
