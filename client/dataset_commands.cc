#include "dataset_commands.h"

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "exit_codes.h"
#include "output_format.h"
#include "resource_name.h"
#include "resource_printer.h"
#include "upload_flags.h"
#include "upload_stream.h"

namespace prune::client {
namespace {

struct UploadArgs {
  std::string file;
  std::string name;
  UploadFlags flags;
};

int Upload(CommandContext& context, const UploadArgs& args) {
  absl::StatusOr<Connection*> connection = context.connection();
  if (!connection.ok()) return context.ReportError(connection.status());
  absl::StatusOr<prune::v1::Dataset> dataset =
      UploadDatasetFile(**connection, args.file, args.name, MakeUploadOptions(args.flags, context));
  if (!dataset.ok()) return context.ReportError(dataset.status());
  if (context.json) {
    *context.out << ToJson(*dataset) << '\n';
  } else {
    PrintDataset(*dataset, *context.out);
  }
  return kExitOk;
}

int Get(CommandContext& context, const std::string& reference) {
  absl::StatusOr<std::string> name = CheckReference(reference, "datasets");
  if (!name.ok()) return context.ReportUsageError(name.status());
  absl::StatusOr<Connection*> connection = context.connection();
  if (!connection.ok()) return context.ReportError(connection.status());
  prune::v1::GetDatasetRequest request;
  request.set_name(*name);
  prune::v1::Dataset dataset;
  auto call = (*connection)->NewContext(CallKind::kUnary);
  grpc::Status status = (*connection)->stub().GetDataset(call.get(), request, &dataset);
  if (!status.ok()) return context.ReportError(FromGrpc(status));
  if (context.json) {
    *context.out << ToJson(dataset) << '\n';
  } else {
    PrintDataset(dataset, *context.out);
  }
  return kExitOk;
}

int List(CommandContext& context) {
  absl::StatusOr<Connection*> connection = context.connection();
  if (!connection.ok()) return context.ReportError(connection.status());
  prune::v1::ListDatasetsResponse all;
  prune::v1::ListDatasetsRequest request;
  request.set_page_size(1000);
  do {
    prune::v1::ListDatasetsResponse page;
    auto call = (*connection)->NewContext(CallKind::kUnary);
    grpc::Status status = (*connection)->stub().ListDatasets(call.get(), request, &page);
    if (!status.ok()) return context.ReportError(FromGrpc(status));
    all.mutable_datasets()->MergeFrom(page.datasets());
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  if (context.json) {
    *context.out << ToJson(all) << '\n';
  } else {
    PrintDatasetTable({all.datasets().begin(), all.datasets().end()}, *context.out);
  }
  return kExitOk;
}

int Delete(CommandContext& context, const std::string& reference) {
  absl::StatusOr<std::string> name = CheckReference(reference, "datasets");
  if (!name.ok()) return context.ReportUsageError(name.status());
  absl::StatusOr<Connection*> connection = context.connection();
  if (!connection.ok()) return context.ReportError(connection.status());
  prune::v1::DeleteDatasetRequest request;
  request.set_name(*name);
  prune::v1::DeleteResponse response;
  auto call = (*connection)->NewContext(CallKind::kUnary);
  grpc::Status status = (*connection)->stub().DeleteDataset(call.get(), request, &response);
  if (!status.ok()) return context.ReportError(FromGrpc(status));
  if (context.json) {
    *context.out << nlohmann::json{{"deleted", *name}}.dump() << '\n';
  } else {
    *context.out << "deleted " << *name << '\n';
  }
  return kExitOk;
}

}  // namespace

void AddDatasetCommands(CLI::App& app, CommandContext& context, int& exit_code) {
  CLI::App* dataset = app.add_subcommand("dataset", "Upload and manage evaluation datasets");
  dataset->require_subcommand(1);

  auto upload_args = std::make_shared<UploadArgs>();
  CLI::App* upload = dataset->add_subcommand("upload", "Upload a dataset file");
  upload->add_option("FILE", upload_args->file, "torch.save'd {inputs, targets} file")
      ->required()
      ->check(CLI::ExistingFile);
  upload->add_option("--name", upload_args->name, "Display name, unique per tenant")->required();
  AddUploadFlags(upload, &upload_args->flags);
  upload->callback(
      [&context, &exit_code, upload_args] { exit_code = Upload(context, *upload_args); });

  auto reference = std::make_shared<std::string>();
  CLI::App* get = dataset->add_subcommand("get", "Show one dataset");
  get->add_option("DATASET", *reference, "Resource name, id or display name")->required();
  get->callback([&context, &exit_code, reference] { exit_code = Get(context, *reference); });

  CLI::App* list = dataset->add_subcommand("list", "List the tenant's datasets");
  list->callback([&context, &exit_code] { exit_code = List(context); });

  CLI::App* remove = dataset->add_subcommand("delete", "Delete a dataset");
  remove->add_option("DATASET", *reference, "Resource name, id or display name")->required();
  remove->callback([&context, &exit_code, reference] { exit_code = Delete(context, *reference); });
}

}  // namespace prune::client
