#include "server/model_archive_check.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace prune::server {
namespace {

constexpr absl::string_view kLocalHeaderMagic("PK\x03\x04", 4);
constexpr absl::string_view kCentralHeaderMagic("PK\x01\x02", 4);
constexpr size_t kLocalHeaderBytes = 30;
constexpr size_t kCentralHeaderBytes = 46;
constexpr uint16_t kFlagDataDescriptor = 1 << 3;
constexpr uint32_t kZip64Marker = 0xFFFFFFFFu;
constexpr uint16_t kZip64ExtraId = 0x0001;
// Longest name searched for by the fallback scan, minus one.
constexpr size_t kScanCarryBytes = 16;

uint16_t Le16(absl::string_view b, size_t at) {
  return static_cast<uint16_t>(static_cast<unsigned char>(b[at]) |
                               static_cast<unsigned char>(b[at + 1]) << 8);
}

uint32_t Le32(absl::string_view b, size_t at) {
  return static_cast<uint32_t>(Le16(b, at)) | static_cast<uint32_t>(Le16(b, at + 2)) << 16;
}

uint64_t Le64(absl::string_view b, size_t at) {
  return static_cast<uint64_t>(Le32(b, at)) | static_cast<uint64_t>(Le32(b, at + 4)) << 32;
}

// Compressed size of a zip64 entry from its extra field; false when absent.
bool Zip64CompressedSize(absl::string_view extra, bool uncompressed_in_extra, uint64_t* size) {
  size_t at = 0;
  while (at + 4 <= extra.size()) {
    const uint16_t id = Le16(extra, at);
    const uint16_t len = Le16(extra, at + 2);
    const size_t body = at + 4;
    if (body + len > extra.size()) return false;
    if (id == kZip64ExtraId) {
      const size_t offset = uncompressed_in_extra ? 8 : 0;
      if (offset + 8 > len) return false;
      *size = Le64(extra, body + offset);
      return true;
    }
    at = body + len;
  }
  return false;
}

absl::Status NotTorchScript(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("MODEL_NOT_TORCHSCRIPT: ", why));
}

}  // namespace

bool IsTorchScriptEntryName(absl::string_view name) {
  return absl::StartsWith(name, "code/") || absl::StrContains(name, "/code/") ||
         name == "constants.pkl" || absl::EndsWith(name, "/constants.pkl");
}

void ModelArchiveSniffer::Feed(absl::string_view data) {
  while (!data.empty()) {
    switch (state_) {
      case State::kMagic:
      case State::kHeader:
        FeedHeader(data);
        break;
      case State::kSkip: {
        const uint64_t n = std::min<uint64_t>(skip_remaining_, data.size());
        skip_remaining_ -= n;
        data.remove_prefix(n);
        if (skip_remaining_ == 0) {
          state_ = State::kHeader;
          header_needed_ = 4;
        }
        break;
      }
      case State::kScan:
        ScanForNames(data);
        return;
      case State::kDone:
      case State::kRejected:
        return;
    }
  }
}

void ModelArchiveSniffer::FeedHeader(absl::string_view& data) {
  const size_t n = std::min(header_needed_ - header_.size(), data.size());
  header_.append(data.data(), n);
  data.remove_prefix(n);
  if (header_.size() == header_needed_) OnHeaderBytes();
}

void ModelArchiveSniffer::OnHeaderBytes() {
  const absl::string_view h = header_;
  const absl::string_view magic = h.substr(0, 4);
  if (state_ == State::kMagic) {
    if (magic != kLocalHeaderMagic) {
      state_ = State::kRejected;
      return;
    }
    state_ = State::kHeader;
  }
  if (magic == kLocalHeaderMagic) {
    if (h.size() < kLocalHeaderBytes) {
      header_needed_ = kLocalHeaderBytes;
      return;
    }
    const size_t full = kLocalHeaderBytes + Le16(h, 26) + Le16(h, 28);
    if (h.size() < full) {
      header_needed_ = full;
      return;
    }
    ++entries_seen_;
    SeeName(h.substr(kLocalHeaderBytes, Le16(h, 26)));
    const uint16_t flags = Le16(h, 6);
    uint64_t data_size = Le32(h, 18);
    const bool zip64 = data_size == kZip64Marker;
    if (zip64 && !Zip64CompressedSize(h.substr(kLocalHeaderBytes + Le16(h, 26)),
                                      Le32(h, 22) == kZip64Marker, &data_size)) {
      EnterScan();
      return;
    }
    header_.clear();
    if (flags & kFlagDataDescriptor) {
      // Sizes may be unknown here and a data descriptor of uncertain length
      // follows: stop walking and look for the names in the rest of the bytes
      // (the central directory repeats every name).
      EnterScan();
      return;
    }
    skip_remaining_ = data_size;
    state_ = skip_remaining_ > 0 ? State::kSkip : State::kHeader;
    header_needed_ = 4;
    return;
  }
  if (magic == kCentralHeaderMagic) {
    if (h.size() < kCentralHeaderBytes) {
      header_needed_ = kCentralHeaderBytes;
      return;
    }
    const size_t full = kCentralHeaderBytes + Le16(h, 28) + Le16(h, 30) + Le16(h, 32);
    if (h.size() < full) {
      header_needed_ = full;
      return;
    }
    ++entries_seen_;
    SeeName(h.substr(kCentralHeaderBytes, Le16(h, 28)));
    header_.clear();
    header_needed_ = 4;
    return;
  }
  // End of central directory, zip64 records, or something unexpected: the
  // entries are behind us.
  header_.clear();
  state_ = State::kDone;
}

void ModelArchiveSniffer::EnterScan() {
  header_.clear();
  state_ = found_torchscript_ ? State::kDone : State::kScan;
}

void ModelArchiveSniffer::ScanForNames(absl::string_view data) {
  std::string window = scan_carry_;
  window.append(data.data(), data.size());
  if (absl::StrContains(window, "code/") || absl::StrContains(window, "constants.pkl")) {
    found_torchscript_ = true;
    state_ = State::kDone;
    return;
  }
  scan_carry_ = window.substr(window.size() - std::min(window.size(), kScanCarryBytes));
}

void ModelArchiveSniffer::SeeName(absl::string_view name) {
  if (IsTorchScriptEntryName(name)) found_torchscript_ = true;
}

absl::Status ModelArchiveSniffer::Verdict() const {
  if (state_ == State::kRejected || (state_ == State::kMagic)) {
    return NotTorchScript(
        "the file is not a zip archive (no PK\\x03\\x04 header at offset 0); save the model "
        "with torch.jit.save");
  }
  if (found_torchscript_) return absl::OkStatus();
  if (entries_seen_ == 0 && state_ != State::kScan) {
    return NotTorchScript("the zip archive has no readable entries");
  }
  return NotTorchScript(
      "the zip archive has no TorchScript code (no code/ or constants.pkl entry); save the "
      "model with torch.jit.save, not torch.save");
}

absl::Status CheckModelArchive(absl::string_view bytes) {
  ModelArchiveSniffer sniffer;
  sniffer.Feed(bytes);
  return sniffer.Verdict();
}

}  // namespace prune::server
