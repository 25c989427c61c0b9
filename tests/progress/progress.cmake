# Progress lines of long operations (core/progress.c): the reporter and its options on
# their own, then each operation in the mode where it matters, with the hidden knobs
# (SF_PROGRESS_AFTER/EVERY, SF_H5_BLOCK_BYTES) making small runs show lines.
add_executable(test_progress ${CMAKE_CURRENT_SOURCE_DIR}/progress/test_progress.c)
target_link_libraries(test_progress PRIVATE sfmpi::internal)
target_include_directories(test_progress PRIVATE ${PROJECT_SOURCE_DIR})
target_compile_definitions(test_progress PRIVATE _GNU_SOURCE)
sf_target_defaults(test_progress)
sf_add_test(NAME unit_progress COMMAND $<TARGET_FILE:test_progress> LABELS "unit;progress" TIMEOUT 60)

add_executable(progress_prog ${CMAKE_CURRENT_SOURCE_DIR}/progress/progress_prog.c)
target_link_libraries(progress_prog PRIVATE sfmpi::sfmpi)
sf_target_defaults(progress_prog)
foreach(case_mode startup:prod h5_debug:debug h5_sim:sim spu:debug transfer:prod pty:sim)
  string(REPLACE ":" ";" cm ${case_mode})
  list(GET cm 0 case)
  list(GET cm 1 mode)
  sf_add_test(NAME progress_${case}
              COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/progress/test_progress.sh ${case}
                      $<TARGET_FILE:progress_prog> $<TARGET_FILE:sfmpi-keygen> ${MPIEXEC_EXECUTABLE}
              LABELS "progress;${mode}" TIMEOUT 120)
endforeach()
