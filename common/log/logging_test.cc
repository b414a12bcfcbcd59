#include "common/log/logging.h"

#include <sstream>
#include <string>
#include <thread>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace prune::log {
namespace {

std::string LogOnce(bool json, const std::string& message) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  spdlog::logger logger("test", sink);
  logger.set_formatter(MakeLogFormatter("worker", json));
  logger.info(message);
  return out.str();
}

TEST(Logging, JsonLinesParseAndEscapeTheMessage) {
  const std::string line = LogOnce(true, "bad \"model\"\n\\ path");
  nlohmann::json parsed = nlohmann::json::parse(line);
  EXPECT_EQ(parsed["msg"], "bad \"model\"\n\\ path");
  EXPECT_EQ(parsed["component"], "worker");
  EXPECT_EQ(parsed["level"], "info");
  EXPECT_FALSE(parsed.contains("job"));
}

TEST(Logging, JobContextBecomesFieldsOnThisThreadOnly) {
  ScopedJobContext context("job-1", "acme", 2);
  nlohmann::json parsed = nlohmann::json::parse(LogOnce(true, "claimed"));
  EXPECT_EQ(parsed["job"], "job-1");
  EXPECT_EQ(parsed["tenant"], "acme");
  EXPECT_EQ(parsed["attempt"], 2);
  EXPECT_NE(LogOnce(false, "claimed").find("[job=job-1 tenant=acme attempt=2]"), std::string::npos);

  std::string other_thread;
  std::thread([&] { other_thread = LogOnce(true, "elsewhere"); }).join();
  EXPECT_FALSE(nlohmann::json::parse(other_thread).contains("job"));
}

TEST(Logging, ScopesNestAndRestore) {
  {
    ScopedJobContext outer("outer", "t", 1);
    { ScopedJobContext inner("inner", "t", 1); }
    EXPECT_EQ(nlohmann::json::parse(LogOnce(true, "x"))["job"], "outer");
  }
  EXPECT_FALSE(nlohmann::json::parse(LogOnce(true, "x")).contains("job"));
}

}  // namespace
}  // namespace prune::log
