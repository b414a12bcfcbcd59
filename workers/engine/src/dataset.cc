#include "dataset.h"

#include <caffe2/serialize/inline_container.h>
#include <caffe2/serialize/read_adapter_interface.h>
#include <torch/csrc/jit/serialization/unpickler.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>

#include "engine_error.h"
#include "archive_entry_sizes.h"
#include "pickle_check.h"

namespace prune::engine {
namespace {

[[noreturn]] void Invalid(const std::string& message) {
  throw EngineError("DATASET_INVALID", message);
}

std::string ShapeString(c10::IntArrayRef shape) {
  std::ostringstream s;
  s << shape;
  return s.str();
}

torch::Tensor TensorEntry(const c10::Dict<c10::IValue, c10::IValue>& dict, const char* key) {
  auto it = dict.find(c10::IValue(std::string(key)));
  if (it == dict.end()) Invalid(std::string("dataset has no \"") + key + "\" entry");
  if (!it->value().isTensor()) Invalid(std::string("dataset \"") + key + "\" is not a tensor");
  return it->value().toTensor();
}

// LibTorch's C++ unpickler (unlike Python's torch.load) takes a tensor's
// sizes, strides and storage offset from the file without checking them
// against the storage it read: a crafted file yields a tensor that reads past
// its buffer (ASan in tests/fuzz/dataset_fuzzer shows it on the crafted-*
// corpus files). Refuse any tensor that does not lie inside its storage, and
// views larger than their storage (stride 0, overlaps), which contiguous()
// would blow up from a few bytes of file.
// `record_bytes`: the size of each storage record read from the file, by data
// pointer. The unpickler sizes a storage by the element count written in the
// pickle, not by the bytes of its record, so a storage can claim more bytes
// than it holds (found by tests/fuzz/dataset_fuzzer).
void CheckStorageBounds(const torch::Tensor& t, const char* key,
                        const std::map<const void*, size_t>& record_bytes) {
  const auto fail = [key](const std::string& why) {
    Invalid(std::string("\"") + key + "\" " + why + "; save a contiguous tensor");
  };
  if (!t.has_storage() || t.storage_offset() < 0) fail("has no valid storage");
  size_t bytes = t.storage().nbytes();
  const auto record = record_bytes.find(t.storage().data());
  if (record != record_bytes.end() && record->second < bytes) {
    fail("claims more bytes than its storage record holds");
  }
  const int64_t item = static_cast<int64_t>(t.element_size());
  const int64_t storage_items = static_cast<int64_t>(bytes) / item;
  int64_t numel = 1;
  int64_t last = t.storage_offset();  // index of the last element a view reads
  for (int64_t d = 0; d < t.dim(); ++d) {
    const int64_t size = t.size(d);
    const int64_t stride = t.stride(d);
    if (size < 0 || stride < 0) fail("has a negative size or stride");
    if (size == 0) return;  // no elements, nothing is read
    int64_t extent = 0;
    if (__builtin_mul_overflow(size, numel, &numel) ||
        __builtin_mul_overflow(size - 1, stride, &extent) ||
        __builtin_add_overflow(last, extent, &last)) {
      fail("is too large");
    }
  }
  if (last >= storage_items) fail("reaches past the end of its storage");
  if (numel > storage_items - t.storage_offset()) fail("is larger than its storage");
}

class BytesReadAdapter final : public caffe2::serialize::ReadAdapterInterface {
 public:
  explicit BytesReadAdapter(const std::vector<char>& bytes) : bytes_(bytes) {}
  size_t size() const override { return bytes_.size(); }
  size_t read(uint64_t pos, void* buf, size_t n, const char* /*what*/) const override {
    if (pos >= bytes_.size()) return 0;
    n = std::min<size_t>(n, bytes_.size() - pos);
    std::memcpy(buf, bytes_.data() + pos, n);
    return n;
  }

 private:
  const std::vector<char>& bytes_;
};

// torch::pickle_load, step by step (as LibTorch's readArchiveAndTensors does),
// so that the pickle can be checked before LibTorch's unpickler runs on it
// (it crashes on some malformed pickles, see pickle_check.h) and the size of
// every storage record is known afterwards.
c10::IValue LoadPickle(const std::vector<char>& bytes,
                       std::map<const void*, size_t>* record_bytes) {
  caffe2::serialize::PyTorchStreamReader reader(std::make_shared<BytesReadAdapter>(bytes));
  at::DataPtr pickle;
  size_t pickle_size = 0;
  std::tie(pickle, pickle_size) = reader.getRecord("data.pkl");
  const char* data = static_cast<const char*>(pickle.get());
  const std::string why = CheckPickleStructure(data, pickle_size);
  if (!why.empty()) Invalid("not a torch.save file: " + why);

  size_t read = 0;
  auto read_pickle = [&](char* buffer, size_t len) -> size_t {
    len = std::min(len, pickle_size - read);
    std::memcpy(buffer, data + read, len);
    read += len;
    return len;
  };
  auto read_record = [&](const std::string& name) {
    at::DataPtr record;
    size_t size = 0;
    std::tie(record, size) = reader.getRecord("data/" + name);
    (*record_bytes)[record.get()] = size;
    return record;
  };
  torch::jit::Unpickler unpickler(read_pickle, /*type_resolver=*/nullptr, /*obj_loader=*/nullptr,
                                  read_record, /*device=*/c10::nullopt);
  unpickler.set_version(reader.version());
  return unpickler.parse_ivalue();
}

}  // namespace

Dataset LoadDataset(const std::string& path, const std::vector<int64_t>& input_shape) {
  std::ifstream file(path, std::ios::binary);
  if (!file) Invalid("cannot open dataset file '" + path + "'");
  std::vector<char> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  return LoadDatasetFromBytes(bytes, input_shape);
}

Dataset LoadDatasetFromBytes(const std::vector<char>& bytes,
                             const std::vector<int64_t>& input_shape) {
  // LibTorch allocates every record at the size its zip entry declares.
  if (std::string why = CheckArchiveEntrySizes(bytes.data(), bytes.size()); !why.empty()) {
    Invalid("not a torch.save file: " + why);
  }
  c10::IValue loaded;
  std::map<const void*, size_t> record_bytes;
  try {
    loaded = LoadPickle(bytes, &record_bytes);
  } catch (const EngineError&) {
    throw;
  } catch (const c10::Error& e) {
    Invalid("not a torch.save file: " + e.msg());
  } catch (const std::exception& e) {
    // LibTorch's unpickler also throws std::out_of_range and friends on
    // malformed files (found by tests/fuzz/dataset_fuzzer).
    Invalid(std::string("not a torch.save file: ") + e.what());
  }
  if (!loaded.isGenericDict()) Invalid("dataset must be a dict with \"inputs\" and \"targets\"");
  auto dict = loaded.toGenericDict();
  Dataset data{TensorEntry(dict, "inputs"), TensorEntry(dict, "targets")};
  CheckStorageBounds(data.inputs, "inputs", record_bytes);
  CheckStorageBounds(data.targets, "targets", record_bytes);

  if (data.inputs.scalar_type() != torch::kFloat32) {
    Invalid(std::string("\"inputs\" must be float32, is ") +
            c10::toString(data.inputs.scalar_type()));
  }
  if (data.targets.scalar_type() != torch::kInt64) {
    Invalid(std::string("\"targets\" must be int64, is ") +
            c10::toString(data.targets.scalar_type()));
  }
  std::vector<int64_t> expected(input_shape.begin(), input_shape.end());
  auto shape = data.inputs.sizes();
  bool shape_ok = shape.size() == expected.size() && shape.size() >= 1;
  for (size_t d = 1; shape_ok && d < shape.size(); ++d) shape_ok = shape[d] == expected[d];
  if (!shape_ok) {
    std::string want = "[N";
    for (size_t d = 1; d < expected.size(); ++d) want += ", " + std::to_string(expected[d]);
    Invalid("\"inputs\" has shape " + ShapeString(shape) + ", expected " + want + "]");
  }
  if (data.targets.dim() != 1 || data.targets.size(0) != data.inputs.size(0)) {
    Invalid("\"targets\" has shape " + ShapeString(data.targets.sizes()) + ", expected [" +
            std::to_string(data.inputs.size(0)) + "]");
  }
  if (data.inputs.size(0) < 2) Invalid("dataset needs at least 2 samples");
  if (data.targets.min().item<int64_t>() < 0) Invalid("\"targets\" has negative labels");
  data.inputs = data.inputs.contiguous();
  data.targets = data.targets.contiguous();
  return data;
}

DatasetSplit SplitDataset(const Dataset& data) {
  int64_t n = data.inputs.size(0);
  int64_t n_train = std::max<int64_t>(1, (n * 8) / 10);
  if (n_train >= n) n_train = n - 1;
  return DatasetSplit{Dataset{data.inputs.slice(0, 0, n_train), data.targets.slice(0, 0, n_train)},
                      Dataset{data.inputs.slice(0, n_train), data.targets.slice(0, n_train)}};
}

}  // namespace prune::engine
