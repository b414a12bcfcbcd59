#include "common/db/metadata_store.h"

#include <set>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/db/db_test_fixture.h"
#include "common/db/job_queue.h"

namespace prune::db::testing {
namespace {

using MetadataStoreTest = DbTest;

TEST_F(MetadataStoreTest, ModelCreateGetByIdAndName) {
  const ModelRecord model = MakeModel("acme", "resnet20");
  EXPECT_EQ(model.tenant, "acme");
  EXPECT_EQ(model.input_shape, (std::vector<int64_t>{1, 3, 32, 32}));
  EXPECT_EQ(model.id.size(), 36u);
  ASSERT_OK_AND_ASSIGN(by_id, store_->GetModel("acme", model.id));
  EXPECT_EQ(by_id.display_name, "resnet20");
  EXPECT_EQ(by_id.sha256, model.sha256);
  EXPECT_EQ(by_id.created_at, model.created_at);
  ASSERT_OK_AND_ASSIGN(by_name, store_->GetModel("acme", "resnet20"));
  EXPECT_EQ(by_name.id, model.id);
}

TEST_F(MetadataStoreTest, TenantsNeverSeeEachOthersResources) {
  const ModelRecord model = MakeModel("acme", "secret");
  EXPECT_EQ(store_->GetModel("globex", model.id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetModel("globex", "secret").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->DeleteModel("globex", model.id).code(), absl::StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(page, store_->ListModels("globex", 0, ""));
  EXPECT_TRUE(page.items.empty());
  JobParameters params;
  params.model_id = model.id;
  const auto job = store_->CreateJob("globex", params, "");
  EXPECT_EQ(job.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(job.status().message().find("MODEL_NOT_FOUND"), std::string::npos);
  ASSERT_OK_AND_ASSIGN(acme_job, store_->CreateJob("acme", params, ""));
  EXPECT_EQ(store_->GetJob("globex", acme_job.id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->CancelJob("globex", acme_job.id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->ListJobEvents("globex", acme_job.id, 0, 10).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(MetadataStoreTest, DuplicateNameIsAlreadyExistsPerTenant) {
  const ModelRecord model = MakeModel("acme", "vgg");
  auto again = store_->CreateModel("acme", "vgg", {1}, model.sha256, model.size_bytes);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_OK(store_->CreateModel("globex", "vgg", {1}, model.sha256, model.size_bytes).status());
}

TEST_F(MetadataStoreTest, ModelNeedsAnUploadedBlob) {
  auto model = store_->CreateModel("acme", "ghost", {1}, Sha256Hex("never uploaded"), 14);
  EXPECT_EQ(model.status().code(), absl::StatusCode::kFailedPrecondition);
  const std::string sha = PutBlob("twelve bytes");
  EXPECT_EQ(store_->CreateModel("acme", "wrong size", {1}, sha, 13).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(MetadataStoreTest, DeleteHidesModelAndFreesTheName) {
  const ModelRecord model = MakeModel("acme", "old");
  ASSERT_OK(store_->DeleteModel("acme", "old"));
  EXPECT_EQ(store_->GetModel("acme", model.id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->DeleteModel("acme", model.id).code(), absl::StatusCode::kNotFound);
  EXPECT_OK(store_->CreateModel("acme", "old", {1}, model.sha256, model.size_bytes).status());
}

TEST_F(MetadataStoreTest, DeleteOfModelUsedByQueuedJobIsRefused) {
  const ModelRecord model = MakeModel("acme", "busy");
  JobParameters params;
  params.model_id = model.id;
  ASSERT_OK_AND_ASSIGN(job, store_->CreateJob("acme", params, ""));
  EXPECT_EQ(store_->DeleteModel("acme", model.id).code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_OK(store_->CancelJob("acme", job.id).status());
  EXPECT_OK(store_->DeleteModel("acme", model.id));
}

TEST_F(MetadataStoreTest, ModelPagination) {
  std::set<std::string> created;
  for (int i = 0; i < 7; ++i) created.insert(MakeModel("acme", absl::StrCat("m", i)).id);
  MakeModel("globex", "other");
  std::set<std::string> seen;
  std::string token;
  std::vector<size_t> sizes;
  do {
    ASSERT_OK_AND_ASSIGN(page, store_->ListModels("acme", 3, token));
    sizes.push_back(page.items.size());
    for (const auto& model : page.items) EXPECT_TRUE(seen.insert(model.id).second);
    token = page.next_page_token;
  } while (!token.empty());
  EXPECT_EQ(sizes, (std::vector<size_t>{3, 3, 1}));
  EXPECT_EQ(seen, created);
  EXPECT_EQ(store_->ListModels("acme", 3, "garbage!").status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(first, store_->ListModels("acme", 3, ""));
  // A models token does not fit the datasets list.
  EXPECT_EQ(store_->ListDatasets("acme", 3, first.next_page_token).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(MetadataStoreTest, DatasetCrud) {
  const std::string sha = PutBlob("labels and images");
  ASSERT_OK_AND_ASSIGN(dataset, store_->CreateDataset("acme", "fmnist", sha, 17));
  ASSERT_OK_AND_ASSIGN(by_name, store_->GetDataset("acme", "fmnist"));
  EXPECT_EQ(by_name.id, dataset.id);
  EXPECT_EQ(store_->GetDataset("globex", dataset.id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->CreateDataset("acme", "fmnist", sha, 17).status().code(),
            absl::StatusCode::kAlreadyExists);
  ASSERT_OK_AND_ASSIGN(page, store_->ListDatasets("acme", 10, ""));
  ASSERT_EQ(page.items.size(), 1u);
  EXPECT_TRUE(page.next_page_token.empty());
  ASSERT_OK(store_->DeleteDataset("acme", dataset.id));
  EXPECT_EQ(store_->GetDataset("acme", "fmnist").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(MetadataStoreTest, CreateJobStoresAllParametersAndFirstEvent) {
  const ModelRecord model = MakeModel("acme", "net");
  const std::string sha = PutBlob("data");
  ASSERT_OK_AND_ASSIGN(dataset, store_->CreateDataset("acme", "data", sha, 4));
  JobParameters params;
  params.model_id = "net";  // by name; stored as the id
  params.dataset_id = dataset.id;
  params.strategy = "amc";
  params.target_kind = "params";
  params.target_ratio = 0.3;
  params.finetune_epochs = 2;
  params.finetune_lr = 0.01;
  params.seed = 18446744073709551615ull;
  params.priority = 5;
  params.max_attempts = 4;
  ASSERT_OK_AND_ASSIGN(job, store_->CreateJob("acme", params, ""));
  EXPECT_EQ(job.state, JobState::kQueued);
  EXPECT_EQ(job.params.model_id, model.id);
  EXPECT_EQ(job.params.dataset_id, dataset.id);
  EXPECT_EQ(job.params.target_ratio, 0.3);
  EXPECT_EQ(job.params.seed, 18446744073709551615ull);
  EXPECT_EQ(job.params.max_attempts, 4);
  EXPECT_EQ(job.attempt, 0);
  ASSERT_OK_AND_ASSIGN(events, store_->ListJobEvents("acme", job.id, 0, 10));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].sequence, 1);
  EXPECT_EQ(events[0].state, JobState::kQueued);
  params.dataset_id = "no such dataset";
  EXPECT_EQ(store_->CreateJob("acme", params, "").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(MetadataStoreTest, CreateJobIsIdempotentByRequestId) {
  const ModelRecord model = MakeModel("acme", "net");
  JobParameters params;
  params.model_id = model.id;
  ASSERT_OK_AND_ASSIGN(first, store_->CreateJob("acme", params, "req-1"));
  ASSERT_OK_AND_ASSIGN(repeat, store_->CreateJob("acme", params, "req-1"));
  EXPECT_EQ(repeat.id, first.id);
  EXPECT_EQ(repeat.request_id, "req-1");
  JobParameters changed = params;
  changed.target_ratio = 0.25;
  const auto reused = store_->CreateJob("acme", changed, "req-1");
  EXPECT_EQ(reused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(reused.status().message().find("REQUEST_ID_REUSED"), std::string::npos);
  // The same request id in another tenant is another request.
  const ModelRecord other = MakeModel("globex", "net");
  params.model_id = other.id;
  ASSERT_OK_AND_ASSIGN(globex, store_->CreateJob("globex", params, "req-1"));
  EXPECT_NE(globex.id, first.id);
  ASSERT_OK_AND_ASSIGN(page, store_->ListJobs("acme", std::nullopt, 10, ""));
  EXPECT_EQ(page.items.size(), 1u);
}

TEST_F(MetadataStoreTest, ConcurrentRepeatsCreateOneJob) {
  const ModelRecord model = MakeModel("acme", "net");
  JobParameters params;
  params.model_id = model.id;
  std::vector<std::string> ids(6);
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&, i] {
      auto job = store_->CreateJob("acme", params, "same");
      ids[i] = job.ok() ? job->id : job.status().ToString();
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& id : ids) EXPECT_EQ(id, ids[0]);
  ASSERT_OK_AND_ASSIGN(page, store_->ListJobs("acme", std::nullopt, 10, ""));
  EXPECT_EQ(page.items.size(), 1u);
}

TEST_F(MetadataStoreTest, ListJobsNewestFirstWithStateFilterAndPages) {
  const ModelRecord model = MakeModel("acme", "net");
  JobParameters params;
  params.model_id = model.id;
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK_AND_ASSIGN(job, store_->CreateJob("acme", params, ""));
    ids.push_back(job.id);
  }
  ASSERT_OK(store_->CancelJob("acme", ids[1]).status());
  std::vector<std::string> listed;
  std::string token;
  do {
    ASSERT_OK_AND_ASSIGN(page, store_->ListJobs("acme", std::nullopt, 2, token));
    for (const auto& job : page.items) listed.push_back(job.id);
    token = page.next_page_token;
  } while (!token.empty());
  EXPECT_EQ(listed, std::vector<std::string>(ids.rbegin(), ids.rend()));
  ASSERT_OK_AND_ASSIGN(cancelled, store_->ListJobs("acme", JobState::kCancelled, 10, ""));
  ASSERT_EQ(cancelled.items.size(), 1u);
  EXPECT_EQ(cancelled.items[0].id, ids[1]);
  ASSERT_OK_AND_ASSIGN(queued, store_->ListJobs("acme", JobState::kQueued, 3, ""));
  EXPECT_EQ(queued.items.size(), 3u);
  EXPECT_EQ(
      store_->ListJobs("acme", JobState::kCancelled, 3, queued.next_page_token).status().code(),
      absl::StatusCode::kInvalidArgument);

  // By model: the other model's job only, and tokens do not cross filters.
  const ModelRecord other = MakeModel("acme", "other-net");
  JobParameters other_params = params;
  other_params.model_id = other.id;
  ASSERT_OK_AND_ASSIGN(other_job, store_->CreateJob("acme", other_params, ""));
  ASSERT_OK_AND_ASSIGN(by_other, store_->ListJobs("acme", std::nullopt, 10, "", other.id));
  ASSERT_EQ(by_other.items.size(), 1u);
  EXPECT_EQ(by_other.items[0].id, other_job.id);
  ASSERT_OK_AND_ASSIGN(by_first, store_->ListJobs("acme", std::nullopt, 2, "", params.model_id));
  EXPECT_EQ(by_first.items.size(), 2u);
  EXPECT_EQ(store_->ListJobs("acme", std::nullopt, 2, by_first.next_page_token, other.id)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(MetadataStoreTest, CancelQueuedThenTerminalIsFailedPrecondition) {
  const ModelRecord model = MakeModel("acme", "net");
  JobParameters params;
  params.model_id = model.id;
  ASSERT_OK_AND_ASSIGN(job, store_->CreateJob("acme", params, ""));
  ASSERT_OK_AND_ASSIGN(cancelled, store_->CancelJob("acme", job.id));
  EXPECT_EQ(cancelled.state, JobState::kCancelled);
  EXPECT_TRUE(cancelled.finished_at.has_value());
  EXPECT_EQ(store_->CancelJob("acme", job.id).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_OK_AND_ASSIGN(events, store_->ListJobEvents("acme", job.id, 0, 10));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].sequence, 2);
  EXPECT_EQ(events[1].state, JobState::kCancelled);
  EXPECT_EQ(store_->GetJob("acme", "not-a-uuid").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(MetadataStoreTest, CandidatesStoredOnCompleteListedPagedAndTenantScoped) {
  const ModelRecord model = MakeModel("acme", "searched");
  JobParameters params;
  params.model_id = model.id;
  ASSERT_OK_AND_ASSIGN(job, store_->CreateJob("acme", params, ""));
  const absl::Time now = absl::Now();
  ASSERT_OK_AND_ASSIGN(claimed, queue_->Claim("w1", absl::Minutes(1), now));
  ASSERT_TRUE(claimed.has_value());
  const LeaseToken lease{claimed->job.id, claimed->job.lease_owner, claimed->job.attempt};
  std::vector<CandidateRecord> candidates;
  for (int64_t i = 0; i < 5; ++i) {
    CandidateRecord c;
    c.index = i * 2;  // indices need not be dense
    c.widths = {16 - i, 32 - i};
    c.macs = 1000 - 100 * i;
    c.params = 500 - 10 * i;
    c.score = 0.9 - 0.01 * static_cast<double>(i);
    c.feasible = i >= 1;
    c.pareto = i % 2 == 1;
    candidates.push_back(c);
  }
  // Before the job succeeds there are none.
  ASSERT_OK_AND_ASSIGN(none, store_->ListCandidates("acme", job.id, false, 0, ""));
  EXPECT_TRUE(none.items.empty());
  ASSERT_OK(queue_->Complete(lease, "{}", {}, now, candidates));

  ASSERT_OK_AND_ASSIGN(all, store_->ListCandidates("acme", job.id, false, 0, ""));
  ASSERT_EQ(all.items.size(), 5u);
  EXPECT_TRUE(all.next_page_token.empty());
  EXPECT_EQ(all.items[2].index, 4);
  EXPECT_EQ(all.items[2].widths, (std::vector<int64_t>{14, 30}));
  EXPECT_EQ(all.items[2].macs, 800);
  EXPECT_EQ(all.items[2].params, 480);
  EXPECT_DOUBLE_EQ(all.items[2].score, 0.88);
  EXPECT_TRUE(all.items[2].feasible);
  EXPECT_FALSE(all.items[2].pareto);
  EXPECT_FALSE(all.items[0].feasible);

  // Pagination: 2 + 2 + 1, in index order.
  std::vector<int64_t> seen;
  std::string token;
  int pages = 0;
  do {
    ASSERT_OK_AND_ASSIGN(page, store_->ListCandidates("acme", job.id, false, 2, token));
    for (const CandidateRecord& c : page.items) seen.push_back(c.index);
    token = page.next_page_token;
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, (std::vector<int64_t>{0, 2, 4, 6, 8}));

  // Pareto filter, and a token only fits its own filter.
  ASSERT_OK_AND_ASSIGN(pareto, store_->ListCandidates("acme", job.id, true, 1, ""));
  ASSERT_EQ(pareto.items.size(), 1u);
  EXPECT_EQ(pareto.items[0].index, 2);
  EXPECT_EQ(store_->ListCandidates("acme", job.id, false, 1, pareto.next_page_token)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(pareto2, store_->ListCandidates("acme", job.id, true, 1,
                                                       pareto.next_page_token));
  ASSERT_EQ(pareto2.items.size(), 1u);
  EXPECT_EQ(pareto2.items[0].index, 6);
  EXPECT_TRUE(pareto2.next_page_token.empty());

  // Tenant isolation and bad ids.
  EXPECT_EQ(store_->ListCandidates("globex", job.id, false, 0, "").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->ListCandidates("acme", "not-a-uuid", false, 0, "").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->ListCandidates("acme", job.id, false, 0, "garbage!").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(MetadataStoreTest, DuplicateCandidateIndexRollsBackComplete) {
  const ModelRecord model = MakeModel("acme", "dup");
  JobParameters params;
  params.model_id = model.id;
  ASSERT_OK_AND_ASSIGN(job, store_->CreateJob("acme", params, ""));
  ASSERT_OK_AND_ASSIGN(claimed, queue_->Claim("w1", absl::Minutes(1), absl::Now()));
  ASSERT_TRUE(claimed.has_value());
  const LeaseToken lease{claimed->job.id, claimed->job.lease_owner, claimed->job.attempt};
  std::vector<CandidateRecord> candidates(2);
  EXPECT_EQ(queue_->Complete(lease, "{}", {}, absl::Now(), candidates).code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(after, store_->GetJob("acme", job.id));
  EXPECT_EQ(after.state, JobState::kRunning);
}

}  // namespace
}  // namespace prune::db::testing
