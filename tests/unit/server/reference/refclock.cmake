# Unit tests of the refclock reference.
smeard_unit_test(refclock_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/shm_test.cpp ${CMAKE_CURRENT_LIST_DIR}/sock_test.cpp
  LIBRARIES smeard_reference)
target_compile_definitions(refclock_test PRIVATE SMEARD_LEAPDB_FIXTURES="${CMAKE_CURRENT_SOURCE_DIR}/leapdb/fixtures")
