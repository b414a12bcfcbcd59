// Builds small zip archives (stored, no compression) for tests, shaped like
// the ones torch.jit.save writes: "<archive>/data.pkl", "<archive>/code/...".
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace prune::server::testing {

struct ZipEntry {
  std::string name;
  std::string data;
};

struct ZipOptions {
  // Set general-purpose flag bit 3 and write sizes in a data descriptor, as
  // streaming zip writers do.
  bool data_descriptor = false;
};

inline void PutLe16(std::string* out, uint16_t v) {
  out->push_back(static_cast<char>(v & 0xff));
  out->push_back(static_cast<char>(v >> 8));
}

inline void PutLe32(std::string* out, uint32_t v) {
  PutLe16(out, static_cast<uint16_t>(v & 0xffff));
  PutLe16(out, static_cast<uint16_t>(v >> 16));
}

inline std::string BuildZip(const std::vector<ZipEntry>& entries, ZipOptions options = {}) {
  std::string out;
  std::string central;
  for (const ZipEntry& entry : entries) {
    const uint32_t offset = static_cast<uint32_t>(out.size());
    const uint16_t flags = options.data_descriptor ? 0x0008 : 0;
    const uint32_t size_in_header = options.data_descriptor ? 0 : entry.data.size();
    out.append("PK\x03\x04", 4);
    PutLe16(&out, 20);     // version needed
    PutLe16(&out, flags);  // flags
    PutLe16(&out, 0);      // method: stored
    PutLe32(&out, 0);      // time, date
    PutLe32(&out, 0);      // crc (not checked by the server)
    PutLe32(&out, size_in_header);
    PutLe32(&out, size_in_header);
    PutLe16(&out, static_cast<uint16_t>(entry.name.size()));
    PutLe16(&out, 0);  // extra length
    out += entry.name;
    out += entry.data;
    if (options.data_descriptor) {
      out.append("PK\x07\x08", 4);
      PutLe32(&out, 0);
      PutLe32(&out, entry.data.size());
      PutLe32(&out, entry.data.size());
    }
    central.append("PK\x01\x02", 4);
    PutLe16(&central, 20);
    PutLe16(&central, 20);
    PutLe16(&central, flags);
    PutLe16(&central, 0);
    PutLe32(&central, 0);
    PutLe32(&central, 0);
    PutLe32(&central, entry.data.size());
    PutLe32(&central, entry.data.size());
    PutLe16(&central, static_cast<uint16_t>(entry.name.size()));
    PutLe16(&central, 0);  // extra
    PutLe16(&central, 0);  // comment
    PutLe16(&central, 0);  // disk
    PutLe16(&central, 0);  // internal attributes
    PutLe32(&central, 0);  // external attributes
    PutLe32(&central, offset);
    central += entry.name;
  }
  const uint32_t central_offset = static_cast<uint32_t>(out.size());
  out += central;
  out.append("PK\x05\x06", 4);
  PutLe16(&out, 0);
  PutLe16(&out, 0);
  PutLe16(&out, static_cast<uint16_t>(entries.size()));
  PutLe16(&out, static_cast<uint16_t>(entries.size()));
  PutLe32(&out, central.size());
  PutLe32(&out, central_offset);
  PutLe16(&out, 0);
  return out;
}

// A TorchScript-shaped archive of roughly `payload_bytes` bytes.
inline std::string FakeTorchScriptArchive(size_t payload_bytes) {
  std::string payload(payload_bytes, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>((i * 131) % 251);
  return BuildZip({{"model/data.pkl", std::string(1000, 'p')},
                   {"model/code/__torch__/net.py", "def forward(self, x):\n  return x\n"},
                   {"model/data/0", std::move(payload)},
                   {"model/constants.pkl", "c"},
                   {"model/version", "3\n"}});
}

}  // namespace prune::server::testing
