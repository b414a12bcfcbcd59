#include "job_watch.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "enum_parse.h"

namespace prune::client {

absl::StatusOr<prune::v1::Job::State> WatchJobUntilDone(
    Connection& connection, const std::string& job, const RetryPolicy& policy,
    const std::function<void(const prune::v1::JobEvent&)>& on_event) {
  int64_t last_sequence = 0;
  int failures = 0;
  std::chrono::milliseconds backoff = policy.initial_backoff;
  while (true) {
    prune::v1::WatchJobRequest request;
    request.set_name(job);
    request.set_after_sequence(last_sequence);
    std::unique_ptr<grpc::ClientContext> context = connection.NewContext(CallKind::kWatch);
    auto reader = connection.stub().WatchJob(context.get(), request);

    bool progressed = false;
    prune::v1::JobEvent event;
    while (reader->Read(&event)) {
      // A resumed stream may repeat what we already showed.
      if (event.sequence() <= last_sequence) continue;
      last_sequence = event.sequence();
      progressed = true;
      on_event(event);
      if (IsTerminal(event.state())) {
        context->TryCancel();
        reader->Finish();
        return event.state();
      }
    }
    const grpc::Status status = reader->Finish();
    // UNAVAILABLE: the server drains or is gone. CANCELLED: we never cancel
    // before the end, so the server did (a call that reached it while it was
    // shutting down). Both mean: reconnect, here or to another replica.
    if (!status.ok() && status.error_code() != grpc::StatusCode::UNAVAILABLE &&
        status.error_code() != grpc::StatusCode::CANCELLED) {
      return FromGrpc(status);
    }
    if (progressed) {
      failures = 0;
      backoff = policy.initial_backoff;
    }
    if (++failures > policy.max_retries) {
      return absl::UnavailableError(absl::StrCat(
          "lost the event stream of ", job, " after ", policy.max_retries, " reconnects: ",
          status.ok() ? "stream ended before the job finished" : status.error_message()));
    }
    policy.Sleep(backoff);
    backoff = policy.NextBackoff(backoff);
  }
}

}  // namespace prune::client
