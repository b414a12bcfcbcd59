#include "workers/runner/job_child_protocol.h"

#include "nlohmann/json.hpp"

namespace prune::worker {
namespace {

using nlohmann::json;

// A bare file name inside the scratch folder: no separators, no dot files.
bool IsPlainFileName(const std::string& name) {
  return !name.empty() && name.size() < 128 && name[0] != '.' &&
         name.find('/') == std::string::npos && name.find('\0') == std::string::npos;
}

std::optional<std::string> StringField(const json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

}  // namespace

std::string EncodeProgressMessage(const engine::Progress& progress) {
  return json{{"progress",
               {{"stage", progress.stage},
                {"fraction", progress.fraction},
                {"message", progress.message}}}}
             .dump(-1, ' ', false, json::error_handler_t::replace) +
         "\n";
}

std::string EncodeCheckpointMessage(const std::string& file) {
  return json{{"checkpoint", file}}.dump() + "\n";
}

std::string EncodeResultMessage(const engine::Status& status, const std::string& report_file,
                                double macs_ratio) {
  return json{{"result",
               {{"code", status.code},
                {"message", status.message},
                {"report", report_file},
                {"macs_ratio", macs_ratio}}}}
             .dump(-1, ' ', false, json::error_handler_t::replace) +
         "\n";
}

std::optional<ChildMessage> DecodeChildMessage(const std::string& line) {
  const json message = json::parse(line, nullptr, false);
  if (message.is_discarded() || !message.is_object() || message.size() != 1) return std::nullopt;
  ChildMessage decoded;
  if (const auto it = message.find("progress"); it != message.end() && it->is_object()) {
    const auto stage = StringField(*it, "stage");
    const auto text = StringField(*it, "message");
    const auto fraction = it->find("fraction");
    if (!stage || !text || fraction == it->end() || !fraction->is_number()) return std::nullopt;
    decoded.kind = ChildMessage::Kind::kProgress;
    decoded.progress.stage = *stage;
    decoded.progress.message = *text;
    const double value = fraction->get<double>();
    decoded.progress.fraction = value < 0 ? 0 : value > 1 ? 1 : value;
    return decoded;
  }
  if (const auto file = StringField(message, "checkpoint")) {
    if (!IsPlainFileName(*file)) return std::nullopt;
    decoded.kind = ChildMessage::Kind::kCheckpoint;
    decoded.file = *file;
    return decoded;
  }
  if (const auto it = message.find("result"); it != message.end() && it->is_object()) {
    const auto code = StringField(*it, "code");
    const auto text = StringField(*it, "message");
    const auto report = StringField(*it, "report");
    const auto ratio = it->find("macs_ratio");
    if (!code || !text || !report || ratio == it->end() || !ratio->is_number()) {
      return std::nullopt;
    }
    if (!report->empty() && !IsPlainFileName(*report)) return std::nullopt;
    decoded.kind = ChildMessage::Kind::kResult;
    decoded.status = engine::Status{*code, *text};
    decoded.file = *report;
    decoded.macs_ratio = ratio->get<double>();
    return decoded;
  }
  return std::nullopt;
}

}  // namespace prune::worker
