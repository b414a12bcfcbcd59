# Integration tests against a real PostgreSQL: the fixture starts a private
# cluster in the build tree and writes its URL to a file the tests read
# (PRUNE_TEST_DATABASE_URL overrides it, e.g. to run a binary by hand).
include(GoogleTest)

set(PRUNE_DB_PGDATA ${CMAKE_CURRENT_BINARY_DIR}/pgdata)
set(PRUNE_DB_URL_FILE ${CMAKE_CURRENT_BINARY_DIR}/pgdata.url)

add_library(prune_db_test_support STATIC test_database.cc db_test_fixture.cc)
target_link_libraries(prune_db_test_support PUBLIC prune_db GTest::gtest OpenSSL::Crypto)
target_compile_definitions(prune_db_test_support PRIVATE
  PRUNE_TEST_DATABASE_URL_FILE="${PRUNE_DB_URL_FILE}")

add_executable(prune_db_test
  blob_store_test.cc
  connection_test.cc
  job_queue_test.cc
  metadata_store_test.cc
  migrations_test.cc
  token_store_test.cc)
target_link_libraries(prune_db_test PRIVATE prune_db_test_support GTest::gtest GTest::gtest_main
  GTest::gmock Threads::Threads)

add_test(NAME prune_db_postgres_start
  COMMAND sh -c "'${PRUNE_SOURCE_ROOT}/scripts/pg.sh' start '${PRUNE_DB_PGDATA}' > '${PRUNE_DB_URL_FILE}'")
set_tests_properties(prune_db_postgres_start PROPERTIES
  FIXTURES_SETUP prune_db_postgres LABELS integration TIMEOUT 120)
add_test(NAME prune_db_postgres_stop
  COMMAND ${PRUNE_SOURCE_ROOT}/scripts/pg.sh stop ${PRUNE_DB_PGDATA})
set_tests_properties(prune_db_postgres_stop PROPERTIES
  FIXTURES_CLEANUP prune_db_postgres LABELS integration)

gtest_discover_tests(prune_db_test
  TEST_PREFIX "prune_db."
  DISCOVERY_MODE PRE_TEST
  PROPERTIES FIXTURES_REQUIRED prune_db_postgres LABELS integration TIMEOUT 120)

# The jobs.spec JSON (no database needed).
add_executable(prune_db_unit_test job_rows_test.cc)
target_link_libraries(prune_db_unit_test PRIVATE prune_db GTest::gtest GTest::gtest_main)
gtest_discover_tests(prune_db_unit_test TEST_PREFIX "prune_db_unit." PROPERTIES LABELS unit)
