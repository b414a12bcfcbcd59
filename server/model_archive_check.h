// Cheap, streaming plausibility check of an uploaded TorchScript archive: a zip
// file (local header magic at offset 0) with a `code/` or `constants.pkl`
// entry. It walks the zip headers as bytes stream in, skipping entry data
// without buffering it, so memory stays bounded by one header. Loading the
// model for real is the worker's job (pruned never links LibTorch).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace prune::server {

// True for the entry names torch.jit.save writes for TorchScript code:
// "<archive>/code/..." and "<archive>/constants.pkl".
bool IsTorchScriptEntryName(absl::string_view name);

class ModelArchiveSniffer {
 public:
  // Consecutive bytes of the file, in order, in pieces of any size.
  void Feed(absl::string_view data);
  // Known early (from the first 4 bytes) when the file is not a zip archive.
  bool rejected() const { return state_ == State::kRejected; }
  // After the last Feed(): OK, or INVALID_ARGUMENT "MODEL_NOT_TORCHSCRIPT: ...".
  absl::Status Verdict() const;

 private:
  enum class State { kMagic, kHeader, kSkip, kScan, kDone, kRejected };

  void FeedHeader(absl::string_view& data);
  // Called once header_ holds `header_needed_` bytes; decides what follows.
  void OnHeaderBytes();
  void EnterScan();
  void ScanForNames(absl::string_view data);
  void SeeName(absl::string_view name);

  State state_ = State::kMagic;
  std::string header_;        // bytes of the header being read
  size_t header_needed_ = 4;  // how many header bytes are needed next
  uint64_t skip_remaining_ = 0;
  std::string scan_carry_;  // tail of the previous piece (kScan)
  bool found_torchscript_ = false;
  int64_t entries_seen_ = 0;
};

// The same check over a whole file in memory (tests, small files).
absl::Status CheckModelArchive(absl::string_view bytes);

}  // namespace prune::server
