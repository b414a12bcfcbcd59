#include "model_commands.h"

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "exit_codes.h"
#include "output_format.h"
#include "resource_name.h"
#include "resource_printer.h"
#include "shape_parse.h"
#include "upload_flags.h"
#include "upload_stream.h"

namespace prune::client {
namespace {

struct UploadArgs {
  std::string file;
  std::string name;
  std::string input_shape;
  UploadFlags flags;
};

int Upload(CommandContext& context, const UploadArgs& args) {
  absl::StatusOr<std::vector<int64_t>> shape = ParseShape(args.input_shape);
  if (!shape.ok()) return context.ReportUsageError(shape.status());
  absl::StatusOr<Connection*> connection = context.connection();
  if (!connection.ok()) return context.ReportError(connection.status());
  absl::StatusOr<prune::v1::Model> model = UploadModelFile(
      **connection, args.file, args.name, *shape, MakeUploadOptions(args.flags, context));
  if (!model.ok()) return context.ReportError(model.status());
  if (context.json) {
    *context.out << ToJson(*model) << '\n';
  } else {
    PrintModel(*model, *context.out);
  }
  return kExitOk;
}

int Get(CommandContext& context, const std::string& reference) {
  absl::StatusOr<std::string> name = CheckReference(reference, "models");
  if (!name.ok()) return context.ReportUsageError(name.status());
  absl::StatusOr<Connection*> connection = context.connection();
  if (!connection.ok()) return context.ReportError(connection.status());
  prune::v1::GetModelRequest request;
  request.set_name(*name);
  prune::v1::Model model;
  auto call = (*connection)->NewContext(CallKind::kUnary);
  grpc::Status status = (*connection)->stub().GetModel(call.get(), request, &model);
  if (!status.ok()) return context.ReportError(FromGrpc(status));
  if (context.json) {
    *context.out << ToJson(model) << '\n';
  } else {
    PrintModel(model, *context.out);
  }
  return kExitOk;
}

int List(CommandContext& context) {
  absl::StatusOr<Connection*> connection = context.connection();
  if (!connection.ok()) return context.ReportError(connection.status());
  prune::v1::ListModelsResponse all;
  prune::v1::ListModelsRequest request;
  request.set_page_size(1000);
  do {
    prune::v1::ListModelsResponse page;
    auto call = (*connection)->NewContext(CallKind::kUnary);
    grpc::Status status = (*connection)->stub().ListModels(call.get(), request, &page);
    if (!status.ok()) return context.ReportError(FromGrpc(status));
    all.mutable_models()->MergeFrom(page.models());
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  if (context.json) {
    *context.out << ToJson(all) << '\n';
  } else {
    PrintModelTable({all.models().begin(), all.models().end()}, *context.out);
  }
  return kExitOk;
}

int Delete(CommandContext& context, const std::string& reference) {
  absl::StatusOr<std::string> name = CheckReference(reference, "models");
  if (!name.ok()) return context.ReportUsageError(name.status());
  absl::StatusOr<Connection*> connection = context.connection();
  if (!connection.ok()) return context.ReportError(connection.status());
  prune::v1::DeleteModelRequest request;
  request.set_name(*name);
  prune::v1::DeleteResponse response;
  auto call = (*connection)->NewContext(CallKind::kUnary);
  grpc::Status status = (*connection)->stub().DeleteModel(call.get(), request, &response);
  if (!status.ok()) return context.ReportError(FromGrpc(status));
  if (context.json) {
    *context.out << nlohmann::json{{"deleted", *name}}.dump() << '\n';
  } else {
    *context.out << "deleted " << *name << '\n';
  }
  return kExitOk;
}

}  // namespace

void AddModelCommands(CLI::App& app, CommandContext& context, int& exit_code) {
  CLI::App* model = app.add_subcommand("model", "Upload and manage TorchScript models");
  model->require_subcommand(1);

  auto upload_args = std::make_shared<UploadArgs>();
  CLI::App* upload = model->add_subcommand("upload", "Upload a TorchScript archive");
  upload->add_option("FILE", upload_args->file, "TorchScript .pt file")
      ->required()
      ->check(CLI::ExistingFile);
  upload->add_option("--name", upload_args->name, "Display name, unique per tenant")->required();
  upload
      ->add_option("--input-shape", upload_args->input_shape,
                   "Example input shape with batch, e.g. 1,1,28,28")
      ->required();
  AddUploadFlags(upload, &upload_args->flags);
  upload->callback(
      [&context, &exit_code, upload_args] { exit_code = Upload(context, *upload_args); });

  auto reference = std::make_shared<std::string>();
  CLI::App* get = model->add_subcommand("get", "Show one model");
  get->add_option("MODEL", *reference, "Resource name, id or display name")->required();
  get->callback([&context, &exit_code, reference] { exit_code = Get(context, *reference); });

  CLI::App* list = model->add_subcommand("list", "List the tenant's models");
  list->callback([&context, &exit_code] { exit_code = List(context); });

  CLI::App* remove = model->add_subcommand("delete", "Delete a model");
  remove->add_option("MODEL", *reference, "Resource name, id or display name")->required();
  remove->callback([&context, &exit_code, reference] { exit_code = Delete(context, *reference); });
}

}  // namespace prune::client
