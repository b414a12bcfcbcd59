#include "common/db/db_test_fixture.h"

#include <openssl/evp.h>

#include "absl/strings/escaping.h"

namespace prune::db::testing {

std::string Sha256Hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(digest), length));
}

std::string DbTest::PutBlob(const std::string& content) {
  const std::string sha = Sha256Hex(content);
  auto writer = blobs_->Begin(static_cast<int64_t>(content.size()), sha);
  EXPECT_TRUE(writer.ok()) << writer.status();
  if (!writer.ok()) return sha;
  EXPECT_OK((*writer)->Append(content));
  EXPECT_OK((*writer)->Commit());
  return sha;
}

ModelRecord DbTest::MakeModel(const std::string& tenant, const std::string& name) {
  const std::string content = "model bytes of " + name;
  const std::string sha = PutBlob(content);
  auto model =
      store_->CreateModel(tenant, name, {1, 3, 32, 32}, sha, static_cast<int64_t>(content.size()));
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *model : ModelRecord{};
}

}  // namespace prune::db::testing
