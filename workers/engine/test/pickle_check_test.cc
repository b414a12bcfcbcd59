#include "pickle_check.h"

#include <gtest/gtest.h>

#include <string>

namespace prune::engine {
namespace {

std::string Check(const std::string& pickle) {
  return CheckPickleStructure(pickle.data(), pickle.size());
}

// All bytes of a literal, NULs included.
template <size_t N>
std::string Bytes(const char (&s)[N]) {
  return std::string(s, N - 1);
}

TEST(PickleCheck, AcceptsWhatPythonWrites) {
  // pickle.dumps({'a': [1, 2.5, 'x'], 'b': (None, True)}, protocol=2)
  const std::string dict = Bytes(
      "\x80\x02}q\x00(X\x01\x00\x00\x00"
      "aq\x01]q\x02(K\x01G@\x04\x00\x00\x00\x00\x00\x00X\x01\x00"
      "\x00\x00"
      "xq\x03"
      "eX\x01\x00\x00\x00"
      "bq\x04N\x88\x86q\x05u.");
  ASSERT_EQ(dict.size(), 53u);
  EXPECT_EQ(Check(dict), "");
  // pickle.dumps(collections.OrderedDict(), protocol=2)
  EXPECT_EQ(Check(Bytes("\x80\x02"
                        "ccollections\nOrderedDict\nq\x00)Rq\x01.")),
            "");
}

// Each of these crashed LibTorch 1.13's unpickler (SEGV) inside a dataset file.
TEST(PickleCheck, RefusesPopsOfAnEmptyStack) {
  for (const char* op : {"R", "b", "\x81", "Q", "\x86", "a", "s", "0"}) {
    EXPECT_NE(Check(std::string("\x80\x02") + op + "."), "") << static_cast<int>(op[0]);
  }
  // Items below a MARK are not the op's to take.
  EXPECT_NE(Check("\x80\x02K\x01(R."), "");
}

TEST(PickleCheck, RefusesMarkOpsWithoutMark) {
  EXPECT_NE(Check("\x80\x02t."), "");
  EXPECT_NE(Check("\x80\x02}K\x01K\x02u."), "");
  EXPECT_NE(Check("\x80\x02(K\x01u."), "");   // SETITEMS without a dict
  EXPECT_NE(Check("\x80\x02}(K\x01u."), "");  // odd number of items
  EXPECT_EQ(Check("\x80\x02}(K\x01K\x02u."), "");
}

TEST(PickleCheck, RefusesMemoIndicesOutOfSequence) {
  EXPECT_NE(Check(Bytes("\x80\x02}r\xff\xff\xff\x7f.")), "");  // asked LibTorch for GBs
  EXPECT_NE(Check(Bytes("\x80\x02}q\x01.")), "");
  EXPECT_NE(Check(Bytes("\x80\x02h\x00.")), "");  // read before write
  EXPECT_EQ(Check(Bytes("\x80\x02}q\x00h\x00\x86.")), "");
}

TEST(PickleCheck, RefusesTruncatedAndTrailingData) {
  EXPECT_NE(Check(""), "");
  EXPECT_NE(Check("\x80\x02K\x01"), "");  // no STOP
  EXPECT_NE(Check(Bytes("\x80\x02X\xff\x00\x00\x00"
                        "ab.")),
            "");  // length past end
  EXPECT_NE(Check("\x80\x02"
                  "cno-newline"),
            "");
  EXPECT_NE(Check("\x80\x02K\x01.junk"), "");
  EXPECT_NE(Check("\x80\x02\xff."), "");  // unknown opcode
}

}  // namespace
}  // namespace prune::engine
