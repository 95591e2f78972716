# Unit tests of the phc reference.
smeard_unit_test(phc_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/phc_test.cpp LIBRARIES smeard_reference)
target_compile_definitions(phc_test PRIVATE SMEARD_LEAPDB_FIXTURES="${CMAKE_CURRENT_SOURCE_DIR}/leapdb/fixtures")
