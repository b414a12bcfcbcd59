#include "pickle_check.h"

#include <cstdint>
#include <cstring>
#include <vector>

namespace prune::engine {
namespace {

// What one opcode does to the stack: pops `pop` items above the innermost
// mark (or, with `to_mark`, everything above it and the mark), then pushes
// `push`; `arg` fixed argument bytes follow, or a little-endian length of
// `len_bytes` bytes and that many data bytes.
struct Op {
  uint8_t pop = 0;
  uint8_t push = 0;
  uint8_t arg = 0;
  uint8_t len_bytes = 0;
  bool to_mark = false;
  bool known = false;
};

struct OpTable {
  Op ops[256];
  OpTable() {
    auto set = [this](uint8_t code, int pop, int push, int arg = 0, int len_bytes = 0,
                      bool to_mark = false) {
      ops[code] = Op{static_cast<uint8_t>(pop),
                     static_cast<uint8_t>(push),
                     static_cast<uint8_t>(arg),
                     static_cast<uint8_t>(len_bytes),
                     to_mark,
                     true};
    };
    // Constants and empty containers.
    for (int c : {int{'N'}, 0x88, 0x89, int{')'}, int{']'}, int{'}'}, 0x8f}) set(c, 0, 1);
    set('K', 0, 1, 1);  // BININT1
    set('M', 0, 1, 2);  // BININT2
    set('J', 0, 1, 4);  // BININT
    set('G', 0, 1, 8);  // BINFLOAT
    // Length-prefixed strings, bytes and longs.
    set('X', 0, 1, 0, 4);   // BINUNICODE
    set(0x8c, 0, 1, 0, 1);  // SHORT_BINUNICODE
    set(0x8d, 0, 1, 0, 8);  // BINUNICODE8
    set('B', 0, 1, 0, 4);   // BINBYTES
    set('C', 0, 1, 0, 1);   // SHORT_BINBYTES
    set(0x8e, 0, 1, 0, 8);  // BINBYTES8
    set('T', 0, 1, 0, 4);   // BINSTRING
    set('U', 0, 1, 0, 1);   // SHORT_BINSTRING
    set(0x8a, 0, 1, 0, 1);  // LONG1
    set(0x8b, 0, 1, 0, 4);  // LONG4
    // Building objects.
    set('t', 0, 1, 0, 0, true);   // TUPLE
    set(0x85, 1, 1);              // TUPLE1
    set(0x86, 2, 1);              // TUPLE2
    set(0x87, 3, 1);              // TUPLE3
    set('a', 2, 1);               // APPEND
    set('s', 3, 1);               // SETITEM
    set('R', 2, 1);               // REDUCE
    set('b', 2, 1);               // BUILD
    set(0x81, 2, 1);              // NEWOBJ
    set(0x92, 3, 1);              // NEWOBJ_EX
    set(0x93, 2, 1);              // STACK_GLOBAL
    set('Q', 1, 1);               // BINPERSID
    set('0', 1, 0);               // POP
    set('2', 1, 2);               // DUP
    set(0x91, 0, 1, 0, 0, true);  // FROZENSET
    set('1', 0, 0, 0, 0, true);   // POP_MARK
    set(0x80, 0, 0, 1);           // PROTO
    set(0x95, 0, 0, 8);           // FRAME
    // 'c' (GLOBAL), '(' (MARK), 'e'/'u'/0x90 (APPENDS, SETITEMS, ADDITEMS),
    // the memo opcodes and '.' (STOP) are handled in the loop.
    for (int c : {int{'c'}, int{'('}, int{'e'}, int{'u'}, 0x90, int{'q'}, int{'r'}, 0x94, int{'h'},
                  int{'j'}, int{'.'}}) {
      ops[c].known = true;
    }
  }
};

uint64_t LittleEndian(const unsigned char* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

}  // namespace

std::string CheckPickleStructure(const char* data, size_t size) {
  static const OpTable table;
  const auto* p = reinterpret_cast<const unsigned char*>(data);
  size_t at = 0;
  uint64_t depth = 0;
  std::vector<uint64_t> marks;  // stack depth at each open MARK
  uint64_t memo_size = 0;       // memo indices 0 .. memo_size-1 were written
  const auto floor = [&marks] { return marks.empty() ? uint64_t{0} : marks.back(); };
  const auto need = [&](uint64_t n) { return size - at >= n; };
  const auto where = [&at] { return " at byte " + std::to_string(at); };

  while (at < size) {
    const unsigned char code = p[at++];
    const Op& op = table.ops[code];
    if (!op.known) return "unsupported pickle opcode " + std::to_string(code) + where();
    switch (code) {
      case '.':  // STOP
        if (depth < 1) return "pickle stops with an empty stack";
        if (at != size) return "data after the end of the pickle";
        return "";
      case '(':  // MARK
        marks.push_back(depth);
        continue;
      case 'c': {  // GLOBAL: "module\nname\n"
        for (int line = 0; line < 2; ++line) {
          const void* nl = std::memchr(p + at, '\n', size - at);
          if (nl == nullptr) return "unterminated GLOBAL" + where();
          at = static_cast<const unsigned char*>(nl) - p + 1;
        }
        ++depth;
        continue;
      }
      case 'e':   // APPENDS
      case 'u':   // SETITEMS
      case 0x90:  // ADDITEMS
        // Items above the mark go into the container just below it.
        if (marks.empty()) return "APPENDS/SETITEMS without a MARK" + where();
        if (marks.back() < 1 || (marks.size() > 1 && marks.back() - 1 < marks[marks.size() - 2])) {
          return "APPENDS/SETITEMS without a container" + where();
        }
        if (code == 'u' && (depth - marks.back()) % 2 != 0) {
          return "SETITEMS with an odd number of items" + where();
        }
        depth = marks.back();
        marks.pop_back();
        continue;
      case 'q':     // BINPUT
      case 'r':     // LONG_BINPUT
      case 0x94: {  // MEMOIZE
        const int n = code == 'q' ? 1 : code == 'r' ? 4 : 0;
        if (!need(n)) return "truncated memo index" + where();
        const uint64_t index = code == 0x94 ? memo_size : LittleEndian(p + at, n);
        at += n;
        if (depth < 1) return "memo write with an empty stack" + where();
        if (index > memo_size) return "memo index out of sequence" + where();
        if (index == memo_size) ++memo_size;
        continue;
      }
      case 'h':    // BINGET
      case 'j': {  // LONG_BINGET
        const int n = code == 'h' ? 1 : 4;
        if (!need(n)) return "truncated memo index" + where();
        if (LittleEndian(p + at, n) >= memo_size) return "memo read before write" + where();
        at += n;
        ++depth;
        continue;
      }
      default:
        break;
    }
    if (!need(op.arg + op.len_bytes)) return "truncated pickle" + where();
    at += op.arg;
    if (op.len_bytes > 0) {
      const uint64_t length = LittleEndian(p + at, op.len_bytes);
      at += op.len_bytes;
      if (length > size - at) return "length past the end of the pickle" + where();
      at += length;
    }
    if (op.to_mark) {
      if (marks.empty()) return "opcode " + std::to_string(code) + " without a MARK" + where();
      depth = marks.back();
      marks.pop_back();
    } else if (depth < floor() + op.pop) {
      return "opcode " + std::to_string(code) + " pops an empty stack" + where();
    } else {
      depth -= op.pop;
    }
    depth += op.push;
  }
  return "pickle has no STOP";
}

}  // namespace prune::engine
