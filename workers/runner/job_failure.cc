#include "workers/runner/job_failure.h"

#include <random>
#include <regex>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace prune::worker {
namespace {

std::string CollapseWhitespace(const std::string& text) {
  std::string out;
  bool space = false;
  for (const char c : text) {
    const bool is_space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
    if (is_space) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

bool IsNoiseLine(const std::string& line) {
  static const std::regex kAddress("0x[0-9a-fA-F]{6,}");
  const absl::string_view trimmed = absl::StripLeadingAsciiWhitespace(line);
  return absl::StartsWith(trimmed, "frame #") || absl::StartsWith(trimmed, "Exception raised from") ||
         absl::StrContains(trimmed, "(most recent call first)") ||
         absl::StartsWith(trimmed, "Traceback of TorchScript") ||
         absl::StartsWith(trimmed, "Traceback (most recent call last)") ||
         absl::StartsWith(trimmed, "The following operation failed in the TorchScript") ||
         absl::StartsWith(trimmed, "~~~") || absl::StartsWith(trimmed, "^~") ||
         std::regex_search(line, kAddress);
}

// "/tmp/prune-worker/j-1/model.pt" -> "model.pt": the scratch folder, the
// build tree and library locations say nothing a tenant can act on.
std::string StripPaths(const std::string& text) {
  static const std::regex kPath(R"((^|[\s'"(=:])(/[^\s'"():,]+/)+([^\s'"():,/]*))");
  return std::regex_replace(text, kPath, "$1$3");
}

// For a TorchScript interpreter error: "RuntimeError: <the model's message>"
// and where in the model's code it was raised.
std::string ModelException(const std::vector<std::string>& lines) {
  static const std::regex kException(R"(^\s*([A-Za-z_.]*(Error|Exception)): (.+)$)");
  static const std::regex kCodeLine(R"re(File "(code/[^"]+)", line (\d+), in (\w+))re");
  std::string where;
  for (const std::string& line : lines) {
    std::smatch match;
    if (std::regex_search(line, match, kCodeLine)) {
      where = absl::StrCat(" (", match[3].str(), ", ", match[1].str(), " line ", match[2].str(),
                           ")");
    }
  }
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    std::smatch match;
    if (std::regex_match(*it, match, kException)) {
      return absl::StrCat("the model raised ", match[1].str(), ": ", match[3].str(), where);
    }
  }
  return "";
}

}  // namespace

const std::vector<FailureReason>& FailureReasons() {
  static const std::vector<FailureReason> kReasons = {
      {"MODEL_LOAD_FAILED", false,
       "the model is not a loadable TorchScript archive, or its forward fails on the declared "
       "input shape"},
      {"DATASET_INVALID", false, "the dataset cannot be read or does not fit the model"},
      {"TARGET_UNREACHABLE", false, "no pruning of this model reaches the requested target"},
      {"JOB_SPEC_INVALID", false, "the job's settings are inconsistent with the model"},
      {"JOB_MEMORY_LIMIT_EXCEEDED", false,
       "the job needed more memory than the worker's per-job limit"},
      {"JOB_TIME_LIMIT_EXCEEDED", false,
       "the attempt ran past the job's time limit or the worker's CPU-time limit"},
      {"JOB_OUTPUT_LIMIT_EXCEEDED", false, "the job wrote a file larger than the output limit"},
      {"MODEL_CRASHED", false,
       "the engine process died on a signal while running the model (a LibTorch bug the model "
       "triggers); the worker itself is unaffected"},
      {"INPUT_FETCH_FAILED", true, "the worker could not read the model or dataset from storage"},
      {"ARTIFACT_STORE_FAILED", true, "the worker could not store the result"},
      {"ENGINE_ERROR", true, "an unexpected error inside the engine or the job sandbox"},
      {"LEASE_EXPIRED", false,
       "the workers running the job stopped heartbeating on every attempt"},
  };
  return kReasons;
}

std::string DomainReason(const std::string& code) {
  if (code == "INVALID_ARGUMENT") return "JOB_SPEC_INVALID";
  for (const FailureReason& reason : FailureReasons()) {
    if (code == reason.name) return code;
  }
  return "ENGINE_ERROR";
}

bool IsRetryableReason(const std::string& reason) {
  for (const FailureReason& known : FailureReasons()) {
    if (reason == known.name) return known.retryable;
  }
  return false;
}

std::string TenantErrorText(const std::string& raw) {
  // Long enough for any useful message; bounds the regex work on junk.
  const std::string bounded = raw.substr(0, 64 * 1024);
  const std::vector<std::string> lines = absl::StrSplit(bounded, '\n');
  std::string text = absl::StrContains(bounded, "Traceback of TorchScript") ? ModelException(lines)
                                                                              : "";
  if (text.empty()) {
    std::string kept;
    for (const std::string& line : lines) {
      if (IsNoiseLine(line)) continue;
      absl::StrAppend(&kept, line, "\n");
    }
    text = kept;
  }
  text = CollapseWhitespace(StripPaths(text));
  if (text.size() > kMaxTenantErrorBytes) {
    size_t cut = kMaxTenantErrorBytes;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // UTF-8
    text = absl::StrCat(text.substr(0, cut), " ...");
  }
  return text;
}

std::string NewErrorId() {
  static thread_local std::mt19937_64 generator{std::random_device{}()};
  std::ostringstream id;
  id << std::hex;
  const uint64_t value = generator();
  for (int i = 0; i < 12; ++i) id << ((value >> (4 * i)) & 0xF);
  return id.str();
}

}  // namespace prune::worker
