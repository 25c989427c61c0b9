# Unit tests of the parts (linked against the library, internal headers allowed) and the
# value round trip across parties in every mode.
foreach(t test_value test_options test_wire test_stream test_objects)
  add_executable(${t} ${CMAKE_CURRENT_SOURCE_DIR}/unit/${t}.c)
  target_link_libraries(${t} PRIVATE sfmpi::internal)
  target_include_directories(${t} PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_definitions(${t} PRIVATE _GNU_SOURCE)
  sf_target_defaults(${t})
  sf_add_test(NAME unit_${t} COMMAND $<TARGET_FILE:${t}> LABELS unit TIMEOUT 60)
endforeach()

add_executable(roundtrip ${CMAKE_CURRENT_SOURCE_DIR}/modes/roundtrip.c)
target_link_libraries(roundtrip PRIVATE sfmpi::internal)
sf_target_defaults(roundtrip)
set(rt_out ${CMAKE_CURRENT_SOURCE_DIR}/expected/roundtrip.out)
sf_add_test(NAME roundtrip_debug MODE debug COMMAND $<TARGET_FILE:roundtrip> --sf-quiet
            LABELS values EXPECT_EXIT 0 EXPECT_STDOUT_FILE ${rt_out} TIMEOUT 120)
sf_add_test(NAME roundtrip_sim MODE sim NPROCS 3 COMMAND $<TARGET_FILE:roundtrip> --sf-quiet
            LABELS values EXPECT_EXIT 0 EXPECT_STDOUT_FILE ${rt_out} TIMEOUT 120)
sf_add_test(NAME roundtrip_sim_chunked MODE sim NPROCS 3
            COMMAND env SF_MPI_CHUNK_BYTES=100000 $<TARGET_FILE:roundtrip> --sf-quiet
            LABELS values EXPECT_EXIT 0 EXPECT_STDOUT_FILE ${rt_out} TIMEOUT 120)

# gdb helper (scripts/sfmpi-gdb.py) on a real debug-mode run
find_program(GDB_EXE gdb)
if(GDB_EXE AND SF_BUILD_EXAMPLES AND NOT SF_SANITIZE) # LSan cannot run under ptrace
  sf_add_test(NAME gdb_helper COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/gdb/test_gdb.sh
              $<TARGET_FILE:joint_stats> ${PROJECT_SOURCE_DIR}/scripts/sfmpi-gdb.py
              LABELS "debug;gdb" TIMEOUT 90)
endif()

# Valgrind on debug-mode runs: coroutine stacks are registered, so memcheck must be clean
# (no errors, no definite leaks).
find_program(VALGRIND_EXE valgrind)
if(VALGRIND_EXE AND NOT SF_SANITIZE)
  sf_add_test(NAME valgrind_roundtrip_debug
              COMMAND ${VALGRIND_EXE} -q --error-exitcode=99 --leak-check=full
                      --errors-for-leak-kinds=definite $<TARGET_FILE:roundtrip> --sf-quiet --sf-mode=debug
              LABELS "debug;valgrind" EXPECT_EXIT 0 EXPECT_STDOUT_FILE ${rt_out} TIMEOUT 300)
endif()
