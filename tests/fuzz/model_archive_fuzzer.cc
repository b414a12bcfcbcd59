// libFuzzer harness for the streaming TorchScript archive check of uploads
// (server/model_archive_check.h). The input is the uploaded file. Differential:
// CheckModelArchive over the whole file must give the same verdict as the
// streaming ModelArchiveSniffer fed the same bytes in pieces of other sizes
// (one byte at a time, and pseudo-random sizes derived from the input), since
// an upload arrives in chunks of whatever size the client chose.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "server/model_archive_check.h"

#include "tests/fuzz/fuzz_check.h"

namespace {

using prune::server::ModelArchiveSniffer;

// Feeds `bytes` in pieces whose sizes come from `next_size`; checks that a
// rejection, once reported, stays and that the final verdict is `expected`.
template <typename NextSize>
void CheckPieces(absl::string_view bytes, const absl::Status& expected, NextSize next_size) {
  ModelArchiveSniffer sniffer;
  bool rejected = false;
  while (!bytes.empty()) {
    const size_t n = std::min(bytes.size(), next_size());
    sniffer.Feed(bytes.substr(0, n));
    bytes.remove_prefix(n);
    if (rejected) FUZZ_CHECK(sniffer.rejected());
    rejected = sniffer.rejected();
  }
  const absl::Status verdict = sniffer.Verdict();
  if (rejected) FUZZ_CHECK(!verdict.ok());
  if (verdict != expected) {
    std::fprintf(stderr, "whole file: %s\npieces:     %s\n", expected.ToString().c_str(),
                 verdict.ToString().c_str());
    FUZZ_CHECK(verdict == expected);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  const absl::Status whole = prune::server::CheckModelArchive(bytes);
  if (whole.ok()) FUZZ_CHECK(bytes.substr(0, 4) == absl::string_view("PK\x03\x04", 4));
  if (!whole.ok()) {
    FUZZ_CHECK(whole.code() == absl::StatusCode::kInvalidArgument);
    FUZZ_CHECK(absl::StartsWith(whole.message(), "MODEL_NOT_TORCHSCRIPT: "));
  }

  CheckPieces(bytes, whole, [] { return size_t{1}; });
  // Piece sizes from a small LCG seeded by the input, so that every input
  // is also split in its own, reproducible way.
  uint32_t state = 2166136261u;
  for (size_t i = 0; i < size; ++i) state = (state ^ data[i]) * 16777619u;
  CheckPieces(bytes, whole, [&state] {
    state = state * 1664525u + 1013904223u;
    const uint32_t r = state >> 16;
    // Mostly small pieces (header boundaries), sometimes large ones.
    return size_t{(r & 3) == 0 ? (r >> 2) % 4096 + 1 : (r >> 2) % 48 + 1};
  });
  return 0;
}
