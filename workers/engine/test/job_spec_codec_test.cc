#include "prune/engine/job_spec_codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

namespace prune::engine {
namespace {

TEST(JobSpecCodec, RoundTripsEveryEncodedField) {
  JobSpec spec;
  spec.model_path = "/scratch/model.pt";
  spec.dataset_path = "with=equals%and\nnewline";
  spec.input_shape = {1, 3, 224, 224};
  spec.strategy = "amc";
  spec.target_kind = "latency";
  spec.target_ratio = 0.1 + 0.2;  // not exactly representable in short decimal
  spec.finetune_epochs = 3;
  spec.seed = 18446744073709551615ull;
  spec.optimized_latency = false;
  spec.metapruning_mode = "pruningnet";
  spec.amc_warmup_episodes = -1;
  spec.autoslim_step = 0.125;
  JobSpec decoded;
  ASSERT_EQ(DecodeJobSpec(EncodeJobSpec(spec), &decoded), "");
  EXPECT_EQ(decoded.model_path, spec.model_path);
  EXPECT_EQ(decoded.dataset_path, spec.dataset_path);
  EXPECT_EQ(decoded.input_shape, spec.input_shape);
  EXPECT_EQ(decoded.strategy, "amc");
  EXPECT_EQ(decoded.target_kind, "latency");
  EXPECT_EQ(decoded.target_ratio, spec.target_ratio);
  EXPECT_EQ(decoded.finetune_epochs, 3);
  EXPECT_EQ(decoded.seed, spec.seed);
  EXPECT_FALSE(decoded.optimized_latency);
  EXPECT_EQ(decoded.metapruning_mode, "pruningnet");
  EXPECT_EQ(decoded.amc_warmup_episodes, -1);
  EXPECT_EQ(decoded.autoslim_step, 0.125);
  // Encoding the decoded spec gives the same text: nothing was lost.
  EXPECT_EQ(EncodeJobSpec(decoded), EncodeJobSpec(spec));
}

TEST(JobSpecCodec, RefusesMalformedText) {
  JobSpec spec;
  EXPECT_NE(DecodeJobSpec("no_equals_sign\n", &spec), "");
  EXPECT_NE(DecodeJobSpec("not_a_field=1\n", &spec), "");
  EXPECT_NE(DecodeJobSpec("finetune_epochs=three\n", &spec), "");
  EXPECT_NE(DecodeJobSpec("finetune_epochs=99999999999\n", &spec), "");
  EXPECT_NE(DecodeJobSpec("optimized_latency=yes\n", &spec), "");
  EXPECT_NE(DecodeJobSpec("input_shape=1,x\n", &spec), "");
  EXPECT_NE(DecodeJobSpec("model_path=bad%escape\n", &spec), "");
  EXPECT_NE(DecodeJobSpec("seed=-1\n", &spec), "");
}

// Every member of JobSpec (read from job.h) is either encoded or named as
// deliberately left out: a field added to JobSpec without the codec fails here.
TEST(JobSpecCodec, CoversEveryJobSpecMember) {
  std::ifstream header(PRUNE_ENGINE_JOB_HEADER);
  ASSERT_TRUE(header) << PRUNE_ENGINE_JOB_HEADER;
  std::stringstream text;
  text << header.rdbuf();
  const std::string source = text.str();
  const size_t begin = source.find("struct JobSpec {");
  ASSERT_NE(begin, std::string::npos);
  const size_t end = source.find("\n};", begin);
  ASSERT_NE(end, std::string::npos);
  const std::string body = source.substr(begin, end - begin);
  // A member declaration: "  type name = ...;" or "  type name;" at the start
  // of a line (comments start with //).
  const std::regex member(R"(\n  (?!//)[A-Za-z_0-9:<>,\s()&]+?[\s>]([a-z_0-9]+)\s*(=[^;]*)?;)");
  std::set<std::string> members;
  for (auto it = std::sregex_iterator(body.begin(), body.end(), member);
       it != std::sregex_iterator(); ++it) {
    members.insert((*it)[1].str());
  }
  ASSERT_GT(members.size(), 30u) << "the member pattern no longer matches job.h";
  std::set<std::string> known;
  for (const std::string& name : JobSpecEncodedFieldNames()) known.insert(name);
  for (const std::string& name : JobSpecFieldsNotEncoded()) known.insert(name);
  for (const std::string& name : members) {
    EXPECT_TRUE(known.count(name) > 0)
        << "JobSpec::" << name << " is not in job_spec_codec.cc's field list";
  }
  for (const std::string& name : known) {
    EXPECT_TRUE(members.count(name) > 0) << name << " is listed but not a JobSpec member";
  }
}

}  // namespace
}  // namespace prune::engine
