# Sources of the upstream reference, added to smeard_reference (owned by that module).
target_sources(smeard_reference PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/upstream/exchange.cpp ${CMAKE_CURRENT_LIST_DIR}/upstream/clock.cpp
  ${CMAKE_CURRENT_LIST_DIR}/upstream/filter.cpp ${CMAKE_CURRENT_LIST_DIR}/upstream/selection.cpp
  ${CMAKE_CURRENT_LIST_DIR}/upstream/ensemble.cpp ${CMAKE_CURRENT_LIST_DIR}/upstream/upstream.cpp)
