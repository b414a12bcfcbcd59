#include "common/log/logging.h"

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace prune::log {
namespace {

struct JobContext {
  bool set = false;
  std::string job;
  std::string tenant;
  int32_t attempt = 0;
};
thread_local JobContext current_job;

void AppendJsonEscaped(std::string_view text, spdlog::memory_buf_t& dest) {
  auto put = [&dest](const char* s) { dest.append(s, s + std::strlen(s)); };
  for (char c : text) {
    switch (c) {
      case '"':
        put("\\\"");
        break;
      case '\\':
        put("\\\\");
        break;
      case '\n':
        put("\\n");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          const int n = std::snprintf(escaped, sizeof(escaped), "\\u%04x", c);
          dest.append(escaped, escaped + n);
        } else {
          dest.push_back(c);
        }
    }
  }
}

void Append(std::string_view text, spdlog::memory_buf_t& dest) {
  dest.append(text.data(), text.data() + text.size());
}

// %j: the message as the body of a JSON string.
class JsonEscapedMessage : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    AppendJsonEscaped(std::string_view(msg.payload.data(), msg.payload.size()), dest);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonEscapedMessage>();
  }
};

// %J: ,"job":...,"tenant":...,"attempt":N when the thread works on a job.
class JsonJobFields : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    if (!current_job.set) return;
    Append(",\"job\":\"", dest);
    AppendJsonEscaped(current_job.job, dest);
    Append("\",\"tenant\":\"", dest);
    AppendJsonEscaped(current_job.tenant, dest);
    Append("\",\"attempt\":", dest);
    Append(std::to_string(current_job.attempt), dest);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonJobFields>();
  }
};

// %J in text mode: " [job=... tenant=... attempt=N]".
class TextJobFields : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    if (!current_job.set) return;
    Append(" [job=" + current_job.job + " tenant=" + current_job.tenant +
               " attempt=" + std::to_string(current_job.attempt) + "]",
           dest);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<TextJobFields>();
  }
};

}  // namespace

std::unique_ptr<spdlog::formatter> MakeLogFormatter(const std::string& component, bool json) {
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  if (json) {
    formatter->add_flag<JsonEscapedMessage>('j').add_flag<JsonJobFields>('J').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","component":")" + component +
        R"("%J,"msg":"%j"})");
  } else {
    formatter->add_flag<TextJobFields>('J').set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v%J");
  }
  return formatter;
}

void ConfigureLogging(const std::string& component, bool json) {
  auto logger = spdlog::stderr_logger_mt(component);
  logger->set_formatter(MakeLogFormatter(component, json));
  spdlog::set_default_logger(logger);
}

ScopedJobContext::ScopedJobContext(std::string job_id, std::string tenant, int32_t attempt)
    : previous_set_(current_job.set),
      previous_job_(std::move(current_job.job)),
      previous_tenant_(std::move(current_job.tenant)),
      previous_attempt_(current_job.attempt) {
  current_job = JobContext{true, std::move(job_id), std::move(tenant), attempt};
}

ScopedJobContext::~ScopedJobContext() {
  current_job = JobContext{previous_set_, std::move(previous_job_), std::move(previous_tenant_),
                           previous_attempt_};
}

}  // namespace prune::log
