# Sources of the refclock reference, added to smeard_reference (owned by that module).
target_sources(smeard_reference PRIVATE ${CMAKE_CURRENT_LIST_DIR}/refclock.cpp ${CMAKE_CURRENT_LIST_DIR}/shm.cpp
                                        ${CMAKE_CURRENT_LIST_DIR}/sock.cpp)
