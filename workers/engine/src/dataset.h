#ifndef PRUNE_ENGINE_DATASET_H_
#define PRUNE_ENGINE_DATASET_H_

#include <torch/script.h>

#include <string>
#include <vector>

namespace prune::engine {

struct Dataset {
  torch::Tensor inputs;   // float32 [N, ...input_shape[1:]]
  torch::Tensor targets;  // int64 [N]
};

// Split convention: the first floor(0.8 N) samples fine-tune and calibrate,
// the rest evaluate.
struct DatasetSplit {
  Dataset train;
  Dataset eval;
};

// Loads a file written by torch.save({"inputs": ..., "targets": ...}) and
// checks keys, dtypes and shapes against `input_shape`. Throws EngineError
// DATASET_INVALID.
Dataset LoadDataset(const std::string& path, const std::vector<int64_t>& input_shape);

// The same for the bytes of such a file already in memory (LoadDataset reads
// the file and calls this; tests/fuzz feeds it directly).
Dataset LoadDatasetFromBytes(const std::vector<char>& bytes,
                             const std::vector<int64_t>& input_shape);

DatasetSplit SplitDataset(const Dataset& data);

}  // namespace prune::engine

#endif  // PRUNE_ENGINE_DATASET_H_
