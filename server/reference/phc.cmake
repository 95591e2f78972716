# Sources of the phc reference, added to smeard_reference (owned by that module).
target_sources(smeard_reference PRIVATE ${CMAKE_CURRENT_LIST_DIR}/phc.cpp)
