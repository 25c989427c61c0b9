# Shared build settings for sfmpi targets: warnings, visibility, sanitizers.
function(sf_target_defaults tgt)
  target_compile_options(${tgt} PRIVATE -Wall -Wextra -Wno-unused-parameter
    $<$<BOOL:${SF_WERROR}>:-Werror>)
  set_target_properties(${tgt} PROPERTIES C_VISIBILITY_PRESET hidden)
  if(SF_SANITIZE)
    target_compile_options(${tgt} PRIVATE -fsanitize=${SF_SANITIZE} -fno-omit-frame-pointer)
    target_link_options(${tgt} PRIVATE -fsanitize=${SF_SANITIZE})
  endif()
endfunction()

# sf_add_test(NAME n COMMAND exe args... [MODE debug|sim] [NPROCS k] [LABELS ...]
#             [TIMEOUT s] [WILL_FAIL] [EXPECT_EXIT code] [EXPECT_STDERR regex...]
#             [EXPECT_STDOUT regex...] [EXPECT_STDOUT_FILE file])
# Every test goes through here: it sets the MPI launcher for sim mode (with --oversubscribe
# and yield-when-idle), a timeout, and labels. A test passes only by its own assertions or
# by tests/check_run.sh, which checks the exit code and required stderr lines.
function(sf_add_test)
  cmake_parse_arguments(T "" "NAME;MODE;NPROCS;TIMEOUT;EXPECT_EXIT" "COMMAND;LABELS;EXPECT_STDERR;EXPECT_STDOUT;EXPECT_STDOUT_FILE" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 60)
  endif()
  set(cmd ${T_COMMAND})
  if(T_MODE STREQUAL "sim")
    if(NOT T_NPROCS)
      set(T_NPROCS 3)
    endif()
    set(cmd ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${T_NPROCS} --oversubscribe
        --mca mpi_yield_when_idle 1 ${MPIEXEC_PREFLAGS} ${T_COMMAND} --sf-mode=sim)
  elseif(T_MODE STREQUAL "debug")
    set(cmd ${T_COMMAND} --sf-mode=debug)
  endif()
  if(DEFINED T_EXPECT_EXIT OR T_EXPECT_STDERR OR T_EXPECT_STDOUT OR T_EXPECT_STDOUT_FILE)
    if(NOT DEFINED T_EXPECT_EXIT)
      set(T_EXPECT_EXIT 0)
    endif()
    set(checks)
    foreach(re IN LISTS T_EXPECT_STDERR)
      list(APPEND checks --stderr "${re}")
    endforeach()
    foreach(re IN LISTS T_EXPECT_STDOUT)
      list(APPEND checks --stdout "${re}")
    endforeach()
    if(T_EXPECT_STDOUT_FILE)
      list(APPEND checks --stdout-file ${T_EXPECT_STDOUT_FILE})
    endif()
    set(cmd ${CMAKE_SOURCE_DIR}/tests/check_run.sh --exit ${T_EXPECT_EXIT} ${checks} -- ${cmd})
  endif()
  add_test(NAME ${T_NAME} COMMAND ${cmd})
  set(labels ${T_LABELS})
  if(T_MODE)
    list(PREPEND labels ${T_MODE}) # the mode is a label too: debug, sim
  endif()
  set_tests_properties(${T_NAME} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${labels}"
    ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_rmaps_base_oversubscribe=1")
endfunction()
