#ifndef PRUNE_ENGINE_PICKLE_CHECK_H_
#define PRUNE_ENGINE_PICKLE_CHECK_H_

#include <cstddef>
#include <string>

namespace prune::engine {

// Walks the opcodes of a pickle (the data.pkl of a torch.save file) and
// simulates only the depth of the unpickler's stack and its marks, before
// LibTorch's unpickler sees the bytes. LibTorch 1.13's C++ unpickler trusts
// the stream: REDUCE, BUILD, NEWOBJ, BINPERSID or TUPLE2 on an empty stack
// crash the process (SEGV), and a memo index from the file sizes a table it
// fills (tests/fuzz/dataset_fuzzer found a 1 KiB file that asked for 12 GB;
// the crashes are reproduced by the crafted-pickle-* files of its corpus).
//
// Refuses: an opcode that pops more than the stack holds above the innermost
// mark, a mark-consuming opcode without a mark, memo indices that are not the
// next free one or below (pickle writers number them 0, 1, 2, ...), a memo
// read of an index never written, lengths past the end of the data, unknown
// opcodes, and anything after STOP or a missing STOP. Returns "" when the
// pickle is well formed in this sense, otherwise why not.
std::string CheckPickleStructure(const char* data, size_t size);

}  // namespace prune::engine

#endif  // PRUNE_ENGINE_PICKLE_CHECK_H_
