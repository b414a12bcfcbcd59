#include "shape_parse.h"

#include <gtest/gtest.h>

namespace prune::client {
namespace {

TEST(ShapeParseTest, ParsesCommaSeparatedDims) {
  absl::StatusOr<std::vector<int64_t>> shape = ParseShape("1,1,28,28");
  ASSERT_TRUE(shape.ok()) << shape.status();
  EXPECT_EQ(*shape, (std::vector<int64_t>{1, 1, 28, 28}));
  EXPECT_EQ(*ParseShape("[8, 3, 224, 224]"), (std::vector<int64_t>{8, 3, 224, 224}));
  EXPECT_EQ(*ParseShape("16"), (std::vector<int64_t>{16}));
}

TEST(ShapeParseTest, RejectsBadShapes) {
  for (const char* text : {"", "  ", "[]", "1,,28", "1,0,28", "1,-1", "1,a", "[1,2", "1.5,2",
                           "99999999999999999999"}) {
    EXPECT_EQ(ParseShape(text).status().code(), absl::StatusCode::kInvalidArgument) << text;
  }
}

TEST(ShapeParseTest, FormatsBack) { EXPECT_EQ(FormatShape({1, 3, 32, 32}), "1,3,32,32"); }

}  // namespace
}  // namespace prune::client
