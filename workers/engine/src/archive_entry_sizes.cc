#include "archive_entry_sizes.h"

#include <cstdint>

namespace prune::engine {
namespace {

constexpr uint32_t kEndOfDirectory = 0x06054b50;
constexpr uint32_t kZip64Locator = 0x07064b50;
constexpr uint32_t kZip64EndOfDirectory = 0x06064b50;
constexpr uint32_t kDirectoryEntry = 0x02014b50;
constexpr size_t kEndOfDirectoryBytes = 22;
constexpr size_t kMaxCommentBytes = 0xFFFF;
constexpr size_t kDirectoryEntryBytes = 46;

// Little-endian reads; the caller checks the bounds.
uint64_t Read(const char* p, int bytes) {
  uint64_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) value = (value << 8) | static_cast<unsigned char>(p[i]);
  return value;
}

// Where the central directory lies and how many entries it holds.
struct Directory {
  uint64_t offset = 0;
  uint64_t size = 0;
  uint64_t entries = 0;
};

std::string FindDirectory(const char* data, size_t size, Directory* out) {
  if (size < kEndOfDirectoryBytes) return "too short for a zip archive";
  // The end record sits at the end, followed by a comment of up to 64 KiB.
  size_t end = size - kEndOfDirectoryBytes;
  const size_t lowest = end > kMaxCommentBytes ? end - kMaxCommentBytes : 0;
  while (Read(data + end, 4) != kEndOfDirectory) {
    if (end == lowest) return "not a zip archive (no end-of-central-directory record)";
    --end;
  }
  out->entries = Read(data + end + 10, 2);
  out->size = Read(data + end + 12, 4);
  out->offset = Read(data + end + 16, 4);
  const bool zip64 = out->entries == 0xFFFF || out->size == 0xFFFFFFFF ||
                     out->offset == 0xFFFFFFFF;
  if (zip64) {
    if (end < 20 || Read(data + end - 20, 4) != kZip64Locator) {
      return "zip64 sizes without a zip64 end-of-central-directory locator";
    }
    const uint64_t record = Read(data + end - 20 + 8, 8);
    if (record > size || size - record < 56 || Read(data + record, 4) != kZip64EndOfDirectory) {
      return "zip64 end-of-central-directory record missing or outside the file";
    }
    out->entries = Read(data + record + 32, 8);
    out->size = Read(data + record + 40, 8);
    out->offset = Read(data + record + 48, 8);
  }
  if (out->offset > size || out->size > size - out->offset) {
    return "central directory outside the file";
  }
  return "";
}

// The zip64 extra field (id 1) holds the 64-bit sizes whose 32-bit fields
// read 0xFFFFFFFF, uncompressed size first.
std::string Zip64Sizes(const char* extra, size_t extra_size, uint64_t* uncompressed,
                       uint64_t* compressed) {
  for (size_t at = 0; at + 4 <= extra_size;) {
    const uint64_t id = Read(extra + at, 2);
    const uint64_t length = Read(extra + at + 2, 2);
    if (length > extra_size - at - 4) break;
    if (id == 1) {
      size_t field = at + 4;
      for (uint64_t* value : {uncompressed, compressed}) {
        if (*value != 0xFFFFFFFF) continue;
        if (field + 8 > at + 4 + length) return "truncated zip64 extra field";
        *value = Read(extra + field, 8);
        field += 8;
      }
      return "";
    }
    at += 4 + length;
  }
  if (*uncompressed == 0xFFFFFFFF || *compressed == 0xFFFFFFFF) {
    return "zip64 sizes without a zip64 extra field";
  }
  return "";
}

}  // namespace

std::string CheckArchiveEntrySizes(const char* data, size_t size) {
  Directory directory;
  if (std::string why = FindDirectory(data, size, &directory); !why.empty()) return why;
  const char* p = data + directory.offset;
  const char* const end = p + directory.size;
  uint64_t total = 0;
  for (uint64_t i = 0; i < directory.entries; ++i) {
    if (static_cast<size_t>(end - p) < kDirectoryEntryBytes || Read(p, 4) != kDirectoryEntry) {
      return "central directory entry " + std::to_string(i) + " is malformed";
    }
    uint64_t compressed = Read(p + 20, 4);
    uint64_t uncompressed = Read(p + 24, 4);
    const size_t name = Read(p + 28, 2), extra = Read(p + 30, 2), comment = Read(p + 32, 2);
    if (static_cast<size_t>(end - p) - kDirectoryEntryBytes < name + extra + comment) {
      return "central directory entry " + std::to_string(i) + " runs past the directory";
    }
    const std::string why =
        Zip64Sizes(p + kDirectoryEntryBytes + name, extra, &uncompressed, &compressed);
    if (!why.empty()) return why;
    if (uncompressed > size) {
      return "entry '" + std::string(p + kDirectoryEntryBytes, name) + "' claims " +
             std::to_string(uncompressed) + " bytes unpacked, more than the whole file (" +
             std::to_string(size) + " bytes); torch.save stores entries uncompressed";
    }
    total += uncompressed;
    if (total > 2 * static_cast<uint64_t>(size)) {
      return "entries claim " + std::to_string(total) + " bytes unpacked, more than twice the "
             "file's " + std::to_string(size) + " bytes";
    }
    p += kDirectoryEntryBytes + name + extra + comment;
  }
  return "";
}

}  // namespace prune::engine
