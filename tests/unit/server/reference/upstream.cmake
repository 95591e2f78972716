# Unit tests of the upstream reference.
smeard_unit_test(upstream_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/upstream/exchange_test.cpp ${CMAKE_CURRENT_LIST_DIR}/upstream/clock_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/upstream/selection_test.cpp ${CMAKE_CURRENT_LIST_DIR}/upstream/ensemble_test.cpp
  LIBRARIES smeard_reference)
target_compile_definitions(upstream_test PRIVATE SMEARD_LEAPDB_FIXTURES="${CMAKE_CURRENT_SOURCE_DIR}/leapdb/fixtures")
