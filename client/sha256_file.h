#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace prune::client {

// Incremental SHA-256 (OpenSSL EVP) producing lower-case hex.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const void* data, size_t size);
  // Ends the digest; the object must not be updated afterwards.
  std::string FinishHex();

 private:
  EVP_MD_CTX* ctx_;
};

struct FileDigest {
  int64_t size_bytes = 0;
  std::string sha256;  // lower-case hex
};

// Size and SHA-256 of a file, read in fixed-size blocks (never whole into RAM).
absl::StatusOr<FileDigest> Sha256File(const std::string& path);

}  // namespace prune::client
