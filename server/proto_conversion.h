// Records of common/db <-> messages of prune.v1.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/db/records.h"
#include "google/protobuf/timestamp.pb.h"
#include "prune/v1/resources.pb.h"

namespace prune::server {

void ToTimestamp(absl::Time time, google::protobuf::Timestamp* out);

v1::Model ToProto(const db::ModelRecord& record);
v1::Dataset ToProto(const db::DatasetRecord& record);
v1::Job ToProto(const db::JobRecord& record);
v1::JobEvent ToProto(const db::JobEventRecord& record);
v1::Candidate ToProto(const db::CandidateRecord& record);

v1::Job::State ToProto(db::JobState state);
// nullopt for STATE_UNSPECIFIED (no filter). INVALID_ARGUMENT for unknown values.
absl::StatusOr<std::optional<db::JobState>> JobStateFilterFromProto(int state);

// The SQL spelling of JobParameters::strategy / target_kind.
std::string StrategyName(v1::Strategy strategy);  // UNIFORM -> "uniform"
v1::Strategy StrategyFromName(const std::string& name);
std::string TargetKindName(v1::Target::Kind kind);  // FLOPS -> "flops"
v1::Target::Kind TargetKindFromName(const std::string& name);

absl::StatusOr<db::ArtifactKind> ArtifactKindFromProto(int kind);

}  // namespace prune::server
